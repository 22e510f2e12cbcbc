"""Trimmed views of the children the operator watches: only what status decisions need.

The operator keeps these in memory for every workspace, so they are kept small.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Container states that will not fix themselves: the workspace is Degraded, not Progressing.
STUCK_WAITING = frozenset(
    {
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "ErrImageNeverPull",
        "CrashLoopBackOff",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
    }
)


@dataclass(frozen=True)
class PodView:
    name: str
    phase: str
    deleting: bool
    ready: bool
    unschedulable: str | None  # the scheduler's message
    stuck: tuple[tuple[str, str, str], ...] = field(default=())  # (container, reason, message)
    node: str | None = None  # where it was scheduled
    ip: str | None = None  # where the idle culler asks the app for its activity
    started: str | None = None  # status.startTime: activity of an app never used yet


@dataclass(frozen=True)
class DeploymentView:
    # Its controller has seen this generation and has an updated pod available. Kept as one
    # flag, not the counters: a change of the view sets off a pass, and the counters move
    # two or three times while a pod starts, each time deciding nothing.
    rolled_out: bool
    failure: str | None  # ReplicaFailure / ProgressDeadlineExceeded message
    deleting: bool = False  # being deleted in the foreground: its pods are still stopping
    service_account: str | None = None  # the account its pods name, if any


@dataclass(frozen=True)
class PvcView:
    name: str
    requested: str | None
    phase: str | None


def _conditions(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c.get("type", ""): c for c in status.get("conditions") or []}


def pod_view(body: dict[str, Any]) -> PodView:
    status = body.get("status") or {}
    conds = _conditions(status)
    sched = conds.get("PodScheduled", {})
    unschedulable = (
        sched.get("message") or "the pod cannot be scheduled"
        if sched.get("status") == "False" and sched.get("reason") == "Unschedulable"
        else None
    )
    stuck = tuple(
        (cs.get("name", ""), waiting.get("reason", ""), waiting.get("message", ""))
        for cs in (status.get("containerStatuses") or [])
        + (status.get("initContainerStatuses") or [])
        for waiting in [(cs.get("state") or {}).get("waiting") or {}]
        if waiting.get("reason") in STUCK_WAITING
    )
    return PodView(
        name=body["metadata"]["name"],
        phase=status.get("phase", "Pending"),
        deleting=bool(body["metadata"].get("deletionTimestamp")),
        ready=conds.get("Ready", {}).get("status") == "True",
        unschedulable=unschedulable,
        stuck=stuck,
        node=(body.get("spec") or {}).get("nodeName"),
        ip=status.get("podIP"),
        started=status.get("startTime"),
    )


def only_progress(old: PodView, new: PodView) -> bool:
    """Whether a pod's change only moves its start along: scheduled onto a node (also after
    the scheduler had found none), given an address, started, running. Such a change makes
    nothing Available (that waits for readiness, and the Deployment's), and what it changes
    of the status is a progress message, which waits for the next real change anyway
    (core/workspace.py `_settling`); a Degraded "cannot be scheduled" lifts with it, a
    second later. Readiness won or lost, a stuck container, a scheduling failure, deletion,
    or a phase that ends the pod are news."""
    same = (old.name, old.deleting, old.ready, old.stuck) == (
        new.name,
        new.deleting,
        new.ready,
        new.stuck,
    )
    scheduling = new.unschedulable is None or new.unschedulable == old.unschedulable
    return same and scheduling and (old.phase, new.phase) in _PROGRESS_PHASES


# A pod's phase moves that are progress only (from, to).
_PROGRESS_PHASES = frozenset(
    {("Pending", "Pending"), ("Pending", "Running"), ("Running", "Running")}
)


def claim_bound(old: PvcView, new: PvcView) -> bool:
    """Whether a claim's change is only its binding: like a pod's progress, it makes nothing
    Available and changes only a progress message ("waiting for the volume"); what follows
    it (the pod scheduled, ready) comes within a second. A claim Lost, or resized, is news."""
    return (old.name, old.requested) == (new.name, new.requested) and (
        old.phase,
        new.phase,
    ) in _BINDING


_BINDING = frozenset({(None, "Pending"), (None, "Bound"), ("Pending", "Bound")})


def node_fault(body: dict[str, Any]) -> str | None:
    """Why a node is not Ready, in the node's own words (None when Ready). A kubelet that stops
    reporting leaves Ready=Unknown, set by the node lifecycle controller after its grace period."""
    ready = _conditions(body.get("status") or {}).get("Ready")
    if ready is None:
        return "Ready=Unknown: the node has not reported yet"
    if ready.get("status") == "True":
        return None
    reason = ready.get("reason") or "NotReady"
    message = ready.get("message") or "no message"
    return f"Ready={ready.get('status')} ({reason}): {message}"


def deployment_view(body: dict[str, Any]) -> DeploymentView:
    status = body.get("status") or {}
    pod_spec = ((body.get("spec") or {}).get("template") or {}).get("spec") or {}
    conds = _conditions(status)
    failure = None
    if conds.get("ReplicaFailure", {}).get("status") == "True":
        failure = conds["ReplicaFailure"].get("message") or "pods cannot be created"
    elif conds.get("Progressing", {}).get("reason") == "ProgressDeadlineExceeded":
        failure = conds["Progressing"].get("message") or "the rollout is stuck"
    return DeploymentView(
        rolled_out=status.get("observedGeneration", 0) >= body["metadata"].get("generation", 0)
        and status.get("updatedReplicas", 0) >= 1
        and status.get("availableReplicas", 0) >= 1,
        failure=failure,
        deleting=bool(body["metadata"].get("deletionTimestamp")),
        service_account=pod_spec.get("serviceAccountName") or pod_spec.get("serviceAccount"),
    )


def pvc_view(body: dict[str, Any]) -> PvcView:
    spec = body.get("spec") or {}
    return PvcView(
        name=body["metadata"]["name"],
        requested=((spec.get("resources") or {}).get("requests") or {}).get("storage"),
        phase=(body.get("status") or {}).get("phase"),
    )
