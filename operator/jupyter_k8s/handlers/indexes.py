"""The indexes Kopf keeps current from its watches (what core/indexes.py reads). The
workspaces and their children are not among them: the operator watches those itself
(core/watches.py).

The indexers are coroutines although they do not wait for anything: Kopf runs plain functions
in a thread pool, a hop per event per index that cost more than the indexing itself.
"""

from __future__ import annotations

from typing import Any

import kopf

from ..api import GROUP, VERSION
from ..reconcile.observed import node_fault


@kopf.index(GROUP, VERSION, "workspacetemplates")
async def templates(name: str, body: kopf.Body, **_: Any) -> dict[Any, Any]:
    return {
        name: {
            "metadata": {
                "name": name,
                "uid": body.metadata.uid,
                "generation": body.metadata.get("generation", 1),
                "finalizers": list(body.metadata.get("finalizers") or []),
                "deletionTimestamp": body.metadata.get("deletionTimestamp"),
                "resourceVersion": body.metadata.get("resourceVersion"),
            },
            "spec": dict(body.spec),
            "status": dict(body.status),
        }
    }


@kopf.index(GROUP, VERSION, "workspacemanagers")
async def managers(name: str, body: kopf.Body, **_: Any) -> dict[Any, Any]:
    return {
        name: {
            "spec": dict(body.spec),
            "status": dict(body.status),
            "generation": body.metadata.get("generation", 1),
        }
    }


@kopf.index("v1", "nodes")
async def node_faults(name: str, body: kopf.Body, **_: Any) -> dict[Any, Any]:
    """Only the nodes that are not Ready, with why: a workspace on one is Degraded."""
    fault = node_fault(dict(body))
    return {name: fault} if fault else {}


@kopf.index(GROUP, VERSION, "workspaceexecutionprofiles")
async def profiles(name: str, body: kopf.Body, **_: Any) -> dict[Any, Any]:
    return {
        name: {
            "spec": dict(body.spec),
            "generation": body.metadata.get("generation", 1),
            "status": dict(body.status),
        }
    }


@kopf.index(GROUP, VERSION, "workspaceshares")
async def shares_by_workspace(name: str, spec: kopf.Spec, **kw: Any) -> dict[Any, Any]:
    return {(kw["namespace"], spec.get("workspaceName")): name}
