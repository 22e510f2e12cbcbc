"""Workspace passes run a bounded number at once, and a workspace whose children exist goes
before first passes that wait."""

from __future__ import annotations

import asyncio

import pytest

from jupyter_k8s.core.slots import FIRST, UPDATE, PassSlots
from tests.support.aio import run_in_own_loop


async def _turns() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


def test_no_more_than_size_run_at_once_and_updates_go_before_first_passes() -> None:
    slots = PassSlots(2)
    running: list[str] = []
    order: list[str] = []
    most = 0
    release = asyncio.Event()

    async def a_pass(name: str, priority: int) -> None:
        nonlocal most
        async with slots.slot(priority):
            order.append(name)
            running.append(name)
            most = max(most, len(running))
            await release.wait()
            running.remove(name)

    async def scenario() -> None:
        tasks = [asyncio.ensure_future(a_pass(f"first-{i}", FIRST)) for i in range(4)]
        await _turns()
        assert order == ["first-0", "first-1"] and slots.waiting == 2
        tasks.append(asyncio.ensure_future(a_pass("available", UPDATE)))
        await _turns()
        release.set()
        await asyncio.gather(*tasks)

    run_in_own_loop(scenario)
    assert most == 2
    assert order == ["first-0", "first-1", "available", "first-2", "first-3"]
    assert slots.free == 2 and slots.waiting == 0


def test_a_waiting_pass_cancelled_gives_up_its_turn_not_a_slot() -> None:
    slots = PassSlots(1)

    async def scenario() -> None:
        await slots.acquire(FIRST)
        waiting = asyncio.ensure_future(slots.acquire(FIRST))
        after = asyncio.ensure_future(slots.acquire(FIRST))
        await _turns()
        waiting.cancel()
        await _turns()
        slots.release()
        await asyncio.wait_for(after, 1)
        slots.release()

    run_in_own_loop(scenario)
    assert slots.free == 1 and slots.waiting == 0


def test_at_least_one_slot() -> None:
    with pytest.raises(ValueError, match="at least one"):
        PassSlots(0)


def test_a_pass_that_never_returns_fails_gives_its_slot_back_and_is_retried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A hung pass would hold its key as running, and every later change of the workspace
    would fold into it silently: it times out instead, and the queue retries it."""
    from types import SimpleNamespace

    from jupyter_k8s.core import workspace
    from jupyter_k8s.core.workqueue import WorkQueue

    calls: list[int] = []

    async def hangs_once(rt: object, idx: object, namespace: str, name: str) -> None:
        calls.append(len(calls))
        if len(calls) == 1:
            await asyncio.Event().wait()  # never set

    monkeypatch.setattr(workspace, "reconcile_workspace", hangs_once)
    monkeypatch.setattr(workspace, "PASS_TIMEOUT", 0.05)
    rt = SimpleNamespace(idx=SimpleNamespace(of_kind=lambda kind: {}), slots=PassSlots(1))
    queue = WorkQueue(base_delay=0.01, jitter=0)
    queue.register("Workspace", lambda key: workspace.reconcile_key(rt, key))  # type: ignore[arg-type]

    async def scenario() -> None:
        await queue.run(("Workspace", "team", "lab"))
        assert calls == [0] and rt.slots.free == 1, "timed out, its slot given back"
        assert queue.failures == {("Workspace", "team", "lab"): 1}
        for _ in range(100):
            if len(calls) == 2:
                break
            await asyncio.sleep(0.01)

    run_in_own_loop(scenario)
    assert calls == [0, 1], "retried with backoff, and done"
