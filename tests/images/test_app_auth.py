"""The workspace images' own gate, run on the host exactly as in the image (no engine needed):
only requests that carry the workspace's proxy secret get in."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fixtures import free_port
from tests.support.tools import require_tools, tool_paths

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(tool_paths()["JUPYTERLAB_VENV"])
SECRET = "per-workspace-secret"
BASE = "/workspaces/team-a/lab/"


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, headers=headers or {}), timeout=10
        ) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            raise AssertionError(f"exited early:\n{log.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} never answered:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The image's start command, with the image's pinned packages and configuration."""
    require_tools("jupyterlab-venv")
    subprocess.run(
        [
            str(VENV / "bin" / "pip"),
            "install",
            "-q",
            "--no-deps",
            "--force-reinstall",
            str(ROOT / "images/jupyterlab/auth"),
        ],
        check=True,
    )
    tmp = tmp_path_factory.mktemp("jupyterlab")
    home = tmp / "home"
    home.mkdir()
    port = 8888  # the image's port: its command line runs unchanged
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            pytest.fail("port 8888 is in use on this machine; the image's command needs it")
    env = {
        "PATH": f"{VENV / 'bin'}:/usr/bin:/bin",
        "HOME": str(home),
        "JUPYTER_K8S_BASE_URL": BASE,
        "JUPYTER_K8S_HOME": str(home),
        "JUPYTER_K8S_PROXY_SECRET": SECRET,
        # the image's /etc/jupyter, and nothing from this machine's own Jupyter setup
        "JUPYTER_CONFIG_PATH": str(ROOT / "images/jupyterlab"),
        "JUPYTER_CONFIG_DIR": str(tmp / "config"),
        "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
        "JUPYTER_DATA_DIR": str(tmp / "data"),
    }
    if os.geteuid() == 0:
        # The image runs as UID 1000; a test host running as root needs Jupyter's consent.
        (tmp / "config").mkdir()
        (tmp / "config" / "jupyter_server_config.json").write_text(
            '{"ServerApp": {"allow_root": true}}'
        )
    log = tmp / "jupyterlab.log"
    with open(log, "wb") as out:
        # The image's CMD, unchanged; the tests talk to it on loopback.
        proc = subprocess.Popen(
            [str(ROOT / "images/jupyterlab/start-jupyterlab")],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}{BASE}"
    try:
        wait_http(f"{url}api", proc, log)
        yield url
    finally:
        proc.terminate()
        proc.wait(20)


def test_jupyterlab_probe_path_answers_without_credentials(jupyterlab: str) -> None:
    status, body = get(f"{jupyterlab}api")
    assert status == 200 and "version" in json.loads(body)


def test_jupyterlab_refuses_requests_without_the_proxy_secret(jupyterlab: str) -> None:
    assert get(f"{jupyterlab}api/contents")[0] == 403
    assert get(f"{jupyterlab}api/me", {"X-Jupyter-K8s-User": "alice"})[0] == 403
    assert get(f"{jupyterlab}lab")[0] == 403  # browsers are sent to a login page that refuses
    assert (
        get(
            f"{jupyterlab}api/me",
            {"X-Jupyter-K8s-Proxy-Secret": "wrong", "X-Jupyter-K8s-User": "alice"},
        )[0]
        == 403
    )


def test_jupyterlab_serves_the_named_user_through_the_proxy(jupyterlab: str) -> None:
    status, body = get(
        f"{jupyterlab}api/me", {"X-Jupyter-K8s-Proxy-Secret": SECRET, "X-Jupyter-K8s-User": "alice"}
    )
    assert status == 200 and json.loads(body)["identity"]["username"] == "alice"
    assert (
        get(
            f"{jupyterlab}api/contents",
            {"X-Jupyter-K8s-Proxy-Secret": SECRET, "X-Jupyter-K8s-User": "alice"},
        )[0]
        == 200
    )


def test_jupyterlab_forged_identity_without_secret_is_refused(jupyterlab: str) -> None:
    forged = {
        "X-Jupyter-K8s-User": "admin",
        "X-Auth-Request-User": "admin",
        "X-Forwarded-User": "admin",
    }
    assert get(f"{jupyterlab}api/me", forged)[0] == 403


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """jupyter-k8s-guard in front of a stand-in for code-server."""
    from aiohttp import web

    upstream_port, port = free_port(), free_port()

    async def echo(request: web.Request) -> web.Response:
        # Path-strict like code-server: it serves at / and knows nothing of the base path.
        if request.path.startswith("/workspaces/"):
            return web.Response(status=404, text="Not found.")
        return web.Response(
            text=f"upstream saw {request.path_qs} "
            f"secret={request.headers.get('X-Jupyter-K8s-Proxy-Secret')}"
        )

    def serve() -> None:
        import asyncio

        loop = asyncio.new_event_loop()
        app = web.Application()
        app.router.add_get("/{tail:.*}", echo)
        runner = web.AppRunner(app)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", upstream_port).start())
        loop.run_forever()

    threading.Thread(target=serve, daemon=True).start()
    log = tmp_path_factory.mktemp("guard") / "guard.log"
    env = {**os.environ, "JUPYTER_K8S_PROXY_SECRET": SECRET, "JUPYTER_K8S_BASE_URL": BASE}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "images/code-server/jupyter-k8s-guard"),
                f"--listen=127.0.0.1:{port}",
                f"--upstream=127.0.0.1:{upstream_port}",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}{BASE}"
    try:
        wait_http(f"{url}healthz", proc, log)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def test_code_server_guard(guarded: str) -> None:
    assert get(f"{guarded}healthz") == (200, "ok\n")  # probes
    assert get(f"{guarded}")[0] == 403  # no secret
    assert (
        get(f"{guarded}", {"X-Jupyter-K8s-User": "admin"})[0] == 403
    )  # forged identity, no secret
    status, body = get(
        f"{guarded}?folder=/home",
        {"X-Jupyter-K8s-Proxy-Secret": SECRET, "X-Jupyter-K8s-User": "alice"},
    )
    assert status == 200 and body == "upstream saw /?folder=/home secret=None", (
        "the base path is stripped and the secret stops at the guard"
    )
    headers = {"X-Jupyter-K8s-Proxy-Secret": SECRET}
    assert get(f"{guarded}static/x.js", headers) == (200, "upstream saw /static/x.js secret=None")
    # The idle culler (with the secret) gets code-server's own healthz: its heartbeat.
    assert get(f"{guarded}healthz", headers) == (200, "upstream saw /healthz secret=None")
    assert get(guarded.replace(BASE, "/elsewhere/"), headers)[0] == 404
