"""The real local control plane as session fixtures, with the operator as a real process
(registered for every tier by tests/conftest.py; nothing starts unless a test asks).

The cluster is started when needed (built first if its binaries are missing) and reused when
one already runs; one started here is stopped at the end unless JK_KEEP_CLUSTER=1. Every test
works in namespaces and templates of its own, so tests do not see each other.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from jupyter_k8s.api import KINDS
from jupyter_k8s.deploy.settings import WEBHOOK_CONFIGURATION

from .kube import ROOT, Kubectl, eventually
from .tools import require_tools

STATE = ROOT / ".cluster"
CLUSTER = [sys.executable, str(ROOT / "hack" / "cluster.py")]
TEMPLATE_API = "workspace.jupyter.org/v1alpha1"
CRDS = [f"crd/{k.crd_name}" for k in KINDS]
PROXY_KEY = "integration-tests-proxy-key"  # the key workspace proxy secrets derive from


def _cluster_ready() -> bool:
    return subprocess.run([*CLUSTER, "status"], capture_output=True).returncode == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def kubectl() -> Iterator[Kubectl]:
    started = False
    require_tools("cluster")
    if not _cluster_ready():
        t0 = time.monotonic()
        subprocess.run([*CLUSTER, "up"], check=True)
        print(f"\nlocal cluster started in {time.monotonic() - t0:.1f}s")
        started = True
    else:
        # The tests run their own operator: one left by `make demo` would reconcile their
        # objects too.
        subprocess.run([*CLUSTER, "stop-extras"], check=True)
    state = json.loads((STATE / "state.json").read_text())
    yield Kubectl(state["kubectl"], STATE / "kubeconfig")
    if started and not os.environ.get("JK_KEEP_CLUSTER"):
        subprocess.run([*CLUSTER, "down"], check=False)
        # `make cluster-down` leaves nothing of the real node on the machine.
        left = subprocess.run([*CLUSTER, "leftovers"], capture_output=True, text=True)
        assert left.returncode == 0, f"cluster down left behind:\n{left.stdout}"


@dataclass
class Operator:
    proc: subprocess.Popen[bytes]
    log: Path
    health_port: int
    metrics_port: int
    env: dict[str, str]

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.health_port}/healthz", timeout=2
            ) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def metrics(self) -> str:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5
        ) as r:
            return str(r.read().decode())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def start_operator(kubectl: Kubectl, log: Path, **extra_env: str) -> Operator:
    health, metrics, webhook = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "KUBECONFIG": str(kubectl.kubeconfig),
        "JK_WEBHOOK_MODE": "url",
        "JK_WEBHOOK_PORT": str(webhook),
        "JK_HEALTH_PORT": str(health),
        "JK_METRICS_PORT": str(metrics),
        "JK_CERT_DIR": str(log.parent / f"webhook-{webhook}"),
        "JK_LOG_FORMAT": "plain",
        "JK_RESYNC_SECONDS": "20",
        "JK_PROXY_SECRET_KEY": PROXY_KEY,
        **extra_env,
    }
    out = open(log, "ab")  # noqa: SIM115 - handed to the child for its lifetime
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter_k8s", "run"], env=env, stdout=out, stderr=subprocess.STDOUT
    )
    op = Operator(proc, log, health, metrics, env)

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"the operator exited:\n{op.tail()}")
        if env["JK_WEBHOOK_MODE"] == "off":
            return op.healthy()
        hook = kubectl.get("mutatingwebhookconfiguration", WEBHOOK_CONFIGURATION)
        url = hook and hook["webhooks"][0]["clientConfig"].get("url", "")
        return op.healthy() and bool(url) and f":{webhook}/" in url

    eventually(up, timeout=60, what="the operator to be healthy with its webhook registered")
    return op


def restart_operator(kubectl: Kubectl, operator: Operator, **extra_env: str) -> None:
    """A new operator process in place of the session's (for tests that kill it, or that
    need a setting for a while: `extra_env`)."""
    new = start_operator(kubectl, operator.log, **extra_env)
    operator.proc, operator.health_port, operator.metrics_port = (
        new.proc,
        new.health_port,
        new.metrics_port,
    )


@pytest.fixture(scope="session")
def crds(kubectl: Kubectl) -> Kubectl:
    """The CRDs from crds/, applied as `make install` does."""
    kubectl.run(
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager=jupyter-k8s-tests",
        "-f",
        str(ROOT / "crds"),
    )
    kubectl.run("wait", "--for=condition=Established", "--timeout=60s", *CRDS)
    return kubectl


@pytest.fixture(scope="session")
def operator(crds: Kubectl, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Operator]:
    kubectl = crds
    # The cluster is the tests' own: a configuration left by an install another tier made
    # (and failed to remove) would make the operator on the host refuse to start.
    kubectl.run(
        "delete", "mutatingwebhookconfiguration", WEBHOOK_CONFIGURATION, "--ignore-not-found"
    )
    op = start_operator(kubectl, tmp_path_factory.mktemp("operator") / "operator.log")
    yield op
    op.stop()
    # An operator outside the cluster must not leave a webhook pointing at a dead port.
    kubectl.run(
        "delete", "mutatingwebhookconfiguration", WEBHOOK_CONFIGURATION, "--ignore-not-found"
    )
    print(f"\noperator log: {op.log}")


@pytest.fixture
def namespace(kubectl: Kubectl) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:8]}"
    kubectl.run("create", "namespace", name)
    # kube-controller-manager creates the default ServiceAccount; pods need it.
    eventually(
        lambda: kubectl.get("serviceaccount", "default", name), timeout=30, what="default SA"
    )
    yield name
    kubectl.run("delete", "namespace", name, "--wait=false")


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:6]


def template_manifest(name: str, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "displayName": "Test template",
        "defaultImage": "ghcr.io/jupyter-k8s/jupyterlab:0.1.0",
        "allowedImages": ["ghcr.io/jupyter-k8s/jupyterlab:0.1.0", "registry.invalid/broken:1"],
        "defaultResources": {
            "requests": {"cpu": "100m", "memory": "256Mi"},
            "limits": {"cpu": "1", "memory": "1Gi"},
        },
        "resourceBounds": {
            "cpu": {"min": "100m", "max": "2"},
            "memory": {"min": "128Mi", "max": "4Gi"},
            "nvidia.com/gpu": {"max": "8"},
        },
        "primaryStorage": {"defaultSize": "1Gi", "minSize": "1Gi", "maxSize": "10Gi"},
    }
    body.update(spec)
    return {
        "apiVersion": TEMPLATE_API,
        "kind": "WorkspaceTemplate",
        "metadata": {"name": name},
        "spec": body,
    }


@pytest.fixture
def template(crds: Kubectl, unique: str) -> Iterator[str]:
    kubectl = crds
    """A fresh cluster-scoped template for this test only."""
    name = f"tmpl-{unique}"
    kubectl.create(template_manifest(name))
    yield name
    kubectl.run("delete", "workspacetemplate", name, "--wait=false", "--ignore-not-found")


def workspace_manifest(name: str, template: str | None = None, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = dict(spec)
    if template:
        body["templateRef"] = template
    return {
        "apiVersion": TEMPLATE_API,
        "kind": "Workspace",
        "metadata": {"name": name},
        "spec": body,
    }


def share_manifest(
    name: str, workspace: str, user: str, expires_at: str | None = None
) -> dict[str, Any]:
    """A WorkspaceShare of `workspace` with one user (until `expires_at`, RFC 3339, if given)."""
    spec: dict[str, Any] = {
        "workspaceName": workspace,
        "subjects": [{"kind": "User", "name": user}],
    }
    if expires_at:
        spec["expiresAt"] = expires_at
    return {
        "apiVersion": TEMPLATE_API,
        "kind": "WorkspaceShare",
        "metadata": {"name": name},
        "spec": spec,
    }


WaitFor = Callable[..., dict[str, Any]]


@pytest.fixture
def alice_can_edit(kubectl: Kubectl, namespace: str) -> str:
    """The test namespace, where user alice may manage workspaces and shares (as a team
    member would); returns the namespace."""
    kubectl.apply(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "jupyter-k8s-test-workspace-editor"},
            "rules": [
                {
                    "apiGroups": ["workspace.jupyter.org"],
                    "resources": ["workspaces", "workspaceshares"],
                    "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
                }
            ],
        }
    )
    kubectl.run(
        "create",
        "rolebinding",
        "alice",
        "-n",
        namespace,
        "--clusterrole=jupyter-k8s-test-workspace-editor",
        "--user=alice",
    )
    return namespace


def drop_leftover_api(kubectl: Kubectl, crds: bool = True) -> None:
    """Before a tier installs the API itself (the stack, the chart): drop the CRDs and admission
    policies left by `make install` or other tiers (their objects may still carry finalizers of
    an operator that is gone), and another installation's webhook configuration."""
    unhook = ("--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    for kind in ("workspacetemplates", "workspaces"):
        found = kubectl.run(
            "get",
            kind,
            "-A",
            "-o",
            'jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name}{"\\n"}{end}',
            check=False,
        )
        for ref in found.stdout.split() if found.returncode == 0 else []:
            ns, name = ref.split("/")
            kubectl.run("patch", kind, name, *(["-n", ns] if ns else []), *unhook, check=False)
    if not crds:
        return
    kubectl.run(
        "delete", "--ignore-not-found", "--wait=true", "--timeout=100s", "-f", str(ROOT / "crds")
    )
    # An operator left running on the host by another tier would answer for the stack's.
    kubectl.run(
        "delete", "mutatingwebhookconfiguration", "jupyter-k8s-admission", "--ignore-not-found"
    )
