"""The lazy template finalizer on the real API server."""

from __future__ import annotations

import pytest

from tests.support.fixtures import Operator, workspace_manifest
from tests.support.kube import Kubectl, eventually

pytestmark = pytest.mark.integration
FINALIZER = "workspace.jupyter.org/template-protection"


def test_template_in_use_waits_for_its_workspaces(
    kubectl: Kubectl, operator: Operator, namespace: str, template: str
) -> None:
    # Unused: no finalizer.
    assert FINALIZER not in (kubectl.get("workspacetemplate", template) or {}).get(
        "metadata", {}
    ).get("finalizers", [])
    kubectl.create(workspace_manifest("user-1", template), namespace)
    kubectl.create(workspace_manifest("user-2", template), namespace)
    eventually(
        lambda: (
            FINALIZER
            in kubectl.get("workspacetemplate", template)["metadata"].get("finalizers", [])
        ),  # type: ignore[index]
        what="the finalizer once a workspace uses the template",
    )

    kubectl.run("delete", "workspacetemplate", template, "--wait=false")
    tmpl = kubectl.get("workspacetemplate", template)
    assert tmpl and tmpl["metadata"].get("deletionTimestamp"), "stays, Terminating"

    def blocked_event() -> str:
        events = kubectl.events("default", template)
        return next((e["message"] for e in events if e["reason"] == "TemplateInUse"), "")

    message = eventually(blocked_event, what="an event naming the holders")
    assert f"{namespace}/user-1" in message and f"{namespace}/user-2" in message

    kubectl.run("delete", "workspace", "user-1", "-n", namespace, "--wait=true")
    assert kubectl.get("workspacetemplate", template) is not None, "one workspace still holds it"
    kubectl.run("delete", "workspace", "user-2", "-n", namespace, "--wait=true")
    eventually(
        lambda: kubectl.get("workspacetemplate", template) is None, what="the template to disappear"
    )
