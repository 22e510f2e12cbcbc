"""Exactly what the operator touches, as ClusterRole rules: no wildcards, no more."""

from __future__ import annotations

from typing import Any

from ..api import GROUP
from .settings import WEBHOOK_CONFIGURATION

READ = ["get", "list", "watch"]
WRITE_CHILDREN = [*READ, "create", "patch", "update", "delete"]


def operator_rules() -> list[dict[str, Any]]:
    return [
        # The five kinds: read, add/remove finalizers, write status.
        {
            "apiGroups": [GROUP],
            "resources": [
                "workspaces",
                "workspacetemplates",
                "workspacemanagers",
                "workspaceexecutionprofiles",
                "workspaceshares",
            ],
            "verbs": [*READ, "patch", "update"],
        },
        {
            "apiGroups": [GROUP],
            "resources": [
                "workspaces/status",
                "workspacetemplates/status",
                "workspacemanagers/status",
                "workspaceexecutionprofiles/status",
                "workspaceshares/status",
            ],
            "verbs": ["get", "patch", "update"],
        },
        # Owner references with blockOwnerDeletion need this where
        # OwnerReferencesPermissionEnforcement is on (e.g. OpenShift).
        {"apiGroups": [GROUP], "resources": ["workspaces/finalizers"], "verbs": ["update"]},
        # Children of a workspace.
        {
            "apiGroups": [""],
            "resources": ["persistentvolumeclaims", "services", "secrets", "serviceaccounts"],
            "verbs": WRITE_CHILDREN,
        },
        {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": WRITE_CHILDREN},
        {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses"], "verbs": WRITE_CHILDREN},
        {
            "apiGroups": ["rbac.authorization.k8s.io"],
            "resources": ["roles", "rolebindings"],
            "verbs": WRITE_CHILDREN,
        },
        # Granting access and execution-profile permissions means creating Roles with rules the
        # operator does not hold itself, and binding ClusterRoles a profile names: Kubernetes'
        # escalation check requires exactly these verbs. Only admins write profiles.
        {
            "apiGroups": ["rbac.authorization.k8s.io"],
            "resources": ["roles"],
            "verbs": ["bind", "escalate"],
        },
        {
            "apiGroups": ["rbac.authorization.k8s.io"],
            "resources": ["clusterroles"],
            "verbs": ["bind"],
        },
        # Who is an admin (owner changes) is RBAC's call.
        {
            "apiGroups": ["authorization.k8s.io"],
            "resources": ["subjectaccessreviews"],
            "verbs": ["create"],
        },
        # A WorkspaceManager is Ready when the IngressClass it names exists.
        {"apiGroups": ["networking.k8s.io"], "resources": ["ingressclasses"], "verbs": ["get"]},
        # Pods only to explain why a workspace is not available (unschedulable, image pull).
        {"apiGroups": [""], "resources": ["pods"], "verbs": READ},
        # Kopf lists namespaces to serve namespace patterns; events tell users what happened.
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": READ},
        {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
        {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"]},
        # Kopf discovers the custom resources it serves.
        {
            "apiGroups": ["apiextensions.k8s.io"],
            "resources": ["customresourcedefinitions"],
            "verbs": READ,
        },
        # The operator keeps the caBundle of its own webhook configuration current, and no other.
        {
            "apiGroups": ["admissionregistration.k8s.io"],
            "resources": ["mutatingwebhookconfigurations"],
            "resourceNames": [WEBHOOK_CONFIGURATION],
            "verbs": ["get", "patch", "update"],
        },
    ]
