"""Admission stamping, checked again by the API server's own policies (api/admission.py), which
hold whether or not this webhook runs:
- a new workspace's owner is the creating user (from the request's authenticated user info,
  never from the client), and only admins change it;
- a new workspace in a governed namespace without a template gets the namespace's default;
- a new share records the UID of the workspace it is for, and is refused when there is none.
"""

from __future__ import annotations

import re
from typing import Any

import kopf

from ..api import API_VERSION, GROUP, VERSION
from ..api.admission import (
    DEFAULT_TEMPLATE_ANNOTATION,
    OWNER_SUBRESOURCE,
    SHARE_WORKSPACE_UID_ANNOTATION,
)
from ..api.common import DNS_SUBDOMAIN
from ..api.workspace import OWNER_ANNOTATION
from ..core.runtime import runtime
from ..deploy.settings import SHARE_WEBHOOK, WORKSPACE_WEBHOOK
from ..metrics import admitting


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
            OWNER_SUBRESOURCE,
            userinfo.get("uid"),
            userinfo.get("extra"),
        )
    )


async def _default_template(memo: Any, namespace: str) -> str | None:
    rt = runtime(memo)
    ns = await rt.call(rt.kube.get, "v1", "Namespace", None, namespace)
    annotations = ((ns or {}).get("metadata") or {}).get("annotations") or {}
    return annotations.get(DEFAULT_TEMPLATE_ANNOTATION) or None


@kopf.on.mutate(GROUP, VERSION, "workspaces", id=WORKSPACE_WEBHOOK, operations=["CREATE", "UPDATE"])
async def stamp_workspace(**kw: Any) -> None:
    with admitting(WORKSPACE_WEBHOOK):
        await _stamp_workspace(kw)


@kopf.on.mutate(GROUP, VERSION, "workspaceshares", id=SHARE_WEBHOOK, operations=["CREATE"])
async def stamp_share(**kw: Any) -> None:
    with admitting(SHARE_WEBHOOK):
        await _stamp_share(kw)


async def _stamp_workspace(kw: dict[str, Any]) -> None:
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
        if not body.spec.get("templateRef"):
            default = await _default_template(memo, namespace)
            if default:
                patch.setdefault("spec", {})["templateRef"] = default
        return
    before = ((old or {}).get("metadata", {}).get("annotations") or {}).get(OWNER_ANNOTATION)
    if wanted != before and not await _is_admin(memo, userinfo, namespace, name):
        raise kopf.AdmissionError(
            f"the {OWNER_ANNOTATION} annotation is set by jupyter-k8s and only an admin may "
            f"change it (it is {before!r})",
            code=403,
        )


async def _stamp_share(kw: dict[str, Any]) -> None:
    body, patch, namespace = kw["body"], kw["patch"], kw["namespace"]
    rt = runtime(kw["memo"])
    workspace_name = (body.get("spec") or {}).get("workspaceName")
    # Mutating admission runs before the schema is checked: look nothing up for a value that
    # cannot be a workspace's name (an empty one would read the whole list).
    if not isinstance(workspace_name, str) or not re.fullmatch(DNS_SUBDOMAIN, workspace_name):
        raise kopf.AdmissionError(
            f"spec.workspaceName: {workspace_name!r} is not a workspace name; name a workspace "
            "in this namespace (lowercase letters, digits, '-' and '.')",
            code=422,
        )
    # The API server, not an index: a workspace created a moment ago must count.
    ws = await rt.call(rt.kube.get, API_VERSION, "Workspace", namespace, workspace_name)
    if ws is None or ws["metadata"].get("deletionTimestamp"):
        raise kopf.AdmissionError(
            f"spec.workspaceName: workspace {workspace_name!r} does not exist in namespace "
            f"{namespace!r}; share a workspace that exists (a share binds to that workspace, "
            "not to its name)",
            code=404,
        )
    patch.metadata.setdefault("annotations", {})[SHARE_WORKSPACE_UID_ANNOTATION] = ws["metadata"][
        "uid"
    ]
