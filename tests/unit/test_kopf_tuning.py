"""What the operator switches off in Kopf, and which events it lets pass without a pass."""

from __future__ import annotations

from typing import Any

import kopf
import pytest

from jupyter_k8s.core.applier import Applier
from jupyter_k8s.handlers.kopf_tuning import NoDiffBase, tune


def test_no_diff_base_is_built_stored_or_read() -> None:
    settings = kopf.OperatorSettings()
    tune(settings)
    storage = settings.persistence.diffbase_storage
    assert isinstance(storage, NoDiffBase)
    body = kopf.Body({"metadata": {"name": "x", "annotations": {}}, "spec": {"a": 1}})
    assert storage.build(body=body) is None and storage.fetch(body=body) is None
    patch = kopf.Patch()
    storage.store(body=body, patch=patch, essence=storage.build(body=body))
    assert not patch  # nothing written to the object either


def child(kind: str, rv: str) -> dict[str, Any]:
    return {"kind": kind, "metadata": {"name": "ws-lab", "resourceVersion": rv}}


@pytest.mark.parametrize(
    ("kind", "rv", "echo"),
    [
        ("Role", "42", True),  # exactly what our last write produced
        ("Role", "43", False),  # someone changed it since: reconcile (drift)
        ("Service", "42", True),
        ("Deployment", "42", False),  # its status is read: every event counts
        ("PersistentVolumeClaim", "42", False),
    ],
)
def test_only_the_echo_of_our_own_write_of_a_statusless_child_is_skipped(
    kind: str, rv: str, echo: bool
) -> None:
    key = ("team-a", "lab")
    applier = Applier(kube=None, call=None, applied={key: {(kind, "ws-lab"): ("digest", 42)}})  # type: ignore[arg-type]
    assert applier.is_echo(key, child(kind, rv)) is echo
    assert applier.is_echo(("team-a", "other"), child(kind, "42")) is False
