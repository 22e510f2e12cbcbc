"""A change that only moves a start along (a pod scheduled, given an address, running; a
claim bound) sets off its workspace's pass later than news does (ready, stuck, unschedulable,
deleted, ended; a claim lost or resized), so that what follows within a second is one pass
with it; news is never held back by it."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest

from jupyter_k8s.child_kinds import BY_KIND
from jupyter_k8s.core.indexes import ChildIndex
from jupyter_k8s.core.watches import PROGRESS_SETTLE_SECONDS, SETTLE_SECONDS
from jupyter_k8s.reconcile.observed import PodView, PvcView, claim_bound, only_progress

from .test_workspace_watch import _running, _settle, _setup, _ws

PENDING = PodView(name="p", phase="Pending", deleting=False, ready=False, unschedulable=None)


@pytest.mark.parametrize(
    ("change", "progress"),
    [
        ({"node": "n1"}, True),
        ({"node": "n1", "ip": "10.0.0.5", "started": "2026-12-07T10:00:00Z"}, True),
        ({"phase": "Running", "node": "n1"}, True),
        ({"phase": "Running", "ready": True}, False),
        ({"unschedulable": "0/1 nodes are available"}, False),
        ({"stuck": (("app", "ImagePullBackOff", "no such image"),)}, False),
        ({"deleting": True}, False),
        ({"phase": "Failed"}, False),
        ({"phase": "Succeeded"}, False),
        ({"name": "q"}, False),
    ],
)
def test_only_progress(change: dict[str, Any], progress: bool) -> None:
    assert only_progress(PENDING, replace(PENDING, **change)) is progress


def test_scheduled_after_the_scheduler_found_no_node_is_progress() -> None:
    waiting = replace(PENDING, unschedulable="pod has unbound immediate PersistentVolumeClaims")
    assert only_progress(waiting, replace(PENDING, node="n1"))
    assert not only_progress(waiting, replace(waiting, unschedulable="0/3 nodes: Insufficient cpu"))


def test_a_ready_pod_turning_unready_is_news() -> None:
    ready = replace(PENDING, phase="Running", ready=True, node="n1")
    assert not only_progress(ready, replace(ready, ready=False))
    assert only_progress(ready, replace(ready, ip="10.0.0.6"))


CLAIM = PvcView(name="ws-a", requested="1Gi", phase="Pending")


@pytest.mark.parametrize(
    ("before", "after", "progress"),
    [
        (CLAIM, replace(CLAIM, phase="Bound"), True),
        (replace(CLAIM, phase=None), CLAIM, True),
        (replace(CLAIM, phase="Bound"), replace(CLAIM, phase="Lost"), False),
        (CLAIM, replace(CLAIM, phase="Bound", requested="2Gi"), False),
        (replace(CLAIM, phase="Bound"), replace(CLAIM, phase="Bound", requested="2Gi"), False),
    ],
)
def test_claim_bound(before: PvcView, after: PvcView, progress: bool) -> None:
    assert claim_bound(before, after) is progress


def _claim(version: int, phase: str, size: str = "1Gi") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": "ws-a",
            "namespace": "team",
            "resourceVersion": str(version),
            "labels": {"workspace.jupyter.org/workspace-name": "a"},
        },
        "spec": {"resources": {"requests": {"storage": size}}},
        "status": {"phase": phase},
    }


def test_the_index_tells_a_claim_binding_apart() -> None:
    index = ChildIndex(BY_KIND["PersistentVolumeClaim"])
    assert index.change("ADDED", _claim(1, "Pending")) == (("team", "a"), False)
    bound = _claim(2, "Bound")
    bound["spec"]["volumeName"] = "pvc-123"  # the binder's, no decision reads it
    assert index.change("MODIFIED", bound) == (("team", "a"), True)
    resized = _claim(3, "Bound", size="2Gi")
    assert index.change("MODIFIED", resized) == (("team", "a"), False), "its spec changed"


def _pod(version: int, **status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "ws-a-1",
            "namespace": "team",
            "resourceVersion": str(version),
            "labels": {"workspace.jupyter.org/workspace-name": "a"},
        },
        "spec": {"nodeName": "n1"} if status.pop("scheduled", False) else {},
        "status": status,
    }


def test_the_index_tells_a_progress_change_apart() -> None:
    index = ChildIndex(BY_KIND["Pod"])
    added = index.change("ADDED", _pod(1, phase="Pending"))
    assert added is not None and not added.progress, "a new pod is news"
    scheduled = index.change("MODIFIED", _pod(2, phase="Pending", scheduled=True))
    assert scheduled is not None and scheduled.progress
    ready = index.change(
        "MODIFIED",
        _pod(3, phase="Running", scheduled=True, conditions=[{"type": "Ready", "status": "True"}]),
    )
    assert ready is not None and not ready.progress
    assert index.change("DELETED", _pod(4)) == (("team", "a"), False)


def test_progress_waits_longer_and_news_goes_at_the_usual_pace(
    loop: asyncio.AbstractEventLoop,
) -> None:
    rt, watches, passes = _setup()
    pods, key = BY_KIND["Pod"], ("Workspace", "team", "a")

    async def scenario() -> list[float | None]:
        await _running(rt, watches, passes, _ws("a", 1))
        watches._on_events(pods, [("ADDED", _pod(2, phase="Pending"))])
        added = rt.queue.pending(key)
        await asyncio.sleep(SETTLE_SECONDS * 2)
        await _settle()
        watches._on_events(pods, [("MODIFIED", _pod(3, phase="Pending", scheduled=True))])
        scheduled = rt.queue.pending(key)
        # News after it: the earlier time wins, the progress does not hold it back.
        ready = _pod(
            4, phase="Running", scheduled=True, conditions=[{"type": "Ready", "status": "True"}]
        )
        watches._on_events(pods, [("MODIFIED", ready)])
        then = rt.queue.pending(key)
        await asyncio.sleep(SETTLE_SECONDS * 2)
        await _settle()
        return [added, scheduled, then]

    added, scheduled, then = loop.run_until_complete(scenario())
    assert added is not None and added <= SETTLE_SECONDS
    assert scheduled is not None and scheduled > SETTLE_SECONDS * 2
    assert scheduled <= PROGRESS_SETTLE_SECONDS
    assert then is not None and then <= SETTLE_SECONDS
    assert passes == [key, key], "one pass for the new pod, one for it being ready"


def test_news_in_the_same_batch_as_progress_goes_at_the_usual_pace(
    loop: asyncio.AbstractEventLoop,
) -> None:
    rt, watches, passes = _setup()
    pods, key = BY_KIND["Pod"], ("Workspace", "team", "a")

    async def scenario() -> float | None:
        await _running(rt, watches, passes, _ws("a", 1))
        rt.children["Pod"].apply("ADDED", _pod(2, phase="Pending"))
        batch = [
            ("MODIFIED", _pod(3, phase="Pending", scheduled=True)),
            ("MODIFIED", _pod(4, phase="Failed", scheduled=True)),
        ]
        watches._on_events(pods, batch)
        return rt.queue.pending(key)

    due = loop.run_until_complete(scenario())
    assert due is not None and due <= SETTLE_SECONDS
