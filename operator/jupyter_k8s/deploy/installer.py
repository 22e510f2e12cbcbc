"""The operator's installation as plain manifests (dist/install.yaml and the Pulumi stack)."""

from __future__ import annotations

from typing import Any

from ..api import GROUP, KINDS, WORKSPACE, WORKSPACE_SHARE
from ..api.admission import admission_policies
from ..api.crd import crd_manifest
from ..proxy_secret import KEY_ENV, KEY_SECRET
from .rbac import cluster_rules, namespace_rules, operator_rules, self_rules
from .settings import (
    DEFAULT_IMAGE,
    HEALTH_PORT,
    LABELS,
    METRICS_PORT,
    NAME,
    NAMESPACE,
    RUN_AS_USER,
    SERVICE_ACCOUNT,
    SHARE_WEBHOOK,
    WEBHOOK_CONFIGURATION,
    WEBHOOK_PORT,
    WEBHOOK_SERVICE,
    WORKSPACE_WEBHOOK,
)

SELECTOR = {"app.kubernetes.io/name": NAME}


def _meta(name: str, namespaced: bool = True) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": dict(LABELS)}
    if namespaced:
        meta["namespace"] = NAMESPACE
    return meta


def crds() -> list[dict[str, Any]]:
    return [crd_manifest(kind) for kind in KINDS]


def api_manifests() -> list[dict[str, Any]]:
    """The API: the CRDs and the admission policies the API server enforces on them."""
    return [*crds(), *admission_policies()]


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


NAMESPACED_ROLE = f"{NAME}-namespaced"


def cluster_role(namespaced: bool = False) -> dict[str, Any]:
    """The operator's ClusterRole: everything, cluster-wide (the installer); or with
    `namespaced`, only what must be cluster-wide, the rest granted per namespace served
    (namespaced_role + namespace_role_binding)."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": _meta(NAME, namespaced=False),
        "rules": cluster_rules() if namespaced else operator_rules(),
    }


def namespaced_role(bindable_cluster_roles: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": _meta(NAMESPACED_ROLE, namespaced=False),
        "rules": namespace_rules(bindable_cluster_roles),
    }


def namespace_role_binding(namespace: str, operator_namespace: str = NAMESPACE) -> dict[str, Any]:
    """Grants the operator its namespaced role in one namespace it serves."""
    meta = _meta(NAME, namespaced=False)
    meta["namespace"] = namespace
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": meta,
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": NAMESPACED_ROLE,
        },
        "subjects": [
            {"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": operator_namespace}
        ],
    }


SELF_ROLE = f"{NAME}-self"


def self_role(namespace: str = NAMESPACE) -> dict[str, Any]:
    """The operator's Lease and shared webhook certificate, in its own namespace."""
    meta = _meta(SELF_ROLE)
    meta["namespace"] = namespace
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": meta,
        "rules": self_rules(),
    }


def self_role_binding(namespace: str = NAMESPACE) -> dict[str, Any]:
    meta = _meta(SELF_ROLE)
    meta["namespace"] = namespace
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": meta,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": SELF_ROLE},
        "subjects": [{"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": namespace}],
    }


def disruption_budget() -> dict[str, Any]:
    """A drain or upgrade keeps one replica (the webhook answers, a standby can take over)."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _meta(NAME),
        "spec": {"minAvailable": 1, "selector": {"matchLabels": SELECTOR}},
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
            {"name": "JK_POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "JK_LEADER_ELECTION", "value": "on"},
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
        # The webhook Service sends admission requests only to replicas already serving them.
        "readinessProbe": {"tcpSocket": {"port": "webhook"}, "periodSeconds": 5},
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
            # Two replicas: both serve the admission webhook, the one holding the Lease
            # reconciles (leader.py). A rollout replaces one pod at a time.
            "replicas": 2,
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
            },
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
                    # Replicas on different nodes where there are several.
                    "topologySpreadConstraints": [
                        {
                            "maxSkew": 1,
                            "topologyKey": "kubernetes.io/hostname",
                            "whenUnsatisfiable": "ScheduleAnyway",
                            "labelSelector": {"matchLabels": SELECTOR},
                        }
                    ],
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


def _webhook(name: str, path: str, resource: str, operations: list[str]) -> dict[str, Any]:
    return {
        "name": f"{name}.{GROUP}",
        "admissionReviewVersions": ["v1"],
        "sideEffects": "None",
        # Fail closed: while the operator cannot answer, these writes are refused with a
        # message instead of slipping through unstamped.
        "failurePolicy": "Fail",
        "timeoutSeconds": 10,
        "clientConfig": {
            "service": {
                "namespace": NAMESPACE,
                "name": WEBHOOK_SERVICE,
                "path": f"/{path}",
                "port": 443,
            }
        },
        "rules": [
            {
                "apiGroups": [GROUP],
                "apiVersions": ["v1alpha1"],
                "operations": operations,
                "resources": [resource],
                "scope": "Namespaced",
            }
        ],
    }


def webhook_configuration() -> dict[str, Any]:
    """Stamping what the API server's policies then check: a workspace's owner (and, in a
    governed namespace, its default template); a share's workspace UID. The operator fills in
    caBundle with its own serving CA."""
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": _meta(WEBHOOK_CONFIGURATION, namespaced=False),
        "webhooks": [
            _webhook("owner", WORKSPACE_WEBHOOK, WORKSPACE.plural, ["CREATE", "UPDATE"]),
            _webhook("share", SHARE_WEBHOOK, WORKSPACE_SHARE.plural, ["CREATE"]),
        ],
    }


def install_manifests(image: str = DEFAULT_IMAGE) -> list[dict[str, Any]]:
    """Everything `kubectl apply -f dist/install.yaml` creates, in apply order."""
    return [
        *api_manifests(),
        namespace(),
        service_account(),
        cluster_role(),
        cluster_role_binding(),
        self_role(),
        self_role_binding(),
        deployment(image),
        disruption_budget(),
        webhook_service(),
        metrics_service(),
        webhook_configuration(),
    ]
