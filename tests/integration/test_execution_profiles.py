"""WorkspaceExecutionProfile status on the real API server (issue 19, defect 3)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.fixtures import Operator, template_manifest, workspace_manifest
from tests.support.kube import Kubectl, eventually

pytestmark = pytest.mark.integration
API = "workspace.jupyter.org/v1alpha1"


def _status(kubectl: Kubectl, name: str) -> dict[str, Any]:
    return dict((kubectl.get("workspaceexecutionprofile", name) or {}).get("status") or {})


def test_a_profile_says_it_is_valid_and_how_many_workspaces_run_as_it(
    kubectl: Kubectl, operator: Operator, namespace: str, unique: str
) -> None:
    profile, tmpl = f"reader-{unique}", f"tmpl-reader-{unique}"
    kubectl.apply(
        {
            "apiVersion": API,
            "kind": "WorkspaceExecutionProfile",
            "metadata": {"name": profile},
            "spec": {"rules": [{"resources": ["configmaps"], "verbs": ["get"]}]},
        }
    )
    try:
        status = eventually(
            lambda: (s := _status(kubectl, profile)).get("conditions") and s,
            what="the profile's status",
        )
        valid = next(c for c in status["conditions"] if c["type"] == "Valid")
        assert valid["status"] == "True" and status["workspaceCount"] == 0
        # One workspace through its template's default, one naming the profile itself.
        kubectl.create(template_manifest(tmpl, defaultExecutionProfileRef=profile))
        kubectl.create(workspace_manifest("by-default", tmpl), namespace)
        kubectl.create(workspace_manifest("by-name", tmpl, executionProfileRef=profile), namespace)
        eventually(
            lambda: _status(kubectl, profile).get("workspaceCount") == 2, what="2 workspaces"
        )
        header, row = kubectl.run("get", "workspaceexecutionprofile", profile).stdout.split("\n")[
            :2
        ]
        column = header.index("WORKSPACES")
        assert row[column:].split()[0] == "2", (header, row)  # what `kubectl get wsep` shows
        kubectl.run("delete", "workspace", "by-name", "-n", namespace, "--wait=true")
        eventually(lambda: _status(kubectl, profile).get("workspaceCount") == 1, what="1 left")
    finally:
        kubectl.run("delete", "workspace", "--all", "-n", namespace, "--wait=true", "--timeout=90s")
        kubectl.run("delete", "workspacetemplate", tmpl, "--ignore-not-found", "--wait=false")
        kubectl.run("delete", "workspaceexecutionprofile", profile, "--wait=false")
