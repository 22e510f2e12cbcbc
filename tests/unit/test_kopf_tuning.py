"""What the operator switches off in Kopf, and which events it lets pass without a pass."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
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
        # Its status at our write's version is the one its controller wrote before (an
        # event that came already); each later status write is a version of its own.
        ("Deployment", "42", True),
        ("Deployment", "43", False),
        ("PersistentVolumeClaim", "42", True),
        ("PersistentVolumeClaim", "41", False),
    ],
)
def test_only_the_echo_of_our_own_write_is_skipped(kind: str, rv: str, echo: bool) -> None:
    key = ("team-a", "lab")
    applier = Applier(kube=None, call=None, applied={key: {(kind, "ws-lab"): ("digest", 42)}})  # type: ignore[arg-type]
    assert applier.is_echo(key, child(kind, rv)) is echo
    assert applier.is_echo(("team-a", "other"), child(kind, "42")) is False


def test_a_kopf_watch_that_fails_starts_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """An error event other than 410 (a lagging cache's 504) used to end Kopf's watch of a
    kind for good, leaving the operator deaf to it."""
    from kopf._cogs.clients import watching

    from jupyter_k8s.handlers.kopf_tuning import watches_survive_errors

    calls: list[int] = []

    async def flaky(**_: Any) -> AsyncIterator[str]:
        calls.append(1)
        yield f"event {len(calls)}"
        if len(calls) == 1:
            raise watching.WatchingError("Error in the watch-stream: {'code': 504}")

    monkeypatch.setattr(watching, "infinite_watch", flaky)
    watches_survive_errors(retry_after=0)
    watches_survive_errors(retry_after=0)  # twice: wrapped once

    async def consume() -> list[str]:
        return [e async for e in watching.infinite_watch(resource="workspaces")]

    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(consume()) == ["event 1", "event 2"]
    finally:
        loop.close()
    assert len(calls) == 2
