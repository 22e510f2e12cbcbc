"""The models reject what the API server rejects, with messages that name the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from jupyter_k8s.api import (
    KINDS,
    WorkspaceExecutionProfileSpec,
    WorkspaceManagerSpec,
    WorkspaceShareSpec,
    WorkspaceSpec,
    WorkspaceTemplateSpec,
)

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = {"displayName": "T", "defaultImage": "img:1"}


def _error(model: Any, data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    return str(info.value)


def test_workspace_defaults() -> None:
    ws = WorkspaceSpec.model_validate({})
    assert ws.desiredStatus == "Running"
    assert ws.accessType == "Private"


def test_unknown_desired_status_is_rejected() -> None:
    assert "desiredStatus" in _error(WorkspaceSpec, {"desiredStatus": "Paused"})


def test_unknown_field_is_rejected() -> None:
    assert "templateref" in _error(WorkspaceSpec, {"templateref": "x"})


def test_quantities_accept_numbers_and_strings() -> None:
    ws = WorkspaceSpec.model_validate({"resources": {"requests": {"cpu": 1, "memory": "1Gi"}}})
    assert ws.resources is not None and ws.resources.requests == {"cpu": "1", "memory": "1Gi"}
    assert "not a Kubernetes quantity" in _error(
        WorkspaceSpec, {"resources": {"requests": {"cpu": "lots"}}}
    )


def test_bad_names_are_rejected() -> None:
    assert "templateRef" in _error(WorkspaceSpec, {"templateRef": "Not_A_Name"})


def test_template_needs_image_and_display_name() -> None:
    msg = _error(WorkspaceTemplateSpec, {})
    assert "defaultImage" in msg and "displayName" in msg


@pytest.mark.parametrize(
    ("storage", "message"),
    [
        (
            {"minSize": "20Gi", "defaultSize": "10Gi"},
            "minSize must not exceed primaryStorage.defaultSize",
        ),
        (
            {"defaultSize": "10Gi", "maxSize": "5Gi"},
            "defaultSize must not exceed primaryStorage.maxSize",
        ),
        ({"minSize": "1Gi", "defaultSize": "1024Mi", "maxSize": "1Gi"}, None),
    ],
)
def test_storage_bounds_are_ordered(storage: dict[str, str], message: str | None) -> None:
    data = {**TEMPLATE, "primaryStorage": storage}
    if message is None:
        WorkspaceTemplateSpec.model_validate(data)
    else:
        assert message in _error(WorkspaceTemplateSpec, data)


def test_resource_bounds_are_ordered() -> None:
    data = {**TEMPLATE, "resourceBounds": {"cpu": {"min": "2", "max": "500m"}}}
    assert "min must not exceed max" in _error(WorkspaceTemplateSpec, data)
    ok = {**TEMPLATE, "resourceBounds": {"nvidia.com/gpu": {"min": 0, "max": 1}}}
    WorkspaceTemplateSpec.model_validate(ok)


def test_share_needs_a_subject() -> None:
    assert "at least one" in _error(WorkspaceShareSpec, {"workspaceName": "w"})
    assert "at least one" in _error(WorkspaceShareSpec, {"workspaceName": "w", "subjects": []})


def test_share_rejects_everyone_and_namespace_less_service_accounts() -> None:
    everyone = {
        "workspaceName": "w",
        "subjects": [{"kind": "Group", "name": "system:authenticated"}],
    }
    assert "accessType: Public" in _error(WorkspaceShareSpec, everyone)
    sa = {"workspaceName": "w", "subjects": [{"kind": "ServiceAccount", "name": "ci"}]}
    assert "needs its namespace" in _error(WorkspaceShareSpec, sa)
    # Found by the fuzzer: the RoleBinding for such a name is refused, so the share is too.
    odd = {"kind": "ServiceAccount", "name": "2999-12-31T23:59:59Z", "namespace": "ci"}
    sa_name = {"workspaceName": "w", "subjects": [odd]}
    assert "ServiceAccount's name" in _error(WorkspaceShareSpec, sa_name)


def test_execution_profile_rejects_wildcards() -> None:
    data = {"rules": [{"resources": ["*"], "verbs": ["get"]}]}
    assert "wildcards are not allowed" in _error(WorkspaceExecutionProfileSpec, data)
    assert WorkspaceExecutionProfileSpec.model_validate({}).serviceAccount.automountToken is False


def test_manager_defaults_to_subdomain_routing() -> None:
    wsm = WorkspaceManagerSpec.model_validate({"domain": "ws.example.com"})
    assert wsm.routing.mode == "subdomain"
    assert "routing.mode: path" in _error(WorkspaceManagerSpec, {"domain": "a" * 200})


def _samples() -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((ROOT / "samples" / "kustomization.yaml").read_text())
    return [
        yaml.safe_load((ROOT / "samples" / name).read_text()) for name in kustomization["resources"]
    ]


def test_samples_cover_every_kind_and_parse() -> None:
    by_kind = {k.kind: k for k in KINDS}
    seen = set()
    for obj in _samples():
        kind = by_kind[obj["kind"]]
        kind.spec.model_validate(obj["spec"])
        seen.add(obj["kind"])
    assert seen == set(by_kind)


def test_samples_carry_the_reference_walkthrough() -> None:
    names = {(o["kind"], o["metadata"]["name"]) for o in _samples()}
    assert ("WorkspaceTemplate", "production-notebook-template") in names
    assert ("Workspace", "workspace-with-template") in names
    assert ("Workspace", "workspace-invalid") in names


def test_share_expiry_the_crd_accepts_is_one_the_model_parses() -> None:
    """Regression: 0000-01-01T00:00:00Z and +25:00 offsets passed the API server, then the
    operator could not parse them (no status at all). The CRD now carries the model's pattern."""
    import re

    from jupyter_k8s.api.share import RFC3339, WorkspaceShareSpec

    for good in (
        "2027-01-31T18:00:00Z",
        "2027-01-31T18:00:00.123456+02:00",
        "0001-01-01T00:00:00Z",
    ):
        assert re.match(RFC3339, good)
        WorkspaceShareSpec.model_validate(
            {"workspaceName": "w", "subjects": [{"kind": "User", "name": "u"}], "expiresAt": good}
        )
    for bad in (
        "0000-01-01T00:00:00Z",
        "2027-01-31T18:00:00+25:00",
        "2027-01-31T18:00:00.1234567Z",
    ):
        assert not re.match(RFC3339, bad), bad
