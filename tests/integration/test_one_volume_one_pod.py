"""One volume, one pod (issue 19, defect 1): a workspace made invalid and fixed at once gets
its new pod only after the old one is gone, and is never Available with two."""

from __future__ import annotations

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


def test_invalid_then_fixed_at_once_never_runs_two_pods_on_the_volume(
    kubectl: Kubectl, operator: Operator, namespace: str, template: str
) -> None:
    kubectl.create(workspace_manifest("flip", template), namespace)
    eventually(lambda: _available(kubectl, namespace, "flip"), what="Available")
    (first,) = _live_pods(kubectl, namespace, "flip")
    pvc_uid = kubectl.get("pvc", "ws-flip", namespace)["metadata"]["uid"]  # type: ignore[index]

    def patch_image(image: str) -> None:
        kubectl.run(
            "patch", "workspace", "flip", "-n", namespace, "--type=merge",
            "-p", f'{{"spec": {{"image": "{image}"}}}}',
        )  # fmt: skip

    patch_image("registry.invalid/not-allowed:1")
    eventually(
        lambda: (
            (condition(kubectl.get("workspace", "flip", namespace), "Valid") or {}).get("status")
            == "False"
        ),
        what="Valid=False",
    )
    patch_image("ghcr.io/jupyter-k8s/jupyterlab:0.1.0")  # fixed at once
    seen: list[tuple[list[str], bool]] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pods, ready = (
            _live_pods(kubectl, namespace, "flip"),
            bool(_available(kubectl, namespace, "flip")),
        )
        seen.append((pods, ready))
        assert len(pods) <= 1, f"two pods on one volume: {pods}"
        if ready and pods and pods[0] != first:
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"not Available again with a new pod within 60 s: {seen[-5:]}")
    assert kubectl.get("pvc", "ws-flip", namespace)["metadata"]["uid"] == pvc_uid  # type: ignore[index]
