"""Running a coroutine in a test without asyncio.run: asyncio.run leaves the thread with no
current loop, and later tests (Pulumi's mocks) ask for one."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any


def run_in_own_loop(main: Callable[[], Awaitable[Any]]) -> None:
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
