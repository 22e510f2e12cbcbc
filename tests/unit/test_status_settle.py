"""A status whose only news is a condition's message (a starting workspace's progress) waits
a moment for the next real change; anything else is written at once."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from jupyter_k8s.core import workspace
from jupyter_k8s.core.workqueue import Key, WorkQueue
from jupyter_k8s.reconcile.conditions import only_messages_differ
from tests.support.aio import run_in_own_loop

KEY = ("team", "lab")


def status(phase: str, reason: str, message: str, generation: int = 1) -> dict[str, Any]:
    cond = {
        "type": "Available",
        "status": "True" if phase == "Running" else "False",
        "reason": reason,
        "message": message,
        "lastTransitionTime": "2026-12-06T00:00:00Z",
        "observedGeneration": generation,
    }
    return {"phase": phase, "conditions": [cond], "observedGeneration": generation}


VOLUME = status("Starting", "Starting", "Waiting for the workspace's volume to be bound.")
POD = status("Starting", "Starting", "Waiting for the workspace's pod to start.")
RUNNING = status("Running", "Running", "The workspace is running and ready.")


def test_only_a_message_is_told_apart_from_a_real_change() -> None:
    assert only_messages_differ(VOLUME, POD)
    assert not only_messages_differ(VOLUME, VOLUME), "no change at all"
    assert not only_messages_differ(POD, RUNNING), "phase, status and reason"
    assert not only_messages_differ(VOLUME, status("Starting", "Starting", "x", generation=2))
    assert not only_messages_differ({}, VOLUME), "a first status"


def test_progress_waits_for_the_next_real_change_and_at_most_the_settle_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(workspace, "MESSAGE_SETTLE", 0.2)
    passes: list[Key] = []
    queue = WorkQueue()

    async def record(key: Key) -> None:
        passes.append(key)

    queue.register("Workspace", record)
    rt: Any = SimpleNamespace(settling={}, queue=queue)

    async def scenario() -> None:
        assert workspace._settling(rt, KEY, VOLUME, POD), "progress only: not written yet"
        assert queue.pending(("Workspace", *KEY)) is not None, "a pass comes back for it"
        await asyncio.sleep(0.05)
        assert workspace._settling(rt, KEY, VOLUME, POD), "still within the settle time"
        assert not workspace._settling(rt, KEY, VOLUME, RUNNING), "a real change: at once"
        assert rt.settling == {}
        # Progress that no real change follows is written once the settle time has passed.
        assert workspace._settling(rt, KEY, VOLUME, POD)
        await asyncio.sleep(0.25)
        assert passes == [("Workspace", *KEY)], "the pass came back by the deadline"
        assert not workspace._settling(rt, KEY, VOLUME, POD), "written now"
        assert rt.settling == {}
        assert not workspace._settling(rt, KEY, POD, POD), "nothing new: nothing waits"
        # A status that went back to the stored one keeps no deadline (a later message-only
        # change then waits its full settle time again).
        assert workspace._settling(rt, KEY, VOLUME, POD)
        assert not workspace._settling(rt, KEY, VOLUME, VOLUME)
        assert rt.settling == {}

    run_in_own_loop(scenario)
