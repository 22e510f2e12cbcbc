"""The one work queue of the operator: every reconciliation of every kind goes through it.

A key is `(kind, *identity)`: ("Workspace", namespace, name), ("WorkspaceShare", namespace,
name), ("WorkspaceTemplate", name), ("WorkspaceManager", name),
("WorkspaceExecutionProfile", name). Each kind's reconciler is registered once at start-up;
whoever wants an object reconciled names its key and needs nothing else (no handler module
imports another's reconciler).

- Coalescing: at most one reconciliation per key runs at a time; requests that arrive
  meanwhile fold into a single re-run. A burst of events (a workspace and its children
  changing together) costs one or two passes, and two passes never race on one object.
- Backoff: a reconciliation that fails is run again after 1 s, 2 s, 4 s ... up to 5 minutes
  (a little jitter, so hundreds failing together do not retry together); a success resets
  it. Reconciliation is level-based, so a retry needs nothing but the key.
- Later: `later(key, delay)` comes back at a known time (a share's expiry) without an event.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ..kube import KubeError
from ..metrics import RETRIES

log = logging.getLogger(__name__)

Key = tuple[str, ...]
Reconciler = Callable[[Key], Awaitable[None]]


@dataclass
class _KeyState:
    running: bool = False
    dirty: bool = False


@dataclass
class WorkQueue:
    # Whether this replica reconciles at all (a standby only keeps its indexes warm).
    active: Callable[[], bool] = lambda: True
    # Set once what passes read is known (the children listed); passes wait for it.
    ready: asyncio.Event | None = None
    base_delay: float = 1.0
    max_delay: float = 300.0
    jitter: float = 0.1  # up to this fraction added to each backoff delay
    reconcilers: dict[str, Reconciler] = field(default_factory=dict)
    failures: dict[Key, int] = field(default_factory=dict)
    # When each pending timer fires (loop time), and the timer itself.
    due: dict[Key, float] = field(default_factory=dict)
    _states: dict[Key, _KeyState] = field(default_factory=dict)
    _timers: dict[Key, asyncio.TimerHandle] = field(default_factory=dict)
    _tasks: set[asyncio.Future[None]] = field(default_factory=set)

    def register(self, kind: str, reconciler: Reconciler) -> None:
        self.reconcilers[kind] = reconciler

    async def run(self, key: Key) -> None:
        """Reconcile `key` now (in the caller's task), or fold into the pass already running.
        Never raises for a failed reconciliation: it is logged and retried with backoff."""
        if not self.active():
            return
        if self.ready is not None and not self.ready.is_set():
            await self.ready.wait()
        state = self._states.setdefault(key, _KeyState())
        state.dirty = True
        if state.running:
            return
        state.running = True
        try:
            while state.dirty:
                state.dirty = False
                await self._once(key)
        finally:
            state.running = False
            if not state.dirty:
                self._states.pop(key, None)

    async def _once(self, key: Key) -> None:
        reconciler = self.reconcilers.get(key[0])
        if reconciler is None:
            raise LookupError(f"no reconciler registered for kind {key[0]!r} (key {key})")
        try:
            await reconciler(key)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # any failure: the key comes back later, never lost
            failures = self.failures.get(key, 0) + 1
            self.failures[key] = failures
            delay = self.backoff(failures)
            RETRIES.labels(kind=key[0]).inc()
            what = "/".join(key[1:])
            if isinstance(err, KubeError):
                log.warning(
                    "reconciling %s %s failed (%s); again in %.1f s", key[0], what, err, delay
                )
            else:
                log.exception("reconciling %s %s failed; again in %.1f s", key[0], what, delay)
            self.later(key, delay)
        else:
            self.failures.pop(key, None)

    def backoff(self, failures: int) -> float:
        delay = min(self.base_delay * 2.0 ** min(failures - 1, 30), self.max_delay)
        return delay * (1 + random.uniform(0, self.jitter))  # noqa: S311 - spread, not secrecy

    def later(self, key: Key, delay: float) -> None:
        """Reconcile `key` in `delay` seconds; an earlier pending time for it stands (a pass
        is level-based: the earlier one sees everything the later one would)."""
        loop = asyncio.get_running_loop()
        when = loop.time() + delay
        if key in self._timers and self.due[key] <= when:
            return
        if key in self._timers:
            self._timers.pop(key).cancel()
        self.due[key] = when

        def fire() -> None:
            self._timers.pop(key, None)
            self.due.pop(key, None)
            task = asyncio.ensure_future(self.run(key))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        self._timers[key] = loop.call_at(when, fire)

    def pending(self, key: Key) -> float | None:
        """Seconds until `key` is due again (None: nothing scheduled)."""
        when = self.due.get(key)
        return None if when is None else max(0.0, when - asyncio.get_running_loop().time())

    def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self.due.clear()
        for task in self._tasks:
            task.cancel()
