"""Deletions the watches missed.

When a watch reconnects (an API server restart, a 410 Gone), it lists the objects again; the
operator's own watch reports the ones deleted meanwhile (core/indexes.py), Kopf's did not, and
a list can still race a deletion, so an entry may outlive its workspace. A
workspace left there would be reconciled forever: its children recreated (owned by a dead UID),
removed by the garbage collector, recreated... and its template never released. The operator
notices such a workspace when one of its children is deleted behind its back, when a status
write finds it gone, and at every full resync (one LIST), and forgets it from then on."""

from __future__ import annotations

import logging
from typing import Any

from ..api import API_VERSION, WORKSPACE, WORKSPACE_TEMPLATE
from . import indexes as ix
from .indexes import Indexes
from .runtime import Runtime

log = logging.getLogger(__name__)
Key = tuple[str, str]


def live_workspace(rt: Runtime, idx: Indexes, key: Key) -> dict[str, Any] | None:
    """The indexed workspace, unless it is known to be gone."""
    ws = ix.one(idx.workspaces, key)
    if ws is None:
        rt.gone.pop(key, None)
        return None
    uid = ws["metadata"]["uid"]
    found_gone = rt.gone.get(key)
    if found_gone == uid:
        return None
    if found_gone is not None:
        rt.gone.pop(key)  # a new workspace with that name
    return ws  # type: ignore[no-any-return]


async def check_still_there(rt: Runtime, idx: Indexes, key: Key) -> bool:
    """Ask the API server whether the indexed workspace still exists; forget it if not."""
    ws = live_workspace(rt, idx, key)
    if ws is None:
        return False
    current = await rt.call(rt.kube.get, API_VERSION, "Workspace", key[0], key[1])
    if current is not None and current["metadata"]["uid"] == ws["metadata"]["uid"]:
        return True
    await forget(rt, idx, key, ws)
    return False


async def forget_missed(rt: Runtime, idx: Indexes) -> None:
    """One LIST per watched scope: indexed workspaces that no longer exist are forgotten."""
    scopes: tuple[str | None, ...] = rt.settings.namespaces or (None,)
    existing: set[tuple[str, str, str]] = set()
    for namespace in scopes:
        for obj in await rt.call(rt.kube.list_objects, API_VERSION, "Workspace", namespace):
            meta = obj["metadata"]
            existing.add((meta["namespace"], meta["name"], meta["uid"]))
    for key in list(idx.workspaces):
        ws = live_workspace(rt, idx, key)
        if ws is not None and (*key, ws["metadata"]["uid"]) not in existing:
            # Not in the list: gone, or created after it was taken. One GET tells which.
            await check_still_there(rt, idx, key)


async def forget(rt: Runtime, idx: Indexes, key: Key, ws: dict[str, Any]) -> None:
    log.info("workspace %s/%s was deleted while a watch was reconnecting: forgetting it", *key)
    rt.gone[key] = ws["metadata"]["uid"]
    await rt.reconcile(WORKSPACE, *key)  # the reconciler's bookkeeping for a workspace gone
    template = (ws.get("spec") or {}).get("templateRef")
    if template:
        await rt.reconcile(WORKSPACE_TEMPLATE, template)
    rt.recount_profiles()
