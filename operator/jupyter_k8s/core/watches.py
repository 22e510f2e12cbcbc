"""The workspaces and their children, as the operator last saw them, and what their changes
set off.

Kept current by the operator's own list-watches (kube/watch.py), one per kind and watched
scope, not by Kopf: an event needs only its index entry updated and a pass queued, and Kopf's
per-event machinery (a worker per object, wrapped bodies, handler matching, keyword arguments)
cost more than everything else the operator does (make bench --profile). The kinds that
change rarely (templates, managers, profiles, shares, nodes) stay Kopf's.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Sequence
from typing import Any

from ..api import API_VERSION, WORKSPACE
from ..api.workspace import WORKSPACE_LABEL
from ..child_kinds import CHILD_KINDS, ChildKind
from ..kube.client import object_path
from ..kube.watch import Event, ListWatch
from .indexes import Key, owner_key
from .missed import check_still_there, live_workspace
from .runtime import Runtime
from .workspace_events import sets_off_a_pass, workspace_changed

log = logging.getLogger(__name__)

# A child's change reconciles its workspace this much later, so that what changes together
# (a PersistentVolumeClaim and a Deployment answering our writes, a pod and its Deployment's
# counters) costs one pass, not one each: a burst of a starting workspace's events.
SETTLE_SECONDS = 0.1
# A change that only moved a start along (a claim bound, a pod scheduled or running but not
# ready: indexes.Change) waits longer: what follows it (the pod's readiness, its Deployment
# rolled out) comes within this time and is one pass with it, and such a change alone writes
# nothing but a progress message.
PROGRESS_SETTLE_SECONDS = 1.0


class Watches:
    """The list-watches of the workspaces and every child kind (into the runtime's indexes),
    and what an event sets off."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._unlisted: set[tuple[str, str | None]] = set()
        self._watches: list[ListWatch] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.rt.applier.on_news = lambda key: self.rt.queue.later(
            (WORKSPACE.kind, *key), SETTLE_SECONDS
        )
        self.rt.statuses.on_news = functools.partial(self._workspace_event, "MODIFIED")
        scopes: tuple[str | None, ...] = self.rt.settings.namespaces or (None,)
        for namespace in scopes:
            self._unlisted.add((WORKSPACE.kind, namespace))
            self._watch(
                object_path(API_VERSION, WORKSPACE.kind, namespace),
                "",
                self._from_thread(self._on_workspaces_listed, namespace),
                self._from_thread(self._on_workspace_events),
                f"watch-workspaces-{namespace or 'all'}",
            )
            for kind in CHILD_KINDS:
                self._unlisted.add((kind.kind, namespace))
                self._watch(
                    object_path(kind.api_version, kind.kind, namespace),
                    WORKSPACE_LABEL,  # every child carries it: the server filters
                    self._from_thread(self._on_listed, kind, namespace),
                    self._from_thread(self._on_events, kind),
                    f"watch-{kind.plural}-{namespace or 'all'}",
                )

    def _watch(
        self,
        path: str,
        selector: str,
        on_listed: Callable[[Any], None],
        on_events: Callable[[Any], None],
        name: str,
    ) -> None:
        watch = ListWatch(self.rt.kube, path, selector, on_listed=on_listed, on_events=on_events)
        watch.start(name)
        self._watches.append(watch)

    def stop(self) -> None:
        for watch in self._watches:
            watch.stop()

    def _from_thread(self, fn: Callable[..., None], *args: Any) -> Callable[[Any], None]:
        """A callback for a watch's thread that runs `fn(*args, payload)` on the event loop."""
        loop, bound = self._loop, functools.partial(fn, *args)
        if loop is None:
            raise RuntimeError("start() the watches from the event loop")

        def deliver(payload: Any) -> None:
            loop.call_soon_threadsafe(bound, payload)

        return deliver

    def _on_listed(
        self, kind: ChildKind, namespace: str | None, objs: list[dict[str, Any]]
    ) -> None:
        for obj in objs:  # a list's items carry no kind (a watch event's do)
            obj.setdefault("apiVersion", kind.api_version)
            obj.setdefault("kind", kind.kind)
        changes = self.rt.children[kind.kind].replace(namespace, objs)
        if self._first_list(kind.kind, namespace):
            return  # the workspaces' first list reconciles every one of them
        self._changed(kind, changes)

    def _first_list(self, kind: str, namespace: str | None) -> bool:
        if (kind, namespace) not in self._unlisted:
            return False
        self._unlisted.discard((kind, namespace))
        if not self._unlisted:
            self.rt.mark_listed()
        return True

    def _on_workspaces_listed(self, namespace: str | None, objs: list[dict[str, Any]]) -> None:
        for obj in objs:
            obj.setdefault("apiVersion", API_VERSION)
            obj.setdefault("kind", WORKSPACE.kind)
        changes = self.rt.workspaces.replace(namespace, objs)
        if self._first_list(WORKSPACE.kind, namespace):
            for obj in objs:  # all of them, found at start-up
                self._workspace_event(None, obj)
            return
        for type_, obj in changes:
            self._workspace_event(type_, obj)

    def _on_workspace_events(self, events: list[Event]) -> None:
        for type_, obj in events:
            changed = self.rt.workspaces.apply(type_, obj)
            if type_ == "MODIFIED" and changed and self.rt.statuses.hold(obj):
                continue  # its status is being written: our echo, or a pass once it answers
            if sets_off_a_pass(self.rt, type_, obj, changed):
                self._workspace_event(type_, obj)

    def _workspace_event(self, type_: str | None, obj: dict[str, Any]) -> None:
        meta, spec = obj["metadata"], obj.get("spec") or {}
        self.rt.spawn(
            workspace_changed(
                self.rt, type_, meta["namespace"], meta["name"], spec.get("templateRef")
            )
        )

    def _on_events(self, kind: ChildKind, events: list[Event]) -> None:
        index = self.rt.children[kind.kind]
        changed: list[Event] = []
        progress: list[bool] = []
        for type_, obj in events:
            change = index.change(type_, obj)
            if change is not None:
                changed.append((type_, obj))
                progress.append(change.progress)
        self._changed(kind, changed, progress)

    def _changed(self, kind: ChildKind, events: list[Event], progress: Sequence[bool] = ()) -> None:
        """Each workspace whose child changed reconciles (once per batch), which repairs drift.
        `progress[i]`: whether events[i] only moved a start along (none, when not given)."""
        rt = self.rt
        if not rt.ready.is_set():
            return  # the workspaces' first list reconciles all of them
        keys: dict[Key, list[str]] = {}
        news: set[Key] = set()  # workspaces with a change that is more than progress
        for i, (type_, obj) in enumerate(events):
            key = owner_key(obj)
            if key is None:
                continue
            if type_ != "DELETED" and rt.applier.is_echo(key, obj):
                continue  # the echo of our own write: nothing new
            if type_ != "DELETED" and rt.applier.hold(key, obj):
                continue  # being written: an echo, or a pass once the write answers
            if type_ == "DELETED":  # whatever we wrote is gone: write it again if wanted
                rt.applier.forget_child(key, (kind.kind, obj["metadata"]["name"]))
            if not (progress and progress[i]):
                news.add(key)
            keys.setdefault(key, []).append(type_)
        for key, types in keys.items():
            if "DELETED" in types and kind.owned:
                rt.spawn(self._deleted(key))
            else:
                # An earlier time already set stands (WorkQueue.later): news that follows
                # a progress change is not held back by it.
                delay = SETTLE_SECONDS if key in news else PROGRESS_SETTLE_SECONDS
                rt.queue.later((WORKSPACE.kind, *key), delay)

    async def _deleted(self, key: Key) -> None:
        """One of the workspace's own children vanished: deleted by hand, or by the garbage
        collector because its owner is gone and we missed that. One GET tells. (Pods come and
        go with every stop and rollout and are never the operator's own objects: no GET.)"""
        rt = self.rt
        ws = live_workspace(rt, rt.idx, key)
        alive = ws is not None and not ws["metadata"].get("deletionTimestamp")
        if alive and not await check_still_there(rt, rt.idx, key):
            return
        await rt.reconcile(WORKSPACE, *key)
