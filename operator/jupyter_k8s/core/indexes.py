"""In-memory views of everything the reconcilers read, kept current by watches: the
operator's own for the workspaces and their children (core/watches.py), Kopf's for the other
kinds (their indexers are in handlers/indexes.py).

Reconciliation reads these instead of asking the API server, so a pass over an unchanged
workspace costs no API call at all. Values are trimmed to what decisions need.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import kopf
import orjson

from ..api.workspace import WORKSPACE_LABEL
from ..child_kinds import CHILD_KINDS, DEPLOYMENT, OWNED, POD, PVC, ChildKind
from ..deploy.settings import FIELD_MANAGER
from ..kube.field_owners import created_by
from ..kube.watch import Event
from ..reconcile.access import SHARE_LABEL
from ..reconcile.observed import (
    PodView,
    PvcView,
    claim_bound,
    deployment_view,
    only_progress,
    pod_view,
    pvc_view,
)

Key = tuple[str, str]  # a workspace's (namespace, name)
_DROP_META = ("managedFields", "resourceVersion", "creationTimestamp", "generation", "uid")


def trimmed(body: Any, kind: ChildKind | None = None) -> dict[str, Any]:
    """The object without status and server bookkeeping: what desired state is compared to.
    (Every other top-level field stays: spec, but also a Role's rules, a RoleBinding's
    subjects, a ServiceAccount's automountServiceAccountToken.) With its `kind`, also without
    what other controllers write on it (ChildKind.controller_annotations/controller_spec)."""
    out = {k: v for k, v in dict(body).items() if k != "status"}
    meta = {k: v for k, v in dict(body.get("metadata", {})).items() if k not in _DROP_META}
    if kind is not None and kind.controller_annotations and meta.get("annotations"):
        ours = {
            k: v for k, v in meta["annotations"].items() if k not in kind.controller_annotations
        }
        # None left: no map at all, as the server shows an empty one (otherwise the first
        # controller annotation would read as a change: absent -> {}).
        if ours:
            meta["annotations"] = ours
        else:
            del meta["annotations"]
    if kind is not None and kind.controller_spec and isinstance(out.get("spec"), dict):
        out["spec"] = {k: v for k, v in out["spec"].items() if k not in kind.controller_spec}
    out["metadata"] = meta
    return out


@dataclass(frozen=True)
class Seen:
    """A child as last seen: the trimmed object (for drift checks) and a status view.

    The object is kept as compact JSON, compressed (see `_Packing`), decoded only when a
    drift check needs it (a version the applier has not verified yet): as Python dicts, the
    children's bodies were most of what the operator held per workspace (a Deployment's alone
    some 30 KB), and as plain JSON still the largest part (14 MiB of 500 workspaces')."""

    packed: bytes
    view: Any
    kind: str = ""
    name: str = ""
    share_owned: bool = False  # a WorkspaceShare's binding, not the workspace's own
    version: int = 0  # resourceVersion: tells whether our own last write has been seen yet
    # Made by the operator's POST, its fields not yet claimed for its applies (kube/field_owners.py).
    unclaimed: bool = False

    @classmethod
    def of(cls, body: dict[str, Any], view: Any = None, **rest: Any) -> Seen:
        return cls(_packing(rest.get("kind", "")).pack(orjson.dumps(body)), view, **rest)

    @property
    def body(self) -> dict[str, Any]:
        return orjson.loads(_packing(self.kind).unpack(self.packed))  # type: ignore[no-any-return]


class _Packing:
    """zlib with a preset dictionary: the first body of the kind this process packs. Two
    children of one kind differ in little but names, so each compresses to a fifth (a
    dictionary-less zlib: to half). The dictionary never changes once set: every body packed
    with it can be read back."""

    def __init__(self) -> None:
        self.dictionary: bytes | None = None

    def pack(self, raw: bytes) -> bytes:
        if self.dictionary is None:
            self.dictionary = raw
        out = zlib.compressobj(1, zdict=self.dictionary)
        return out.compress(raw) + out.flush()

    def unpack(self, packed: bytes) -> bytes:
        if self.dictionary is None:
            raise ValueError("nothing of this kind was packed in this process")
        return zlib.decompressobj(zdict=self.dictionary).decompress(packed)


_PACKINGS: dict[str, _Packing] = {}


def _packing(kind: str) -> _Packing:
    found = _PACKINGS.get(kind)
    if found is None:
        found = _PACKINGS[kind] = _Packing()
    return found


@dataclass(frozen=True)
class Indexes:
    """All indexes: Kopf's, taken from a handler's keyword arguments (it hands the same live
    objects to every handler), and the operator's own (workspaces, children). Each is read
    alike: `index.get(key)` is a collection of values, or None; iterating gives the keys."""

    # (namespace, name) -> [the workspace, trimmed]; template name -> {"namespace/name", ...}
    workspaces: dict[Key, list[dict[str, Any]]]
    workspaces_by_template: dict[str, set[str]]
    templates: kopf.Index[Any, Any]
    managers: kopf.Index[Any, Any]
    profiles: kopf.Index[Any, Any]
    shares_by_workspace: kopf.Index[Any, Any]
    node_faults: kopf.Index[Any, Any]
    # Each child kind's index by workspace, by kind (child_kinds.CHILD_KINDS).
    by_kind: dict[str, ChildIndex]

    @classmethod
    def of(
        cls, kwargs: dict[str, Any], workspaces: WorkspaceIndex, by_kind: dict[str, ChildIndex]
    ) -> Indexes:
        own = ("workspaces", "workspaces_by_template", "by_kind")
        named = {name: kwargs[name] for name in cls.__dataclass_fields__ if name not in own}
        return cls(
            **named,
            workspaces=workspaces.by_key,
            workspaces_by_template=workspaces.by_template,
            by_kind=by_kind,
        )

    def of_kind(self, kind: ChildKind) -> ChildIndex:
        return self.by_kind[kind.kind]

    def children(self, key: Any) -> dict[tuple[str, str], Seen]:
        """Every child of one workspace that the operator writes, by (kind, name)."""
        found: dict[tuple[str, str], Seen] = {}
        for kind in OWNED:
            for seen in self.by_kind[kind.kind].get(key) or []:
                found[(seen.kind, seen.name)] = seen
        return found


# What each child kind's index keeps besides the trimmed body: the status view decisions read.
# Pods are never written by the operator: their view alone.
_VIEWS: dict[str, Callable[[dict[str, Any]], Any]] = {
    PVC.kind: pvc_view,
    DEPLOYMENT.kind: deployment_view,
}


def seen(kind: ChildKind, obj: dict[str, Any]) -> Any:
    """What the index keeps of one child."""
    if not kind.owned:
        return pod_view(obj)
    view = _VIEWS.get(kind.kind)
    meta = obj["metadata"]
    return Seen.of(
        trimmed(obj, kind),
        view(obj) if view else None,
        kind=kind.kind,
        name=meta["name"],
        share_owned=SHARE_LABEL in (meta.get("labels") or {}),
        version=_version(obj),
        unclaimed=created_by(meta.get("managedFields"), FIELD_MANAGER),
    )


def _version(obj: dict[str, Any]) -> int:
    return int(obj["metadata"].get("resourceVersion") or 0)


def owner_key(obj: dict[str, Any]) -> Key | None:
    meta = obj.get("metadata") or {}
    owner = (meta.get("labels") or {}).get(WORKSPACE_LABEL)
    return (meta["namespace"], owner) if owner and meta.get("namespace") else None


class Change(NamedTuple):
    """A child's change that a pass reads: its workspace, and whether it only moved a start
    along (a pod scheduled, given an address, running: observed.only_progress; a claim
    bound: observed.claim_bound)."""

    key: Key
    progress: bool = False


class ChildIndex:
    """One child kind by workspace: (namespace, workspace) -> what was seen of each child.
    Read like Kopf's indexes: `get(key)` is the workspace's children of this kind, or None."""

    def __init__(self, kind: ChildKind) -> None:
        self.kind = kind
        # (namespace, workspace) -> child name -> (resourceVersion, what the index keeps)
        self._by_ws: dict[Key, dict[str, tuple[int, Any]]] = {}

    def get(self, key: Key, default: Any = None) -> list[Any] | Any:
        found = self._by_ws.get(key)
        return [value for _, value in found.values()] if found else default

    def items(self) -> Iterator[tuple[Key, list[Any]]]:
        for key, found in list(self._by_ws.items()):
            yield key, [value for _, value in found.values()]

    def __len__(self) -> int:
        return len(self._by_ws)

    def apply(self, kind: str, obj: dict[str, Any]) -> Key | None:
        """One watch event. Returns the workspace it belongs to when what a pass reads of it
        changed (None: nothing did, or not a workspace's child): most events of a starting
        workspace's children change only fields no decision reads (a pod's container
        statuses, a Deployment's counters), and a pass for those would plan the same again."""
        change = self.change(kind, obj)
        return change.key if change is not None else None

    def change(self, kind: str, obj: dict[str, Any]) -> Change | None:
        """`apply`, also telling whether the change only moved a start along (`Change`)."""
        key = owner_key(obj)
        if key is None:
            return None
        name = obj["metadata"]["name"]
        found = self._by_ws.get(key)
        if kind == "DELETED":
            if found is None or found.pop(name, None) is None:
                return None
            if not found:
                del self._by_ws[key]
            return Change(key)
        value = seen(self.kind, obj)
        old = found.get(name) if found is not None else None
        self._by_ws.setdefault(key, {})[name] = (_version(obj), value)
        if old is not None and _same(old[1], value):
            return None
        return Change(key, old is not None and _progress(old[1], value))

    def replace(self, namespace: str | None, objs: list[dict[str, Any]]) -> list[Event]:
        """A full list of one scope (a namespace, or None: all): it becomes the index's content
        there. Returns what differs from before, as events (a list after a lost watch)."""
        listed: dict[tuple[Key, str], dict[str, Any]] = {}
        for obj in objs:
            key = owner_key(obj)
            if key is not None:
                listed[(key, obj["metadata"]["name"])] = obj
        changes: list[Event] = []
        for key, found in list(self._by_ws.items()):
            if namespace is not None and key[0] != namespace:
                continue
            for name, (version, _) in list(found.items()):
                now = listed.get((key, name))
                if now is None:
                    changes.append(("DELETED", _gone(self.kind, key, name)))
                elif _version(now) == version:
                    listed.pop((key, name))  # unchanged
        for obj in listed.values():
            changes.append(("MODIFIED", obj))
        for kind, obj in changes:
            self.apply(kind, obj)
        return changes


def _progress(old: Any, new: Any) -> bool:
    """Whether a child's change only moved a start along (a pod's progress, a claim bound),
    its trimmed body unchanged: a pass for it can wait a little (core/watches.py)."""
    if isinstance(old, PodView) and isinstance(new, PodView):
        return only_progress(old, new)
    return (
        isinstance(old, Seen)
        and isinstance(new, Seen)
        and old.packed == new.packed
        and isinstance(old.view, PvcView)
        and isinstance(new.view, PvcView)
        and claim_bound(old.view, new.view)
    )


def _same(old: Any, new: Any) -> bool:
    """The same to a pass (a Seen's resourceVersion aside)."""
    if isinstance(old, Seen) and isinstance(new, Seen):
        return (old.packed, old.view, old.share_owned) == (new.packed, new.view, new.share_owned)
    return bool(old == new)


def _gone(kind: ChildKind, key: Key, name: str) -> dict[str, Any]:
    """What a DELETED event would carry, for a child that vanished while unwatched."""
    return {
        "apiVersion": kind.api_version,
        "kind": kind.kind,
        "metadata": {"namespace": key[0], "name": name, "labels": {WORKSPACE_LABEL: key[1]}},
    }


def workspace_entry(obj: dict[str, Any]) -> dict[str, Any]:
    """What the index keeps of a workspace: no managedFields, no server bookkeeping besides
    the version (the status cache compares it)."""
    meta = obj["metadata"]
    return {
        "apiVersion": obj.get("apiVersion"),
        "kind": obj.get("kind"),
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta.get("uid"),
            "generation": meta.get("generation", 1),
            "annotations": dict(meta.get("annotations") or {}),
            "deletionTimestamp": meta.get("deletionTimestamp"),
            "resourceVersion": _version(obj),
        },
        "spec": dict(obj.get("spec") or {}),
        "status": dict(obj.get("status") or {}),
    }


def _without_version(entry: dict[str, Any]) -> dict[str, Any]:
    return {**entry, "metadata": {**entry["metadata"], "resourceVersion": 0}}


class WorkspaceIndex:
    """The workspaces by (namespace, name), and by the template they name."""

    def __init__(self) -> None:
        self.by_key: dict[Key, list[dict[str, Any]]] = {}
        self.by_template: dict[str, set[str]] = {}

    def apply(self, kind: str, obj: dict[str, Any]) -> bool:
        """One watch event; False when nothing but the version changed (nothing to plan)."""
        meta = obj["metadata"]
        key = (meta["namespace"], meta["name"])
        old = self.by_key.get(key)
        self._untemplate(key, old[0] if old else None)
        if kind == "DELETED":
            return self.by_key.pop(key, None) is not None
        entry = workspace_entry(obj)
        self.by_key[key] = [entry]
        ref = entry["spec"].get("templateRef")
        if ref:
            self.by_template.setdefault(ref, set()).add(f"{key[0]}/{key[1]}")
        return old is None or _without_version(old[0]) != _without_version(entry)

    def _untemplate(self, key: Key, entry: dict[str, Any] | None) -> None:
        ref = (entry or {}).get("spec", {}).get("templateRef")
        users = self.by_template.get(ref) if ref else None
        if users is not None:
            users.discard(f"{key[0]}/{key[1]}")
            if not users:
                del self.by_template[str(ref)]

    def replace(self, namespace: str | None, objs: list[dict[str, Any]]) -> list[Event]:
        """A full list of one scope (a namespace, or None: all): it becomes the index's content
        there. Returns what differs from before, as events: ADDED for a workspace new to the
        index, MODIFIED for a changed one, DELETED for one gone while unwatched."""
        changes: list[Event] = []
        listed = {(o["metadata"]["namespace"], o["metadata"]["name"]): o for o in objs}
        for key, (entry,) in list(self.by_key.items()):
            if namespace is not None and key[0] != namespace:
                continue
            now = listed.get(key)
            if now is None:
                changes.append(("DELETED", {**entry, "metadata": dict(entry["metadata"])}))
            elif _version(now) == entry["metadata"]["resourceVersion"]:
                listed.pop(key)  # unchanged
        for key, obj in listed.items():
            changes.append(("MODIFIED" if key in self.by_key else "ADDED", obj))
        for kind, obj in changes:
            self.apply(kind, obj)
        return changes


def child_indexes() -> dict[str, ChildIndex]:
    """An empty index for each child kind."""
    return {c.kind: ChildIndex(c) for c in CHILD_KINDS}


def one(index: Any, key: Any) -> Any:
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
