"""Workspace reconciliation is triggered by the workspace, by any of its children, by the
objects it refers to, and by a periodic resync (the pass itself: core/workspace.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import kopf

from ..api import GROUP, VERSION, WORKSPACE, WORKSPACE_SHARE, WORKSPACE_TEMPLATE
from ..api.workspace import WORKSPACE_LABEL
from ..child_kinds import BY_KIND, CHILD_KINDS, ChildKind
from ..core.indexes import CHILD
from ..core.missed import check_still_there, live_workspace
from ..core.runtime import context, runtime


@kopf.on.event(GROUP, VERSION, "workspaces")
async def workspace_event(**kw: Any) -> None:
    rt, idx = context(kw)
    spec, namespace = kw["spec"], kw["namespace"]
    if kw["type"] == "MODIFIED" and rt.statuses.is_echo(kw["body"]["metadata"]):
        return  # the echo of our own status write: planned from these very inputs already
    await rt.reconcile(WORKSPACE, namespace, kw["name"])
    if kw["type"] in (None, "ADDED", "DELETED") and spec.get("templateRef"):
        await rt.reconcile(WORKSPACE_TEMPLATE, spec["templateRef"])
    # Counting is cheap and writes only on a change: any event may have moved a workspace
    # onto another profile (its reference edited) or off one (deleted).
    rt.recount_profiles()
    if kw["type"] in (None, "ADDED"):
        # Shares written before their workspace existed can now grant.
        for share in list(idx.shares_by_workspace.get((namespace, kw["name"])) or []):
            await rt.reconcile(WORKSPACE_SHARE, namespace, share)


async def _child_event(kw: dict[str, Any]) -> None:
    """A child changed (or vanished): its workspace reconciles, which repairs drift."""
    key = (kw["namespace"], kw["labels"][WORKSPACE_LABEL])
    if kw["type"] in ("ADDED", "MODIFIED") and runtime(kw["memo"]).applier.is_echo(key, kw["body"]):
        return  # our own write of a status-less child: nothing new
    rt, idx = context(kw)
    if kw["type"] == "DELETED":  # whatever we wrote is gone: write it again if wanted
        rt.applier.forget_child(key, (kw["body"]["kind"], kw["name"]))
        ws = live_workspace(rt, idx, key)
        # A child of a workspace we think is alive vanished: deleted by hand, or by the
        # garbage collector because its owner is gone and we missed that. One GET tells.
        alive = ws is not None and not ws["metadata"].get("deletionTimestamp")
        # Pods come and go with every stop and rollout, and are never the operator's own
        # objects (the garbage collector reaches them through their ReplicaSet): no GET.
        ours = BY_KIND[kw["body"]["kind"]].owned
        if alive and ours and not await check_still_there(rt, idx, key):
            return
    await rt.reconcile(WORKSPACE, *key)


def _child_handler(kind: ChildKind) -> Callable[..., Awaitable[None]]:
    async def handler(**kw: Any) -> None:
        await _child_event(kw)

    handler.__name__ = handler.__qualname__ = f"{kind.plural}_event"
    return handler


# Every child kind's events reconcile its workspace (child_kinds.CHILD_KINDS).
for _kind in CHILD_KINDS:
    kopf.on.event(
        group=_kind.group,
        version=_kind.version,
        plural=_kind.plural,
        labels=CHILD,
        id=f"{_kind.plural}_event",
    )(_child_handler(_kind))
