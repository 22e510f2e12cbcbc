"""A workspace deleted while the operator's watches were away (issue 19, defect 2).

An API server restart makes every watch reconnect; a watch that resumes from before the restart
gets 410 Gone and Kopf lists again, reporting nothing for what was deleted meanwhile. The
operator must notice and forget such a workspace: not reconcile it forever, and let its template
go."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.support.fixtures import ROOT, Operator, workspace_manifest
from tests.support.kube import Kubectl, eventually

pytestmark = pytest.mark.integration
FINALIZER = "workspace.jupyter.org/template-protection"
LABEL = "workspace.jupyter.org/workspace-name"


def test_a_workspace_deleted_during_an_api_server_restart_is_forgotten(
    kubectl: Kubectl, operator: Operator, namespace: str, template: str
) -> None:
    kubectl.create(workspace_manifest("brief", template), namespace)
    eventually(
        lambda: kubectl.get("deployment", "ws-brief", namespace), what="the workspace's children"
    )
    eventually(
        lambda: (
            FINALIZER
            in (kubectl.get("workspacetemplate", template) or {})["metadata"].get("finalizers", [])
        ),
        what="the template held by its workspace",
    )
    # The operator frozen (its watches cannot reconnect), the API server restarted, the
    # workspace deleted and its children collected; then the operator resumes.
    os.kill(operator.proc.pid, signal.SIGSTOP)
    try:
        subprocess.run(
            [sys.executable, str(ROOT / "hack" / "cluster.py"), "restart-apiserver"],
            check=True,
            timeout=180,
        )
        kubectl.run("delete", "workspace", "brief", "-n", namespace, "--wait=true")
        # The garbage collector's watches come back with backoff after the restart.
        eventually(
            lambda: not kubectl.list("deployments", namespace, f"{LABEL}=brief"),
            timeout=180,
            interval=1,
            what="the garbage collector removing the children",
        )
    finally:
        os.kill(operator.proc.pid, signal.SIGCONT)

    # Within a resync (20 s here) the template is let go and counts no workspace...
    eventually(
        lambda: (
            FINALIZER
            not in (tmpl := kubectl.get("workspacetemplate", template) or {})["metadata"].get(
                "finalizers", []
            )
            and tmpl.get("status", {}).get("workspaceCount") == 0
        ),
        timeout=90,
        what="the template released (no workspace uses it any more)",
    )
    # ...and nothing of the deleted workspace comes back.
    time.sleep(10)
    for kind in ("deployments", "services", "persistentvolumeclaims", "secrets"):
        assert not kubectl.list(kind, namespace, f"{LABEL}=brief"), kind
    assert operator.healthy()
