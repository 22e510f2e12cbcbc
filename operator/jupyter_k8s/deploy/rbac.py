"""Exactly what the operator touches, as ClusterRole rules: no wildcards, no more."""

from __future__ import annotations

from typing import Any

from ..api import GROUP
from ..child_kinds import CHILD_KINDS
from .settings import (
    LAST_ACTIVITY,
    NAME,
    TUNNEL_ACTIVITY,
    WEBHOOK_CONFIGURATION,
    WEBHOOK_TLS_SECRET,
)

READ = ["get", "list", "watch"]
WRITE_CHILDREN = [*READ, "create", "patch", "update", "delete"]


def cluster_rules() -> list[dict[str, Any]]:
    """What the operator needs across the cluster, wherever it serves: the cluster-scoped kinds,
    status writes, RBAC's answers, discovery and its own webhook configuration."""
    return [
        # The five kinds: read; templates get and lose their finalizer.
        {
            "apiGroups": [GROUP],
            "resources": [
                "workspaces",
                "workspacetemplates",
                "workspacemanagers",
                "workspaceexecutionprofiles",
                "workspaceshares",
            ],
            "verbs": READ,
        },
        {"apiGroups": [GROUP], "resources": ["workspacetemplates"], "verbs": ["patch", "update"]},
        # The idle culler stops idle workspaces: a patch of spec.desiredStatus, which the
        # workspace-ownership policy admits from it only through workspaces/idle-stop.
        {"apiGroups": [GROUP], "resources": ["workspaces"], "verbs": ["patch"]},
        {"apiGroups": [GROUP], "resources": ["workspaces/idle-stop"], "verbs": ["update"]},
        {
            "apiGroups": [GROUP],
            "resources": [
                "workspacetemplates/status",
                "workspacemanagers/status",
                "workspaceexecutionprofiles/status",
            ],
            "verbs": ["get", "patch", "update"],
        },
        # Who is an admin (owner changes) is RBAC's call.
        {
            "apiGroups": ["authorization.k8s.io"],
            "resources": ["subjectaccessreviews"],
            "verbs": ["create"],
        },
        # A WorkspaceManager is Ready when the IngressClass and the in-cluster Services behind
        # its authentication and authorization URLs exist (wherever those run).
        {"apiGroups": ["networking.k8s.io"], "resources": ["ingressclasses"], "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["services"], "verbs": ["get"]},
        # A workspace whose node stops reporting (kubelet down) is Degraded naming the node's
        # condition: nodes are watched, read only.
        {"apiGroups": [""], "resources": ["nodes"], "verbs": READ},
        # Kopf lists namespaces to serve namespace patterns; governed namespaces name their
        # default template.
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": READ},
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
        # Events for cluster-scoped objects (templates) land in the default namespace.
        {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
        {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"]},
    ]


def namespace_rules(bindable_cluster_roles: list[str] | None = None) -> list[dict[str, Any]]:
    """What the operator needs in each namespace it serves: its children and their grants.

    `bindable_cluster_roles`: the only ClusterRoles execution profiles may bind (None: any,
    for an installation serving the whole cluster)."""
    bind: list[dict[str, Any]] = [
        {
            "apiGroups": ["rbac.authorization.k8s.io"],
            "resources": ["clusterroles"],
            "verbs": ["bind"],
        }
    ]
    if bindable_cluster_roles is not None:
        # An empty resourceNames list would mean every name: no names, no rule.
        bind = (
            [{**bind[0], "resourceNames": sorted(bindable_cluster_roles)}]
            if bindable_cluster_roles
            else []
        )
    rules = [
        {
            "apiGroups": [GROUP],
            "resources": ["workspaces/status", "workspaceshares/status"],
            "verbs": ["get", "patch", "update"],
        },
        # Owner references with blockOwnerDeletion need this where
        # OwnerReferencesPermissionEnforcement is on (e.g. OpenShift).
        {
            "apiGroups": [GROUP],
            "resources": ["workspaces/finalizers", "workspaceshares/finalizers"],
            "verbs": ["update"],
        },
        *child_rules(),
        # Granting access (connect, share) and execution-profile rules means creating Roles
        # with rules the operator does not hold itself: Kubernetes' escalation check requires
        # these verbs, here only in the namespaces served. Only admins write profiles.
        {
            "apiGroups": ["rbac.authorization.k8s.io"],
            "resources": ["roles"],
            "verbs": ["bind", "escalate"],
        },
        *bind,
        {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
        {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"]},
    ]
    return rules


def child_rules() -> list[dict[str, Any]]:
    """The children of a workspace (child_kinds.py): written where the operator owns them,
    only read where it observes them (pods: why a workspace is not available)."""
    by_group: dict[tuple[str, bool], list[str]] = {}
    for child in CHILD_KINDS:
        by_group.setdefault((child.group, child.owned), []).append(child.plural)
    return [
        {"apiGroups": [group], "resources": plurals, "verbs": WRITE_CHILDREN if owned else READ}
        for (group, owned), plurals in by_group.items()
    ]


def operator_rules() -> list[dict[str, Any]]:
    """An installation serving the whole cluster (dist/install.yaml): both sets, cluster-wide."""
    return [*cluster_rules(), *namespace_rules()]


def self_rules() -> list[dict[str, Any]]:
    """In the operator's own namespace: the replicas' Lease (who reconciles) and their shared
    webhook certificate. Creating cannot be limited to a name; everything else is."""
    return [
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "resourceNames": [NAME],
            "verbs": ["get", "update"],
        },
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
        {
            "apiGroups": [""],
            "resources": ["secrets"],
            "resourceNames": [WEBHOOK_TLS_SECRET],
            # update: the Helm chart makes it empty (so that uninstalling removes it).
            "verbs": ["get", "update"],
        },
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]},
        # The idle culler reads which workspaces have SSH tunnels open, and writes when each
        # was last in use (applied: created the first time).
        {
            "apiGroups": [""],
            "resources": ["configmaps"],
            "resourceNames": [TUNNEL_ACTIVITY],
            "verbs": ["get"],
        },
        {
            "apiGroups": [""],
            "resources": ["configmaps"],
            "resourceNames": [LAST_ACTIVITY],
            "verbs": ["get", "patch"],
        },
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]},
    ]
