"""People in a real browser (Debian's Chromium driven by Playwright), for the e2e tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import sync_playwright

from tests.support.fixtures import ROOT

from .conftest import AUTH, Guided

SHOTS = ROOT / "build" / "screenshots"
PASSWORDS = {
    "alice@example.com": "alice-dev-password",
    "bob@example.com": "bob-dev-password",
    "carol@example.com": "carol-dev-password",
}
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is not installed: make tools installs it (Debian package chromium)")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",  # root in a VM without user namespaces for Chromium
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                # Chromium would call Google's services: nothing leaves this machine.
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield b
        b.close()


def person(browser: Any, guided: Guided) -> Any:
    """A fresh browser profile that trusts nothing but the stack's CA is not possible without
    an NSS database; TLS errors are ignored here and TLS is checked by the https() tests."""
    return browser.new_context(ignore_https_errors=True, viewport={"width": 1280, "height": 800})


def sign_in(page: Any, email: str) -> None:
    """On Dex's login form (where the redirects lead a signed-out browser)."""
    page.wait_for_url(f"https://{AUTH}/dex/**", timeout=30000)
    page.locator("#login").fill(email)
    page.locator("#password").fill(PASSWORDS[email])
    page.locator("#submit-login").click()
