"""Nodes: when one stops or starts being Ready, the workspaces with a pod on it reconcile, so
a dead kubelet shows as Degraded (NodeNotReady, in the node's words) and its return as Running."""

from __future__ import annotations

from typing import Any

import kopf

from ..api import WORKSPACE
from ..child_kinds import POD
from ..core.runtime import context
from ..reconcile.observed import node_fault


@kopf.on.event("v1", "nodes")
async def node_event(**kw: Any) -> None:
    (rt, idx), name = context(kw), kw["name"]
    fault = None if kw["type"] == "DELETED" else node_fault(dict(kw["body"]))
    if name in rt.node_faults and rt.node_faults[name] == fault:
        return  # a heartbeat or a change of something else: nothing for the workspaces
    first = name not in rt.node_faults
    rt.node_faults[name] = fault
    if first and fault is None:
        return  # a healthy node seen for the first time (start-up)
    # Rare (a node's readiness flips), so a pass over the pods index is fine.
    for key, pods in list(idx.of_kind(POD).items()):
        if any(p.node == name for p in pods):
            await rt.reconcile(WORKSPACE, *key)
