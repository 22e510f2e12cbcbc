"""In-memory views of everything the reconcilers read, kept current by Kopf's watches
(their indexers are registered in handlers/indexes.py).

Reconciliation reads these instead of asking the API server, so a pass over an unchanged
workspace costs no API call at all. Values are trimmed to what decisions need.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import kopf

from ..api.workspace import WORKSPACE_LABEL
from ..child_kinds import CHILD_KINDS, DEPLOYMENT, OWNED, POD, PVC, ChildKind
from ..reconcile.observed import PodView

CHILD = {WORKSPACE_LABEL: kopf.PRESENT}
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
