"""A stand-in for oauth2-proxy's /oauth2/auth: session cookie in, identity headers out.

Real oauth2-proxy needs a real OIDC provider and a browser dance; what the authorization
service relies on is only this contract, so the tests pin exactly that."""

from __future__ import annotations

import asyncio
import socket
import threading
from dataclasses import dataclass, field

from aiohttp import web

COOKIE = "_oauth2_proxy"


@dataclass
class FakeOAuth2Proxy:
    sessions: dict[str, tuple[str, list[str]]] = field(
        default_factory=dict
    )  # token -> (user, groups)
    port: int = 0
    calls: int = 0

    def login(self, token: str, user: str, groups: list[str] | None = None) -> dict[str, str]:
        """Registers a session; returns the Cookie header a browser would send."""
        self.sessions[token] = (user, groups or [])
        return {"Cookie": f"{COOKIE}={token}"}

    async def _auth(self, request: web.Request) -> web.Response:
        self.calls += 1
        session = self.sessions.get(request.cookies.get(COOKIE, ""))
        if session is None:
            return web.Response(status=401)
        user, groups = session
        return web.Response(
            status=202,
            headers={
                "X-Auth-Request-User": f"sub-{user}",
                "X-Auth-Request-Email": user,
                "X-Auth-Request-Groups": ",".join(groups),
            },
        )

    def start(self) -> FakeOAuth2Proxy:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            app = web.Application()
            app.router.add_get("/oauth2/auth", self._auth)
            runner = web.AppRunner(app)
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
            ready.set()
            loop.run_forever()

        threading.Thread(target=serve, daemon=True).start()
        ready.wait(10)
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/oauth2/auth"
