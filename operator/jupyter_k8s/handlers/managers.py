"""Manager events: the manager's pass (core/manager.py); the workspaces follow when what they
use of it changed."""

from __future__ import annotations

from typing import Any

import kopf

from ..api import GROUP, VERSION, WORKSPACE_MANAGER
from ..core import indexes as ix
from ..core.manager import what_workspaces_see
from ..core.runtime import context


@kopf.on.event(GROUP, VERSION, "workspacemanagers")
async def manager_event(**kw: Any) -> None:
    """A manager changed: its readiness; then, if what they use changed, every workspace's
    URL, route and Routed condition."""
    (rt, idx), name = context(kw), kw["name"]
    if kw["type"] == "DELETED":
        rt.managers_seen.pop(name, None)
        await rt.reconcile_workspaces()
        return
    await rt.reconcile(WORKSPACE_MANAGER, name)
    body = ix.one(idx.managers, name)
    seen = what_workspaces_see(body) if body else None
    if seen != rt.managers_seen.get(name):
        rt.managers_seen[name] = seen
        await rt.reconcile_workspaces()
