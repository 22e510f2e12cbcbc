"""How many workspace passes plan and write at once, and which go first.

When hundreds of workspaces are created together, their passes used to run all at once:
each planned (some 24 KiB of children per workspace) and then waited, plan in hand, for an
API thread. Bounded by `size` (as many as there are API threads), the others wait before
planning and hold nothing; and each plans from the indexes as they are when its turn comes.

Waiting passes are served by priority, then in order of arrival: a workspace whose children
exist already (its Deployment just became available: one status write to say so) goes before
a workspace's first pass (six children to write), so that what is running is reported at once
even while a burst of new workspaces is still being written.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

UPDATE = 0  # a workspace whose children exist
FIRST = 1  # a workspace's first pass (or one whose children are all gone)


class PassSlots:
    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"at least one pass must be able to run (got {size})")
        self.size = size
        self.free = size
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    @property
    def waiting(self) -> int:
        return sum(1 for *_, fut in self._waiting if not fut.done())

    async def acquire(self, priority: int) -> None:
        # A slot is free only while nobody waits: release() hands it to a waiter first.
        if self.free > 0:
            self.free -= 1
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (priority, next(self._order), fut))
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.release()  # handed a slot, but cancelled before taking it: pass it on
            raise

    def release(self) -> None:
        while self._waiting:
            *_, fut = heapq.heappop(self._waiting)
            if not fut.done():  # a cancelled waiter is skipped
                fut.set_result(None)
                return
        self.free += 1

    @asynccontextmanager
    async def slot(self, priority: int) -> AsyncIterator[None]:
        await self.acquire(priority)
        try:
            yield
        finally:
            self.release()
