"""Declare plain Kubernetes manifests (dicts) as typed pulumi-kubernetes resources.

The operator's installation is built once, as dicts, by jupyter_k8s.deploy (it also writes
dist/install.yaml); this turns each dict into the matching resource class instead of parsing
YAML at deploy time, so previews and mocks see real, typed resources.
"""

from __future__ import annotations

import re
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

# The annotation that tells pulumi-kubernetes not to wait for a resource to become ready.
SKIP_AWAIT = "pulumi.com/skipAwait"

_CLASSES: dict[tuple[str, str], Any] = {
    ("v1", "Namespace"): k8s.core.v1.Namespace,
    ("v1", "ServiceAccount"): k8s.core.v1.ServiceAccount,
    ("v1", "Service"): k8s.core.v1.Service,
    ("v1", "ConfigMap"): k8s.core.v1.ConfigMap,
    ("v1", "Secret"): k8s.core.v1.Secret,
    ("v1", "ResourceQuota"): k8s.core.v1.ResourceQuota,
    ("v1", "LimitRange"): k8s.core.v1.LimitRange,
    ("v1", "PersistentVolumeClaim"): k8s.core.v1.PersistentVolumeClaim,
    ("networking.k8s.io/v1", "Ingress"): k8s.networking.v1.Ingress,
    ("apps/v1", "Deployment"): k8s.apps.v1.Deployment,
    ("policy/v1", "PodDisruptionBudget"): k8s.policy.v1.PodDisruptionBudget,
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): k8s.rbac.v1.ClusterRole,
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): k8s.rbac.v1.ClusterRoleBinding,
    ("rbac.authorization.k8s.io/v1", "Role"): k8s.rbac.v1.Role,
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): k8s.rbac.v1.RoleBinding,
    ("networking.k8s.io/v1", "NetworkPolicy"): k8s.networking.v1.NetworkPolicy,
    ("networking.k8s.io/v1", "IngressClass"): k8s.networking.v1.IngressClass,
    ("storage.k8s.io/v1", "StorageClass"): k8s.storage.v1.StorageClass,
    (
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
    ): k8s.apiextensions.v1.CustomResourceDefinition,
    ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration"): (
        k8s.admissionregistration.v1.MutatingWebhookConfiguration
    ),
}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def resource_name(obj: dict[str, Any]) -> str:
    """A stable Pulumi name: kind, namespace and name (unique within a stack)."""
    meta = obj["metadata"]
    ns = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj['kind'].lower()}:{ns}{meta['name']}"


def declare(obj: dict[str, Any], opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
    cls = _CLASSES.get((obj["apiVersion"], obj["kind"]))
    fields = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
    if cls is None:
        # Our own kinds (and any other custom resource).
        return k8s.apiextensions.CustomResource(
            resource_name(obj), api_version=obj["apiVersion"], kind=obj["kind"], opts=opts, **fields
        )
    return cls(resource_name(obj), opts=opts, **{_snake(k): v for k, v in fields.items()})  # type: ignore[no-any-return]
