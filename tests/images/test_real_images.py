"""The real images, run by the engine that built them (`make images`): the same contract as the
host-run tier, now with tini, the image's user, its filesystem and its network namespace."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import socket
import subprocess
import tarfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.images import Container, engine_and_image, hack_images, running

SECRET = "per-workspace-secret"
LAB_BASE = "/workspaces/team-a/lab/"
CODE_BASE = "/workspaces/team-a/code/"


def get(url: str, headers: dict[str, str] | None = None, follow: bool = False) -> tuple[int, str]:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a: object, **k: object) -> None:
            return None

    opener = urllib.request.build_opener() if follow else urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, headers=headers or {}), timeout=15) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")


def websocket_status(port: int, path: str, headers: dict[str, str]) -> str:
    """The status line a WebSocket upgrade gets."""
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        return sock.recv(4096).decode(errors="replace").split("\r\n", 1)[0]


@pytest.fixture(scope="module")
def lab() -> Iterator[Container]:
    with running(
        "jupyterlab",
        "-e",
        f"JUPYTER_K8S_PROXY_SECRET={SECRET}",
        "-e",
        f"JUPYTER_K8S_BASE_URL={LAB_BASE}",
        ready_path=f"{LAB_BASE}api",
    ) as box:
        yield box


def test_jupyterlab_runs_as_jovyan_behind_tini(lab: Container) -> None:
    assert lab.exec("id", "-u").strip() == "1000" and lab.exec("id", "-g").strip() == "100"
    assert lab.exec("cat", "/proc/1/cmdline").split("\0")[0].endswith("tini")


def test_jupyterlab_only_trusts_the_proxy(lab: Container) -> None:
    url = f"{lab.url}{LAB_BASE}"
    status, body = get(f"{url}api")  # the probe path
    assert status == 200 and "version" in json.loads(body)
    assert get(f"{url}api/contents")[0] == 403
    assert get(f"{url}lab", follow=True)[0] == 403  # a browser lands on a login page that refuses
    forged = {
        "X-Jupyter-K8s-User": "admin",
        "X-Auth-Request-User": "admin",
        "X-Forwarded-User": "admin",
    }
    assert get(f"{url}api/me", forged)[0] == 403
    assert get(f"{url}api/me", {**forged, "X-Jupyter-K8s-Proxy-Secret": "wrong"})[0] == 403
    status, body = get(
        f"{url}api/me", {"X-Jupyter-K8s-Proxy-Secret": SECRET, "X-Jupyter-K8s-User": "alice"}
    )
    assert status == 200 and json.loads(body)["identity"]["username"] == "alice"


@pytest.fixture(scope="module")
def code() -> Iterator[Container]:
    with running(
        "code-server",
        "-e",
        f"JUPYTER_K8S_PROXY_SECRET={SECRET}",
        "-e",
        f"JUPYTER_K8S_BASE_URL={CODE_BASE}",
        ready_path=f"{CODE_BASE}healthz",
    ) as box:
        yield box


def test_code_server_serves_under_its_base_path_through_the_guard(code: Container) -> None:
    url = f"{code.url}{CODE_BASE}"
    assert get(f"{url}healthz") == (200, "ok\n")
    assert get(url)[0] == 403
    assert get(url, {"X-Jupyter-K8s-User": "admin"})[0] == 403
    ok = {"X-Jupyter-K8s-Proxy-Secret": SECRET, "X-Jupyter-K8s-User": "alice"}

    def workbench() -> tuple[int, str]:
        return get(f"{url}?folder=/home/jovyan", ok)

    import time

    deadline = time.monotonic() + 60
    while (status := workbench())[0] != 200 and time.monotonic() < deadline:
        time.sleep(1)  # code-server itself starts after the guard
    status, body = workbench()
    assert status == 200 and "vscode" in body.lower(), body[:500]
    assert get(f"{url}manifest.json", ok)[0] == 200
    assert code.exec("id", "-u").strip() == "1000"
    assert websocket_status(code.port, f"{CODE_BASE}stable-x", {}).endswith("403 Forbidden")
    # With the secret, the upgrade reaches code-server (which answers the socket itself).
    with_secret = websocket_status(
        code.port, f"{CODE_BASE}?reconnectionToken=t&skipWebSocketFrames=false", ok
    )
    assert " 101 " in with_secret, with_secret


def test_code_server_native_modules_load(code: Container) -> None:
    out = code.exec(
        "node",
        "-e",
        "for (const m of ['@vscode/spdlog','node-pty','native-watchdog','kerberos']) "
        "require(require.resolve(m, {paths: ['/opt/code-server/lib/vscode']})); console.log('ok')",
    )
    assert out.strip() == "ok"


def test_operator_image_read_only_non_root_and_clear_without_a_cluster() -> None:
    engine, ref = engine_and_image("operator")
    base = ["run", "--rm", "--read-only", "--network", "none"]
    assert engine.run(*base, "--entrypoint", "id", ref, "-u", quiet=True).stdout.strip() == "65532"
    for command in ("run", "authz"):
        res = engine.run(*base, ref, command, check=False, quiet=True, timeout=120)
        lines = [line for line in res.stderr.splitlines() if line.strip()]
        assert res.returncode != 0 and len(lines) == 1, res.stderr
        assert "no Kubernetes cluster" in lines[0]


def _layers(ref: str, tmp: Path) -> list[Path]:
    images = hack_images()
    engine = images.find_engine(install=False)
    out = tmp / "oci"
    if engine.daemonless:
        subprocess.run(
            ["skopeo", "copy", "--quiet", f"containers-storage:{ref}", f"oci:{out}"],
            check=True,
            env={**os.environ, **engine.env},
            capture_output=True,
        )
        index = json.loads((out / "index.json").read_text())
        manifest_digest = index["manifests"][0]["digest"].split(":")[1]
        manifest = json.loads((out / "blobs" / "sha256" / manifest_digest).read_text())
        return [
            out / "blobs" / "sha256" / layer["digest"].split(":")[1] for layer in manifest["layers"]
        ]
    archive = tmp / "image.tar"
    engine.run("save", "-o", str(archive), ref)
    with tarfile.open(archive) as tar:
        tar.extractall(tmp / "saved", filter="data")
    return sorted((tmp / "saved").rglob("layer.tar"))


@pytest.mark.parametrize("name", ["operator", "jupyterlab", "code-server"])
def test_the_build_ca_is_in_no_layer(name: str, tmp_path: Path) -> None:
    """The extra CA bundle reached the network steps (the builds worked behind this machine's
    TLS proxy) and no layer kept it: not as a file, not inside another file."""
    _, ref = engine_and_image(name)
    bundle = hack_images().ca_bundle().read_bytes()
    certs = re.findall(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", bundle, re.S)
    debian = Path("/usr/share/ca-certificates")  # what every image has anyway
    ordinary = {c.read_bytes().strip() for c in debian.rglob("*.crt")} if debian.exists() else set()
    extra = [c for c in certs if c.strip() not in ordinary]
    needles = [hashlib.sha256(c).hexdigest() for c in extra]
    for layer in _layers(ref, tmp_path):
        with tarfile.open(layer) as tar:
            for member in tar:
                assert not re.search(r"(^|/)(build-ca\.pem|run/secrets/build-ca)$", member.name), (
                    member.name
                )
                if not member.isfile() or not extra or member.size > 50_000_000:
                    continue
                data = tar.extractfile(member).read()  # type: ignore[union-attr]
                for cert, digest in zip(extra, needles, strict=True):
                    assert cert not in data, (
                        f"{member.name} holds an extra build CA ({digest[:12]})"
                    )
