"""Guided mode on the local cluster with the real Pulumi engine and Kubernetes provider (built
from Go modules): every platform piece runs as a pod on the real node, the operator in-cluster
reconciles, and a workspace's real JupyterLab sits behind the real proxy chain. (A second
`pulumi up` that changes nothing, then `destroy` and its checks: the `guided` fixture, at the
end of the tier, tests/e2e/conftest.py.)"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.fixtures import workspace_manifest
from tests.support.kube import condition, eventually

from .conftest import AUTH, DOMAIN, TEMPLATES, Guided

pytestmark = pytest.mark.e2e
TEAM = "team-a"


def test_the_platform_runs_on_the_real_node_with_least_privilege(guided: Guided) -> None:
    kubectl = guided.kubectl
    for ns in ("jupyter-k8s-system", "jupyter-k8s-proxy", "jupyter-k8s-auth"):
        for pod in kubectl.list("pods", ns):
            assert pod["spec"]["nodeName"] == "jk-real-0", pod["metadata"]["name"]
    assert kubectl.get("resourcequota", "team-quota", TEAM)
    assert kubectl.get("networkpolicy", "workspaces-from-proxy-only", TEAM)

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
    print(f"\npulumi up -> platform ready on the real node: {guided.timings['up-to-ready']:.1f}s")


def test_the_in_cluster_operator_serves_a_workspace_behind_the_proxy(guided: Guided) -> None:
    kubectl = guided.kubectl
    for name in TEMPLATES:
        eventually(
            lambda n=name: (
                (kubectl.get("workspacetemplate", n) or {}).get("status", {}).get("workspaceCount")
                == 0
            ),
            timeout=120,
            what=f"template {name} reconciled by the in-cluster operator",
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
            (kubectl.get("resourcequota", "team-quota", TEAM) or {}).get("status", {}).get("used")
        ),
        what="the team quota counted",
    )
    # No template named: the team namespace's default is filled in at admission (by the
    # operator's webhook, served from its pod through the API server).
    kubectl.create(workspace_manifest("notebook"), TEAM)
    ws = kubectl.get("workspace", "notebook", TEAM)
    assert ws is not None and ws["spec"]["templateRef"] == "jupyterlab-cpu-v1"

    def available() -> dict[str, Any] | None:
        obj = kubectl.get("workspace", "notebook", TEAM)
        return obj if (condition(obj, "Available") or {}).get("status") == "True" else None

    ws = eventually(available, timeout=180, what="the workspace Available (a real JupyterLab)")
    host = f"notebook--{TEAM}.{DOMAIN}"
    assert ws["status"]["url"] == f"https://{host}/"
    route = kubectl.get("ingress", "ws-notebook", TEAM)
    assert route and route["spec"]["rules"][0]["host"] == host

    # Through the real chain (entry point, Traefik, forward-auth): a browser without a session
    # is sent to the authentication host; an API client is told to sign in.
    status, headers, _ = guided.https(host, "/lab", {"Accept": "text/html"})
    assert status == 302 and headers["location"].startswith(f"https://{AUTH}/_jk/authorize?rd=")
    assert guided.https(host, "/api/contents")[0] == 401
    # A name that is no workspace gets exactly the same answer.
    status2, headers2, _ = guided.https(
        f"nothing-here--{TEAM}.{DOMAIN}", "/lab", {"Accept": "text/html"}
    )
    assert status2 == 302 and headers2["location"].startswith(f"https://{AUTH}/_jk/authorize?rd=")
    # The authentication host serves Dex and oauth2-proxy.
    assert guided.https(AUTH, "/dex/.well-known/openid-configuration")[0] == 200
    # oauth2-proxy starts a sign-in by sending the browser to Dex's authorization endpoint.
    status, headers, _ = guided.https(AUTH, f"/oauth2/start?rd=https://{host}/lab")
    assert status == 302 and headers["location"].startswith(f"https://{AUTH}/dex/auth?"), headers

    kubectl.run("delete", "workspace", "notebook", "-n", TEAM, "--wait=true", "--timeout=90s")
