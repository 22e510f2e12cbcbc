"""The "my workspaces" page without a cluster: what it lists, and that only a same-origin POST
with the page's own token changes anything, made as the signed-in user."""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from jupyter_k8s.authz import portal
from jupyter_k8s.authz.decide import Identity
from jupyter_k8s.authz.server import Authorizer
from jupyter_k8s.authz.sessions import session_key

AUTH = "auth.example.org"
ALICE = Identity("alice@example.com", ("team-a",))


def ws(name: str, owner: str, phase: str = "Running") -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "namespace": "team-a",
            "annotations": {"workspace.jupyter.org/created-by": owner},
        },
        "spec": {"desiredStatus": "Running" if phase == "Running" else "Stopped"},
        "status": {"phase": phase, "owner": owner, "url": f"https://{name}--team-a.x/"},
    }


@dataclass
class FakeKube:
    objects: dict[str, list[dict[str, Any]]]
    calls: list[tuple[Any, ...]] = field(default_factory=list)

    def list_objects(self, api_version: str, kind: str, namespace: str | None) -> list[Any]:
        return self.objects.get(kind, [])

    def can(self, user: str, groups: list[str], verb: str, *rest: Any) -> bool:
        return verb == "create"

    def call_as(
        self, user: str, groups: list[str], method: str, path: str, body: Any, ct: str
    ) -> Any:
        self.calls.append((user, tuple(groups), method, path, body))
        return {}


@dataclass
class Settings:
    auth_host: str = AUTH
    sign_in_url: str = f"https://{AUTH}/oauth2/start"


class FakeAuthorizer:
    def __init__(self, kube: FakeKube) -> None:
        self.kube, self.settings = kube, Settings()
        self.session_key = session_key(b"k" * 32)

    async def identity(self, request: web.Request, cookies: bool = True) -> Identity | None:
        return ALICE if request.headers.get("Cookie") else None

    async def allowed(self, who: Identity, namespace: str, name: str) -> bool:
        # RBAC's connect: the operator has not granted alice hers yet (just created).
        return name not in ("carols", "alices-new")

    async def last_activity(self) -> dict[tuple[str, str], float]:
        return {("team-a", "alices"): time.time() - 12 * 60}

    # The service's own ways of acting as the user (they only use self.kube).
    as_user = Authorizer.as_user
    set_desired = Authorizer.set_desired


def run(kube: FakeKube, steps: Any) -> Any:
    async def go() -> Any:
        app = web.Application()
        portal.add_routes(app, FakeAuthorizer(kube))  # type: ignore[arg-type]
        async with TestClient(TestServer(app)) as client:
            return await steps(client)

    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(go())
    finally:
        loop.close()


def objects() -> dict[str, list[dict[str, Any]]]:
    return {
        "Workspace": [
            ws("alices", "alice@example.com"),
            ws("bobs", "bob@example.com", "Stopped"),
            ws("carols", "carol@example.com"),
            {  # just created by alice: no status yet
                "metadata": {
                    "name": "alices-new",
                    "namespace": "team-a",
                    "annotations": {"workspace.jupyter.org/created-by": "alice@example.com"},
                },
                "spec": {"templateRef": "lab-v1"},
            },
        ],
        "Namespace": [
            {
                "metadata": {
                    "name": "team-a",
                    "annotations": {
                        "workspace.jupyter.org/allowed-templates": "lab-v1",
                        "workspace.jupyter.org/default-template": "lab-v1",
                    },
                }
            }
        ],
        "WorkspaceTemplate": [
            {
                "metadata": {"name": "lab-v1"},
                "spec": {
                    "displayName": "JupyterLab",
                    "resourceBounds": {"cpu": {"min": "100m", "max": "2"}},
                    "primaryStorage": {"defaultSize": "1Gi", "minSize": "1Gi", "maxSize": "10Gi"},
                },
            }
        ],
    }


COOKIE = {"Cookie": "_oauth2_proxy=x"}


def test_the_page_lists_mine_and_shared_and_offers_allowed_templates_with_bounds() -> None:
    async def steps(client: TestClient) -> str:
        resp = await client.get(portal.PATH, headers=COOKIE)
        assert resp.status == 200
        return await resp.text()

    html = run(FakeKube(objects()), steps)
    mine, shared = html.split('id="shared"')
    assert "alices" in mine and "bobs" not in mine
    # One she just created is hers at once (before RBAC lets her connect), with its template.
    new = re.search(r"<tr><td>alices-new</td>(.*?)</tr>", mine)
    assert new and "Pending" in new.group(1) and "lab-v1" in new.group(1)
    assert ">Stop</button>" in new.group(1)  # desired Running by default
    # When it was last in use, as the idle culler saw it.
    assert re.search(r'<td><time datetime="[0-9T:-]+Z" title="[^"]+UTC">12 min ago</time>', mine)
    assert "bobs" in shared and "bob@example.com" in shared
    assert "carols" not in html  # not allowed: not listed at all
    assert "JupyterLab (cpu 100m-2, storage 1Gi-10Gi)" in html
    assert "<script" not in html and "http://" not in html.replace("https://", "")


def test_signed_out_goes_to_sign_in() -> None:
    async def steps(client: TestClient) -> tuple[int, str]:
        resp = await client.get(portal.PATH, allow_redirects=False)
        return resp.status, resp.headers["Location"]

    status, where = run(FakeKube(objects()), steps)
    assert status == 302 and where.startswith(f"https://{AUTH}/oauth2/start?rd=")


@pytest.mark.parametrize(
    ("origin", "token_ok", "changed"),
    [
        (f"https://{AUTH}", True, True),
        (None, True, True),  # no Origin (older clients): the token decides
        ("https://evil.example", True, False),
        (f"https://{AUTH}", False, False),
    ],
)
def test_a_change_needs_this_origin_and_the_page_token_and_is_made_as_the_user(
    origin: str | None, token_ok: bool, changed: bool
) -> None:
    kube = FakeKube(objects())

    async def steps(client: TestClient) -> int:
        page = await (await client.get(portal.PATH, headers=COOKIE)).text()
        token = re.search(r'name="token" value="([^"]+)"', page)
        assert token
        headers = {**COOKIE, **({"Origin": origin} if origin else {})}
        resp = await client.post(
            portal.PATH,
            data={
                "token": token.group(1) if token_ok else "1.forged",
                "action": "stop",
                "namespace": "team-a",
                "name": "alices",
            },
            headers=headers,
            allow_redirects=False,
        )
        return resp.status

    status = run(kube, steps)
    if changed:
        assert status == 303
        user, groups, method, path, body = kube.calls[0]
        assert (user, method, body) == (
            "alice@example.com",
            "PATCH",
            {"spec": {"desiredStatus": "Stopped"}},
        )
        assert "system:authenticated" in groups and "team-a" in groups
        assert path.endswith("/namespaces/team-a/workspaces/alices")
    else:
        assert status == 403 and not kube.calls
