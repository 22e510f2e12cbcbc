#!/usr/bin/env python3
"""`make demo-guided`: guided mode on the local cluster, every piece a real pod on the real node
(Traefik, oauth2-proxy, Dex, the authorization service, the operator), and a workspace for
alice; prints where to open it and who can sign in. `make undeploy` / `make cluster-down` end it."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import cluster  # hack/cluster.py
import node  # hack/node.py

DOMAIN = "workspaces.localhost"
USERS = (
    ("alice@example.com", "alice-dev-password", "team-a"),
    ("bob@example.com", "bob-dev-password", "team-b"),
    ("carol@example.com", "carol-dev-password", "no team"),
)


def kubectl(*args: str, check: bool = True, stdin: str | None = None) -> str:
    state = json.loads((cluster.STATE / "state.json").read_text())
    res = subprocess.run(
        [state["kubectl"], f"--kubeconfig={cluster.STATE / 'kubeconfig'}", *args],
        capture_output=True,
        text=True,
        input=stdin,
    )
    if check and res.returncode != 0:
        raise SystemExit(f"kubectl {' '.join(args)}: {res.stderr.strip()}")
    return res.stdout


def main() -> int:
    cluster.up()
    if not json.loads((cluster.STATE / "state.json").read_text()).get("real_node"):
        raise SystemExit(
            f"guided mode needs the real node, and this machine has none: {node.why_not()}"
        )
    cluster.stop_extras()  # an operator from `make demo` would answer for the in-cluster one
    kubectl("delete", "mutatingwebhookconfiguration", "jupyter-k8s-admission", "--ignore-not-found")
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "infra.cli", "up", "--stack", "dev"], check=True, cwd=cluster.ROOT
    )
    for ns, name in (
        ("jupyter-k8s-proxy", "traefik"),
        ("jupyter-k8s-auth", "oauth2-proxy"),
        ("jupyter-k8s-auth", "dex"),
        ("jupyter-k8s-system", "jupyter-k8s-authz"),
        ("jupyter-k8s-system", "jupyter-k8s-operator"),
    ):
        kubectl("rollout", "status", "-n", ns, f"deployment/{name}", "--timeout=300s")
    kubectl("wait", "--for=condition=Established", "crd/workspaces.workspace.jupyter.org")
    manifest = {
        "apiVersion": "workspace.jupyter.org/v1alpha1",
        "kind": "Workspace",
        "metadata": {"name": "alice-lab"},
        "spec": {"displayName": "alice's lab"},
    }
    # As alice: she becomes its owner (the team's default template is filled in).
    kubectl(
        "apply", "-n", "team-a", "-f", "-", "--as=alice@example.com", stdin=json.dumps(manifest)
    )
    kubectl(
        "wait", "-n", "team-a", "--for=condition=Available", "--timeout=300s", "workspace/alice-lab"
    )
    print(
        f"\nGuided mode is up ({time.monotonic() - started:.0f}s), every piece a pod on the real node.\n\n"
        f"  alice's JupyterLab:  https://alice-lab--team-a.{DOMAIN}/\n"
        f"  sign out:            https://auth.{DOMAIN}/_jk/sign_out\n\n"
        "Users (Dex, static passwords):\n"
        + "".join(f"  {u:<20} {p:<22} {t}\n" for u, p, t in USERS)
        + "\nThe TLS certificate comes from the stack's private CA (accept it, or trust the CA in\n"
        "Pulumi.dev.yaml's tlsCertificate). Share with bob, as alice:\n"
        "  kubectl -n team-a create -f - --as=alice@example.com <<EOF\n"
        "  {apiVersion: workspace.jupyter.org/v1alpha1, kind: WorkspaceShare, metadata: {name: for-bob},\n"
        "   spec: {workspaceName: alice-lab, subjects: [{kind: User, name: bob@example.com}]}}\n"
        "  EOF\n"
        "End it: make undeploy (the stack) or make cluster-down (everything).\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
