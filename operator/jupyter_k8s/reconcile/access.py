"""Who may connect to a workspace, as RBAC objects: Kubernetes RBAC is the single source of
truth for access, and the authorization service asks it with SubjectAccessReviews.

Access to a workspace's URL is the verb `connect` on `workspaces` with the workspace's name;
sharing it is the verb `share` (checked by the API server's admission policy on WorkspaceShares).
The owner holds both through Role `ws-<name>-owner`; shares and Public bind `ws-<name>-connect`,
made only once one of them needs it (most workspaces are never shared: one write fewer each).
"""

from __future__ import annotations

from typing import Any

from ..api import GROUP
from ..api.admission import SHARE_VERB
from ..api.share import WorkspaceShareSpec
from ..api.workspace import AccessType
from ..names import child_name, workspace_child
from .children import WorkspaceRef

CONNECT = "connect"
SHARE_LABEL = "workspace.jupyter.org/share-name"
RBAC_API = "rbac.authorization.k8s.io/v1"
ALL_AUTHENTICATED = "system:authenticated"


def connect_role_name(ws_name: str) -> str:
    return workspace_child(ws_name, "connect")


def _role(ws: WorkspaceRef, name: str, verbs: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": RBAC_API,
        "kind": "Role",
        "metadata": ws.metadata(name),
        "rules": [
            {
                "apiGroups": [GROUP],
                "resources": ["workspaces"],
                "resourceNames": [ws.name],
                "verbs": verbs,
            }
        ],
    }


def connect_role(ws: WorkspaceRef) -> dict[str, Any]:
    return _role(ws, connect_role_name(ws.name), [CONNECT])


def owner_role(ws: WorkspaceRef) -> dict[str, Any]:
    return _role(ws, owner_binding_name(ws.name), [CONNECT, SHARE_VERB])


def _subject(kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
    if kind == "ServiceAccount":
        return {"kind": kind, "name": name, "namespace": namespace}
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name}


def _binding(
    ws: WorkspaceRef,
    name: str,
    subjects: list[dict[str, Any]],
    owners: list[dict[str, Any]] | None = None,
    role: str | None = None,
) -> dict[str, Any]:
    meta = ws.metadata(name)
    if owners is not None:
        meta["ownerReferences"] = owners
    return {
        "apiVersion": RBAC_API,
        "kind": "RoleBinding",
        "metadata": meta,
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": role or connect_role_name(ws.name),
        },
        "subjects": subjects,
    }


def owner_binding_name(ws_name: str) -> str:
    return workspace_child(ws_name, "owner")


def public_binding_name(ws_name: str) -> str:
    return workspace_child(ws_name, "public")


def access_objects(
    ws: WorkspaceRef, owner: str | None, access: str, shared: bool = False
) -> list[dict[str, Any]]:
    """The owner's Role and binding (connect and share); the connect Role when the workspace
    is Public or `shared` (a WorkspaceShare names it); for Public, everyone's connect binding."""
    public = access == AccessType.PUBLIC
    objs = [connect_role(ws)] if public or shared else []
    if owner:
        name = owner_binding_name(ws.name)
        objs += [owner_role(ws), _binding(ws, name, [_subject("User", owner)], role=name)]
    if public:
        objs.append(
            _binding(ws, public_binding_name(ws.name), [_subject("Group", ALL_AUTHENTICATED)])
        )
    return objs


def share_binding_name(share_name: str) -> str:
    return child_name("wss", share_name)


def share_binding(
    ws: WorkspaceRef, share_name: str, share_uid: str, spec: WorkspaceShareSpec
) -> dict[str, Any]:
    """Binds the share's subjects to the workspace's connect role, owned by the share alone:
    deleting the share removes the grant (the garbage collector waits for *all* owners, so the
    workspace is not one; its connect role goes with it, which voids the binding)."""
    owners = [
        {
            "apiVersion": f"{GROUP}/v1alpha1",
            "kind": "WorkspaceShare",
            "name": share_name,
            "uid": share_uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    subjects = [_subject(s.kind, s.name, s.namespace) for s in spec.subjects or []]
    binding = _binding(ws, share_binding_name(share_name), subjects, owners)
    # Marks it as the share's, so the workspace's own reconciliation leaves it alone.
    binding["metadata"]["labels"][SHARE_LABEL] = share_name
    return binding
