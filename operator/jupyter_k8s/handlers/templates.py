"""Template events: the template's own pass (core/template.py), and the workspaces that use it."""

from __future__ import annotations

from typing import Any

import kopf

from ..api import GROUP, VERSION, WORKSPACE, WORKSPACE_TEMPLATE
from ..core.runtime import COUNT_DELAY, context


@kopf.on.event(GROUP, VERSION, "workspacetemplates")
async def template_event(**kw: Any) -> None:
    (rt, idx), name = context(kw), kw["name"]
    body = kw["body"]
    meta, status = body.get("metadata") or {}, body.get("status") or {}
    if (
        kw["type"] == "MODIFIED"
        and not meta.get("deletionTimestamp")
        and status.get("observedGeneration") == meta.get("generation")
    ):
        # Nothing new in its spec: mostly the echo of our own count. The count is soon and
        # once (as for workspaces coming and going), or a burst of new workspaces would
        # rewrite it at the pace of the round trip.
        rt.queue.later((WORKSPACE_TEMPLATE.kind, name), COUNT_DELAY)
    else:
        await rt.reconcile(WORKSPACE_TEMPLATE, name)
    # Its default profile may have changed: the profiles' counts follow.
    rt.recount_profiles()
    if kw["type"] in (None, "ADDED", "DELETED"):
        # Workspaces waiting for this template (or losing it) re-evaluate their validity.
        for ref in list(idx.workspaces_by_template.get(name) or []):
            namespace, ws_name = ref.split("/", 1)
            await rt.reconcile(WORKSPACE, namespace, ws_name)
