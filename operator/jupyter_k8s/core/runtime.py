"""What the handlers share for the life of the process (kept in Kopf's `memo`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..api import WORKSPACE, WORKSPACE_EXECUTION_PROFILE, WORKSPACE_TEMPLATE, KindDef
from ..api.template import TEMPLATE_FINALIZER
from ..config import Settings
from ..kube import Kube
from ..metrics import PhaseBook
from . import indexes as ix
from .applier import Applier, StatusCache
from .indexes import ChildIndex, Indexes, WorkspaceIndex, child_indexes
from .parsed import ParseCache
from .slots import PassSlots
from .workqueue import WorkQueue

log = logging.getLogger(__name__)
COUNT_DELAY = 1.0  # seconds: how stale a template's or profile's workspaceCount may be
EVENT_THREADS = 4


@dataclass
class Runtime:
    settings: Settings
    kube: Kube
    phases: PhaseBook = field(default_factory=PhaseBook)
    queue: WorkQueue = field(default_factory=WorkQueue)
    # How many workspace passes run at once (as many as API threads), and which go first.
    slots: PassSlots = field(default_factory=lambda: PassSlots(64))
    # Events are best effort and no pass waits for them: threads of their own, so that a
    # burst of them never queues ahead of the passes' writes.
    event_threads: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(EVENT_THREADS, "jk-events")
    )
    tasks: set[asyncio.Future[None]] = field(default_factory=set)
    indexes: Indexes | None = None  # once the first handler ran (Kopf hands them to handlers)
    # The workspaces and their children by kind, kept by the operator's own watches
    # (core/watches.py), and whether each has been listed once.
    workspaces: WorkspaceIndex = field(default_factory=WorkspaceIndex)
    children: dict[str, ChildIndex] = field(default_factory=child_indexes)
    listed: asyncio.Event = field(default_factory=asyncio.Event)
    # Set once every index a pass reads is filled: ours listed, and Kopf's (Kopf runs no
    # resource handler before its own are; the nodes' handler runs at start in any cluster).
    # No pass runs before: it would see no children, or no template, and write that down.
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    proxy_key: bytes | None = None  # derives each workspace's proxy secret
    webhook_url: str = ""  # url mode: where this process registered its webhook
    # What workspaces last saw of each manager (see handlers/managers.py, core/manager.py).
    managers_seen: dict[str, Any] = field(default_factory=dict)
    # Workspaces found deleted although the index still has them: a watch that reconnected
    # re-lists, and a list can race a deletion (core/missed.py). (namespace, name) ->
    # the UID found gone; a new workspace of the same name has another UID.
    gone: dict[tuple[str, str], str] = field(default_factory=dict)
    # The generation of each execution profile the workspaces were last reconciled against.
    profiles_seen: dict[str, int] = field(default_factory=dict)
    # Our own writes, remembered until the watches deliver them (core/applier.py).
    applier: Applier = field(init=False)
    statuses: StatusCache = field(default_factory=StatusCache)
    # Since when (event loop time) each workspace's status news has been only a message that
    # waits for a real change (core/workspace.py `_settling`).
    settling: dict[tuple[str, str], float] = field(default_factory=dict)
    parsed: ParseCache = field(default_factory=ParseCache)
    # False on a standby replica (leader election): handlers run, indexes stay warm, nothing
    # is reconciled or written.
    leading: bool = True
    # Each node's readiness as last seen (None: Ready), to act only when it changes.
    node_faults: dict[str, str | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.queue.active = lambda: self.leading
        self.applier = Applier(self.kube, self.call)

    def mark_listed(self) -> None:
        self.listed.set()
        self.check_ready()

    def check_ready(self) -> None:
        if self.listed.is_set() and self.indexes is not None:
            self.ready.set()

    async def wait_ready(self) -> None:
        await self.ready.wait()

    @property
    def idx(self) -> Indexes:
        if self.indexes is None:
            raise RuntimeError("no handler has run yet: the indexes are not known")
        return self.indexes

    async def reconcile(self, kind: KindDef, *identity: str) -> None:
        """Reconcile one object now (through the work queue: coalesced, retried on failure)."""
        await self.queue.run((kind.kind, *identity))

    async def reconcile_workspaces(self) -> None:
        """Every workspace the indexes hold (a manager, a profile, the resync)."""
        for namespace, name in list(self.idx.workspaces):
            await self.reconcile(WORKSPACE, namespace, name)

    async def template_used(self, name: str) -> None:
        """A workspace naming template `name` came or went. The template's pass walks all of
        its workspaces, so in a burst (hundreds created at once) it runs soon and once, not
        once per workspace; but at once while the template lacks our finalizer: it is in use
        now and must not be deleted from under its workspaces."""
        body = ix.one(self.idx.templates, name)
        if body is not None and TEMPLATE_FINALIZER not in body["metadata"]["finalizers"]:
            await self.reconcile(WORKSPACE_TEMPLATE, name)
        else:
            self.queue.later((WORKSPACE_TEMPLATE.kind, name), COUNT_DELAY)

    def recount_profiles(self) -> None:
        """Every profile's workspaceCount, soon and once: counting walks every workspace for
        every profile, and a burst of workspace events (hundreds created at once) must cost
        one count, not one per event."""
        for name in list(self.idx.profiles):
            self.queue.later((WORKSPACE_EXECUTION_PROFILE.kind, name), COUNT_DELAY)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run `coro` as a task of its own, kept until done (a pass set off by a watch)."""
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def post_events(self, involved: dict[str, Any], events: list[tuple[str, str, str]]) -> None:
        """Post (type, reason, message) events on `involved`, in order, without waiting."""
        self.event_threads.submit(self._post_events, involved, events)

    def _post_events(self, involved: dict[str, Any], events: list[tuple[str, str, str]]) -> None:
        for type_, reason, message in events:
            try:
                self.kube.event(involved, type_, reason, message)
            except Exception:  # best effort (kube.event itself logs refusals)
                log.exception("could not post event %s on %s", reason, involved["metadata"]["name"])

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a blocking API call off the event loop."""
        return await asyncio.to_thread(fn, *args, **kwargs)


def context(kw: dict[str, Any]) -> tuple[Runtime, Indexes]:
    """What a Kopf handler needs: the runtime and the indexes (kept for the queue's passes,
    which run outside any handler: retries, timers, the resync)."""
    rt = runtime(kw["memo"])
    if rt.indexes is None:
        rt.indexes = Indexes.of(kw, rt.workspaces, rt.children)
        rt.check_ready()
    return rt, rt.indexes


def runtime(memo: Any) -> Runtime:
    rt = getattr(memo, "runtime", None)
    if not isinstance(rt, Runtime):
        raise RuntimeError("the operator's runtime is not initialised (startup handler missing)")
    return rt
