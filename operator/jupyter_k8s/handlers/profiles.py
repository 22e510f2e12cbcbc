"""WorkspaceExecutionProfile status: Valid, and how many workspaces run as it."""

from __future__ import annotations

import logging
from typing import Any

import kopf

from ..api import API_VERSION, GROUP, VERSION, WORKSPACE_EXECUTION_PROFILE
from ..kube import KubeError
from ..metrics import reconciling
from ..reconcile.profile import profile_status, profile_users, status_changed
from . import indexes as ix
from .indexes import Indexes
from .missed import live_workspace
from .runtime import Runtime, context
from .workqueue import Key

log = logging.getLogger(__name__)


async def reconcile_key(rt: Runtime, key: Key) -> None:
    """The work queue's entry for ("WorkspaceExecutionProfile", name)."""
    await sync_profile(rt, rt.idx, key[1])


def _templates(idx: Indexes) -> dict[str, Any]:
    return {name: ix.one(idx.templates, name) for name in list(idx.templates)}


async def sync_profile(rt: Runtime, idx: Indexes, name: str) -> None:
    profile = ix.one(idx.profiles, name)
    if profile is None:
        return
    workspaces = [live_workspace(rt, idx, key) for key in list(idx.workspaces)]
    users = profile_users(name, [w for w in workspaces if w], _templates(idx))
    old = profile["status"]
    new = profile_status(profile["spec"], profile["generation"], old, users).wire()
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
