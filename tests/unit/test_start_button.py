"""The stopped page's Start button through the forward-auth decision, in both routing modes:
the owner gets it at the workspace's own address (its host, or its path), the POST it makes
starts the workspace as the owner and lands back on the workspace; others get no button."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from jupyter_k8s.authz import sessions
from jupyter_k8s.authz.decide import Identity, decision_key
from jupyter_k8s.authz.server import Authorizer, AuthzSettings, build_app

DOMAIN = "ws.example.org"
ALICE = Identity("alice@example.com", ("team-a",))
BOB = Identity("bob@example.com")


@dataclass
class FakeKube:
    mode: str
    phase: str = "Stopped"
    desired: str = "Stopped"
    calls: list[tuple[Any, ...]] = field(default_factory=list)

    def _call(self, method: str, path: str, **_: Any) -> dict[str, Any]:
        assert method == "GET" and path.endswith("/workspacemanagers")
        return {"items": [{"spec": {"domain": DOMAIN, "routing": {"mode": self.mode}}}]}

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any]:
        return {
            "metadata": {
                "name": name,
                "namespace": namespace,
                "uid": "u1",
                "annotations": {"workspace.jupyter.org/created-by": ALICE.user},
            },
            "spec": {"desiredStatus": self.desired},
            "status": {"phase": self.phase},
        }

    def call_as(
        self, user: str, groups: list[str], method: str, path: str, body: Any, ct: str
    ) -> dict[str, Any]:
        self.calls.append((user, method, path, body))
        return {}


def where(mode: str) -> tuple[str, str]:
    """(host, path prefix) of workspace team-a/lab in that routing mode."""
    if mode == "subdomain":
        return f"lab--team-a.{DOMAIN}", "/"
    return DOMAIN, "/workspaces/team-a/lab/"


def run(
    mode: str, who: Identity, steps: Any, phase: str = "Stopped", desired: str = "Stopped"
) -> tuple[Any, FakeKube]:
    kube = FakeKube(mode, phase, desired)
    settings = AuthzSettings(identity_url="http://unused", sign_in_url=None, auth_host="auth.x")
    authorizer = Authorizer(settings, kube, key=b"k" * 32)  # type: ignore[arg-type]
    authorizer.decisions.put(decision_key(who, "team-a", "lab"), True)  # RBAC's connect: yes
    host, prefix = where(mode)
    cookie = sessions.mint(
        authorizer.session_key, sessions.SESSION, who.user, who.groups, host, prefix, "sid"
    )

    async def go() -> Any:
        async with TestClient(TestServer(build_app(authorizer))) as client:

            async def ask(uri: str, method: str = "GET", origin: str | None = None) -> Any:
                headers = {
                    "X-Forwarded-Host": host,
                    "X-Forwarded-Uri": uri,
                    "X-Forwarded-Method": method,
                    "Accept": "text/html",
                    "Cookie": f"{sessions.COOKIE}={cookie}",
                    **({"Origin": origin} if origin else {}),
                }
                resp = await client.get("/authorize", headers=headers, allow_redirects=False)
                return resp.status, await resp.text(), resp.headers

            return await steps(ask, host, prefix)

    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(go()), kube
    finally:
        loop.close()


@pytest.mark.parametrize("mode", ["subdomain", "path"])
def test_the_owner_starts_a_stopped_workspace_at_its_own_address(mode: str) -> None:
    async def steps(ask: Any, host: str, prefix: str) -> Any:
        status, page, _ = await ask(f"{prefix}lab")
        assert status == 503 and "This workspace is stopped" in page
        button = re.search(r'action="([^"]+)"', page)
        assert button, page
        action = button.group(1).replace("&amp;", "&")
        assert action.startswith(f"{prefix}_jk/start?token=")
        # A GET, or a POST from another origin, starts nothing.
        assert (await ask(action))[0] == 403
        assert (await ask(action, "POST", "https://evil.example"))[0] == 403
        return await ask(action, "POST", f"https://{host}")

    (status, _, headers), kube = run(mode, ALICE, steps)
    assert status == 303
    host, prefix = where(mode)
    assert headers["Location"] == f"https://{host}{prefix}"
    ((user, method, path, body),) = kube.calls  # once, as alice
    assert (user, method, body) == (ALICE.user, "PATCH", {"spec": {"desiredStatus": "Running"}})
    assert path.endswith("/namespaces/team-a/workspaces/lab")


@pytest.mark.parametrize("mode", ["subdomain", "path"])
def test_someone_let_in_by_a_share_gets_no_button(mode: str) -> None:
    async def steps(ask: Any, host: str, prefix: str) -> Any:
        return await ask(f"{prefix}lab")

    (status, page, _), kube = run(mode, BOB, steps)
    assert status == 503 and "Its owner (alice@example.com) can start it" in page
    assert "_jk/start" not in page and not kube.calls


def test_a_stopping_workspace_says_so_and_reloads_until_stopped() -> None:
    async def steps(ask: Any, host: str, prefix: str) -> Any:
        return await ask(f"{prefix}lab")

    (status, page, _), kube = run("subdomain", ALICE, steps, phase="Stopping")
    assert status == 503 and "This workspace is stopping" in page
    assert 'http-equiv="refresh"' in page and "_jk/start" not in page and not kube.calls


def test_a_workspace_asked_to_stop_is_stopping_before_the_operator_says_so() -> None:
    """Its server goes away at once; the status follows a moment later. Meanwhile the page
    says it is stopping (not the proxy's "no available server")."""

    async def steps(ask: Any, host: str, prefix: str) -> Any:
        return await ask(f"{prefix}lab")

    (status, page, _), _ = run("subdomain", ALICE, steps, phase="Running", desired="Stopped")
    assert status == 503 and "This workspace is stopping" in page
