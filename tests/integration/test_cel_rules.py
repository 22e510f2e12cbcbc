"""The CRDs' schema and CEL rules, enforced by the real API server, seen through kubectl."""

from __future__ import annotations

import pytest
import yaml

from tests.support.fixtures import ROOT, template_manifest, workspace_manifest
from tests.support.kube import Kubectl

pytestmark = pytest.mark.integration


def test_crds_and_installer_pass_server_side_validation(kubectl: Kubectl, crds: Kubectl) -> None:
    kubectl.run("apply", "--dry-run=server", "-f", str(ROOT / "crds"))
    # Namespaced objects of the installer need their namespace to exist for a dry run.
    kubectl.run("create", "namespace", "jupyter-k8s-system", check=False)
    # The operator running for the other tests owns a webhook configuration of the same name
    # (pointing at its URL); validate the installer's under another name.
    objs = list(yaml.safe_load_all((ROOT / "dist" / "install.yaml").read_text()))
    for obj in objs:
        if obj["kind"] == "MutatingWebhookConfiguration":
            obj["metadata"]["name"] += "-dry-run"
    kubectl.run("apply", "--dry-run=server", "-f", "-", stdin=yaml.safe_dump_all(objs))
    kubectl.run("kustomize", str(ROOT / "samples"))


def test_template_spec_is_immutable(kubectl: Kubectl, template: str) -> None:
    res = kubectl.run(
        "patch",
        "workspacetemplate",
        template,
        "--type=merge",
        "-p",
        '{"spec":{"displayName":"x"}}',
        check=False,
    )
    assert res.returncode != 0
    assert (
        "spec is immutable: create a new template version instead, e.g. production-v2" in res.stderr
    )


def test_template_ref_cannot_be_changed_added_or_removed(
    kubectl: Kubectl, namespace: str, template: str
) -> None:
    kubectl.create(workspace_manifest("a", template), namespace)
    kubectl.create(workspace_manifest("b"), namespace)
    for name, patch in (
        ("a", '{"spec":{"templateRef":"other"}}'),
        ("a", '{"spec":{"templateRef":null}}'),
        ("b", '{"spec":{"templateRef":"other"}}'),
    ):
        res = kubectl.run(
            "patch", "workspace", name, "-n", namespace, "--type=merge", "-p", patch, check=False
        )
        assert res.returncode != 0, patch
        assert "spec.templateRef is immutable: it cannot be added, changed or removed" in res.stderr


def test_storage_class_is_immutable(kubectl: Kubectl, crds: Kubectl, namespace: str) -> None:
    kubectl.create(workspace_manifest("c", storage={"storageClassName": "standard"}), namespace)
    res = kubectl.run(
        "patch",
        "workspace",
        "c",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        '{"spec":{"storage":{"storageClassName":"fast"}}}',
        check=False,
    )
    assert res.returncode != 0
    assert "spec.storage.storageClassName is immutable" in res.stderr


def test_template_bounds_must_be_ordered(kubectl: Kubectl, crds: Kubectl, unique: str) -> None:
    bad = template_manifest(
        f"bad-{unique}",
        resourceBounds={"cpu": {"min": "2", "max": "500m"}},
        primaryStorage={"minSize": "20Gi", "defaultSize": "10Gi", "maxSize": "5Gi"},
    )
    res = kubectl.create(bad, check=False)
    assert res.returncode != 0
    for message in (
        "spec.resourceBounds[cpu]: Invalid value: min must not exceed max",
        "primaryStorage.minSize must not exceed primaryStorage.defaultSize",
        "primaryStorage.defaultSize must not exceed primaryStorage.maxSize",
        "primaryStorage.minSize must not exceed primaryStorage.maxSize",
    ):
        assert message in res.stderr


def test_share_needs_a_subject(kubectl: Kubectl, crds: Kubectl, namespace: str) -> None:
    # The workspace exists, so the only thing wrong is the empty subject list.
    kubectl.create(workspace_manifest("w", image="registry.invalid/x:1"), namespace)
    share = {
        "apiVersion": "workspace.jupyter.org/v1alpha1",
        "kind": "WorkspaceShare",
        "metadata": {"name": "nobody"},
        "spec": {"workspaceName": "w", "subjects": []},
    }
    res = kubectl.create(share, namespace, check=False)
    assert res.returncode != 0
    assert "spec.subjects must name at least one User, Group or ServiceAccount" in res.stderr


def test_schema_rejects_unknown_desired_status(
    kubectl: Kubectl, crds: Kubectl, namespace: str
) -> None:
    res = kubectl.create(workspace_manifest("d", desiredStatus="Paused"), namespace, check=False)
    assert res.returncode != 0
    assert 'spec.desiredStatus: Unsupported value: "Paused"' in res.stderr


def test_kubectl_get_jupyter_lists_every_kind(kubectl: Kubectl, crds: Kubectl) -> None:
    res = kubectl.run("api-resources", "--categories=jupyter", "-o", "name")
    assert sorted(res.stdout.split()) == sorted(
        f"{p}.workspace.jupyter.org"
        for p in (
            "workspaces",
            "workspacetemplates",
            "workspacemanagers",
            "workspaceexecutionprofiles",
            "workspaceshares",
        )
    )


def test_share_names_fit_a_label_and_its_workspace_is_fixed(
    kubectl: Kubectl, crds: Kubectl, namespace: str
) -> None:
    kubectl.create(workspace_manifest("w", image="registry.invalid/x:1"), namespace)
    share = {
        "apiVersion": "workspace.jupyter.org/v1alpha1",
        "kind": "WorkspaceShare",
        "metadata": {"name": "s" * 64},
        "spec": {"workspaceName": "w", "subjects": [{"kind": "User", "name": "bob"}]},
    }
    res = kubectl.create(share, namespace, check=False)
    assert res.returncode != 0 and "a share name is at most 63 characters" in res.stderr
    # (No operator here: the admin records the workspace UID its webhook would stamp.)
    uid = kubectl.get("workspace", "w", namespace)["metadata"]["uid"]  # type: ignore[index]
    share["metadata"] = {"name": "ok", "annotations": {"workspace.jupyter.org/workspace-uid": uid}}
    kubectl.create(share, namespace)
    res = kubectl.run(
        "patch",
        "workspaceshare",
        "ok",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        '{"spec":{"workspaceName":"other"}}',
        check=False,
    )
    assert res.returncode != 0 and "spec.workspaceName is immutable" in res.stderr


def test_share_with_an_impossible_service_account_name_is_refused(
    kubectl: Kubectl, crds: Kubectl, namespace: str
) -> None:
    """Found by the fuzzer: the API server stored it, then refused its RoleBinding."""
    kubectl.create(workspace_manifest("w", image="registry.invalid/x:1"), namespace)
    odd = {"kind": "ServiceAccount", "name": "2999-12-31T23:59:59Z", "namespace": namespace}
    share = {
        "apiVersion": "workspace.jupyter.org/v1alpha1",
        "kind": "WorkspaceShare",
        "metadata": {"name": "odd-sa"},
        "spec": {"workspaceName": "w", "subjects": [odd]},
    }
    res = kubectl.create(share, namespace, check=False)
    assert res.returncode != 0 and "ServiceAccount subject's name" in res.stderr, res.stderr
