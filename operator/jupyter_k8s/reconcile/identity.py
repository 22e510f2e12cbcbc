"""The identity a workspace pod runs as, from its WorkspaceExecutionProfile: a ServiceAccount
of its own, a Role with the profile's rules and RoleBindings for them and its ClusterRoles,
all confined to the workspace's namespace."""

from __future__ import annotations

from typing import Any

from ..api.execution_profile import WorkspaceExecutionProfileSpec
from ..names import workspace_child
from .children import WorkspaceRef

RBAC = "rbac.authorization.k8s.io"


def service_account_name(ws_name: str) -> str:
    return workspace_child(ws_name)


def identity_objects(
    ws: WorkspaceRef, profile: WorkspaceExecutionProfileSpec
) -> list[dict[str, Any]]:
    sa_name = service_account_name(ws.name)
    sa_meta = ws.metadata(sa_name)
    if profile.serviceAccount.annotations:
        sa_meta["annotations"] = dict(profile.serviceAccount.annotations)
    objs: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": sa_meta,
            "automountServiceAccountToken": profile.serviceAccount.automountToken,
            "imagePullSecrets": [{"name": s} for s in profile.imagePullSecrets or []],
        }
    ]
    subject = [{"kind": "ServiceAccount", "name": sa_name, "namespace": ws.namespace}]
    if profile.rules:
        role = workspace_child(ws.name, "profile")
        objs.append(
            {
                "apiVersion": f"{RBAC}/v1",
                "kind": "Role",
                "metadata": ws.metadata(role),
                "rules": [r.model_dump(exclude_none=True) for r in profile.rules],
            }
        )
        objs.append(
            {
                "apiVersion": f"{RBAC}/v1",
                "kind": "RoleBinding",
                "metadata": ws.metadata(role),
                "roleRef": {"apiGroup": RBAC, "kind": "Role", "name": role},
                "subjects": subject,
            }
        )
    for cluster_role in profile.clusterRoles or []:
        # A RoleBinding (not a ClusterRoleBinding): the grant stops at the namespace.
        objs.append(
            {
                "apiVersion": f"{RBAC}/v1",
                "kind": "RoleBinding",
                "metadata": ws.metadata(workspace_child(ws.name, f"cr-{cluster_role}")),
                "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": cluster_role},
                "subjects": subject,
            }
        )
    return objs
