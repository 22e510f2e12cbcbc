"""jk login: OpenID Connect against the platform's Dex, as a native app (RFC 8252): the
authorization code flow with PKCE and a redirect to a loopback port this process listens on.

Tokens are Dex's; the ID token is issued for the CLI's client and for oauth2-proxy's (Dex
cross-client trust), which is what lets the platform accept it as a bearer token.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
import sys
import time
import webbrowser
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from . import CLIENT_ID
from .http import error_of, session
from .profile import CliError, Profile, Tokens

# oauth2-proxy's client at Dex: the audience the platform verifies bearer tokens against.
PLATFORM_AUDIENCE = "oauth2-proxy"
SCOPES = f"openid email profile groups offline_access audience:server:client_id:{PLATFORM_AUDIENCE}"
LOGIN_SECONDS = 300


def _expiry(id_token: str) -> float:
    """The token's own expiry (its signature is the platform's business, not ours)."""
    try:
        payload = id_token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, ValueError, KeyError) as err:
        raise CliError(f"the identity provider returned no usable ID token ({err})") from None


async def _discover(s: aiohttp.ClientSession, profile: Profile) -> dict[str, Any]:
    url = f"{profile.issuer}/.well-known/openid-configuration"
    try:
        async with s.get(url) as resp:
            if resp.status != 200:
                raise CliError(f"{url}: {await error_of(resp)} (is {profile.platform} right?)")
            doc: dict[str, Any] = await resp.json(content_type=None)
            return doc
    except aiohttp.ClientConnectorCertificateError as err:
        raise CliError(
            f"{profile.platform}: its TLS certificate is not trusted ({err.certificate_error}); "
            "pass the platform's CA with --ca-file"
        ) from None
    except aiohttp.ClientError as err:
        raise CliError(f"cannot reach {profile.platform}: {err}") from None


async def _redeem(
    s: aiohttp.ClientSession, token_url: str, form: dict[str, str], what: str
) -> Tokens:
    async with s.post(token_url, data={"client_id": CLIENT_ID, **form}) as resp:
        if resp.status != 200:
            raise CliError(f"{what} refused by the identity provider: {await error_of(resp)}")
        body = await resp.json(content_type=None)
    id_token = body.get("id_token")
    if not id_token:
        raise CliError(f"{what}: the identity provider returned no ID token")
    return Tokens(id_token, body.get("refresh_token"), _expiry(id_token))


async def login(profile: Profile, open_browser: bool = True) -> Tokens:
    verifier = secrets.token_urlsafe(64)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    state = secrets.token_urlsafe(24)
    answer: asyncio.Future[dict[str, str]] = asyncio.get_running_loop().create_future()

    async def callback(request: web.Request) -> web.Response:
        if request.query.get("state") != state:
            return web.Response(status=400, text="This sign-in was not started here.\n")
        if not answer.done():
            answer.set_result(dict(request.query))
        if "error" in request.query:
            return web.Response(text="Sign-in failed; see your terminal.\n")
        return web.Response(text="Signed in. You can close this tab and go back to the terminal.\n")

    app = web.Application()
    app.router.add_get("/callback", callback)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    redirect = f"http://127.0.0.1:{port}/callback"
    try:
        async with session(profile) as s:
            doc = await _discover(s, profile)
            url = f"{doc['authorization_endpoint']}?" + urlencode(
                {
                    "client_id": CLIENT_ID,
                    "response_type": "code",
                    "scope": SCOPES,
                    "redirect_uri": redirect,
                    "state": state,
                    "code_challenge": challenge,
                    "code_challenge_method": "S256",
                }
            )
            print(f"Sign in in your browser: {url}", file=sys.stderr, flush=True)
            if open_browser:
                webbrowser.open(url)
            try:
                got = await asyncio.wait_for(answer, LOGIN_SECONDS)
            except TimeoutError:
                raise CliError(f"no sign-in within {LOGIN_SECONDS} s: run jk login again") from None
            if "error" in got:
                raise CliError(f"sign-in failed: {got.get('error_description') or got['error']}")
            return await _redeem(
                s,
                doc["token_endpoint"],
                {
                    "grant_type": "authorization_code",
                    "code": got.get("code", ""),
                    "redirect_uri": redirect,
                    "code_verifier": verifier,
                },
                "sign-in",
            )
    finally:
        await runner.cleanup()


async def current_token(profile: Profile) -> str:
    """A valid ID token: the cached one, or a refreshed one; else "log in again"."""
    tokens = Tokens.load()
    if tokens.fresh():
        return tokens.id_token
    if not tokens.refresh_token:
        raise CliError("your sign-in expired: jk login again")
    async with session(profile) as s:
        doc = await _discover(s, profile)
        try:
            renewed = await _redeem(
                s,
                doc["token_endpoint"],
                {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token},
                "renewing your sign-in",
            )
        except CliError as err:
            raise CliError(f"{err}: jk login again") from None
    if not renewed.refresh_token:
        renewed.refresh_token = tokens.refresh_token
    renewed.save()
    return renewed.id_token


def expires_in(tokens: Tokens) -> str:
    left = int(tokens.expires_at - time.time())
    return f"{left // 3600} h {left % 3600 // 60} min" if left > 0 else "expired"
