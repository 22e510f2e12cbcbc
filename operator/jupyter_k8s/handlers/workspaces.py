"""Workspace reconciliation is triggered by the workspace, by any of its children (their
watches: core/child_watch.py), by the objects it refers to, and by a periodic resync (the pass
itself: core/workspace.py)."""

from __future__ import annotations

from typing import Any

import kopf

from ..api import GROUP, VERSION, WORKSPACE, WORKSPACE_SHARE
from ..core.runtime import context


@kopf.on.event(GROUP, VERSION, "workspaces")
async def workspace_event(**kw: Any) -> None:
    rt, idx = context(kw)
    spec, namespace = kw["spec"], kw["namespace"]
    if kw["type"] == "MODIFIED" and rt.statuses.is_echo(kw["body"]["metadata"]):
        return  # the echo of our own status write: planned from these very inputs already
    await rt.reconcile(WORKSPACE, namespace, kw["name"])
    if kw["type"] in (None, "ADDED", "DELETED") and spec.get("templateRef"):
        await rt.template_used(spec["templateRef"])
    # Counting is cheap and writes only on a change: any event may have moved a workspace
    # onto another profile (its reference edited) or off one (deleted).
    rt.recount_profiles()
    if kw["type"] in (None, "ADDED"):
        # Shares written before their workspace existed can now grant.
        for share in list(idx.shares_by_workspace.get((namespace, kw["name"])) or []):
            await rt.reconcile(WORKSPACE_SHARE, namespace, share)
