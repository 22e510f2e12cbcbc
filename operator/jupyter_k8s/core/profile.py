"""WorkspaceExecutionProfile status: Valid, and how many workspaces run as it."""

from __future__ import annotations

import logging
from typing import Any

from ..api import API_VERSION
from ..kube import KubeError
from ..metrics import reconciling
from ..reconcile.profile import profile_status, profile_users, status_changed
from . import indexes as ix
from .indexes import Indexes
from .missed import live_workspace
from .runtime import Runtime
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
