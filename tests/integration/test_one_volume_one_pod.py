"""One volume, one pod (issue 19, defect 1): a workspace made invalid and fixed at once gets
its new pod only after the old one is gone, and is never Available with two."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.support.fixtures import Operator, workspace_manifest
from tests.support.kube import Kubectl, condition, eventually

pytestmark = pytest.mark.integration
LABEL = "workspace.jupyter.org/workspace-name"


def _live_pods(kubectl: Kubectl, ns: str, name: str) -> list[str]:
    return [
        p["metadata"]["name"]
        for p in kubectl.list("pods", ns, f"{LABEL}={name}")
        if not p["metadata"].get("deletionTimestamp")
    ]


def _available(kubectl: Kubectl, ns: str, name: str) -> dict[str, Any] | None:
    ws = kubectl.get("workspace", name, ns)
    return ws if (condition(ws, "Available") or {}).get("status") == "True" else None


def _pods(kubectl: Kubectl, ns: str, name: str) -> list[str]:
    """Every pod of the workspace, terminating ones included (their containers may still run)."""
    return [p["metadata"]["name"] for p in kubectl.list("pods", ns, f"{LABEL}={name}")]


def test_invalid_then_fixed_at_once_never_runs_two_pods_on_the_volume(
    kubectl: Kubectl, operator: Operator, namespace: str, template: str
) -> None:
    kubectl.create(workspace_manifest("flip", template), namespace)
    eventually(lambda: _available(kubectl, namespace, "flip"), what="Available")
    (first,) = _live_pods(kubectl, namespace, "flip")
    pvc_uid = kubectl.get("pvc", "ws-flip", namespace)["metadata"]["uid"]  # type: ignore[index]
    # The old pod takes its time to stop (a finalizer holds it, as a slow shutdown or a
    # garbage collector that lags would).
    hold = '{"metadata":{"finalizers":["test.jupyter.org/hold"]}}'
    kubectl.run("patch", "pod", first, "-n", namespace, "--type=merge", "-p", hold)

    def patch_image(image: str | None) -> None:
        kubectl.run(
            "patch", "workspace", "flip", "-n", namespace, "--type=merge",
            "-p", json.dumps({"spec": {"image": image}}),
        )  # fmt: skip

    try:
        patch_image("registry.invalid/not-allowed:1")
        eventually(
            lambda: (
                (condition(kubectl.get("workspace", "flip", namespace), "Valid") or {}).get(
                    "status"
                )
                == "False"
            ),
            what="Valid=False",
        )
        patch_image(None)  # fixed at once
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            assert _pods(kubectl, namespace, "flip") == [first], "a new pod next to the old one"
            assert not _available(kubectl, namespace, "flip")
            time.sleep(0.5)
        ws = kubectl.get("workspace", "flip", namespace)
        assert "previous pod to stop" in (condition(ws, "Available") or {}).get("message", "")
    finally:
        kubectl.run(
            "patch", "pod", first, "-n", namespace, "--type=merge",
            "-p", '{"metadata":{"finalizers":null}}', check=False,
        )  # fmt: skip
    # The old pod gone, the new one starts; never two at once.
    deadline = time.monotonic() + 60
    while not _available(kubectl, namespace, "flip"):
        assert len(_pods(kubectl, namespace, "flip")) <= 1
        assert time.monotonic() < deadline, "not Available again within 60 s"
        time.sleep(0.2)
    assert _live_pods(kubectl, namespace, "flip") != [first]
    assert kubectl.get("pvc", "ws-flip", namespace)["metadata"]["uid"] == pvc_uid  # type: ignore[index]
