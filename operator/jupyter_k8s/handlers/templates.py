"""Template events: the template's own pass (core/template.py), and the workspaces that use it."""

from __future__ import annotations

from typing import Any

import kopf

from ..api import GROUP, VERSION, WORKSPACE, WORKSPACE_TEMPLATE
from ..core.runtime import context


@kopf.on.event(GROUP, VERSION, "workspacetemplates")
async def template_event(**kw: Any) -> None:
    (rt, idx), name = context(kw), kw["name"]
    await rt.reconcile(WORKSPACE_TEMPLATE, name)
    # Its default profile may have changed: the profiles' counts follow.
    rt.recount_profiles()
    if kw["type"] in (None, "ADDED", "DELETED"):
        # Workspaces waiting for this template (or losing it) re-evaluate their validity.
        for ref in list(idx.workspaces_by_template.get(name) or []):
            namespace, ws_name = ref.split("/", 1)
            await rt.reconcile(WORKSPACE, namespace, ws_name)
