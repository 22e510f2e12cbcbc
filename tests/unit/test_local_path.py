"""The local cluster's volume provisioner (hack/local_path.py): one volume per claim, made once
however many events the claim has while Pending, and made again after a failure."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("jk_local_path", ROOT / "hack" / "local_path.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


local_path = _module()


class FakeApi:
    def __init__(self) -> None:
        self.answers: list[Any] = []  # what the next POSTs get: a status, or an exception
        self.posts: list[str] = []

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        if method == "POST":
            self.posts.append(body["metadata"]["name"] if body else "")
            answer = self.answers.pop(0) if self.answers else 201
            if isinstance(answer, Exception):
                raise answer
            return answer, {}
        return 200, {}


def claim(uid: str = "u1") -> dict[str, Any]:
    return {
        "metadata": {
            "uid": uid,
            "namespace": "team",
            "name": "ws-lab",
            "annotations": {
                local_path.PROVISIONER_ANNOTATION: local_path.NAME,
                local_path.SELECTED_NODE: "kwok-node-0",
            },
        },
        "spec": {"resources": {"requests": {"storage": "1Gi"}}},
        "status": {"phase": "Pending"},
    }


def test_a_claim_gets_its_volume_once_however_many_events_it_has(tmp_path: Path) -> None:
    api = FakeApi()
    prov = local_path.Provisioner(api, tmp_path, set())
    for _ in range(3):  # the binder's own writes while the claim is Pending
        prov.provision(claim())
    assert api.posts == ["pvc-u1"]


def test_a_refused_or_failed_create_is_tried_again_on_the_next_event(tmp_path: Path) -> None:
    api = FakeApi()
    api.answers = [500, OSError("connection reset")]
    prov = local_path.Provisioner(api, tmp_path, set())
    prov.provision(claim())
    with pytest.raises(OSError):
        prov.provision(claim())
    prov.provision(claim())
    prov.provision(claim())
    assert api.posts == ["pvc-u1", "pvc-u1", "pvc-u1"]


def test_a_reclaimed_volume_is_forgotten(tmp_path: Path) -> None:
    api = FakeApi()
    prov = local_path.Provisioner(api, tmp_path, set())
    prov.provision(claim())
    prov.reclaim(
        {
            "metadata": {
                "name": "pvc-u1",
                "annotations": {local_path.PROVISIONED_BY: local_path.NAME},
            },
            "spec": {"persistentVolumeReclaimPolicy": "Delete", "claimRef": {"uid": "u1"}},
            "status": {"phase": "Released"},
        }
    )
    assert "u1" not in prov.provisioned
