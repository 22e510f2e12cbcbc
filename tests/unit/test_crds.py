"""The generated CRDs: in sync with the models, structural, and carrying the promised rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from jupyter_k8s.api import KINDS, WORKSPACE, WORKSPACE_SHARE, WORKSPACE_TEMPLATE, KindDef
from jupyter_k8s.api.crd import crd_manifest
from jupyter_k8s.deploy.__main__ import crd_files, dump
from jupyter_k8s.deploy.installer import install_manifests

ROOT = Path(__file__).resolve().parents[2]


def test_crds_dir_matches_models() -> None:
    """Fails when a model changed without `make manifests` (or crds/ was edited by hand)."""
    wanted = crd_files()
    on_disk = {p.name: p.read_text() for p in (ROOT / "crds").glob("*.yaml")}
    assert sorted(on_disk) == sorted(wanted), "run `make manifests`"
    for name, text in wanted.items():
        assert on_disk[name] == text, f"crds/{name} is stale or hand-edited: run `make manifests`"


def test_installer_matches_models() -> None:
    text = (ROOT / "dist" / "install.yaml").read_text()
    docs = list(yaml.safe_load_all(text))
    (deploy,) = [d for d in docs if d["kind"] == "Deployment"]
    image = deploy["spec"]["template"]["spec"]["containers"][0]["image"]  # a release may set IMG
    assert text == dump(install_manifests(image), "build-installer"), "run `make build-installer`"


def test_helm_chart_matches_models() -> None:
    """dist/chart is generated from the installer's objects: fails when it drifted."""
    from jupyter_k8s.deploy.chart import chart_files

    chart = ROOT / "dist" / "chart"
    wanted = chart_files()
    on_disk = {str(p.relative_to(chart)): p.read_text() for p in chart.rglob("*") if p.is_file()}
    assert sorted(on_disk) == sorted(wanted), "run `make helm-generate`"
    for name, text in wanted.items():
        assert on_disk[name] == text, f"dist/chart/{name} is stale: run `make helm-generate`"


def test_monitoring_files_match_the_metrics() -> None:
    from jupyter_k8s.deploy.__main__ import monitoring_files

    out = ROOT / "dist" / "monitoring"
    for name, text in monitoring_files().items():
        assert (out / name).read_text() == text, f"dist/monitoring/{name}: run `make monitoring`"


def _walk(node: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found = [(path, node)]
    for name, sub in node.get("properties", {}).items():
        found += _walk(sub, f"{path}.{name}")
    if isinstance(node.get("additionalProperties"), dict):
        found += _walk(node["additionalProperties"], f"{path}[*]")
    if "items" in node:
        found += _walk(node["items"], f"{path}[]")
    return found


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_schema_is_structural(kind: KindDef) -> None:
    """The rules of structural schemas that the API server enforces on apply."""
    schema = crd_manifest(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for path, node in _walk(schema):
        assert "$ref" not in node and "nullable" not in node and "title" not in node, path
        if node.get("x-kubernetes-int-or-string"):
            assert node["anyOf"] == [{"type": "integer"}, {"type": "string"}], path
        else:
            assert "anyOf" not in node and "oneOf" not in node and "allOf" not in node, path
            assert node.get("type") in {
                "object",
                "array",
                "string",
                "integer",
                "number",
                "boolean",
            }, path
        if node.get("type") == "array":
            assert "items" in node, path


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_every_field_is_described(kind: KindDef) -> None:
    """`kubectl explain` prints these descriptions."""
    schema = crd_manifest(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    missing = [
        path
        for path, node in _walk(schema["properties"]["spec"], ".spec")
        + _walk(schema["properties"]["status"], ".status")
        if path and not path.endswith(("[*]", "[]")) and not node.get("description")
    ]
    assert not missing, f"fields without description: {missing}"


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_names_scope_columns(kind: KindDef) -> None:
    crd = crd_manifest(kind)
    names = crd["spec"]["names"]
    assert names["categories"] == ["jupyter"]
    assert names["shortNames"] == list(kind.short_names)
    version = crd["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}
    columns = [c["name"] for c in version["additionalPrinterColumns"]]
    assert columns[-1] == "Age"
    assert len(columns) >= 3


def test_short_names_from_design() -> None:
    assert {k.kind: k.short_names[0] for k in KINDS} == {
        "Workspace": "ws",
        "WorkspaceTemplate": "wst",
        "WorkspaceManager": "wsm",
        "WorkspaceExecutionProfile": "wsep",
        "WorkspaceShare": "wss",
    }
    assert {k.kind for k in KINDS if k.namespaced} == {"Workspace", "WorkspaceShare"}


def test_workspace_columns_answer_is_it_working_and_where() -> None:
    cols = {c.name: c.json_path for c in WORKSPACE.columns}
    assert cols["Template"] == ".spec.templateRef"
    assert cols["Phase"] == ".status.phase"
    assert cols["URL"] == ".status.url"


def _rules(kind: KindDef) -> list[tuple[str, dict[str, Any]]]:
    schema = crd_manifest(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return [
        (path, rule)
        for path, node in _walk(schema)
        for rule in node.get("x-kubernetes-validations", [])
    ]


def _rule_at(kind: KindDef, path: str, needle: str) -> dict[str, Any]:
    matches = [r for p, r in _rules(kind) if p == path and needle in r["rule"]]
    assert len(matches) == 1, f"expected one rule at {path} containing {needle!r}: {_rules(kind)}"
    return matches[0]


def test_template_spec_is_immutable() -> None:
    rule = _rule_at(WORKSPACE_TEMPLATE, ".spec", "self == oldSelf")
    assert "production-v2" in rule["message"]


def test_workspace_template_ref_is_immutable() -> None:
    rule = _rule_at(WORKSPACE, ".spec", "templateRef")
    assert "has(self.templateRef) == has(oldSelf.templateRef)" in rule["rule"]
    assert "cannot be added, changed or removed" in rule["message"]


def test_workspace_storage_class_is_immutable() -> None:
    rule = _rule_at(WORKSPACE, ".spec", "storageClassName")
    assert "oldSelf.storage" in rule["rule"]
    assert "storageClassName is immutable" in rule["message"]


def test_template_storage_and_resource_bounds_are_ordered() -> None:
    for low, high in (
        ("minSize", "defaultSize"),
        ("defaultSize", "maxSize"),
        ("minSize", "maxSize"),
    ):
        rule = _rule_at(
            WORKSPACE_TEMPLATE,
            ".spec.primaryStorage",
            f"quantity(string(self.{low})).compareTo(quantity(string(self.{high})))",
        )
        assert f"{low} must not exceed primaryStorage.{high}" in rule["message"]
    rule = _rule_at(WORKSPACE_TEMPLATE, ".spec.resourceBounds[*]", "quantity(")
    assert "min must not exceed max" in rule["message"]


def test_share_needs_a_subject() -> None:
    rule = _rule_at(WORKSPACE_SHARE, ".spec", "size(self.subjects) > 0")
    assert "at least one" in rule["message"]


def test_every_rule_has_an_actionable_message() -> None:
    for kind in KINDS:
        for path, rule in _rules(kind):
            assert len(rule["message"]) > 20, (kind.kind, path)


def test_crd_files_parse_as_single_documents() -> None:
    for path in (ROOT / "crds").glob("workspace*.yaml"):
        docs = list(yaml.safe_load_all(path.read_text()))
        if path.name.endswith("_admissionpolicies.yaml"):
            # Each policy comes with the binding that puts it in force.
            kinds = [d["kind"] for d in docs]
            assert kinds == ["ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"] * 3
            continue
        assert len(docs) == 1 and docs[0]["kind"] == "CustomResourceDefinition"


def test_every_metric_of_the_code_is_on_the_dashboard() -> None:
    import json

    from prometheus_client import REGISTRY

    from jupyter_k8s import monitoring

    board = json.dumps(monitoring.dashboard())
    ours = {m.name for m in REGISTRY.collect() if m.name.startswith("jupyter_k8s_")}
    assert ours, "no metric registered"
    assert not [name for name in ours if name not in board], "a metric missing from the dashboard"
