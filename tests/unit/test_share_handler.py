"""The share handler's I/O decisions, with a recording stand-in for the API server."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from jupyter_k8s.api.admission import SHARE_WORKSPACE_UID_ANNOTATION
from jupyter_k8s.core.runtime import Runtime
from jupyter_k8s.core.share import reconcile_share
from jupyter_k8s.kube import KubeError


class RefusingKube:
    """Refuses every apply as the API server refuses an invalid object (422)."""

    def __init__(self) -> None:
        self.patches: list[dict[str, Any]] = []

    def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        raise KubeError(422, "Unprocessable Entity", 'RoleBinding "x" is invalid: subjects[0]')

    def merge_patch(self, *args: Any) -> dict[str, Any]:
        self.patches.append(args[4])
        return {}


def test_a_binding_the_api_refuses_for_good_is_reported_not_retried() -> None:
    kube = RefusingKube()
    rt = Runtime(settings=None, kube=kube)  # type: ignore[arg-type]
    workspace = {"metadata": {"uid": "ws-uid", "name": "lab", "namespace": "team"}}
    idx = SimpleNamespace(workspaces={("team", "lab"): [workspace]}, of_kind=lambda kind: {})
    share = {
        "metadata": {
            "name": "with-bob",
            "namespace": "team",
            "uid": "share-uid",
            "generation": 1,
            "annotations": {SHARE_WORKSPACE_UID_ANNOTATION: "ws-uid"},
        },
        "spec": {"workspaceName": "lab", "subjects": [{"kind": "User", "name": "bob"}]},
    }
    # Its own loop, never set as the current one: asyncio.run would leave none behind for the
    # tests after this one (Pulumi's mocks ask for the current loop).
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(reconcile_share(rt, idx, share))  # type: ignore[arg-type]
    finally:
        loop.close()
    (patch,) = kube.patches
    (active,) = patch["status"]["conditions"]
    assert active["type"] == "Active" and active["status"] == "False"
    assert active["reason"] == "BindingRefused"
    assert "was refused" in active["message"] and "subjects[0]" in active["message"]
    assert not rt.queue.due  # nothing will change by itself: no retry scheduled
