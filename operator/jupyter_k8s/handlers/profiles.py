"""WorkspaceExecutionProfile status: Valid, and how many workspaces run as it."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf

from ..api import API_VERSION, GROUP, VERSION
from ..kube import KubeError
from ..metrics import reconciling
from ..reconcile.profile import profile_status, profile_users, status_changed
from . import indexes as ix
from .indexes import Indexes
from .missed import live_workspace
from .runtime import Runtime, runtime

log = logging.getLogger(__name__)
PROFILE_COUNT_DELAY = 1.0  # seconds: how stale a profile's workspaceCount may be


async def sync_profile(rt: Runtime, idx: Indexes, name: str) -> None:
    async def job() -> None:
        try:
            await _sync(rt, idx, name)
        except KubeError as err:
            log.warning("syncing execution profile %s failed: %s", name, err)

    await rt.coalescer.run(("WorkspaceExecutionProfile", name), job)


async def sync_all_profiles(rt: Runtime, idx: Indexes) -> None:
    """Soon, once: counting walks every workspace for every profile, and a burst of workspace
    events (hundreds created at once) must cost one count, not one per event."""
    if rt.profiles_due:
        return
    rt.profiles_due = True
    loop = asyncio.get_running_loop()

    def fire() -> None:
        rt.profiles_due = False
        task = asyncio.ensure_future(_sync_all(rt, idx))
        rt.tasks.add(task)
        task.add_done_callback(rt.tasks.discard)

    loop.call_later(PROFILE_COUNT_DELAY, fire)


async def _sync_all(rt: Runtime, idx: Indexes) -> None:
    for name in list(idx.profiles):
        await sync_profile(rt, idx, name)


def _templates(idx: Indexes) -> dict[str, Any]:
    return {name: ix.one(idx.templates, name) for name in list(idx.templates)}


async def _sync(rt: Runtime, idx: Indexes, name: str) -> None:
    profile = ix.one(idx.profiles, name)
    if profile is None:
        return
    workspaces = [live_workspace(rt, idx, key) for key in list(idx.workspaces)]
    users = profile_users(name, [w for w in workspaces if w], _templates(idx))
    old = profile["status"]
    new = profile_status(profile["spec"], profile["generation"], old, users)
    if not status_changed(old, new):
        return
    with reconciling("WorkspaceExecutionProfile"):
        try:
            await rt.call(
                rt.kube.merge_patch,
                API_VERSION,
                "WorkspaceExecutionProfile",
                None,
                name,
                {"status": new},
                "status",
            )
        except KubeError as err:
            if err.status != 404:  # deleted meanwhile: nothing to report on
                raise


@kopf.on.event(GROUP, VERSION, "workspaceexecutionprofiles")
async def profile_event(**kw: Any) -> None:
    """A profile appeared, changed or went: its status, and the workspaces running as it."""
    from .workspaces import trigger_all

    rt, idx, name = runtime(kw["memo"]), Indexes.of(kw), kw["name"]
    if kw["type"] == "DELETED":
        rt.profiles_seen.pop(name, None)
    else:
        await sync_profile(rt, idx, name)
    # Only a new spec (or a profile appearing or going) concerns the workspaces: our own
    # status writes come back as events too, and must not reconcile every workspace again.
    generation = kw["body"].get("metadata", {}).get("generation")
    if kw["type"] == "DELETED" or rt.profiles_seen.get(name) != generation:
        if kw["type"] != "DELETED":
            rt.profiles_seen[name] = generation
        await trigger_all(rt, idx)
