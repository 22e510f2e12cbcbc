"""What the handlers share for the life of the process (kept in Kopf's `memo`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ..config import Settings
from ..kube import Kube
from ..metrics import PhaseBook

log = logging.getLogger(__name__)


@dataclass
class _KeyState:
    running: bool = False
    dirty: bool = False


@dataclass
class Coalescer:
    """Runs at most one reconciliation per key at a time; requests that arrive meanwhile fold
    into a single re-run. Bursts of events (a workspace and its children changing together)
    therefore cost one or two passes, and two passes never race on the same object."""

    states: dict[Any, _KeyState] = field(default_factory=dict)
    # Whether this replica reconciles at all (a standby only keeps its indexes warm).
    active: Callable[[], bool] = lambda: True

    async def run(self, key: Any, job: Callable[[], Awaitable[None]]) -> None:
        if not self.active():
            return
        state = self.states.setdefault(key, _KeyState())
        state.dirty = True
        if state.running:
            return
        state.running = True
        try:
            while state.dirty:
                state.dirty = False
                await job()
        finally:
            state.running = False
            if not state.dirty:
                self.states.pop(key, None)


@dataclass
class Runtime:
    settings: Settings
    kube: Kube
    phases: PhaseBook = field(default_factory=PhaseBook)
    coalescer: Coalescer = field(default_factory=Coalescer)
    retries: dict[Any, asyncio.TimerHandle] = field(default_factory=dict)
    tasks: set[asyncio.Future[None]] = field(default_factory=set)
    indexes: Any = None  # handlers.indexes.Indexes, once the first handler ran
    proxy_key: bytes | None = None  # derives each workspace's proxy secret
    webhook_url: str = ""  # url mode: where this process registered its webhook
    # What workspaces last saw of each manager (see handlers/managers.py).
    managers_seen: dict[str, Any] = field(default_factory=dict)
    # Workspaces found deleted although the index still has them: a watch that reconnected
    # re-lists, and Kopf reports no DELETED for what vanished meanwhile. (namespace, name) ->
    # the UID found gone; a new workspace of the same name has another UID.
    gone: dict[tuple[str, str], str] = field(default_factory=dict)
    # The generation of each execution profile the workspaces were last reconciled against.
    profiles_seen: dict[str, int] = field(default_factory=dict)
    # Our own writes, remembered until the watches deliver them: a reconciliation that runs
    # before its previous write came back must not write the same thing again.
    # applied[(namespace, workspace)][(kind, name)] = (fingerprint, resourceVersion)
    applied: dict[tuple[str, str], dict[tuple[str, str], tuple[str, int]]] = field(
        default_factory=dict
    )
    # written[workspace uid] = (resourceVersion, status) of our last status write
    written: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    # False on a standby replica (leader election): handlers run, indexes stay warm, nothing
    # is reconciled or written.
    leading: bool = True
    # A count of every profile's workspaces is scheduled (handlers/profiles.py).
    profiles_due: bool = False
    # Each node's readiness as last seen (None: Ready), to act only when it changes.
    node_faults: dict[str, str | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.coalescer.active = lambda: self.leading

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a blocking API call off the event loop."""
        return await asyncio.to_thread(fn, *args, **kwargs)


def runtime(memo: Any) -> Runtime:
    rt = getattr(memo, "runtime", None)
    if not isinstance(rt, Runtime):
        raise RuntimeError("the operator's runtime is not initialised (startup handler missing)")
    return rt
