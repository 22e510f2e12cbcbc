"""The indexes Kopf keeps current from its watches (what core/indexes.py reads).

The indexers are coroutines although they do not wait for anything: Kopf runs plain functions
in a thread pool, a hop per event per index that cost more than the indexing itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import kopf

from ..api import GROUP, VERSION
from ..api.workspace import WORKSPACE_LABEL
from ..child_kinds import CHILD_KINDS, DEPLOYMENT, PVC, ChildKind
from ..core.indexes import CHILD, Seen, trimmed
from ..reconcile.access import SHARE_LABEL
from ..reconcile.observed import deployment_view, node_fault, pod_view, pvc_view


@kopf.index(GROUP, VERSION, "workspaces")
async def workspaces(name: str, body: kopf.Body, **kw: Any) -> dict[Any, Any]:
    namespace = kw["namespace"]
    return {
        (namespace, name): {
            "apiVersion": body.get("apiVersion"),
            "kind": body.get("kind"),
            "metadata": {
                "name": name,
                "namespace": namespace,
                "uid": body.metadata.uid,
                "generation": body.metadata.get("generation", 1),
                "annotations": dict(body.metadata.annotations),
                "deletionTimestamp": body.metadata.get("deletionTimestamp"),
                "resourceVersion": int(body.metadata.get("resourceVersion") or 0),
            },
            "spec": dict(body.spec),
            "status": dict(body.status),
        }
    }


@kopf.index(GROUP, VERSION, "workspaces")
async def workspaces_by_template(name: str, spec: kopf.Spec, **kw: Any) -> dict[Any, Any]:
    namespace = kw["namespace"]
    ref = spec.get("templateRef")
    return {ref: f"{namespace}/{name}"} if ref else {}


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


def _child_key(kw: dict[str, Any]) -> tuple[str, str]:
    return (kw["namespace"], kw["labels"][WORKSPACE_LABEL])


def _seen(body: kopf.Body, view: Any = None) -> Seen:
    return Seen.of(
        trimmed(body),
        view,
        kind=body["kind"],
        name=body.metadata.name,
        share_owned=SHARE_LABEL in body.metadata.labels,
        version=int(body.metadata.get("resourceVersion") or 0),
    )


# What each child kind's index keeps besides the trimmed body: the status view decisions read.
# Pods are never written by the operator: their view alone.
_VIEWS: dict[str, Callable[[dict[str, Any]], Any]] = {
    PVC.kind: pvc_view,
    DEPLOYMENT.kind: deployment_view,
}


def _child_indexer(kind: ChildKind) -> Callable[..., Awaitable[dict[Any, Any]]]:
    view = _VIEWS.get(kind.kind)

    async def index(body: kopf.Body, **kw: Any) -> dict[Any, Any]:
        if not kind.owned:
            return {_child_key(kw): pod_view(dict(body))}
        return {_child_key(kw): _seen(body, view(dict(body)) if view else None)}

    index.__name__ = index.__qualname__ = kind.index
    return index


# One index per child kind, by workspace: (namespace, workspace name) -> what was seen.
for _kind in CHILD_KINDS:
    kopf.index(
        group=_kind.group, version=_kind.version, plural=_kind.plural, labels=CHILD, id=_kind.index
    )(_child_indexer(_kind))


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
