"""The path a person takes, in a real browser (Debian's Chromium driven by Playwright): sign in
through Dex's login form, reach your own JupyterLab through Traefik, oauth2-proxy and the
authorization service, run a cell over the kernel's WebSocket; and nobody else's workspace.
Screenshots of every step land in build/screenshots/."""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.support.fixtures import share_manifest, workspace_manifest
from tests.support.kube import Kubectl, condition, eventually

from .conftest import AUTH, DOMAIN, Guided
from .people import SHOTS, browser, person, sign_in

__all__ = ["browser"]  # a fixture

pytestmark = pytest.mark.e2e

FORBIDDEN = "You do not have access to this workspace"
NO_SERVER = "no available server"


def url(name: str, ns: str, path: str = "/") -> str:
    return f"https://{name}--{ns}.{DOMAIN}{path}"


def landed(page: Any, target: str) -> str:
    """Open `target` and say where the browser ended: "lab", "forbidden", "stopped" or "login"
    ("retry" when Chromium saw the machine's network change under it, or when Traefik had no
    server for the route yet: a pod that just started or stopped)."""
    try:
        page.goto(target)
    except PlaywrightError as err:
        # Chromium reports the network change either way: as the error, or as a navigation
        # to its own error page that interrupted ours.
        if "ERR_NETWORK_CHANGED" in str(err) or "chrome-error://" in str(err):
            return "retry"
        raise
    try:
        (
            page.locator("#jp-main-dock-panel")
            .or_(page.get_by_text(FORBIDDEN))
            .or_(page.get_by_text("This workspace is stopped"))
            .or_(page.locator("#login"))
            .or_(page.get_by_text(NO_SERVER))
        ).first.wait_for(timeout=60000)
    except Exception as err:
        text = page.locator("body").inner_text(timeout=5000)[:500]
        raise AssertionError(f"{target} landed on {page.url}: {text!r}") from err
    if page.get_by_text(NO_SERVER).count():
        return "retry"  # Traefik's view of the pod's endpoints lags the API server's a moment
    if page.locator("#jp-main-dock-panel").count():
        return "lab"
    if page.locator("#login").count():
        return "login"
    return "stopped" if "This workspace is stopped" in page.content() else "forbidden"


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def kube_as(kubectl: Kubectl, user: str, *args: str, stdin: str | None = None) -> Any:
    return kubectl.run(*args, stdin=stdin, user=user)


def available(kubectl: Kubectl, ns: str, name: str) -> dict[str, Any] | None:
    ws = kubectl.get("workspace", name, ns)
    return ws if (condition(ws, "Available") or {}).get("status") == "True" else None


@pytest.fixture(scope="module")
def alices(guided: Guided) -> Iterator[str]:
    """alice's workspace in team-a, created by alice (no template: the team's default)."""
    k = guided.kubectl
    eventually(
        lambda: (
            (k.get("resourcequota", "team-quota", "team-a") or {}).get("status", {}).get("used")
        ),
        what="the team quota counted",
    )
    k.create(workspace_manifest("alice-lab"), "team-a", user="alice@example.com")
    eventually(lambda: available(k, "team-a", "alice-lab"), timeout=180, what="alice's workspace")
    yield "alice-lab"
    k.run(
        "delete",
        "workspace",
        "alice-lab",
        "-n",
        "team-a",
        "--wait=true",
        "--timeout=90s",
        check=False,
    )


def test_alice_signs_in_and_runs_a_cell_in_her_jupyterlab(
    browser: Any, guided: Guided, alices: str
) -> None:
    context = person(browser, guided)
    page = context.new_page()
    sent: list[str] = []
    page.on(
        "request",
        lambda r: (
            sent.append(r.headers.get("cookie", "")) if f"--team-a.{DOMAIN}" in r.url else None
        ),
    )
    page.goto(url(alices, "team-a", "/lab"))
    shot(page, "1-dex-login")
    sign_in(page, "alice@example.com")
    page.wait_for_url(url(alices, "team-a", "/lab**"), timeout=60000)
    page.locator(".jp-LauncherCard[data-category='Notebook']").first.click(timeout=90000)
    # Typing goes to the cell once its kernel is up (the status bar says so).
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=90000)
    cell = page.locator(".jp-Notebook .jp-Cell .cm-content").first
    cell.click(timeout=60000)
    page.keyboard.type("21*2")
    page.keyboard.press("Shift+Enter")
    output = page.locator(".jp-OutputArea-output").first
    output.wait_for(timeout=90000)
    assert output.inner_text().strip() == "42"
    shot(page, "2-alice-42")
    print(f"\npulumi up -> alice's first 42: {time.monotonic() - guided.started:.1f}s")
    # The notebook is a file on her volume.
    pod = eventually(
        lambda: guided.kubectl.list(
            "pods", "team-a", "workspace.jupyter.org/workspace-name=alice-lab"
        ),
        what="alice's pod",
    )[0]
    files = guided.kubectl.run(
        "exec", "-n", "team-a", pod["metadata"]["name"], "--", "ls", "/home/jovyan"
    ).stdout.split()
    assert "Untitled.ipynb" in files
    # The IdP session never reached the workspace: only the workspace's own cookie did.
    assert sent and not [c for c in sent if "_oauth2_proxy" in c]
    cookies = {c["name"]: c for c in context.cookies()}
    assert cookies["_oauth2_proxy"]["domain"] == AUTH  # host-only on the authentication host
    assert cookies["_jk_ws"]["domain"] == f"{alices}--team-a.{DOMAIN}"
    context.close()


def test_a_workspace_session_is_refused_on_any_other_workspace(
    browser: Any, guided: Guided, alices: str
) -> None:
    k = guided.kubectl
    k.create(workspace_manifest("bobs-lab"), "team-b", user="bob@example.com")
    try:
        context = person(browser, guided)
        page = context.new_page()
        page.goto(url(alices, "team-a", "/lab"))
        sign_in(page, "alice@example.com")
        page.wait_for_url(url(alices, "team-a", "/lab**"), timeout=60000)
        session = next(c["value"] for c in context.cookies() if c["name"] == "_jk_ws")
        cookie = {"Cookie": f"_jk_ws={session}"}
        assert guided.https(f"{alices}--team-a.{DOMAIN}", "/api/contents", cookie)[0] == 200
        # The same session, copied to bob's workspace (which exists): not a session there.
        eventually(lambda: available(k, "team-b", "bobs-lab"), timeout=180, what="bob's workspace")
        assert guided.https(f"bobs-lab--team-b.{DOMAIN}", "/api/contents", cookie)[0] == 401
        context.close()
    finally:
        k.run("delete", "workspace", "bobs-lab", "-n", "team-b", "--wait=false", check=False)


def test_bob_is_refused_until_alice_shares_and_again_at_expiry(
    browser: Any, guided: Guided, alices: str
) -> None:
    k = guided.kubectl
    context = person(browser, guided)
    page = context.new_page()
    page.goto(url(alices, "team-a", "/lab"))
    sign_in(page, "bob@example.com")
    page.get_by_text(FORBIDDEN).wait_for(timeout=60000)
    shot(page, "3-bob-no-access")
    expires = (datetime.now(UTC) + timedelta(seconds=45)).strftime("%Y-%m-%dT%H:%M:%SZ")
    share = share_manifest("for-bob", alices, "bob@example.com", expires)
    k.create(share, "team-a", user="alice@example.com")

    eventually(
        lambda: landed(page, url(alices, "team-a", "/lab")) == "lab",
        timeout=60,
        interval=2,
        what="bob in through the share",
    )
    shot(page, "4-bob-shared")
    # Nobody acts: at expiresAt the share stops granting and bob is refused again.
    eventually(
        lambda: landed(page, url(alices, "team-a", "/lab")) == "forbidden",
        timeout=90,
        interval=3,
        what="bob refused after expiry",
    )
    k.run("delete", "workspaceshare", "for-bob", "-n", "team-a", check=False)
    context.close()


def test_public_lets_any_signed_in_user_in_and_signing_out_ends_it(
    browser: Any, guided: Guided, alices: str
) -> None:
    k = guided.kubectl
    context = person(browser, guided)
    page = context.new_page()
    page.goto(url(alices, "team-a", "/lab"))
    sign_in(page, "carol@example.com")
    page.get_by_text(FORBIDDEN).wait_for(timeout=60000)
    patch = json.dumps({"spec": {"accessType": "Public"}})
    k.run(
        "patch",
        "workspace",
        alices,
        "-n",
        "team-a",
        "--type=merge",
        "-p",
        patch,
        user="alice@example.com",
    )
    try:
        eventually(
            lambda: landed(page, url(alices, "team-a", "/lab")) == "lab",
            timeout=60,
            interval=2,
            what="carol in: the workspace is Public",
        )
        page.goto(f"https://{AUTH}/_jk/sign_out")
        page.get_by_text("You are signed out").wait_for(timeout=30000)
        shot(page, "5-signed-out")
        assert landed(page, url(alices, "team-a", "/lab")) == "login"  # asked to sign in again
    finally:
        patch = json.dumps({"spec": {"accessType": "Private"}})
        k.run(
            "patch",
            "workspace",
            alices,
            "-n",
            "team-a",
            "--type=merge",
            "-p",
            patch,
            user="alice@example.com",
        )
        context.close()


def set_desired(k: Kubectl, name: str, status: str) -> None:
    """alice (the owner) sets her team-a workspace's desiredStatus."""
    patch = json.dumps({"spec": {"desiredStatus": status}})
    k.run(
        "patch",
        "workspace",
        name,
        "-n",
        "team-a",
        "--type=merge",
        "-p",
        patch,
        user="alice@example.com",
    )


def desired(k: Kubectl, name: str) -> str:
    return str((k.get("workspace", name, "team-a") or {})["spec"]["desiredStatus"])


def test_a_stopped_workspace_says_so(browser: Any, guided: Guided, alices: str) -> None:
    k = guided.kubectl
    context = person(browser, guided)
    page = context.new_page()
    page.goto(url(alices, "team-a", "/lab"))
    sign_in(page, "alice@example.com")
    page.wait_for_url(url(alices, "team-a", "/lab**"), timeout=60000)
    set_desired(k, alices, "Stopped")

    eventually(
        lambda: landed(page, url(alices, "team-a", "/lab")) == "stopped",
        timeout=90,
        interval=2,
        what="the stopped page",
    )
    shot(page, "6-stopped")
    # Its owner starts it from that page: "starting..." follows, then her JupyterLab.
    page.get_by_role("button", name="Start it").click()
    page.locator("#jp-main-dock-panel").wait_for(timeout=180000)
    assert desired(k, alices) == "Running"
    shot(page, "7-started-from-the-stopped-page")
    context.close()


def test_only_the_owner_gets_the_start_button(browser: Any, guided: Guided, alices: str) -> None:
    """bob, let in by a share, sees the stopped page without the button, and a start he forges
    (no token of his page, another origin) is refused."""
    k = guided.kubectl
    share = share_manifest("bob-sees-stopped", alices, "bob@example.com")
    k.create(share, "team-a", user="alice@example.com")
    set_desired(k, alices, "Stopped")
    context = person(browser, guided)
    page = context.new_page()
    page.goto(url(alices, "team-a", "/lab"))
    sign_in(page, "bob@example.com")
    eventually(
        lambda: landed(page, url(alices, "team-a", "/lab")) == "stopped",
        timeout=90,
        interval=2,
        what="the stopped page for bob",
    )
    assert page.get_by_role("button", name="Start it").count() == 0
    assert "Its owner (alice@example.com) can start it" in page.content()
    # From the page itself (same origin, bob's session), with a token that is not his page's.
    forged = page.evaluate(
        "async (u) => (await fetch(u, {method: 'POST'})).status",
        url(alices, "team-a", "/_jk/start?token=1.forged"),
    )
    assert forged == 403
    assert desired(k, alices) == "Stopped"
    k.run("delete", "workspaceshare", "bob-sees-stopped", "-n", "team-a", check=False)
    context.close()


PORTAL = f"https://{AUTH}/_jk/workspaces"


def row(page: Any, name: str) -> Any:
    """The table row of workspace `name` on the "my workspaces" page."""
    return page.locator("tr", has=page.get_by_role("cell", name=name, exact=True)).first


def row_with(page: Any, name: str, button: str, timeout: float = 60) -> Any:
    """The row of `name` once it offers `button` (the page is loaded afresh until then: what
    the operator reports catches up)."""

    def ready() -> Any:
        page.goto(PORTAL)
        found = row(page, name)
        return found if found.get_by_role("button", name=button).count() else None

    return eventually(ready, timeout=timeout, interval=2, what=f"{name} with {button}")


def test_my_workspaces_page_lists_creates_stops_starts_shares_and_revokes(
    browser: Any, guided: Guided, alices: str, request: pytest.FixtureRequest
) -> None:
    k = guided.kubectl
    set_desired(k, alices, "Running")
    eventually(lambda: available(k, "team-a", alices), timeout=180, what="alice-lab running")
    alice = person(browser, guided).new_page()
    alice.goto(PORTAL)
    sign_in(alice, "alice@example.com")
    alice.get_by_role("heading", name="My workspaces").wait_for(timeout=60000)
    mine = alice.locator("h2#mine + table")
    assert alices in mine.inner_text()
    # Open it from the list: her JupyterLab.
    mine.get_by_role("link", name=alices).click()
    alice.locator("#jp-main-dock-panel").wait_for(timeout=60000)

    # Create from a template the namespace allows (the bounds are shown in the choice).
    alice.goto(PORTAL)
    create = alice.locator("h2#create + form")
    create.get_by_label("Namespace").select_option("team-a")
    create.get_by_label("Name", exact=True).fill("alice-new")
    assert "cpu" in create.get_by_label("Template").inner_text()
    create.get_by_role("button", name="Create").click()
    request.addfinalizer(
        lambda: k.run("delete", "workspace", "alice-new", "-n", "team-a", "--ignore-not-found")
    )
    eventually(lambda: k.get("workspace", "alice-new", "team-a"), what="alice-new created")
    created = k.get("workspace", "alice-new", "team-a") or {}
    # Made as alice, not as the service.
    assert created["metadata"]["annotations"]["workspace.jupyter.org/created-by"] == (
        "alice@example.com"
    )
    # Hers at once, in the page the creation lands on (before the operator grants her access).
    assert row(alice, "alice-new").get_by_role("button", name="Stop").count() == 1

    # Stop it, then start it again, from the list.
    row(alice, "alice-new").get_by_role("button", name="Stop").click()
    eventually(lambda: desired(k, "alice-new") == "Stopped", what="stopped from the page")
    row_with(alice, "alice-new", "Start").get_by_role("button", name="Start").click()
    eventually(lambda: desired(k, "alice-new") == "Running", what="started from the page")

    # When she last used alice-lab shows (the idle culler's reading, once a minute).
    def activity_shown() -> bool:
        alice.goto(PORTAL)
        shown = row(alice, alices).locator("time")
        return bool(shown.count()) and "ago" in shown.inner_text()

    eventually(activity_shown, timeout=150, interval=5, what="alice-lab's last activity")

    # Share alice-lab with bob until tomorrow; bob sees it under "shared with you".
    lab = row(alice, alices)
    until = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    lab.get_by_label("Name", exact=True).fill("bob@example.com")
    lab.get_by_label("Expires (UTC, optional)").fill(until)
    lab.get_by_role("button", name="Share").click()
    # (Earlier tests may have left expired shares with bob: this one is ours.)
    ours = alice.locator("li", has_text=f"User bob@example.com until {until}:00Z")
    ours.wait_for(timeout=30000)
    shot(alice, "8-my-workspaces")
    bob = person(browser, guided).new_page()
    bob.goto(PORTAL)
    sign_in(bob, "bob@example.com")

    def on_portal() -> bool:
        """The page after sign-in, loaded again if the landing met the real node's network
        change (Chromium's error page instead)."""
        if bob.get_by_role("heading", name="My workspaces").count():
            return True
        try:
            bob.goto(PORTAL)
        except PlaywrightError:
            return False
        return bool(bob.get_by_role("heading", name="My workspaces").count())

    eventually(on_portal, timeout=90, interval=3, what="bob on his page")

    def bob_sees() -> bool:
        bob.goto(PORTAL)
        return alices in bob.locator("main").inner_text().split("Shared with you")[1]

    eventually(bob_sees, timeout=30, interval=2, what="alice-lab shared with bob")
    shot(bob, "9-shared-with-bob")
    # bob has no stop or delete for it (it is not his); one he forges with his own page's
    # token is made as bob, and the API server refuses it.
    assert bob.locator("h2#shared + table").get_by_role("button").count() == 0
    token = bob.locator('input[name="token"]').first.get_attribute("value")
    for action in ("stop", "delete"):
        status, text = bob.evaluate(
            "async ([u, f]) => { const r = await fetch(u, {method: 'POST', "
            "body: new URLSearchParams(f)}); return [r.status, await r.text()]; }",
            [PORTAL, {"token": token, "action": action, "namespace": "team-a", "name": alices}],
        )
        alert = re.search(r'role="alert">([^<]*)<', text)
        said = html.unescape(alert.group(1)) if alert else text[-500:]
        # Made as bob: the API server refuses it (RBAC, or the ownership policy).
        assert status == 403 and f"{action} team-a/{alices}:" in said, said
        assert "forbidden" in said or "only the owner of workspace" in said, said
    assert desired(k, alices) == "Running"
    # alice revokes: bob no longer sees it.
    alice.goto(PORTAL)
    ours.get_by_role("button", name="Revoke").click()
    eventually(
        lambda: (
            not [
                s
                for s in k.list("workspaceshares", "team-a")
                if s["spec"]["workspaceName"] == alices
                and s["spec"].get("expiresAt") == f"{until}:00Z"
            ]
        ),
        what="the share revoked",
    )
    eventually(lambda: not bob_sees(), timeout=30, interval=2, what="bob no longer sees it")
    # Delete the new one from the page.
    row_with(alice, "alice-new", "Delete").get_by_role("button", name="Delete").click()

    def deleted() -> bool:
        ws = k.get("workspace", "alice-new", "team-a")
        return ws is None or bool(ws["metadata"].get("deletionTimestamp"))

    eventually(deleted, timeout=60, what="alice-new deleted")
