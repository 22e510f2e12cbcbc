"""Child events that change nothing a reconciliation reads start no pass."""

from __future__ import annotations

import asyncio
from typing import Any

import kopf

from jupyter_k8s.api.workspace import WORKSPACE_LABEL
from jupyter_k8s.child_kinds import DEPLOYMENT, POD
from jupyter_k8s.handlers import indexes as ix


def pod(rv: str, ready: bool, image_id: str = "") -> kopf.Body:
    return kopf.Body(
        {
            "kind": "Pod",
            "metadata": {
                "name": "ws-lab-abc",
                "namespace": "team-a",
                "resourceVersion": rv,
                "labels": {WORKSPACE_LABEL: "lab"},
            },
            "spec": {"nodeName": "n1"},
            "status": {
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": str(ready)}],
                "containerStatuses": [{"name": "app", "imageID": image_id, "state": {}}],
            },
        }
    )


def index(kind: Any, body: kopf.Body) -> dict[Any, Any]:
    indexer = ix._child_indexer(kind)
    labels = body["metadata"]["labels"]
    loop = asyncio.new_event_loop()  # not asyncio.run: Pulumi's mocks need the current loop
    try:
        return loop.run_until_complete(indexer(body=body, namespace="team-a", labels=labels))
    finally:
        loop.close()


def test_a_pod_event_that_changes_nothing_read_is_recognised() -> None:
    child = ("Pod", "team-a", "ws-lab-abc")
    ix.SAMENESS.forget(child)
    index(POD, pod("1", ready=False))
    assert not ix.SAMENESS.unchanged(child, "1"), "first sight: reconcile"
    index(POD, pod("2", ready=False, image_id="sha256:abc"))  # nothing we read changed
    assert ix.SAMENESS.unchanged(child, "2")
    assert not ix.SAMENESS.unchanged(child, "2"), "asked once per event"
    index(POD, pod("3", ready=True))  # became ready: reconcile
    assert not ix.SAMENESS.unchanged(child, "3")
    ix.SAMENESS.forget(child)
    assert child not in ix.SAMENESS.last


def test_an_owned_childs_body_or_status_view_counts() -> None:
    def deployment(rv: str, image: str, ready: int, stamp: str) -> kopf.Body:
        return kopf.Body(
            {
                "kind": "Deployment",
                "metadata": {
                    "name": "ws-lab",
                    "namespace": "team-a",
                    "resourceVersion": rv,
                    "labels": {WORKSPACE_LABEL: "lab"},
                },
                "spec": {"template": {"spec": {"containers": [{"image": image}]}}},
                "status": {
                    "readyReplicas": ready,
                    "conditions": [{"type": "Available", "lastUpdateTime": stamp}],
                },
            }
        )

    child = ("Deployment", "team-a", "ws-lab")
    ix.SAMENESS.forget(child)
    index(DEPLOYMENT, deployment("1", "a", 0, "t1"))
    index(DEPLOYMENT, deployment("2", "a", 0, "t2"))  # a timestamp only
    assert ix.SAMENESS.unchanged(child, "2")
    index(DEPLOYMENT, deployment("3", "b", 0, "t2"))  # someone changed the image: drift
    assert not ix.SAMENESS.unchanged(child, "3")
    index(DEPLOYMENT, deployment("4", "b", 1, "t2"))  # a replica became ready
    assert not ix.SAMENESS.unchanged(child, "4")
    ix.SAMENESS.forget(child)
