"""The operator's installation as plain manifests (dist/install.yaml and the Pulumi stack)."""

from __future__ import annotations

from typing import Any

from ..api import KINDS, WORKSPACE
from ..api.crd import crd_manifest
from ..proxy_secret import KEY_ENV, KEY_SECRET
from .rbac import operator_rules
from .settings import (
    DEFAULT_IMAGE,
    HEALTH_PORT,
    LABELS,
    METRICS_PORT,
    NAME,
    NAMESPACE,
    RUN_AS_USER,
    SERVICE_ACCOUNT,
    WEBHOOK_CONFIGURATION,
    WEBHOOK_PORT,
    WEBHOOK_SERVICE,
)

SELECTOR = {"app.kubernetes.io/name": NAME}


def _meta(name: str, namespaced: bool = True) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": dict(LABELS)}
    if namespaced:
        meta["namespace"] = NAMESPACE
    return meta


def crds() -> list[dict[str, Any]]:
    return [crd_manifest(kind) for kind in KINDS]


def namespace() -> dict[str, Any]:
    meta = _meta(NAMESPACE, namespaced=False)
    # The operator itself satisfies the restricted Pod Security Standard.
    meta["labels"]["pod-security.kubernetes.io/enforce"] = "restricted"
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


def service_account() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _meta(SERVICE_ACCOUNT),
        "automountServiceAccountToken": True,
    }


def cluster_role() -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": _meta(NAME, namespaced=False),
        "rules": operator_rules(),
    }


def cluster_role_binding() -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": _meta(NAME, namespaced=False),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": NAME},
        "subjects": [{"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": NAMESPACE}],
    }


def restricted_container_security() -> dict[str, Any]:
    """The container half of the restricted Pod Security Standard (plus a read-only root)."""
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def proxy_key_env() -> dict[str, Any]:
    """The key workspace proxy secrets derive from. Optional so the operator starts without
    it; workspace apps then refuse every request until the Secret exists:
    kubectl -n jupyter-k8s-system create secret generic jupyter-k8s-proxy-key \\
      --from-literal=key=$(openssl rand -hex 32)"""
    return {
        "name": KEY_ENV,
        "valueFrom": {"secretKeyRef": {"name": KEY_SECRET, "key": "key", "optional": True}},
    }


def deployment(image: str = DEFAULT_IMAGE) -> dict[str, Any]:
    container = {
        "name": "operator",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "args": ["run"],
        "env": [
            {"name": "JK_WEBHOOK_MODE", "value": "service"},
            {"name": "JK_WEBHOOK_SERVICE", "value": WEBHOOK_SERVICE},
            {
                "name": "JK_POD_NAMESPACE",
                "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}},
            },
            proxy_key_env(),
        ],
        "ports": [
            {"name": "health", "containerPort": HEALTH_PORT},
            {"name": "metrics", "containerPort": METRICS_PORT},
            {"name": "webhook", "containerPort": WEBHOOK_PORT},
        ],
        "livenessProbe": {
            "httpGet": {"path": "/healthz", "port": "health"},
            "initialDelaySeconds": 10,
            "periodSeconds": 20,
            "timeoutSeconds": 5,
        },
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"memory": "512Mi"},
        },
        "securityContext": restricted_container_security(),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108 - webhook certs
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(NAME),
        "spec": {
            # One replica by design: Kopf runs standalone (no peering), Recreate avoids two
            # operators overlapping during a rollout.
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": SELECTOR},
            "template": {
                "metadata": {"labels": dict(LABELS)},
                "spec": {
                    "serviceAccountName": SERVICE_ACCOUNT,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": RUN_AS_USER,
                        "runAsGroup": RUN_AS_USER,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [container],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "16Mi"}}],
                },
            },
        },
    }


def _service(name: str, port_name: str, port: int, target: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(name),
        "spec": {
            "selector": SELECTOR,
            "ports": [{"name": port_name, "port": port, "targetPort": target}],
        },
    }


def webhook_service() -> dict[str, Any]:
    return _service(WEBHOOK_SERVICE, "webhook", 443, WEBHOOK_PORT)


def metrics_service() -> dict[str, Any]:
    return _service(f"{NAME}-metrics", "metrics", METRICS_PORT, METRICS_PORT)


def webhook_configuration() -> dict[str, Any]:
    """Owner stamping on create; the operator fills in caBundle with its own serving CA."""
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": _meta(WEBHOOK_CONFIGURATION, namespaced=False),
        "webhooks": [
            {
                "name": "owner.workspace.jupyter.org",
                "admissionReviewVersions": ["v1"],
                "sideEffects": "None",
                "failurePolicy": "Fail",
                "timeoutSeconds": 10,
                "clientConfig": {
                    "service": {
                        "namespace": NAMESPACE,
                        "name": WEBHOOK_SERVICE,
                        "path": "/owner",
                        "port": 443,
                    }
                },
                "rules": [
                    {
                        "apiGroups": [WORKSPACE.crd_name.split(".", 1)[1]],
                        "apiVersions": ["v1alpha1"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": [WORKSPACE.plural],
                        "scope": "Namespaced",
                    }
                ],
            }
        ],
    }


def install_manifests(image: str = DEFAULT_IMAGE) -> list[dict[str, Any]]:
    """Everything `kubectl apply -f dist/install.yaml` creates, in apply order."""
    return [
        *crds(),
        namespace(),
        service_account(),
        cluster_role(),
        cluster_role_binding(),
        deployment(image),
        webhook_service(),
        metrics_service(),
        webhook_configuration(),
    ]
