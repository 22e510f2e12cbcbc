"""The authorization service's HTTP server (aiohttp).

Traefik's forwardAuth sends every workspace request here (method, X-Forwarded-Host,
X-Forwarded-Uri and the client's headers). The service:
1. finds who the request comes from: with an authentication host configured
   (JK_AUTHZ_AUTH_HOST, what the stack does), from the workspace session cookie that host
   handed out (sessions.py) or a bearer token; without one, from oauth2-proxy's session cookie
   (asked at its /oauth2/auth endpoint). Identity headers sent by the client are never read;
2. maps the host and path to a workspace through the WorkspaceManagers;
3. asks the API server a SubjectAccessReview: may this user `connect` to that workspace?
and answers 200 (with X-Jupyter-K8s-User and the app's proxy secret), a redirect to sign in,
a page saying the workspace is stopped or starting, or 403. An unknown workspace is answered
exactly like a forbidden one.

On the authentication host it also serves /_jk/authorize (hand a signed-in user over to a
workspace host), /_jk/sign_out (end the workspace sessions of this sign-in, then oauth2-proxy's),
and desktop access: SSH certificates and the SSH tunnel (tunnel.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import aiohttp
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

from ..api import API_VERSION, GROUP
from ..api.workspace import DesiredStatus
from ..kube import Kube, KubeError
from ..kube.client import object_path
from ..kube.connection import load_connection
from ..proxy_secret import HEADER, load_key, workspace_secret
from ..reconcile.idle import read_activity
from . import pages, portal, sessions, user_api
from .decide import (
    AmbiguousPath,
    Identity,
    Manager,
    TTLCache,
    decision_key,
    identity_from,
    route_prefix,
    target,
)
from .signouts import SharedSignOuts
from .tunnel import Tunnels

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
    # The authentication host (auth.<domain>): set, the IdP session stays there and workspace
    # hosts get sessions of their own (sessions.py).
    auth_host: str | None = None
    user_header: str = "X-Auth-Request-Email"
    # Keep equal to the API server's --oidc-username-prefix / --oidc-groups-prefix.
    username_prefix: str = ""
    groups_prefix: str = ""
    cache_seconds: float = 5.0
    managers_seconds: float = 30.0
    # "<namespace>/<name>" of the ConfigMap through which replicas share sign-outs (None: this
    # replica's memory only, right for one replica), and how often it is read.
    signouts: str | None = None
    signouts_seconds: float = 2.0
    # How often a live SSH tunnel asks its decision again (the bound on closing a revoked one).
    tunnel_recheck_seconds: float = 10.0
    # "<namespace>/<name>" of the ConfigMap where open tunnels count as workspace activity for
    # the idle culler (None: not recorded).
    tunnel_activity: str | None = None
    # "<namespace>/<name>" of the ConfigMap where the idle culler writes when each workspace was
    # last in use (None: the pages show no last activity).
    last_activity: str | None = None
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
            auth_host=os.environ.get("JK_AUTHZ_AUTH_HOST") or None,
            user_header=os.environ.get("JK_AUTHZ_USER_HEADER", "X-Auth-Request-Email"),
            username_prefix=os.environ.get("JK_AUTHZ_USERNAME_PREFIX", ""),
            groups_prefix=os.environ.get("JK_AUTHZ_GROUPS_PREFIX", ""),
            cache_seconds=float(os.environ.get("JK_AUTHZ_CACHE_SECONDS", "5")),
            signouts=os.environ.get("JK_AUTHZ_SIGNOUTS") or None,
            signouts_seconds=float(os.environ.get("JK_AUTHZ_SIGNOUTS_SECONDS", "2")),
            tunnel_recheck_seconds=float(os.environ.get("JK_AUTHZ_TUNNEL_RECHECK_SECONDS", "10")),
            tunnel_activity=os.environ.get("JK_AUTHZ_TUNNEL_ACTIVITY") or None,
            last_activity=os.environ.get("JK_AUTHZ_LAST_ACTIVITY") or None,
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
        self.phases: TTLCache[str] = TTLCache(2)
        self._activity: TTLCache[dict[tuple[str, str], float]] = TTLCache(10)
        # Signed-out IdP sessions (by id): their workspace sessions end at once on this replica,
        # and on the others once they read the shared sign-outs (signouts.py).
        self.revoked: TTLCache[bool] = TTLCache(sessions.SESSION_SECONDS, size=100000)
        self.session_key = sessions.session_key(self.key or b"")
        self.shared = (
            SharedSignOuts.parse(self.kube, self.settings.signouts)
            if self.settings.signouts
            else None
        )

    async def follow_signouts(self) -> None:
        """Forever: take in the sign-outs other replicas served."""
        if self.shared is None:
            return
        while True:
            try:
                for sid in await asyncio.to_thread(self.shared.load):
                    self.revoked.put(sid, True)
            except Exception as err:  # a transport fault must not end the loop
                log.warning("reading the shared sign-outs failed: %s", err)
            await asyncio.sleep(self.settings.signouts_seconds)

    async def identity(self, request: web.Request, cookies: bool = True) -> Identity | None:
        """Who the session (or bearer token) belongs to, according to oauth2-proxy."""
        cookie = request.headers.get("Cookie", "") if cookies else ""
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

    async def last_activity(self) -> dict[tuple[str, str], float]:
        """When each workspace was last in use (the idle culler's record), read at most every
        10 s; empty when not configured or unreadable (the pages then show no time)."""
        if not self.settings.last_activity:
            return {}
        cached = self._activity.get("all")
        if cached is not None:
            return cached
        namespace, _, name = self.settings.last_activity.partition("/")
        try:
            body = await asyncio.to_thread(self.kube.get, "v1", "ConfigMap", namespace, name)
        except KubeError as err:
            log.warning("reading %s failed: %s", self.settings.last_activity, err.message)
            return {}
        found = read_activity((body or {}).get("data"))
        self._activity.put("all", found)
        return found

    async def workspace_uid(self, namespace: str, name: str) -> str | None:
        uid = self.uids.get((namespace, name))
        if uid is None:
            body = await asyncio.to_thread(self.kube.get, API_VERSION, "Workspace", namespace, name)
            if body is None:
                return None
            uid = str(body["metadata"]["uid"])
            self.uids.put((namespace, name), uid)
        return uid

    async def proxy_secret(self, namespace: str, name: str) -> str | None:
        """Only asked once access is granted, so nothing about other workspaces leaks."""
        if self.key is None:
            return None
        uid = await self.workspace_uid(namespace, name)
        return workspace_secret(self.key, namespace, name, uid) if uid else None

    async def phase(self, namespace: str, name: str) -> str:
        """The workspace's phase, as fresh as two seconds ("Pending" when it has none yet)."""
        phase = self.phases.get((namespace, name))
        if phase is None:
            body = await asyncio.to_thread(self.kube.get, API_VERSION, "Workspace", namespace, name)
            phase = ((body or {}).get("status") or {}).get("phase") or "Pending"
            desired = ((body or {}).get("spec") or {}).get("desiredStatus")
            if desired == DesiredStatus.STOPPED.value and phase != "Stopped":
                # Asked to stop, and its server is going away even before the operator's
                # status says so: the stopping page, not the proxy's "no available server".
                phase = "Stopping"
            self.phases.put((namespace, name), phase)
        return phase

    async def still_allowed(self, who: Identity, namespace: str, name: str) -> bool:
        """The decision asked again, past the cache (live tunnels re-check with this)."""
        return bool(
            await asyncio.to_thread(
                self.kube.can,
                who.user,
                who.rbac_groups(),
                "connect",
                "workspaces",
                GROUP,
                namespace,
                name,
            )
        )

    async def as_user(
        self,
        who: Identity,
        method: str,
        path: str,
        body: Any = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        """A change made as the user (impersonation): RBAC and admission decide it as for
        kubectl. Only ever for the identity oauth2-proxy authenticated on this request."""
        return await asyncio.to_thread(
            self.kube.call_as, who.user, who.rbac_groups(), method, path, body, content_type
        )

    async def set_desired(
        self, who: Identity, namespace: str, name: str, desired: str
    ) -> dict[str, Any]:
        """Start or stop a workspace as the user (the ownership policy decides)."""
        return await self.as_user(
            who,
            "PATCH",
            object_path(API_VERSION, "Workspace", namespace, name),
            {"spec": {"desiredStatus": desired}},
            "application/merge-patch+json",
        )

    async def allowed(self, who: Identity, namespace: str, name: str) -> bool:
        key = decision_key(who, namespace, name)
        hit = self.decisions.get(key)
        if hit is not None:
            return hit
        ok = await self.still_allowed(who, namespace, name)
        if ok:
            # Only grants are cached. A cached refusal would outlive a share or Public on this
            # replica while another already lets the user in: the app's page would load from
            # one replica and its scripts be refused by the other.
            self.decisions.put(key, True)
        return ok

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
        host = (request.headers.get("X-Forwarded-Host") or request.host).split(":")[0].lower()
        uri = request.headers.get("X-Forwarded-Uri", "/")
        path = uri.split("?", 1)[0]
        managers = await self.managers()
        try:
            where = target(host, uri, managers)
        except AmbiguousPath:
            log.info("refused ambiguous path %s%s", host, uri)
            return web.Response(status=400, text="bad path\n"), "bad-path"
        prefix = route_prefix(host, managers, *where) if where else "/"
        confined = self.settings.auth_host is not None
        if confined and where and path == f"{prefix}_jk/session":
            return self._land(request, host, prefix, uri)
        who = self._session(request, host, path) if confined else None
        if who is None:
            who = await self.identity(request, cookies=not confined)
        if who is None:
            if pages.wants_html(request) and (confined or self.settings.sign_in_url):
                proto = request.headers.get("X-Forwarded-Proto", "https")
                back = quote(f"{proto}://{host}{uri}", safe="")
                if confined:
                    raise web.HTTPFound(
                        f"https://{self.settings.auth_host}/_jk/authorize?rd={back}"
                    )
                raise web.HTTPFound(f"{self.settings.sign_in_url}?rd={back}")
            return web.Response(status=401, text="sign in first\n"), "unauthenticated"
        # Unknown and forbidden look the same to the caller: existence is not revealed.
        if where is None or not await self.allowed(who, *where):
            log.info("deny %s -> %s%s", who.user, host, uri)
            return pages.forbidden(request, self._sign_out_url()), "forbidden"
        if path == f"{prefix}_jk/start":
            return await self._start(request, who, host, prefix, uri, *where), "start"
        state = await self._state_page(request, *where, who=who, prefix=prefix)
        if state is not None:
            return state, "not-running"
        headers = {USER_HEADER: who.user}
        secret = await self.proxy_secret(*where)
        if secret:
            headers[HEADER] = secret  # the app's proof that the request came through the proxy
        return web.Response(status=200, text="ok\n", headers=headers), "allowed"

    def _session(self, request: web.Request, host: str, path: str) -> Identity | None:
        token = request.cookies.get(sessions.COOKIE)
        grant = sessions.verify(self.session_key, token, sessions.SESSION) if token else None
        if grant is None or not grant.covers(host, path) or self.revoked.get(grant.sid):
            return None
        return Identity(grant.user, grant.groups)

    def _land(
        self, request: web.Request, host: str, prefix: str, uri: str
    ) -> tuple[web.Response, str]:
        """The workspace host's half of the hand-off: a session cookie of its own."""
        query = parse_qs(urlsplit(uri).query)
        token = (query.get("token") or [""])[0]
        grant = sessions.verify(self.session_key, token, sessions.HANDOFF)
        if grant is None or not grant.covers(host, prefix) or self.revoked.get(grant.sid):
            return pages.forbidden(request, self._sign_out_url()), "forbidden"
        session = sessions.mint(
            self.session_key, sessions.SESSION, grant.user, grant.groups, host, prefix, grant.sid
        )
        back = sessions.safe_return((query.get("rd") or [""])[0], host, prefix)
        return (
            web.Response(
                status=302,
                headers={
                    # Absolute: Traefik resolves a relative one against the forward-auth URL.
                    "Location": f"https://{host}{back}",
                    "Set-Cookie": sessions.cookie_header(session, prefix),
                    "Cache-Control": "no-store",
                },
            ),
            "session",
        )

    def _sign_out_url(self) -> str | None:
        return (
            f"https://{self.settings.auth_host}/_jk/sign_out" if self.settings.auth_host else None
        )

    async def _start(
        self,
        request: web.Request,
        who: Identity,
        host: str,
        prefix: str,
        uri: str,
        namespace: str,
        name: str,
    ) -> web.Response:
        """The stopped page's Start button: a POST on the workspace's own host, with the page's
        token, from that origin; the change is made as the user (the API server's ownership
        policy decides: the owner or an admin)."""
        method = request.headers.get("X-Forwarded-Method", request.method).upper()
        origin = request.headers.get("Origin")
        token = (parse_qs(urlsplit(uri).query).get("token") or [""])[0]
        workspace = f"{namespace}/{name}"
        if (
            method != "POST"
            or (origin is not None and origin != f"https://{host}")
            or not sessions.check_action(self.session_key, token, "start", who.user, workspace)
        ):
            return pages.page(
                request, 403, "Not started", "Use the Start button on the workspace's own page."
            )
        try:
            await self.set_desired(who, namespace, name, "Running")
        except KubeError as err:
            log.info("start refused %s -> %s: %s", who.user, workspace, err.message)
            return pages.page(request, 403, "Not started", err.message)
        log.info("started %s for %s", workspace, who.user)
        self.phases.put((namespace, name), "Starting")
        return web.Response(
            status=303, headers={"Location": f"https://{host}{prefix}", "Cache-Control": "no-store"}
        )

    async def _state_page(
        self,
        request: web.Request,
        namespace: str,
        name: str,
        who: Identity | None = None,
        prefix: str = "/",
    ) -> web.Response | None:
        """A stopped or starting workspace says so (to those allowed in, only); its owner gets
        a Start button."""
        phase = await self.phase(namespace, name)
        if phase == "Stopping":
            # Then the stopped page (and, for its owner, its Start button).
            return pages.page(
                request,
                503,
                "This workspace is stopping",
                "Its files are kept. This page reloads by itself until it has stopped.",
                refresh=3,
            )
        if phase == "Stopped":
            body = await asyncio.to_thread(self.kube.get, API_VERSION, "Workspace", namespace, name)
            owner = user_api.owner_of(body) if body else None
            if who is not None and owner == who.user:
                token = sessions.action_token(
                    self.session_key, "start", who.user, f"{namespace}/{name}"
                )
                return pages.page(
                    request,
                    503,
                    "This workspace is stopped",
                    "Its files are kept. Start it? It opens here once it runs.",
                    button=("Start it", f"{prefix}_jk/start?token={token}"),
                )
            return pages.page(
                request,
                503,
                "This workspace is stopped",
                f"Its files are kept. Its owner ({owner or 'unknown'}) can start it again.",
            )
        if phase in ("Pending", "Starting"):
            return pages.page(
                request,
                503,
                "This workspace is starting",
                "This page reloads by itself until the workspace answers.",
                refresh=3,
            )
        return None

    async def start_session(self, request: web.Request) -> web.Response:
        """/_jk/authorize on the authentication host: hand the signed-in user over."""
        auth_host = self.settings.auth_host
        back = request.query.get("rd", "")
        parts = urlsplit(back)
        host, uri = (
            (parts.hostname or "").lower(),
            (parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
        )
        if not auth_host or parts.scheme != "https" or not host:
            return pages.page(request, 400, "Bad request", "Nothing to open here.")
        who = await self.identity(request)
        if who is None:
            here = quote(f"https://{auth_host}/_jk/authorize?rd={quote(back, safe='')}", safe="")
            raise web.HTTPFound(f"{self.settings.sign_in_url or '/oauth2/start'}?rd={here}")
        managers = await self.managers()
        try:
            where = target(host, uri, managers)
        except AmbiguousPath:
            return pages.page(request, 400, "Bad request", "This address is not a workspace.")
        if where is None or not await self.allowed(who, *where):
            log.info("deny %s -> %s", who.user, back)
            DECISIONS.labels(outcome="forbidden").inc()
            return pages.forbidden(request, self._sign_out_url())
        prefix = route_prefix(host, managers, *where)
        sid = sessions.sid_of(request.cookies.get(self._idp_cookie(request)) or "")
        handoff = sessions.mint(
            self.session_key, sessions.HANDOFF, who.user, who.groups, host, prefix, sid
        )
        raise web.HTTPFound(
            f"https://{host}{prefix}_jk/session?token={handoff}&rd={quote(back, safe='')}"
        )

    @staticmethod
    def _idp_cookie(request: web.Request) -> str:
        # oauth2-proxy's cookie (default name _oauth2_proxy, possibly split in _0, _1 ...).
        names = sorted(n for n in request.cookies if n.startswith("_oauth2_proxy"))
        return names[0] if names else "_oauth2_proxy"

    async def sign_out(self, request: web.Request) -> web.Response:
        """End every workspace session of this sign-in, then oauth2-proxy's own session."""
        idp = request.cookies.get(self._idp_cookie(request))
        if idp:
            sid = sessions.sid_of(idp)
            self.revoked.put(sid, True)
            if self.shared is not None:
                try:
                    until = time.time() + sessions.SESSION_SECONDS
                    await asyncio.to_thread(self.shared.record, sid, until)
                    # Every replica reads the record within one interval: "You are signed out"
                    # shows only once that is over, so it is true on all of them.
                    await asyncio.sleep(self.settings.signouts_seconds + 1.0)
                except KubeError as err:
                    # Still signed out here; the other replicas learn it only from the IdP
                    # session's own end. Said loudly: it is a configuration fault.
                    log.error("sign-out not shared with the other replicas: %s", err)
        done = quote(f"https://{self.settings.auth_host}/_jk/signed-out", safe="")
        raise web.HTTPFound(f"/oauth2/sign_out?rd={done}")

    async def signed_out(self, request: web.Request) -> web.Response:
        return pages.page(
            request,
            200,
            "You are signed out",
            "Your workspace sessions have ended too.",
            links=(("Sign in again", f"https://{self.settings.auth_host}/oauth2/start"),),
        )


def build_app(authorizer: Authorizer) -> web.Application:
    app = web.Application()

    follower: list[asyncio.Task[None]] = []

    async def on_startup(_: web.Application) -> None:
        authorizer.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
        follower.append(asyncio.create_task(authorizer.follow_signouts()))

    async def on_cleanup(_: web.Application) -> None:
        for task in follower:
            task.cancel()
        if authorizer.session is not None:
            await authorizer.session.close()

    async def health(_: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    app.router.add_route("*", "/authorize", authorizer.handle)
    app.router.add_get("/_jk/authorize", authorizer.start_session)
    app.router.add_get("/_jk/sign_out", authorizer.sign_out)
    app.router.add_get("/_jk/signed-out", authorizer.signed_out)
    tunnels = Tunnels(
        authorizer, authorizer.settings.tunnel_recheck_seconds, authorizer.settings.tunnel_activity
    )
    app.router.add_post("/_jk/ssh/certificate", tunnels.certificate)
    app.router.add_get("/_jk/tunnel/{namespace}/{name}", tunnels.tunnel)
    user_api.add_routes(app, authorizer)
    portal.add_routes(app, authorizer)
    app.router.add_get("/healthz", health)
    app.router.add_get("/metrics", metrics)
    return app


def run() -> None:
    logging.basicConfig(
        level=logging.INFO,
        format='{"level":"%(levelname)s","logger":"%(name)s","message":"%(message)s"}',
    )
    settings = AuthzSettings.from_env()
    authorizer = Authorizer(settings, Kube(load_connection()), key=load_key())
    web.run_app(
        build_app(authorizer), host=settings.addr, port=settings.port, access_log=None, print=None
    )
