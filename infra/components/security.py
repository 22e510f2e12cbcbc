"""Pod and container security settings every component's pods use (restricted profile)."""

from __future__ import annotations

from typing import Any

from jupyter_k8s.deploy.installer import restricted_container_security


def pod_security(uid: int = 65532) -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "fsGroup": uid,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security() -> dict[str, Any]:
    return restricted_container_security()


def restricted_namespace(name: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "labels": {
                "pod-security.kubernetes.io/enforce": "restricted",
                "app.kubernetes.io/part-of": "jupyter-k8s",
                **labels,
            },
        },
    }
