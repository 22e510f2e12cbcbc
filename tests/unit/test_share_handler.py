"""The share handler's I/O decisions, with a recording stand-in for the API server."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from jupyter_k8s.api.admission import SHARE_WORKSPACE_UID_ANNOTATION
from jupyter_k8s.core.runtime import Runtime
from jupyter_k8s.core.share import reconcile_share
from jupyter_k8s.kube import KubeError
from jupyter_k8s.reconcile.access import connect_role
from jupyter_k8s.reconcile.children import WorkspaceRef
from jupyter_k8s.reconcile.drift import stamped


class RefusingKube:
    """Refuses every RoleBinding as the API server refuses an invalid object (422)."""

    def __init__(self) -> None:
        self.patches: list[dict[str, Any]] = []
        self.applied: list[tuple[str, str]] = []

    def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        if obj["kind"] == "RoleBinding":
            raise KubeError(422, "Unprocessable Entity", 'RoleBinding "x" is invalid: subjects[0]')
        self.applied.append((obj["kind"], obj["metadata"]["name"]))
        return obj

    def merge_patch(self, *args: Any) -> dict[str, Any]:
        self.patches.append(args[4])
        return {}


WORKSPACE = {"metadata": {"uid": "ws-uid", "name": "lab", "namespace": "team"}}


def _pass(kube: RefusingKube, roles: list[Any]) -> Runtime:
    """One share pass for a share of workspace "lab" with `roles` (its indexed Roles)."""
    rt = Runtime(settings=None, kube=kube)  # type: ignore[arg-type]
    idx = SimpleNamespace(
        workspaces={("team", "lab"): [WORKSPACE]},
        of_kind=lambda kind: {("team", "lab"): roles} if kind.kind == "Role" else {},
    )
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
    return rt


def test_a_binding_the_api_refuses_for_good_is_reported_not_retried() -> None:
    kube = RefusingKube()
    rt = _pass(kube, [])
    (patch,) = kube.patches
    (active,) = patch["status"]["conditions"]
    assert active["type"] == "Active" and active["status"] == "False"
    assert active["reason"] == "BindingRefused"
    assert "was refused" in active["message"] and "subjects[0]" in active["message"]
    assert not rt.queue.due  # nothing will change by itself: no retry scheduled


def test_a_share_makes_the_connect_role_it_binds_unless_it_is_there() -> None:
    """An unshared workspace has no connect Role (reconcile/access.py): the share's pass makes
    it before the grant, so the share works at once; once there, nothing is written again."""
    kube = RefusingKube()
    _pass(kube, [])
    assert kube.applied == [("Role", "ws-lab-connect")]
    role = connect_role(WorkspaceRef("lab", "team", "ws-uid"))
    there = SimpleNamespace(name="ws-lab-connect", body=stamped(role))
    kube = RefusingKube()
    _pass(kube, [there])
    assert kube.applied == []
