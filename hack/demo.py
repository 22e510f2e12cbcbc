#!/usr/bin/env python3
"""`make demo`: local cluster + CRDs + the operator (in the background) + the samples, then
watch the workspaces come up. Stop everything with `make cluster-down`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import cluster  # hack/cluster.py, next to this file

from jupyter_k8s.api import KINDS
from jupyter_k8s.deploy.settings import WEBHOOK_CONFIGURATION

NAMESPACE = "default"
WEBHOOK = WEBHOOK_CONFIGURATION  # registered by the operator once it serves
OPERATOR_ENV = {
    "JK_WEBHOOK_MODE": "url",  # the operator runs on this machine, not in the cluster
    "JK_LOG_FORMAT": "plain",
    "JK_CERT_DIR": str(cluster.STATE / "webhook"),
}


def kubectl(*args: str, check: bool = True) -> str:
    state = json.loads((cluster.STATE / "state.json").read_text())
    res = subprocess.run(
        [state["kubectl"], f"--kubeconfig={cluster.STATE / 'kubeconfig'}", *args],
        capture_output=True,
        text=True,
    )
    if check and res.returncode != 0:
        raise SystemExit(f"kubectl {' '.join(args)}: {res.stderr.strip()}")
    return res.stdout


def main() -> int:
    cluster.up()
    kubectl(
        "apply", "--server-side", "--field-manager=jupyter-k8s", "-f", str(cluster.ROOT / "crds")
    )
    kubectl(
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        *(f"crd/{k.crd_name}" for k in KINDS),
    )
    operator = cluster.Component("operator", [str(cluster.VENV_PYTHON), "-m", "jupyter_k8s", "run"])
    if not operator.pid():
        os.environ.update(OPERATOR_ENV, KUBECONFIG=str(cluster.STATE / "kubeconfig"))
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
        "--timeout=120s",
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
    print(
        f"\n\nOperator log: {operator.logfile}\n"
        f"Use the cluster:  export KUBECONFIG={cluster.STATE / 'kubeconfig'}\n"
        "Stop everything:  make cluster-down\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
