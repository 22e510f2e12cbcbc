"""HTTPS to the platform: TLS checked against the system's CAs plus the profile's bundle, and
*.localhost names resolved to this machine (RFC 6761, as browsers and curl do), so a local
platform works without DNS."""

from __future__ import annotations

import socket
import ssl
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from .profile import CliError, Profile


class LocalhostResolver(AbstractResolver):
    def __init__(self) -> None:
        self.fallback = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        name = host.rstrip(".").lower()
        if name == "localhost" or name.endswith(".localhost"):
            return [
                ResolveResult(
                    hostname=host,
                    host="127.0.0.1",
                    port=port,
                    family=socket.AF_INET,
                    proto=0,
                    flags=socket.AI_NUMERICHOST,
                )
            ]
        return await self.fallback.resolve(host, port, family)

    async def close(self) -> None:
        await self.fallback.close()


def tls_context(profile: Profile) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    if profile.ca_file:
        try:
            ctx.load_verify_locations(cafile=profile.ca_file)
        except (OSError, ssl.SSLError) as err:
            raise CliError(f"cannot read the CA bundle {profile.ca_file}: {err}") from None
    return ctx


def session(profile: Profile, **kw: Any) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(ssl=tls_context(profile), resolver=LocalhostResolver())
    return aiohttp.ClientSession(
        connector=connector, timeout=kw.pop("timeout", aiohttp.ClientTimeout(total=30)), **kw
    )


async def error_of(resp: aiohttp.ClientResponse) -> str:
    """The platform's words for a refusal ({"error", "message"} JSON), else the status."""
    try:
        body = await resp.json(content_type=None)
        return str(body.get("message") or body.get("error"))
    except (ValueError, aiohttp.ContentTypeError, AttributeError):
        return f"HTTP {resp.status} {resp.reason or ''}".strip()
