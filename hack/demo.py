#!/usr/bin/env python3
"""`make demo`: local cluster + CRDs + the operator (in the background) + the samples, then
watch the workspaces come up; on the real node, end with a real JupyterLab answering through
`kubectl port-forward`. Stop everything with `make cluster-down`."""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request

import cluster  # hack/cluster.py, next to this file
import node  # hack/node.py

from jupyter_k8s.api import KINDS
from jupyter_k8s.deploy.settings import WEBHOOK_CONFIGURATION

NAMESPACE = "demo"
WEBHOOK = WEBHOOK_CONFIGURATION  # registered by the operator once it serves
OPERATOR_ENV = {
    "JK_WEBHOOK_MODE": "url",  # the operator runs on this machine, not in the cluster
    "JK_LOG_FORMAT": "plain",
    "JK_CERT_DIR": str(cluster.STATE / "webhook"),
}


def kubectl(*args: str, check: bool = True, stdin: str | None = None) -> str:
    res = subprocess.run(
        [kubectl_binary(), f"--kubeconfig={cluster.STATE / 'kubeconfig'}", *args],
        capture_output=True,
        text=True,
        input=stdin,
    )
    if check and res.returncode != 0:
        raise SystemExit(f"kubectl {' '.join(args)}: {res.stderr.strip()}")
    return res.stdout


def namespace(real: bool) -> None:
    """The demo's namespace: restricted pods, all on the real node when there is one."""
    meta: dict[str, object] = {
        "name": NAMESPACE,
        "labels": {"pod-security.kubernetes.io/enforce": "restricted"},
    }
    if real:
        meta["annotations"] = node.REAL_NODE_NAMESPACE_ANNOTATIONS
    kubectl(
        "apply",
        "-f",
        "-",
        stdin=json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": meta}),
    )


def proxy_key() -> str:
    """A key for the workspaces' proxy secrets, made once per cluster."""
    path = cluster.STATE / "proxy-key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text()


def show_jupyterlab(name: str) -> None:
    """A real JupyterLab answering: refused without the workspace's proxy secret, served with."""
    port = 18888
    forward = subprocess.Popen(
        [
            kubectl_binary(),
            f"--kubeconfig={cluster.STATE / 'kubeconfig'}",
            "-n",
            NAMESPACE,
            "port-forward",
            f"svc/ws-{name}",
            f"{port}:80",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    secret_cmd = f"kubectl -n {NAMESPACE} get secret ws-{name}-proxy -o jsonpath='{{.data.secret}}' | base64 -d"
    secret = base64.b64decode(
        kubectl(
            "-n", NAMESPACE, "get", "secret", f"ws-{name}-proxy", "-o", "jsonpath={.data.secret}"
        )
    ).decode()
    try:
        url = f"http://127.0.0.1:{port}/api/contents"
        for _ in range(50):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        print("A real JupyterLab on the real node, through kubectl port-forward:\n")
        print(f"  kubectl -n {NAMESPACE} port-forward svc/ws-{name} {port}:80 &")
        for label, headers in (
            ("without the proxy secret", {}),
            (
                "with it (what the proxy adds)",
                {"X-Jupyter-K8s-Proxy-Secret": secret, "X-Jupyter-K8s-User": "alice"},
            ),
        ):
            flags = (
                ""
                if not headers
                else (
                    f' -H "X-Jupyter-K8s-Proxy-Secret: $({secret_cmd})" -H "X-Jupyter-K8s-User: alice"'
                )
            )
            try:
                with urllib.request.urlopen(
                    urllib.request.Request(url, headers=headers), timeout=10
                ) as r:
                    status, body = r.status, r.read().decode()[:100]
            except urllib.error.HTTPError as err:
                status, body = err.code, err.read().decode()[:100]
            print(f"  curl -s{flags} {url}\n    -> {status} {body}   ({label})")
    finally:
        forward.terminate()


def kubectl_binary() -> str:
    return str(json.loads((cluster.STATE / "state.json").read_text())["kubectl"])


def main() -> int:
    cluster.up()
    real = bool(json.loads((cluster.STATE / "state.json").read_text()).get("real_node"))
    namespace(real)
    kubectl(
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager=jupyter-k8s",
        "-f",
        str(cluster.ROOT / "crds"),
    )
    kubectl(
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        *(f"crd/{k.crd_name}" for k in KINDS),
    )
    operator = cluster.Component("operator", [str(cluster.VENV_PYTHON), "-m", "jupyter_k8s", "run"])
    if not operator.pid():
        os.environ.update(
            OPERATOR_ENV,
            KUBECONFIG=str(cluster.STATE / "kubeconfig"),
            JK_PROXY_SECRET_KEY=proxy_key(),
        )
        operator.start()
        deadline = time.monotonic() + 60
        while not kubectl(
            "get", "mutatingwebhookconfiguration", WEBHOOK, "-o", "name", check=False
        ):
            if time.monotonic() > deadline or not operator.pid():
                raise SystemExit(f"the operator did not come up; see {operator.logfile}")
            time.sleep(0.5)
    print(kubectl("apply", "-n", NAMESPACE, "-k", str(cluster.ROOT / "samples")))
    print("Waiting for workspace-with-template to become Available ...")
    kubectl(
        "wait",
        "-n",
        NAMESPACE,
        "--for=condition=Available",
        "--timeout=180s",
        "workspace/workspace-with-template",
    )
    print(kubectl("get", "jupyter", "-n", NAMESPACE))
    print("The deliberately invalid sample explains itself:")
    print(
        kubectl(
            "get",
            "workspace",
            "workspace-invalid",
            "-n",
            NAMESPACE,
            "-o",
            'jsonpath={.status.conditions[?(@.type=="Valid")].message}',
        )
    )
    if real:
        show_jupyterlab("workspace-with-template")
    else:
        print(f"(no real node here, {node.why_not()}: the workspace runs on a kwok node)")
    print(
        f"\n\nOperator log: {operator.logfile}\n"
        f"Use the cluster:  export KUBECONFIG={cluster.STATE / 'kubeconfig'}\n"
        "Stop everything:  make cluster-down\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
