"""The Helm chart (dist/chart, `make helm-test`): lint, rendered variants the real API server
accepts (--dry-run=server), values the schema refuses, and a real install on the local cluster
whose operator makes a sample workspace Available, then an uninstall that leaves nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.fixtures import ROOT, drop_leftover_api, template_manifest, workspace_manifest
from tests.support.kube import Kubectl, condition, eventually
from tests.support.tools import require_tools, tool_paths

CHART = ROOT / "dist" / "chart"
RELEASE = "jk"
WEBHOOK = "jupyter-k8s-admission"
sys.path.insert(0, str(ROOT / "hack"))
import node  # noqa: E402 - hack/node.py: the real node's namespace annotations

pytestmark = pytest.mark.integration


def helm(*args: str, kubectl: Kubectl | None = None, check: bool = True) -> str:
    require_tools("helm")
    argv = [str(Path(tool_paths()["HELM_BIN"]) / "helm"), *args]
    if kubectl is not None:
        argv.append(f"--kubeconfig={kubectl.kubeconfig}")
    res = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    if check and res.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed: {res.stderr.strip()}")
    return res.stdout + res.stderr


def render(*sets: str, namespace: str = "jk-render") -> list[dict[str, Any]]:
    out = helm("template", RELEASE, str(CHART), "-n", namespace, *(f"--set={s}" for s in sets))
    return [d for d in yaml.safe_load_all(out) if d]


def test_the_chart_lints() -> None:
    out = helm("lint", str(CHART), "--strict")
    assert "1 chart(s) linted, 0 chart(s) failed" in out, out


@pytest.mark.parametrize(
    "sets",
    [
        (),
        ("replicas=1", "image.tag=0.2.0", "image.pullPolicy=Always"),
        ("watchNamespaces={@-a,@-b}", "resources.limits.memory=1Gi"),
        ("proxySecret.name=my-key", "proxySecret.key=k"),
    ],
)
def test_rendered_variants_are_accepted_by_the_api_server(
    kubectl: Kubectl, sets: tuple[str, ...], unique: str
) -> None:
    namespace = f"jk-{unique}"
    sets = tuple(s.replace("@", namespace) for s in sets)  # served namespaces of this test's own
    served = [f"{namespace}-a", f"{namespace}-b"]
    objs = render(*sets, namespace=namespace)
    dep = next(o for o in objs if o["kind"] == "Deployment")
    container = dep["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    values = dict(s.split("=", 1) for s in sets)
    assert dep["spec"]["replicas"] == int(values.get("replicas", 2))
    assert (
        container["image"] == f"ghcr.io/jupyter-k8s/jupyter-k8s:{values.get('image.tag', '0.1.0')}"
    )

    # Everything lives in the release's namespace (or is cluster-scoped), except the operator's
    # grants in the namespaces it serves.
    def served_grant(o: dict[str, Any]) -> bool:
        return o["kind"] == "RoleBinding" and o["metadata"]["name"] == "jupyter-k8s-operator"

    elsewhere = [
        f"{o['kind']}/{o['metadata']['name']} in {o['metadata']['namespace']}"
        for o in objs
        if not served_grant(o) and o["metadata"].get("namespace") not in (None, namespace)
    ]
    assert not elsewhere
    if "watchNamespaces" in values:
        assert env["JK_NAMESPACES"]["value"] == ",".join(served)
        grants = [
            o
            for o in objs
            if o["kind"] == "RoleBinding" and o["metadata"]["name"] == "jupyter-k8s-operator"
        ]
        assert sorted(g["metadata"]["namespace"] for g in grants) == served
        assert container["resources"]["limits"]["memory"] == "1Gi"
    else:
        assert env["JK_NAMESPACES"]["value"] == ""
    if "proxySecret.name" in values:
        ref = env["JK_PROXY_SECRET_KEY"]["valueFrom"]["secretKeyRef"]
        assert (ref["name"], ref["key"]) == ("my-key", "k")
    # The real API server validates every rendered object (namespaces must exist for that).
    made = [namespace, *(served if "watchNamespaces" in values else [])]
    for ns in made:
        kubectl.run("create", "namespace", ns)
    try:
        res = kubectl.run(
            "apply", "--dry-run=server", "-f", "-", stdin=yaml.safe_dump_all(objs), check=False
        )
        assert res.returncode == 0, res.stderr
    finally:
        for ns in made:
            kubectl.run("delete", "namespace", ns, "--wait=false")


@pytest.mark.parametrize(
    ("sets", "names"),
    [
        (("replicas=0",), "replicas"),
        (("image.pullPolicy=Sometimes",), "pullPolicy"),
        (("unknownValue=1",), "unknownValue"),
    ],
)
def test_the_schema_refuses_bad_values(sets: tuple[str, ...], names: str) -> None:
    out = helm("template", RELEASE, str(CHART), *(f"--set={s}" for s in sets), check=False)
    assert "values don't meet the specifications of the schema" in out and names in out, out


@pytest.fixture
def released(kubectl: Kubectl, unique: str) -> Iterator[str]:
    """The chart installed on the local cluster, its pods on the real node; uninstalled after."""
    state = json.loads((ROOT / ".cluster" / "state.json").read_text())
    if not state.get("real_node"):
        pytest.fail("the chart's operator runs on the local cluster's real node; it has none")
    namespace = f"jk-helm-{unique}"
    # The chart installs the API: nothing of another installation may be there.
    drop_leftover_api(kubectl)
    kubectl.apply(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": namespace,
                "labels": {"pod-security.kubernetes.io/enforce": "restricted"},
                "annotations": node.REAL_NODE_NAMESPACE_ANNOTATIONS,
            },
        }
    )
    subprocess.run([sys.executable, str(ROOT / "hack" / "cluster.py"), "import-images"], check=True)
    kubectl.run(
        "create", "secret", "generic", "jupyter-k8s-proxy-key", "-n", namespace,
        "--from-literal=key=" + "ab" * 32,
    )  # fmt: skip
    try:
        helm(
            "install",
            RELEASE,
            str(CHART),
            "-n",
            namespace,
            "--wait",
            "--timeout=4m",
            kubectl=kubectl,
        )
        webhook_answers(kubectl, namespace)
        yield namespace
    finally:
        helm(
            "uninstall",
            RELEASE,
            "-n",
            namespace,
            "--wait",
            "--timeout=2m",
            kubectl=kubectl,
            check=False,
        )
        kubectl.run("delete", "namespace", namespace, "--wait=false")
        drop_leftover_api(kubectl)  # Helm keeps a chart's CRDs; the next tier brings its own


def webhook_answers(kubectl: Kubectl, namespace: str) -> None:
    """Wait until the API server reaches the release's admission webhook. `helm install --wait`
    returns once the operator's pods are Ready, but kube-proxy programs the webhook Service's
    endpoints a moment later: until then the Service refuses connections (seen in make test).
    A server-side dry run of a Workspace goes through the webhook and stores nothing."""
    probe = yaml.safe_dump(workspace_manifest("webhook-probe", "any-template"))

    def answers() -> bool:
        res = kubectl.run(
            "create", "--dry-run=server", "-n", namespace, "-f", "-", stdin=probe, check=False
        )
        if res.returncode == 0:
            return True
        # Only the Service's lag is waited out: any other refusal fails at once.
        assert "connection refused" in res.stderr, res.stderr
        return False

    eventually(answers, timeout=60, interval=0.5, what="the release's admission webhook answering")


def test_an_installed_release_runs_a_workspace_and_uninstalls_cleanly(
    kubectl: Kubectl, released: str, unique: str
) -> None:
    pods = kubectl.list("pods", released, "app.kubernetes.io/name=jupyter-k8s-operator")
    assert len(pods) == 2 and all(condition(p, "Ready")["status"] == "True" for p in pods)  # type: ignore[index]
    tmpl, ws_ns = f"helm-{unique}", f"helm-ws-{unique}"
    kubectl.create(template_manifest(tmpl))
    kubectl.run("create", "namespace", ws_ns)
    try:
        eventually(lambda: kubectl.get("serviceaccount", "default", ws_ns), what="default SA")
        kubectl.create(workspace_manifest("sample", tmpl), ws_ns)
        ws = eventually(
            lambda: (
                (w := kubectl.get("workspace", "sample", ws_ns))
                and (condition(w, "Available") or {}).get("status") == "True"
                and w
            ),
            timeout=120,
            what="the sample workspace Available under the chart's operator",
        )
        # Stamped by the chart's admission webhook: the owner is who created it.
        assert ws["status"]["owner"] == "kubernetes-admin"
    finally:
        kubectl.run("delete", "namespace", ws_ns, "--wait=true", "--timeout=90s", check=False)
        kubectl.run("delete", "workspacetemplate", tmpl, "--wait=false", check=False)
    helm("uninstall", RELEASE, "-n", released, "--wait", "--timeout=2m", kubectl=kubectl)
    # Nothing of the release is left; the CRDs stay, as Helm keeps every chart's CRDs.
    assert not kubectl.get("mutatingwebhookconfiguration", WEBHOOK)
    for kind in ("clusterrole", "clusterrolebinding"):
        left = kubectl.run("get", kind, "-o", "name").stdout.split()
        assert not [n for n in left if "jupyter-k8s-operator" in n], left

    def leftovers() -> list[str]:
        found = kubectl.run(
            "get",
            "all,role,rolebinding,serviceaccount,pdb,lease,secret",
            "-n",
            released,
            "-o",
            "name",
        ).stdout.split()
        # The proxy key Secret is the admin's (made before installing), not the release's.
        return [n for n in found if "jupyter-k8s" in n and n != "secret/jupyter-k8s-proxy-key"]

    # The operator's pods go with their ReplicaSet, after the uninstall returns.
    eventually(lambda: not leftovers(), timeout=90, what="nothing of the release left")
