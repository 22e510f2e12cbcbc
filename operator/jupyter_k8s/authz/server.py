"""The authorization service's HTTP server (aiohttp).

Traefik's forwardAuth sends every workspace request here (method, X-Forwarded-Host,
X-Forwarded-Uri and the client's headers). The service:
1. asks oauth2-proxy (its /oauth2/auth endpoint) who the session cookie belongs to; identity
   headers sent by the client are ignored and stripped;
2. maps the host and path to a workspace through the WorkspaceManagers;
3. asks the API server a SubjectAccessReview: may this user `connect` to that workspace?
and answers 200 (with X-Jupyter-K8s-User for the app), 401 / a redirect to sign in, or 403.
An unknown workspace is answered exactly like a forbidden one.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
from dataclasses import dataclass, field
from urllib.parse import quote

import aiohttp
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

from ..api import API_VERSION, GROUP
from ..kube import Kube
from ..kube.client import load_api_client, object_path
from ..proxy_secret import HEADER, load_key, workspace_secret
from .decide import (
    AmbiguousPath,
    Identity,
    Manager,
    TTLCache,
    decision_key,
    identity_from,
    target,
)

log = logging.getLogger("jupyter_k8s.authz")

DECISIONS = Counter("jupyter_k8s_authz_decisions_total", "Authorization answers.", ["outcome"])
LATENCY = Histogram(
    "jupyter_k8s_authz_seconds",
    "Time to answer one forward-auth request.",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
)
USER_HEADER = "X-Jupyter-K8s-User"
# Headers a client might send to impersonate someone; never forwarded to the app.
SPOOFABLE = ("X-Auth-Request-User", "X-Auth-Request-Email", "X-Auth-Request-Groups", USER_HEADER)


@dataclass(frozen=True)
class AuthzSettings:
    identity_url: str  # oauth2-proxy /oauth2/auth
    sign_in_url: str | None
    user_header: str = "X-Auth-Request-Email"
    # Keep equal to the API server's --oidc-username-prefix / --oidc-groups-prefix.
    username_prefix: str = ""
    groups_prefix: str = ""
    cache_seconds: float = 5.0
    managers_seconds: float = 30.0
    addr: str = "0.0.0.0"  # noqa: S104 - the proxy calls it from another pod
    port: int = 8081

    @classmethod
    def from_env(cls) -> AuthzSettings:
        identity = os.environ.get(
            "JK_AUTHZ_IDENTITY_URL",
            "http://oauth2-proxy.jupyter-k8s-auth.svc.cluster.local/oauth2/auth",
        )
        return cls(
            identity_url=identity,
            sign_in_url=os.environ.get("JK_AUTHZ_SIGN_IN_URL") or None,
            user_header=os.environ.get("JK_AUTHZ_USER_HEADER", "X-Auth-Request-Email"),
            username_prefix=os.environ.get("JK_AUTHZ_USERNAME_PREFIX", ""),
            groups_prefix=os.environ.get("JK_AUTHZ_GROUPS_PREFIX", ""),
            cache_seconds=float(os.environ.get("JK_AUTHZ_CACHE_SECONDS", "5")),
            addr=os.environ.get("JK_AUTHZ_ADDR", "0.0.0.0"),  # noqa: S104
            port=int(os.environ.get("JK_AUTHZ_PORT", "8081")),
        )


@dataclass
class Authorizer:
    settings: AuthzSettings
    kube: Kube
    session: aiohttp.ClientSession | None = None
    identities: TTLCache[Identity | None] = field(init=False)
    decisions: TTLCache[bool] = field(init=False)
    key: bytes | None = None
    _managers: list[Manager] = field(default_factory=list)
    _managers_at: float = -1e9

    def __post_init__(self) -> None:
        self.identities = TTLCache(self.settings.cache_seconds)
        self.decisions = TTLCache(self.settings.cache_seconds)
        self.uids: TTLCache[str] = TTLCache(60)

    async def identity(self, request: web.Request) -> Identity | None:
        """Who the session belongs to, according to oauth2-proxy."""
        cookie = request.headers.get("Cookie", "")
        bearer = request.headers.get("Authorization", "")
        if not cookie and not bearer:
            return None
        key = hashlib.sha256(f"{cookie}\0{bearer}".encode()).hexdigest()
        cached = self.identities.get(key)
        if cached is not None:
            return cached
        headers = {k: v for k, v in (("Cookie", cookie), ("Authorization", bearer)) if v}
        assert self.session is not None
        async with self.session.get(
            self.settings.identity_url, headers=headers, allow_redirects=False
        ) as resp:
            if resp.status not in (200, 202):
                return None
            user = resp.headers.get(self.settings.user_header) or resp.headers.get(
                "X-Auth-Request-User"
            )
            groups = resp.headers.get("X-Auth-Request-Groups", "").split(",")
        who = identity_from(
            user or "", groups, self.settings.username_prefix, self.settings.groups_prefix
        )
        if who is not None:
            self.identities.put(key, who)
        return who

    async def managers(self) -> list[Manager]:
        if time.monotonic() - self._managers_at > self.settings.managers_seconds:
            body = await asyncio.to_thread(
                self.kube._call, "GET", object_path(API_VERSION, "WorkspaceManager", None)
            )
            self._managers = [
                Manager(
                    m["spec"]["domain"], (m["spec"].get("routing") or {}).get("mode", "subdomain")
                )
                for m in body.get("items", [])
            ]
            self._managers_at = time.monotonic()
        return self._managers

    async def proxy_secret(self, namespace: str, name: str) -> str | None:
        """Only asked once access is granted, so nothing about other workspaces leaks."""
        if self.key is None:
            return None
        uid = self.uids.get((namespace, name))
        if uid is None:
            body = await asyncio.to_thread(self.kube.get, API_VERSION, "Workspace", namespace, name)
            if body is None:
                return None
            uid = body["metadata"]["uid"]
            self.uids.put((namespace, name), uid)
        return workspace_secret(self.key, namespace, name, uid)

    async def allowed(self, who: Identity, namespace: str, name: str) -> bool:
        key = decision_key(who, namespace, name)
        hit = self.decisions.get(key)
        if hit is not None:
            return hit
        # oauth2-proxy authenticated this user, so they are in system:authenticated, as the
        # API server puts anyone it authenticates (that group is what Public binds).
        ok = await asyncio.to_thread(
            self.kube.can,
            who.user,
            [*who.groups, "system:authenticated"],
            "connect",
            "workspaces",
            GROUP,
            namespace,
            name,
        )
        self.decisions.put(key, ok)
        return bool(ok)

    async def handle(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        outcome = "error"
        try:
            response, outcome = await self._decide(request)
            return response
        finally:
            DECISIONS.labels(outcome=outcome).inc()
            LATENCY.observe(time.perf_counter() - started)

    async def _decide(self, request: web.Request) -> tuple[web.Response, str]:
        host = request.headers.get("X-Forwarded-Host") or request.host
        uri = request.headers.get("X-Forwarded-Uri", "/")
        who = await self.identity(request)
        if who is None:
            if self.settings.sign_in_url and "text/html" in request.headers.get("Accept", ""):
                proto = request.headers.get("X-Forwarded-Proto", "https")
                back = quote(f"{proto}://{host}{uri}", safe="")
                raise web.HTTPFound(f"{self.settings.sign_in_url}?rd={back}")
            return web.Response(status=401, text="sign in first\n"), "unauthenticated"
        try:
            where = target(host, uri, await self.managers())
        except AmbiguousPath:
            log.info("refused ambiguous path %s%s", host, uri)
            return web.Response(status=400, text="bad path\n"), "bad-path"
        # Unknown and forbidden look the same to the caller: existence is not revealed.
        if where is None or not await self.allowed(who, *where):
            log.info("deny %s -> %s%s", who.user, host, uri)
            return web.Response(status=403, text="forbidden\n"), "forbidden"
        headers = {USER_HEADER: who.user}
        secret = await self.proxy_secret(*where)
        if secret:
            headers[HEADER] = secret  # the app's proof that the request came through the proxy
        return web.Response(status=200, text="ok\n", headers=headers), "allowed"


def build_app(authorizer: Authorizer) -> web.Application:
    app = web.Application()

    async def on_startup(_: web.Application) -> None:
        authorizer.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))

    async def on_cleanup(_: web.Application) -> None:
        if authorizer.session is not None:
            await authorizer.session.close()

    async def health(_: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    app.router.add_route("*", "/authorize", authorizer.handle)
    app.router.add_get("/healthz", health)
    app.router.add_get("/metrics", metrics)
    return app


def run() -> None:
    logging.basicConfig(
        level=logging.INFO,
        format='{"level":"%(levelname)s","logger":"%(name)s","message":"%(message)s"}',
    )
    settings = AuthzSettings.from_env()
    authorizer = Authorizer(settings, Kube(load_api_client()), key=load_key())
    web.run_app(
        build_app(authorizer), host=settings.addr, port=settings.port, access_log=None, print=None
    )
