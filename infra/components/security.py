"""Pod and container security settings every component's pods use (restricted profile)."""

from __future__ import annotations

import json
from typing import Any

from jupyter_k8s.deploy.installer import restricted_container_security

from ..config import Target


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


# On the local target every pod of the stack's namespaces runs on the local cluster's real
# node (hack/node.py: its taint and label; a test keeps the two equal).
REAL_NODE_ANNOTATIONS = {
    "scheduler.alpha.kubernetes.io/node-selector": "type=real",
    "scheduler.alpha.kubernetes.io/defaultTolerations": json.dumps(
        [{"key": "jupyter-k8s.io/real-node", "operator": "Exists", "effect": "NoSchedule"}]
    ),
}


def restricted_namespace(name: str, target: Target | None = None, **labels: str) -> dict[str, Any]:
    ns: dict[str, Any] = {
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
    if target == Target.LOCAL:
        ns["metadata"]["annotations"] = dict(REAL_NODE_ANNOTATIONS)
    return ns
