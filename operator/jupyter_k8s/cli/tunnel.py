"""jk tunnel: ssh's ProxyCommand. Standard input and output are bridged to a WebSocket on the
platform's HTTPS entry, which the authorization service bridges to the workspace's SSH server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys

import aiohttp

from .http import error_of, session
from .login import current_token
from .profile import CliError, Profile

CHUNK = 64 * 1024
CLOSE_REVOKED = 4403  # authz/tunnel.py


async def _refusal(s: aiohttp.ClientSession, url: str, token: str) -> str:
    """Why the platform did not open the tunnel (the same checks answer a plain GET)."""
    async with s.get(url, headers={"Authorization": f"Bearer {token}"}) as resp:
        return await error_of(resp)


async def run(profile: Profile, namespace: str, name: str) -> None:
    token = await current_token(profile)
    url = f"{profile.platform}/_jk/tunnel/{namespace}/{name}"
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader(limit=4 * CHUNK)
    await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(stdin), os.fdopen(sys.stdin.fileno(), "rb", 0)
    )
    out = sys.stdout.fileno()
    async with session(profile, timeout=aiohttp.ClientTimeout(total=None, connect=30)) as s:
        try:
            ws = await s.ws_connect(
                url,
                headers={"Authorization": f"Bearer {token}"},
                heartbeat=30,
                max_msg_size=4 * CHUNK,
            )
        except aiohttp.WSServerHandshakeError:
            raise CliError(f"{namespace}/{name}: {await _refusal(s, url, token)}") from None
        except aiohttp.ClientError as err:
            raise CliError(f"cannot reach {profile.platform}: {err}") from None

        async def up() -> None:
            while chunk := await stdin.read(CHUNK):
                await ws.send_bytes(chunk)
            await ws.close()

        said: list[str] = []

        async def down() -> None:
            while True:
                msg = await ws.receive()
                if msg.type == aiohttp.WSMsgType.BINARY:
                    await asyncio.to_thread(_write_all, out, msg.data)
                elif msg.type == aiohttp.WSMsgType.CLOSE:
                    said.append(str(msg.extra or ""))  # the platform's reason
                    return
                elif msg.type != aiohttp.WSMsgType.TEXT:  # closing, closed, error
                    return

        tasks = [asyncio.ensure_future(up()), asyncio.ensure_future(down())]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*tasks, return_exceptions=True)
        if ws.close_code == CLOSE_REVOKED:
            reason = "access withdrawn"
            with contextlib.suppress(ValueError, TypeError, AttributeError, IndexError):
                reason = json.loads(said[0]).get("message", reason)
            raise CliError(f"{namespace}/{name}: the tunnel was closed: {reason}")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]
