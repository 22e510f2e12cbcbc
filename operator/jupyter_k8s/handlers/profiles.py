"""Profile events: the profile's own pass (core/profile.py), and the workspaces running as it."""

from __future__ import annotations

from typing import Any

import kopf

from ..api import GROUP, VERSION, WORKSPACE_EXECUTION_PROFILE
from ..core.runtime import context


@kopf.on.event(GROUP, VERSION, "workspaceexecutionprofiles")
async def profile_event(**kw: Any) -> None:
    """A profile appeared, changed or went: its status, and the workspaces running as it."""
    rt, name = context(kw)[0], kw["name"]
    if kw["type"] == "DELETED":
        rt.profiles_seen.pop(name, None)
    else:
        await rt.reconcile(WORKSPACE_EXECUTION_PROFILE, name)
    # Only a new spec (or a profile appearing or going) concerns the workspaces: our own
    # status writes come back as events too, and must not reconcile every workspace again.
    generation = kw["body"].get("metadata", {}).get("generation")
    if kw["type"] == "DELETED" or rt.profiles_seen.get(name) != generation:
        if kw["type"] != "DELETED":
            rt.profiles_seen[name] = generation
        await rt.reconcile_workspaces()
