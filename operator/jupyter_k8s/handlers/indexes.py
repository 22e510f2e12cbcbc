"""In-memory views of everything the reconcilers read, kept current by Kopf's watches.

Reconciliation reads these instead of asking the API server, so a pass over an unchanged
workspace costs no API call at all. Values are trimmed to what decisions need.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import kopf

from ..api import GROUP, VERSION
from ..api.workspace import WORKSPACE_LABEL
from ..child_kinds import CHILD_KINDS, DEPLOYMENT, OWNED, POD, PVC, ChildKind
from ..reconcile.access import SHARE_LABEL
from ..reconcile.observed import (
    PodView,
    deployment_view,
    node_fault,
    pod_view,
    pvc_view,
)

CHILD = {WORKSPACE_LABEL: kopf.PRESENT}
# The indexers are coroutines although they do not wait for anything: Kopf runs plain functions
# in a thread pool, a hop per event per index that cost more than the indexing itself.
_DROP_META = ("managedFields", "resourceVersion", "creationTimestamp", "generation", "uid")


def trimmed(body: Any) -> dict[str, Any]:
    """The object without status and server bookkeeping: what desired state is compared to.
    (Every other top-level field stays: spec, but also a Role's rules, a RoleBinding's
    subjects, a ServiceAccount's automountServiceAccountToken.)"""
    out = {k: v for k, v in dict(body).items() if k != "status"}
    out["metadata"] = {
        k: v for k, v in dict(body.get("metadata", {})).items() if k not in _DROP_META
    }
    return out


@dataclass(frozen=True)
class Seen:
    """A child as last seen: the trimmed object (for drift checks) and a status view.

    The object is kept as compact JSON, decoded only when a drift check needs it (a version
    the applier has not verified yet): as Python dicts, the children's bodies were most of
    what the operator held per workspace (a Deployment's alone some 30 KB)."""

    packed: bytes
    view: Any
    kind: str = ""
    name: str = ""
    share_owned: bool = False  # a WorkspaceShare's binding, not the workspace's own
    version: int = 0  # resourceVersion: tells whether our own last write has been seen yet

    @classmethod
    def of(cls, body: dict[str, Any], view: Any = None, **rest: Any) -> Seen:
        return cls(json.dumps(body, separators=(",", ":")).encode(), view, **rest)

    @property
    def body(self) -> dict[str, Any]:
        return json.loads(self.packed)  # type: ignore[no-any-return]


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


@dataclass(frozen=True)
class Indexes:
    """All indexes, taken from a handler's keyword arguments (Kopf hands the same live
    objects to every handler)."""

    workspaces: kopf.Index[Any, Any]
    workspaces_by_template: kopf.Index[Any, Any]
    templates: kopf.Index[Any, Any]
    managers: kopf.Index[Any, Any]
    profiles: kopf.Index[Any, Any]
    shares_by_workspace: kopf.Index[Any, Any]
    node_faults: kopf.Index[Any, Any]
    # Each child kind's index by workspace, by kind (child_kinds.CHILD_KINDS).
    by_kind: dict[str, kopf.Index[Any, Any]]

    @classmethod
    def of(cls, kwargs: dict[str, Any]) -> Indexes:
        named = {name: kwargs[name] for name in cls.__dataclass_fields__ if name != "by_kind"}
        return cls(**named, by_kind={c.kind: kwargs[c.index] for c in CHILD_KINDS})

    def of_kind(self, kind: ChildKind) -> kopf.Index[Any, Any]:
        return self.by_kind[kind.kind]

    def children(self, key: Any) -> dict[tuple[str, str], Seen]:
        """Every child of one workspace that the operator writes, by (kind, name)."""
        found: dict[tuple[str, str], Seen] = {}
        for kind in OWNED:
            for seen in self.by_kind[kind.kind].get(key) or []:
                found[(seen.kind, seen.name)] = seen
        return found


def one(index: kopf.Index[Any, Any], key: Any) -> Any:
    store = index.get(key)
    if not store:
        return None
    return next(iter(store))


def pvc(idx: Indexes, key: Any) -> Seen | None:
    return one(idx.of_kind(PVC), key)  # type: ignore[no-any-return]


def deployment(idx: Indexes, key: Any) -> Seen | None:
    return one(idx.of_kind(DEPLOYMENT), key)  # type: ignore[no-any-return]


def pods(idx: Indexes, key: Any) -> list[PodView]:
    return list(idx.of_kind(POD).get(key) or [])
