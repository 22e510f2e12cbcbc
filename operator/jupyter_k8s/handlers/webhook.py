"""Owner stamping: the creating user becomes the workspace's owner, and only admins change it.

The owner comes from the admission request's user info, which the API server fills in from
authentication; nothing the client sends (annotations on create included) is trusted.
"""

from __future__ import annotations

from typing import Any

import kopf

from ..api import GROUP, VERSION
from ..api.workspace import OWNER_ANNOTATION
from .runtime import runtime

WEBHOOK_ID = "owner"  # served at /owner; the webhook configuration points there


async def _is_admin(memo: Any, userinfo: dict[str, Any], namespace: str, name: str) -> bool:
    """Admins are whoever RBAC lets `update` the `workspaces/owner` subresource (cluster-admin
    does through its wildcard); Kubernetes stays the single source of truth."""
    rt = runtime(memo)
    return bool(
        await rt.call(
            rt.kube.can,
            userinfo.get("username", ""),
            list(userinfo.get("groups") or []),
            "update",
            "workspaces",
            GROUP,
            namespace,
            name,
            "owner",
            userinfo.get("uid"),
            userinfo.get("extra"),
        )
    )


@kopf.on.mutate(GROUP, VERSION, "workspaces", id=WEBHOOK_ID, operations=["CREATE", "UPDATE"])
async def stamp_owner(**kw: Any) -> None:
    operation, body, old, patch = kw["operation"], kw["body"], kw["old"], kw["patch"]
    namespace, name, memo = kw["namespace"], kw["name"], kw["memo"]
    userinfo: dict[str, Any] = kw["userinfo"] or {}
    user = userinfo.get("username") or ""
    wanted = (body.metadata.annotations or {}).get(OWNER_ANNOTATION)
    if operation == "CREATE":
        if wanted and wanted != user and not await _is_admin(memo, userinfo, namespace, name):
            raise kopf.AdmissionError(
                f"only an admin may create a workspace on behalf of {wanted!r}: remove the "
                f"{OWNER_ANNOTATION} annotation (you, {user!r}, become the owner)",
                code=403,
            )
        if not wanted:
            patch.metadata.setdefault("annotations", {})[OWNER_ANNOTATION] = user
        return
    before = ((old or {}).get("metadata", {}).get("annotations") or {}).get(OWNER_ANNOTATION)
    if wanted != before and not await _is_admin(memo, userinfo, namespace, name):
        raise kopf.AdmissionError(
            f"the {OWNER_ANNOTATION} annotation is set by jupyter-k8s and only an admin may "
            f"change it (it is {before!r})",
            code=403,
        )
