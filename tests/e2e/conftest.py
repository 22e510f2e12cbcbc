"""Guided mode deployed for real on the local cluster, once for the e2e tier: `pulumi preview`
and `up` of the dev stack's settings (a throwaway state and fresh secrets), every platform piece
a pod on the real node; `destroy` at the end, checked to leave nothing of the stack behind."""

from __future__ import annotations

import http.client
import os
import re
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.fixtures import ROOT, drop_leftover_api
from tests.support.kube import Kubectl, eventually
from tests.support.tools import require_tools

STACK = "e2e"
DOMAIN = "workspaces.localhost"
AUTH = f"auth.{DOMAIN}"
ENTRY = ("127.0.0.1", int(os.environ.get("JK_ENTRY_PORT", "443")))
PLATFORM = (
    ("jupyter-k8s-proxy", "traefik"),
    ("jupyter-k8s-auth", "oauth2-proxy"),
    ("jupyter-k8s-auth", "dex"),
    ("jupyter-k8s-system", "jupyter-k8s-authz"),
    ("jupyter-k8s-system", "jupyter-k8s-operator"),
)
TEMPLATES = ("jupyterlab-cpu-v1", "jupyterlab-gpu-v1", "code-server-v1")
OWN_NAMESPACES = ("jupyter-k8s-system", "jupyter-k8s-proxy", "jupyter-k8s-auth", "team-a", "team-b")
STACK_CLUSTER_ROLES = (
    "jupyter-k8s-operator",
    "jupyter-k8s-operator-namespaced",
    "jupyter-k8s-traefik",
    "jupyter-k8s-authz",
    "jupyter-k8s-workspace-user",
    "jupyter-k8s-catalogue-reader",
)


@dataclass
class Guided:
    kubectl: Kubectl
    env: dict[str, str]
    ca_file: Path
    timings: dict[str, float] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)  # when `pulumi up` began

    def pulumi(self, command: str) -> str:
        started = time.monotonic()
        res = subprocess.run(
            [sys.executable, "-m", "infra.cli", command, "--stack", STACK],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=1500,
        )
        took = self.timings[command] = time.monotonic() - started
        # Shown in CI's output: the real engine's plan and summary.
        print(
            f"\n$ python -m infra.cli {command} --stack {STACK}   ({took:.1f}s)\n{res.stdout[-4000:]}"
        )
        assert res.returncode == 0, res.stderr[-4000:]
        return res.stdout

    def https(
        self, host: str, path: str = "/", headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], str]:
        """A request to https://<host><path> through the entry point, TLS checked against the
        stack's CA (no DNS: *.localhost is this machine)."""
        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        conn = _Loopback(host, ENTRY[1], context=ctx, timeout=15)
        try:
            conn.request("GET", path, headers=headers or {})
            resp = conn.getresponse()
            body = resp.read().decode(errors="replace")
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body
        finally:
            conn.close()


class _Loopback(http.client.HTTPSConnection):
    """HTTPS to a *.localhost name: the connection goes to the entry point on loopback, the
    TLS server name and Host header stay the name."""

    def connect(self) -> None:
        sock = socket.create_connection(ENTRY, self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


@pytest.fixture(scope="package")
def guided(kubectl: Kubectl, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Guided]:
    require_tools("pulumi")
    state = json_state()
    if not state.get("real_node"):
        pytest.fail("guided mode runs on the local cluster's real node, and this cluster has none")
    dev = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]
    public = {k: v for k, v in dev.items() if not (isinstance(v, dict) and "secure" in v)}
    config_file = ROOT / f"Pulumi.{STACK}.yaml"
    config_file.write_text(yaml.safe_dump({"config": public}, sort_keys=False))
    drop_leftover_api(kubectl)
    # The images this run built, in the real node (a cluster reused from before has older ones).
    subprocess.run([sys.executable, str(ROOT / "hack" / "cluster.py"), "import-images"], check=True)
    tmp = tmp_path_factory.mktemp("guided")
    env = {
        **os.environ,
        "PULUMI_BACKEND_URL": f"file://{tmp / 'state'}",
        "PULUMI_CONFIG_PASSPHRASE": "e2e-only",
    }
    (tmp / "state").mkdir()
    stack = Guided(kubectl, env, tmp / "ca.pem")
    try:
        out = stack.pulumi("preview")
        assert re.search(r"preview: \{'create': \d+\}", out)
        started = stack.started = time.monotonic()
        out = stack.pulumi("up")
        assert "up: succeeded" in out
        # No secret was configured: the program generated them into its (encrypted) state,
        # and a preview now sees nothing to change (the generated values are reused).
        assert "secure" not in config_file.read_text(), "secrets written to the stack's config"
        out = stack.pulumi("preview")
        assert re.search(r"preview: \{'same': \d+\}", out), out[-2000:]
        for ns, name in PLATFORM:
            eventually(
                lambda n=ns, d=name: ready(kubectl, n, d),
                timeout=240,
                interval=1,
                what=f"{ns}/{name} ready on the real node",
            )
        stack.timings["up-to-ready"] = time.monotonic() - started
        chain = kubectl.get("secret", "traefik-default-cert", "jupyter-k8s-proxy")
        assert chain is not None
        import base64

        pems = re.findall(
            r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----",
            base64.b64decode(chain["data"]["tls.crt"]).decode(),
            re.S,
        )
        stack.ca_file.write_text(pems[-1] + "\n")  # the stack's private CA
        yield stack
        # After every test of the tier: a second `up` changes nothing (workspaces gone, the
        # templates let go of their finalizer once unused, so destroy can remove them).
        for name in TEMPLATES:
            eventually(
                lambda n=name: (
                    not (kubectl.get("workspacetemplate", n) or {})
                    .get("metadata", {})
                    .get("finalizers")
                ),
                timeout=90,
                what=f"{name}'s finalizer released",
            )
        out = stack.pulumi("up")
        summary = re.search(r"up: succeeded, (\{.*\})", out)
        assert summary and set(eval(summary.group(1))) == {"same"}, "a second up changes nothing"
    finally:
        # A test that failed halfway may leave workspaces (and so templates held by their
        # finalizer): remove them, so destroy cleans up and the next tier starts clean.
        kubectl.run(
            "delete", "workspaces", "--all", "-A", "--wait=true", "--timeout=120s", check=False
        )
        drop_leftover_api(kubectl, crds=False)
        out = stack.pulumi("destroy")
        assert "destroy: succeeded" in out
        left = kubectl.run("get", "namespaces", "-o", "name").stdout
        for ns in OWN_NAMESPACES:
            assert (
                f"namespace/{ns}\n" not in left
                or (kubectl.get("namespace", ns) or {}).get("status", {}).get("phase")
                == "Terminating"
            )
        assert "workspace.jupyter.org" not in kubectl.run("get", "crds", "-o", "name").stdout
        roles = kubectl.run("get", "clusterroles,clusterrolebindings", "-o", "name").stdout
        for name in STACK_CLUSTER_ROLES:
            assert f"/{name}\n" not in roles, name
        config_file.unlink(missing_ok=True)


def json_state() -> dict[str, Any]:
    import json

    return dict(json.loads((ROOT / ".cluster" / "state.json").read_text()))


def ready(kubectl: Kubectl, ns: str, name: str) -> bool:
    dep = kubectl.get("deployment", name, ns)
    status = (dep or {}).get("status", {})
    return (
        bool(dep)
        and status.get("readyReplicas", 0) >= 1
        and status.get("updatedReplicas", 0) >= (dep or {}).get("spec", {}).get("replicas", 1)
    )
