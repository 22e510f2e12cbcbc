"""What the operator applies must read back as applied: its drift check (reconcile/drift.py)
compares the stored object with the desired one, so a field the API server stores otherwise
(an empty string it leaves out, say) would make every pass apply the object again."""

from __future__ import annotations

import json
from typing import Any

import pytest

from jupyter_k8s.api import WorkspaceSpec, WorkspaceTemplateSpec
from jupyter_k8s.api.workspace import OWNER_ANNOTATION
from jupyter_k8s.reconcile.children import WorkspaceRef
from jupyter_k8s.reconcile.drift import contains
from jupyter_k8s.reconcile.workspace import WorkspaceInputs, plan_workspace
from tests.support.kube import Kubectl

pytestmark = pytest.mark.integration

TEMPLATE = WorkspaceTemplateSpec.model_validate(
    {
        "displayName": "T",
        "defaultImage": "ghcr.io/jupyter-k8s/jupyterlab:0.1.0",
        "defaultResources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
        "primaryStorage": {"defaultSize": "1Gi"},
        # A variable without a value, as a template or a user may write it.
        "env": [{"name": "EMPTY"}, {"name": "FULL", "value": "yes"}],
        "sidecars": [
            {"name": "helper", "image": "busybox:1", "env": [{"name": "ALSO_EMPTY", "value": ""}]}
        ],
    }
)


def _stored(kubectl: Kubectl, obj: dict[str, Any], namespace: str) -> dict[str, Any]:
    """The object as the API server would store it (server-side apply, dry run)."""
    out = kubectl.run(
        "apply",
        "--server-side",
        "--dry-run=server",
        "--field-manager=jupyter-k8s",
        "-n",
        namespace,
        "-o",
        "json",
        "-f",
        "-",
        stdin=json.dumps(obj),
    )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


@pytest.mark.parametrize("owner", [None, "alice"], ids=["no owner (webhook off)", "owner"])
def test_every_applied_object_reads_back_as_applied(
    kubectl: Kubectl, namespace: str, owner: str | None
) -> None:
    plan = plan_workspace(
        WorkspaceInputs(
            ref=WorkspaceRef(name="lab", namespace=namespace, uid="0000-uid"),
            generation=1,
            spec=WorkspaceSpec.model_validate({"templateRef": "t", "accessType": "Public"}),
            annotations={OWNER_ANNOTATION: owner} if owner else {},
            status={},
            template_name="t",
            template=TEMPLATE,
        )
    )
    kinds = {obj["kind"] for obj in plan.apply}
    assert {"Deployment", "PersistentVolumeClaim", "Service"} <= kinds, kinds
    for obj in plan.apply:
        stored = _stored(kubectl, obj, namespace)
        assert contains(stored, obj), (
            f"{obj['kind']} {obj['metadata']['name']} is stored otherwise than applied: "
            "the operator would apply it on every pass"
        )
