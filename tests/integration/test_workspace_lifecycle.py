"""A workspace's life on the real API server: validation, start, stop, restart, delete."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.support.fixtures import Operator, workspace_manifest
from tests.support.kube import Kubectl, condition, eventually

pytestmark = pytest.mark.integration


def _available(k: Kubectl, ns: str, name: str) -> dict[str, Any] | None:
    ws = k.get("workspace", name, ns)
    cond = condition(ws, "Available")
    return ws if cond and cond["status"] == "True" else None


def _children(k: Kubectl, ns: str, name: str) -> dict[str, list[dict[str, Any]]]:
    sel = f"workspace.jupyter.org/workspace-name={name}"
    return {kind: k.list(kind, ns, sel) for kind in ("pods", "pvc", "deployments", "services")}


def test_valid_workspace_becomes_available_with_running_pod(
    kubectl: Kubectl, operator: Operator, namespace: str, template: str
) -> None:
    kubectl.create(workspace_manifest("lab", template), namespace)
    ws = eventually(lambda: _available(kubectl, namespace, "lab"), what="Available=True")
    assert ws["status"]["phase"] == "Running"
    assert condition(ws, "Valid")["status"] == "True"  # type: ignore[index]
    assert ws["status"]["observedGeneration"] == ws["metadata"]["generation"]
    pods = _children(kubectl, namespace, "lab")["pods"]
    assert [p["status"]["phase"] for p in pods] == ["Running"]
    pod = pods[0]["spec"]
    # Inherited from the template, restricted pod security.
    container = pod["containers"][0]
    assert container["image"] == "ghcr.io/jupyter-k8s/jupyterlab:0.1.0"
    assert container["resources"]["requests"] == {"cpu": "100m", "memory": "256Mi"}
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    pvc = _children(kubectl, namespace, "lab")["pvc"][0]
    assert (
        pvc["status"]["phase"] == "Bound"
        and pvc["spec"]["resources"]["requests"]["storage"] == "1Gi"
    )
    # Events are posted beside the pass (best effort), just after the status that says so.
    eventually(
        lambda: "Running" in [e["reason"] for e in kubectl.events(namespace, "lab")],
        timeout=10,
        what="the Running event",
    )


def test_invalid_workspace_is_accepted_but_gets_nothing(
    kubectl: Kubectl, operator: Operator, namespace: str, template: str
) -> None:
    manifest = workspace_manifest(
        "too-big",
        template,
        image="docker.io/library/python:3.12",
        resources={"requests": {"cpu": "8"}},
        storage={"size": "100Gi"},
    )
    kubectl.create(manifest, namespace)  # the API server accepts it

    def invalid() -> dict[str, Any] | None:
        cond = condition(kubectl.get("workspace", "too-big", namespace), "Valid")
        return cond if cond and cond["status"] == "False" else None

    valid = eventually(invalid, what="Valid=False")
    assert valid["reason"] == "InvalidSpec"
    for violation in (
        "spec.image",
        "spec.resources.requests.cpu: 8 is above the template's maximum 2",
        "spec.storage.size: 100Gi",
    ):
        assert violation in valid["message"]
    # No compute, no storage, ever: watch for a while.
    for _ in range(10):
        children = _children(kubectl, namespace, "too-big")
        assert children["pods"] == [] and children["pvc"] == [] and children["deployments"] == []
        time.sleep(0.3)
    assert kubectl.get("workspace", "too-big", namespace)["status"]["phase"] == "Invalid"  # type: ignore[index]
    warnings = [e for e in kubectl.events(namespace, "too-big") if e["type"] == "Warning"]
    assert warnings and "spec.image" in warnings[0]["message"]

    # Fixing the spec makes it valid, and it deploys.
    kubectl.run(
        "patch",
        "workspace",
        "too-big",
        "-n",
        namespace,
        "--type=json",
        "-p",
        '[{"op":"remove","path":"/spec/image"},{"op":"replace","path":"/spec/resources/requests/cpu","value":"1"},'
        '{"op":"replace","path":"/spec/storage/size","value":"2Gi"}]',
    )
    eventually(lambda: _available(kubectl, namespace, "too-big"), what="Available after the fix")


def test_missing_template_is_reported(kubectl: Kubectl, operator: Operator, namespace: str) -> None:
    kubectl.create(workspace_manifest("orphan", "no-such-template"), namespace)

    def reported() -> dict[str, Any] | None:
        cond = condition(kubectl.get("workspace", "orphan", namespace), "Valid")
        return cond if cond and cond["reason"] == "TemplateNotFound" else None

    cond = eventually(reported, what="TemplateNotFound")
    assert 'WorkspaceTemplate "no-such-template" does not exist' in cond["message"]


def test_stop_keeps_the_volume_and_start_reuses_it(
    kubectl: Kubectl, operator: Operator, namespace: str, template: str
) -> None:
    kubectl.create(workspace_manifest("pausable", template), namespace)
    eventually(lambda: _available(kubectl, namespace, "pausable"), what="Available")
    pvc_uid = _children(kubectl, namespace, "pausable")["pvc"][0]["metadata"]["uid"]

    kubectl.run(
        "patch",
        "workspace",
        "pausable",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        '{"spec":{"desiredStatus":"Stopped"}}',
    )

    def stopped() -> dict[str, Any] | None:
        ws = kubectl.get("workspace", "pausable", namespace)
        cond = condition(ws, "Stopped")
        return ws if cond and cond["status"] == "True" else None

    ws = eventually(stopped, what="Stopped=True")
    assert ws["status"]["phase"] == "Stopped"
    assert condition(ws, "Available")["status"] == "False"  # type: ignore[index]
    children = _children(kubectl, namespace, "pausable")
    assert children["pods"] == []
    assert [p["metadata"]["uid"] for p in children["pvc"]] == [pvc_uid]

    kubectl.run(
        "patch",
        "workspace",
        "pausable",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        '{"spec":{"desiredStatus":"Running"}}',
    )
    eventually(lambda: _available(kubectl, namespace, "pausable"), what="Available again")
    children = _children(kubectl, namespace, "pausable")
    assert [p["metadata"]["uid"] for p in children["pvc"]] == [pvc_uid]
    assert (
        children["pods"][0]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"]
        == children["pvc"][0]["metadata"]["name"]
    )


def test_deleting_a_workspace_collects_its_children(
    kubectl: Kubectl, operator: Operator, namespace: str, template: str
) -> None:
    kubectl.create(workspace_manifest("doomed", template), namespace)
    eventually(lambda: _available(kubectl, namespace, "doomed"), what="Available")
    kubectl.run("delete", "workspace", "doomed", "-n", namespace, "--wait=true", "--timeout=60s")

    def all_gone() -> bool:
        return not any(_children(kubectl, namespace, "doomed").values())

    eventually(
        all_gone, timeout=60, what="the garbage collector to remove pod, PVC, deployment, service"
    )


def test_drift_is_repaired(
    kubectl: Kubectl, operator: Operator, namespace: str, template: str
) -> None:
    kubectl.create(workspace_manifest("steady", template), namespace)
    eventually(lambda: _available(kubectl, namespace, "steady"), what="Available")
    name = "ws-steady"

    kubectl.run("delete", "service", name, "-n", namespace)
    eventually(lambda: kubectl.get("service", name, namespace), what="the Service to come back")

    kubectl.run(
        "set", "image", f"deployment/{name}", "workspace=evil/image:latest", "-n", namespace
    )

    def restored() -> bool:
        dep = kubectl.get("deployment", name, namespace)
        return (
            bool(dep)
            and dep["spec"]["template"]["spec"]["containers"][0]["image"]
            == "ghcr.io/jupyter-k8s/jupyterlab:0.1.0"
        )  # type: ignore[index]

    eventually(restored, what="the Deployment's image to be put back")


def test_what_the_workspace_stops_asking_for_leaves_its_deployment(
    kubectl: Kubectl, operator: Operator, namespace: str, template: str
) -> None:
    # Children are created with a POST and applied afterwards (core/applier.py): the apply
    # must own what the POST set, or a variable dropped from the spec would stay in the pod.
    extra = [{"name": "EXTRA_SETTING", "value": "1"}]
    kubectl.create(workspace_manifest("trimmed", template, env=extra), namespace)
    eventually(lambda: _available(kubectl, namespace, "trimmed"), what="Available")

    def env_names() -> list[str]:
        dep = kubectl.get("deployment", "ws-trimmed", namespace) or {}
        container = dep["spec"]["template"]["spec"]["containers"][0]
        return [e["name"] for e in container.get("env") or []]

    assert "EXTRA_SETTING" in env_names()
    kubectl.run(
        "patch",
        "workspace",
        "trimmed",
        "-n",
        namespace,
        "--type=json",
        "-p",
        '[{"op":"remove","path":"/spec/env"}]',
    )
    eventually(lambda: "EXTRA_SETTING" not in env_names(), what="the variable to leave the pod")
    shown = kubectl.run(
        "get", "deployment", "ws-trimmed", "-n", namespace, "-o", "json", "--show-managed-fields"
    )
    ours = {
        m["operation"]
        for m in json.loads(shown.stdout)["metadata"]["managedFields"]
        if m["manager"] == "jupyter-k8s"
    }
    assert ours == {"Apply"}, "one field manager, one entry: what the create set is the apply's"
    eventually(lambda: _available(kubectl, namespace, "trimmed"), what="Available again")


def test_text_outside_the_basic_plane_reaches_the_pod(
    kubectl: Kubectl, operator: Operator, namespace: str, template: str
) -> None:
    # Found by the fuzz tier: an env value with an emoji made every apply fail ("invalid Unicode
    # character escape code") and the workspace retried forever.
    value = "rocket \U0001f680 and \u00fcml\u00e4uts"
    env = [{"name": "GREETING", "value": value}]
    kubectl.create(workspace_manifest("unicode", template, env=env), namespace)
    eventually(lambda: _available(kubectl, namespace, "unicode"), what="Available")
    dep = kubectl.get("deployment", "ws-unicode", namespace)
    container = dep["spec"]["template"]["spec"]["containers"][0]  # type: ignore[index]
    assert {"name": "GREETING", "value": value} in container["env"]


def test_unschedulable_and_unpullable_are_degraded(
    kubectl: Kubectl, operator: Operator, namespace: str, template: str
) -> None:
    # 8 GPUs fit the template's bounds but no node has them.
    gpus = {"requests": {"nvidia.com/gpu": "8"}, "limits": {"nvidia.com/gpu": "8"}}
    kubectl.create(workspace_manifest("greedy", template, resources=gpus), namespace)
    kubectl.create(
        workspace_manifest("broken", template, image="registry.invalid/broken:1"), namespace
    )

    def degraded(name: str, reason: str) -> Any:
        cond = condition(kubectl.get("workspace", name, namespace), "Degraded")
        return cond if cond and cond["status"] == "True" and cond["reason"] == reason else None

    cond = eventually(lambda: degraded("greedy", "Unschedulable"), what="Degraded for the GPU hog")
    assert "Insufficient nvidia.com/gpu" in cond["message"]
    cond = eventually(
        lambda: degraded("broken", "ImagePullBackOff"), what="Degraded for the bad image"
    )
    assert "registry.invalid/broken:1" in cond["message"]
    ws = kubectl.get("workspace", "broken", namespace)
    assert ws["status"]["phase"] == "Degraded"  # type: ignore[index]
    assert condition(ws, "Progressing")["status"] == "False"  # type: ignore[index]


def test_reference_walkthrough(
    kubectl: Kubectl, operator: Operator, namespace: str, request: pytest.FixtureRequest
) -> None:
    """The upstream README's steps, with the samples as shipped."""
    template = "samples/workspace_v1alpha1_workspacetemplate_production.yaml"
    kubectl.run("apply", "-f", template)
    # The template is cluster-scoped and immutable: leave none behind for the next run.
    request.addfinalizer(
        lambda: kubectl.run("delete", "--wait=false", "--ignore-not-found", "-f", template)
    )
    kubectl.run(
        "apply", "-n", namespace, "-f", "samples/workspace_v1alpha1_workspace_with_template.yaml"
    )

    def valid() -> str:
        return kubectl.jsonpath(
            "workspace",
            "workspace-with-template",
            '{.status.conditions[?(@.type=="Valid")].status}',
            namespace,
        )

    assert eventually(valid, what="the Valid condition") == "True"
    eventually(lambda: _available(kubectl, namespace, "workspace-with-template"), what="Available")
