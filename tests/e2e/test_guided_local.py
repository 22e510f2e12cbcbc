"""`pulumi preview`, `up`, `up` again and `destroy` of guided mode against the real local
control plane, with the real Pulumi engine and Kubernetes provider (built from Go modules)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from jupyter_k8s.deploy.settings import WEBHOOK_CONFIGURATION
from tests.support.fixtures import ROOT, start_operator, workspace_manifest
from tests.support.kube import Kubectl, condition, eventually
from tests.support.tools import require_tools

pytestmark = pytest.mark.e2e
STACK = "e2e"
TEAM = "team-a"
TEMPLATES = ("jupyterlab-cpu-v1", "jupyterlab-gpu-v1", "code-server-v1")
STACK_CLUSTER_ROLES = (
    "jupyter-k8s-operator",
    "jupyter-k8s-operator-namespaced",
    "jupyter-k8s-traefik",
    "jupyter-k8s-authz",
    "jupyter-k8s-workspace-user",
    "jupyter-k8s-catalogue-reader",
)
OWN_NAMESPACES = ("jupyter-k8s-system", "jupyter-k8s-proxy", "jupyter-k8s-auth", "team-a", "team-b")


@pytest.fixture(scope="module")
def stack_env(
    kubectl: Kubectl, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """A throwaway stack: the dev stack's settings, a fresh state backend, fresh secrets."""
    require_tools("pulumi")
    dev = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]
    public = {k: v for k, v in dev.items() if not (isinstance(v, dict) and "secure" in v)}
    config_file = ROOT / f"Pulumi.{STACK}.yaml"
    config_file.write_text(yaml.safe_dump({"config": public}, sort_keys=False))
    state = tmp_path_factory.mktemp("pulumi-state")
    # The stack owns the CRDs here: drop any left by `make install` or other tiers (their
    # objects may still carry finalizers of an operator that is gone).
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
    kubectl.run(
        "delete", "--ignore-not-found", "--wait=true", "--timeout=100s", "-f", str(ROOT / "crds")
    )
    yield {
        **os.environ,
        "PULUMI_BACKEND_URL": f"file://{state}",
        "PULUMI_CONFIG_PASSPHRASE": "e2e-only",
    }
    config_file.unlink(missing_ok=True)


def pulumi(env: dict[str, str], command: str) -> tuple[str, float]:
    started = time.monotonic()
    res = subprocess.run(
        [sys.executable, "-m", "infra.cli", command, "--stack", STACK],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    took = time.monotonic() - started
    # Shown in CI's output: the real engine's plan and summary.
    print(
        f"\n$ python -m infra.cli {command} --stack {STACK}   ({took:.1f}s)\n{res.stdout[-6000:]}"
    )
    assert res.returncode == 0, res.stderr[-4000:]
    return res.stdout, took


def _ready(k: Kubectl, ns: str, name: str) -> bool:
    dep = k.get("deployment", name, ns)
    return bool(dep) and dep.get("status", {}).get("readyReplicas", 0) >= 1  # type: ignore[union-attr]


def test_guided_mode_on_the_local_cluster(
    kubectl: Kubectl, stack_env: dict[str, str], tmp_path: Path
) -> None:
    out, _ = pulumi(stack_env, "preview")
    assert re.search(r"preview: \{'create': \d+\}", out)

    out, up_seconds = pulumi(stack_env, "up")
    assert "up: succeeded" in out
    # Every workload of the platform is up (kwok runs the pods).
    for ns, name in (
        ("jupyter-k8s-proxy", "traefik"),
        ("jupyter-k8s-auth", "oauth2-proxy"),
        ("jupyter-k8s-auth", "dex"),
        ("jupyter-k8s-system", "jupyter-k8s-authz"),
    ):
        assert _ready(kubectl, ns, name), f"{ns}/{name}"
    assert kubectl.get("resourcequota", "team-quota", TEAM)
    assert kubectl.get("networkpolicy", "workspaces-from-proxy-only", TEAM)

    # Least privilege: the operator writes only in the team namespaces, the authorization
    # service reads no Secrets anywhere.
    def can(who: str, verb: str, resource: str, ns: str) -> str:
        sa = f"system:serviceaccount:jupyter-k8s-system:{who}"
        res = kubectl.run("auth", "can-i", verb, resource, "-n", ns, "--as", sa, check=False)
        return res.stdout.strip()

    for verb, resource in (
        ("create", "secrets"),
        ("get", "secrets"),
        ("create", "deployments"),
        ("create", "rolebindings"),
        ("bind", "clusterroles/cluster-admin"),
        ("escalate", "roles"),
    ):
        assert can("jupyter-k8s-operator", verb, resource, "kube-system") == "no", resource
        assert can("jupyter-k8s-operator", verb, resource, "default") == "no", resource
    assert can("jupyter-k8s-operator", "create", "secrets", TEAM) == "yes"
    assert can("jupyter-k8s-operator", "bind", "clusterroles/cluster-admin", TEAM) == "no"
    for ns in ("kube-system", "jupyter-k8s-system", TEAM):
        assert can("jupyter-k8s-authz", "get", "secrets", ns) == "no"

    operator = start_operator(kubectl, tmp_path / "operator.log")
    try:
        # The operator takes over the catalogue the stack installed.
        for name in TEMPLATES:
            eventually(
                lambda n=name: (
                    (kubectl.get("workspacetemplate", n) or {})
                    .get("status", {})
                    .get("workspaceCount")
                    == 0
                ),
                what=f"template {name} reconciled",
            )
        eventually(
            lambda: (
                (condition(kubectl.get("workspacemanager", "default"), "Ready") or {}).get("status")
                == "True"
            ),
            what="the default WorkspaceManager Ready",
        )

        # A new ResourceQuota admits nothing until the quota controller has counted usage.
        eventually(
            lambda: (
                (kubectl.get("resourcequota", "team-quota", TEAM) or {})
                .get("status", {})
                .get("used")
            ),
            what="the team quota counted",
        )
        # No template named: the team namespace's default is filled in at admission.
        kubectl.create(workspace_manifest("notebook"), TEAM)
        assert kubectl.get("workspace", "notebook", TEAM)["spec"]["templateRef"] == (  # type: ignore[index]
            "jupyterlab-cpu-v1"
        )

        def available() -> dict[str, Any] | None:
            ws = kubectl.get("workspace", "notebook", TEAM)
            return ws if (condition(ws, "Available") or {}).get("status") == "True" else None

        ws = eventually(available, timeout=90, what="the sample workspace Available")
        host = f"notebook--{TEAM}.workspaces.127.0.0.1.nip.io"
        assert ws["status"]["url"] == f"https://{host}/"
        assert (condition(ws, "Routed") or {}).get("status") == "True"
        route = kubectl.get("ingress", "ws-notebook", TEAM)
        assert route and route["spec"]["rules"][0]["host"] == host
        assert route["spec"]["ingressClassName"] == "traefik"
        assert (
            route["metadata"]["annotations"]["traefik.ingress.kubernetes.io/router.middlewares"]
            == "jupyter-auth@file"
        )
        assert kubectl.get("serviceaccount", "ws-notebook", TEAM), (
            "the default execution profile's identity"
        )

        kubectl.run("delete", "workspace", "notebook", "-n", TEAM, "--wait=true", "--timeout=60s")
        # The template lets go of its finalizer once unused, so destroy can remove it.
        eventually(
            lambda: (
                not kubectl.get("workspacetemplate", "jupyterlab-cpu-v1")["metadata"].get(
                    "finalizers"
                )
            ),  # type: ignore[index]
            what="the template finalizer released",
        )

        out, _ = pulumi(stack_env, "up")
        summary = re.search(r"up: succeeded, (\{.*\})", out)
        assert summary and set(eval(summary.group(1))) == {"same"}, "a second up changes nothing"
    finally:
        operator.stop()
        kubectl.run(
            "delete",
            "mutatingwebhookconfiguration",
            WEBHOOK_CONFIGURATION,
            "--ignore-not-found",
        )

    out, destroy_seconds = pulumi(stack_env, "destroy")
    assert "destroy: succeeded" in out
    left = kubectl.run("get", "namespaces", "-o", "name").stdout
    for ns in OWN_NAMESPACES:
        assert (
            f"namespace/{ns}\n" not in left
            or kubectl.get("namespace", ns)["status"]["phase"] == "Terminating"
        )  # type: ignore[index]
    assert "workspace.jupyter.org" not in kubectl.run("get", "crds", "-o", "name").stdout
    roles = kubectl.run("get", "clusterroles,clusterrolebindings", "-o", "name").stdout
    for name in STACK_CLUSTER_ROLES:
        assert f"/{name}\n" not in roles, name
    print(f"\npulumi up {up_seconds:.1f}s, pulumi destroy {destroy_seconds:.1f}s")
