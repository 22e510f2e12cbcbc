"""The operator's one work queue: coalescing, backoff on failure, timers, standby."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from jupyter_k8s.core.workqueue import Key, WorkQueue
from jupyter_k8s.kube import KubeError


def run(main: Callable[[], Awaitable[Any]]) -> Any:
    # Its own loop, never set as the current one: asyncio.run would leave none behind for the
    # stack tests' Pulumi mocks.
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(main())
    finally:
        loop.close()


def test_requests_during_a_pass_fold_into_one_more_pass() -> None:
    passes: list[Key] = []

    async def main() -> None:
        gate = asyncio.Event()

        async def slow(key: Key) -> None:
            passes.append(key)
            if len(passes) == 1:
                await gate.wait()

        q = WorkQueue()
        q.register("Workspace", slow)
        first = asyncio.ensure_future(q.run(("Workspace", "team", "lab")))
        await asyncio.sleep(0)
        # Three events while the first pass runs: each returns at once.
        for _ in range(3):
            await q.run(("Workspace", "team", "lab"))
        # Another key is not held up by this one.
        await q.run(("Workspace", "team", "other"))
        gate.set()
        await first

    run(main)
    assert passes == [
        ("Workspace", "team", "lab"),
        ("Workspace", "team", "other"),
        ("Workspace", "team", "lab"),
    ]


def test_a_failure_comes_back_with_growing_delays_and_a_success_resets_them() -> None:
    async def main() -> tuple[list[float], WorkQueue]:
        loop = asyncio.get_running_loop()
        q = WorkQueue(base_delay=0.02, jitter=0.0)
        times: list[float] = []
        done = asyncio.Event()

        async def flaky(key: Key) -> None:
            times.append(loop.time())
            if len(times) <= 3:
                raise KubeError(409, "Conflict", "try again")
            done.set()

        q.register("WorkspaceShare", flaky)
        await q.run(("WorkspaceShare", "team", "with-bob"))  # fails: nothing raised here
        assert q.failures == {("WorkspaceShare", "team", "with-bob"): 1}
        await asyncio.wait_for(done.wait(), 5)
        await asyncio.sleep(0)
        return [b - a for a, b in itertools.pairwise(times)], q

    gaps, q = run(main)
    # A timer never fires early: each wait is at least its backoff (0.02, 0.04, 0.08 s).
    assert len(gaps) == 3
    for gap, backoff in zip(gaps, (0.02, 0.04, 0.08), strict=True):
        assert gap >= backoff * 0.99
    assert not q.failures, "a success forgets the failures"
    assert not q.due, "and schedules nothing"


def test_backoff_doubles_up_to_its_cap_with_bounded_jitter() -> None:
    q = WorkQueue(base_delay=1.0, max_delay=300.0, jitter=0.1)
    for failures, plain in ((1, 1.0), (2, 2.0), (5, 16.0), (9, 256.0), (10, 300.0), (500, 300.0)):
        delay = q.backoff(failures)
        assert plain <= delay <= plain * 1.1


def test_an_unexpected_error_is_logged_and_retried_not_lost(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[int] = []

    async def main() -> None:
        q = WorkQueue(base_delay=0.01, jitter=0.0)

        async def buggy(key: Key) -> None:
            calls.append(1)
            if len(calls) == 1:
                raise ValueError("a bug")

        q.register("WorkspaceTemplate", buggy)
        await q.run(("WorkspaceTemplate", "small"))
        for _ in range(100):
            if len(calls) == 2:
                break
            await asyncio.sleep(0.005)

    run(main)
    assert len(calls) == 2
    assert "reconciling WorkspaceTemplate small failed" in caplog.text
    assert "ValueError: a bug" in caplog.text


def test_later_keeps_the_earliest_time() -> None:
    async def main() -> tuple[float | None, float | None]:
        q = WorkQueue()
        q.register("WorkspaceShare", lambda key: asyncio.sleep(0))
        key = ("WorkspaceShare", "team", "with-bob")
        q.later(key, 100)
        q.later(key, 10)  # sooner: replaces
        sooner = q.pending(key)
        q.later(key, 50)  # later than what is due: the earlier pass covers it
        still = q.pending(key)
        q.close()
        return sooner, still

    sooner, still = run(main)
    assert sooner is not None and 9 < sooner <= 10
    assert still is not None and still <= 10


def test_a_standby_reconciles_nothing() -> None:
    calls: list[Key] = []

    async def record(key: Key) -> None:
        calls.append(key)

    async def main() -> None:
        leading = False
        q = WorkQueue(active=lambda: leading)
        q.register("WorkspaceManager", record)
        await q.run(("WorkspaceManager", "default"))
        leading = True
        await q.run(("WorkspaceManager", "default"))

    run(main)
    assert calls == [("WorkspaceManager", "default")]


def test_a_kind_without_a_reconciler_is_a_programming_error() -> None:
    async def main() -> None:
        await WorkQueue().run(("Gadget", "x"))

    with pytest.raises(LookupError, match="no reconciler registered for kind 'Gadget'"):
        run(main)


def test_no_pass_runs_before_the_queue_is_ready() -> None:
    """Passes wait until the children's watches have listed once: a pass before would see a
    workspace without children and write them all again."""
    passes: list[Key] = []

    async def main() -> None:
        async def record(key: Key) -> None:
            passes.append(key)

        ready = asyncio.Event()
        q = WorkQueue(ready=ready)
        q.register("Workspace", record)
        waiting = asyncio.ensure_future(q.run(("Workspace", "team", "lab")))
        await asyncio.sleep(0.01)
        assert passes == []
        ready.set()
        await waiting

    run(main)
    assert passes == [("Workspace", "team", "lab")]
