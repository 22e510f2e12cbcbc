"""The watch threads' hand-over to the event loop: everything arrives, in order, a burst costs
one wake-up, and a delivery that fails loses none of the others."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from jupyter_k8s.core.inbox import Inbox


def test_deliveries_from_threads_all_run_on_the_loop_in_order() -> None:
    async def main() -> tuple[list[tuple[int, int]], set[int]]:
        loop = asyncio.get_running_loop()
        inbox = Inbox(loop)
        got: list[tuple[int, int]] = []
        threads_seen: set[int] = set()

        def handle(item: tuple[int, int]) -> None:
            threads_seen.add(threading.get_ident())
            got.append(item)

        def producer(p: int) -> None:
            for i in range(500):
                inbox.put(handle, (p, i))

        workers = [threading.Thread(target=producer, args=(p,)) for p in range(4)]
        for w in workers:
            w.start()

        def join_all() -> None:
            for w in workers:
                w.join()

        await asyncio.to_thread(join_all)
        for _ in range(100):
            if len(got) == 2000:
                break
            await asyncio.sleep(0.01)
        return got, threads_seen | {threading.get_ident()}

    got, threads = asyncio.run(main())
    assert len(got) == 2000
    assert len(threads) == 1, "every delivery ran on the loop's thread"
    for p in range(4):
        assert [i for q, i in got if q == p] == list(range(500)), "each producer's order kept"


def test_a_burst_wakes_the_loop_once() -> None:
    async def main() -> tuple[int, list[int]]:
        loop = asyncio.get_running_loop()
        wakeups = 0
        real = loop.call_soon_threadsafe

        def counting(*args: Any) -> Any:
            nonlocal wakeups
            wakeups += 1
            return real(*args)

        loop.call_soon_threadsafe = counting  # type: ignore[method-assign,assignment]
        inbox = Inbox(loop)
        got: list[int] = []

        # The loop is busy (this coroutine does not yield) while a thread delivers 100.
        def burst() -> None:
            for i in range(100):
                inbox.put(got.append, i)

        t = threading.Thread(target=burst)
        t.start()
        t.join()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return wakeups, got

    wakeups, got = asyncio.run(main())
    assert got == list(range(100))
    assert wakeups == 1


def test_a_failing_delivery_loses_none_of_the_others(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> list[int]:
        inbox = Inbox(asyncio.get_running_loop())
        got: list[int] = []

        def handle(i: int) -> None:
            if i == 1:
                raise ValueError("bad event")
            got.append(i)

        def three() -> None:
            for i in range(3):
                inbox.put(handle, i)

        t = threading.Thread(target=three)
        t.start()
        t.join()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        inbox.put(handle, 3)  # and the inbox still works afterwards
        await asyncio.sleep(0)
        return got

    assert asyncio.run(main()) == [0, 2, 3]
    assert "bad event" in caplog.text
