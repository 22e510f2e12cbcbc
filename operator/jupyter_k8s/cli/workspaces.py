"""jk list / start / stop / open: the user's workspaces, through the platform's users' API
(authz/user_api.py), which acts as the signed-in user."""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

from .http import error_of, session
from .login import current_token
from .profile import CliError, Profile

START_SECONDS = 300


async def _call(profile: Profile, method: str, path: str) -> Any:
    token = await current_token(profile)
    async with (
        session(profile) as s,
        s.request(
            method,
            f"{profile.platform}/_jk/api{path}",
            headers={"Authorization": f"Bearer {token}"},
        ) as resp,
    ):
        if resp.status != 200:
            raise CliError(await error_of(resp))
        return await resp.json()


async def listing(profile: Profile) -> dict[str, Any]:
    result: dict[str, Any] = await _call(profile, "GET", "/workspaces")
    return result


async def one(profile: Profile, namespace: str, name: str) -> dict[str, Any]:
    result: dict[str, Any] = await _call(profile, "GET", f"/workspaces/{namespace}/{name}")
    return result


async def set_status(profile: Profile, namespace: str, name: str, action: str) -> dict[str, Any]:
    result: dict[str, Any] = await _call(
        profile, "POST", f"/workspaces/{namespace}/{name}/{action}"
    )
    return result


async def start_and_wait(profile: Profile, namespace: str, name: str, wait: bool = True) -> None:
    ws = await set_status(profile, namespace, name, "start")
    if not wait:
        return
    print(f"Starting {namespace}/{name}...", file=sys.stderr, flush=True)
    deadline = time.monotonic() + START_SECONDS
    while ws["phase"] != "Running":
        if time.monotonic() > deadline:
            raise CliError(f"{namespace}/{name} is still {ws['phase']} after {START_SECONDS} s")
        await asyncio.sleep(2)
        ws = await one(profile, namespace, name)
    print(f"{namespace}/{name} is running.", file=sys.stderr)


def table(items: list[dict[str, Any]]) -> str:
    rows = [("WORKSPACE", "PHASE", "ACCESS", "URL")]
    rows += [
        (
            f"{w['namespace']}/{w['name']}",
            str(w["phase"]),
            "mine" if w["mine"] else f"shared by {w.get('owner') or '?'}",
            w.get("url") or "-",
        )
        for w in items
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(
        "  ".join([*(c.ljust(widths[i]) for i, c in enumerate(r[:3])), r[3]]).rstrip() for r in rows
    )
