"""From what the children report to the workspace's conditions and phase."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..api.common import ConditionType
from ..api.workspace import Phase
from .conditions import Cond
from .observed import DeploymentView, PodView, PvcView


@dataclass(frozen=True)
class Health:
    phase: Phase
    conditions: tuple[Cond, ...]


def _all(
    phase: Phase,
    *,
    available: Cond,
    progressing: Cond,
    degraded: Cond,
    stopped: Cond,
    valid: Cond,
) -> Health:
    return Health(phase, (valid, available, progressing, degraded, stopped))


VALID = Cond(ConditionType.VALID, True, "Valid", "The workspace satisfies its template.")
NOT_STOPPED = Cond(ConditionType.STOPPED, False, "Running", "desiredStatus is Running.")
NOT_DEGRADED = Cond(ConditionType.DEGRADED, False, "AsExpected", "No problem detected.")


def invalid(message: str, reason: str = "InvalidSpec") -> Health:
    return _all(
        Phase.INVALID,
        valid=Cond(ConditionType.VALID, False, reason, message),
        available=Cond(
            ConditionType.AVAILABLE, False, "Invalid", "Fix the spec: see the Valid condition."
        ),
        progressing=Cond(
            ConditionType.PROGRESSING, False, "Invalid", "Nothing is deployed while invalid."
        ),
        degraded=Cond(
            ConditionType.DEGRADED, False, "Invalid", "Nothing is deployed while invalid."
        ),
        stopped=Cond(ConditionType.STOPPED, False, "Invalid", "Nothing is deployed while invalid."),
    )


def stopped(pods: list[PodView], idle: bool = False) -> Health:
    """`idle`: the idle culler stopped it (reason Idle, on every condition that says why)."""
    why = "Idle" if idle else "Stopped"
    said = "Stopped for being idle." if idle else "desiredStatus is Stopped."
    if pods:
        return _all(
            Phase.STOPPING,
            valid=VALID,
            available=Cond(ConditionType.AVAILABLE, False, "Stopping", "The pod is shutting down."),
            progressing=Cond(
                ConditionType.PROGRESSING, True, "Stopping", "Waiting for the pod to exit."
            ),
            degraded=NOT_DEGRADED,
            stopped=Cond(ConditionType.STOPPED, False, "Stopping", "Waiting for the pod to exit."),
        )
    return _all(
        Phase.STOPPED,
        valid=VALID,
        available=Cond(ConditionType.AVAILABLE, False, why, said),
        progressing=Cond(ConditionType.PROGRESSING, False, why, said),
        degraded=NOT_DEGRADED,
        stopped=Cond(
            ConditionType.STOPPED,
            True,
            why,
            f"{'Stopped for being idle: the' if idle else 'The'} pod is gone; the volume is "
            "kept. Set desiredStatus: Running to start again.",
        ),
    )


def running(
    deployment: DeploymentView | None,
    pods: list[PodView],
    volume: PvcView | None = None,
    node_faults: Mapping[str, str] | None = None,
) -> Health:
    """`node_faults`: why each node that is not Ready is not (see observed.node_fault)."""
    live = [p for p in pods if not p.deleting]
    # Not seen yet counts as pending: the operator has just created it.
    volume_pending = volume is None or volume.phase != "Bound"
    # A claim that binds immediately makes the scheduler call the pod unschedulable until it
    # is bound: that is waiting (_waiting_for_volume). A claim that waits for its first
    # consumer binds only once the pod is scheduled: an unschedulable pod is then the fault.
    problem = _problem(deployment, live, node_faults or {})
    if problem is not None:
        reason, message = problem
        return _all(
            Phase.DEGRADED,
            valid=VALID,
            available=Cond(ConditionType.AVAILABLE, False, reason, message),
            progressing=Cond(
                ConditionType.PROGRESSING, False, reason, "Stuck: see the Degraded condition."
            ),
            degraded=Cond(ConditionType.DEGRADED, True, reason, message),
            stopped=NOT_STOPPED,
        )
    if deployment is not None and deployment.deleting:
        detail = "Waiting for the previous pod to stop (one volume, one pod) before starting."
        return _starting(detail)
    rolled_out = deployment is not None and deployment.rolled_out
    if len(live) > 1:
        # Never Available while two pods share the volume (e.g. an old ReplicaSet that
        # outlived its Deployment): the old pod has to go first.
        detail = (
            f"{len(live)} pods use this workspace's volume ({', '.join(p.name for p in live)});"
            " waiting until only one is left."
        )
        return _starting(detail)
    if rolled_out and any(p.ready for p in live):
        return _all(
            Phase.RUNNING,
            valid=VALID,
            available=Cond(
                ConditionType.AVAILABLE, True, "Running", "The workspace is running and ready."
            ),
            progressing=Cond(ConditionType.PROGRESSING, False, "Ready", "The rollout is complete."),
            degraded=NOT_DEGRADED,
            stopped=NOT_STOPPED,
        )
    if volume_pending:
        detail = "Waiting for the workspace's volume to be bound."
    elif live and live[0].phase == "Running":
        detail = f"Pod {live[0].name} is running; waiting for the app to answer its probe."
    else:
        # One message for creating, scheduling and pulling: each status write costs an API
        # call, and these steps take seconds.
        detail = "Waiting for the workspace's pod to start."
    return _starting(detail)


def _starting(detail: str) -> Health:
    return _all(
        Phase.STARTING,
        valid=VALID,
        available=Cond(ConditionType.AVAILABLE, False, "Starting", detail),
        progressing=Cond(ConditionType.PROGRESSING, True, "Starting", detail),
        degraded=NOT_DEGRADED,
        stopped=NOT_STOPPED,
    )


def _waiting_for_volume(message: str) -> bool:
    """The scheduler's verdict from before the workspace's own volume was bound: it retries
    on its own once the claim binds (after a backoff), so this is waiting, not a fault."""
    return "unbound immediate persistentvolumeclaims" in message.lower()


def _problem(
    deployment: DeploymentView | None, pods: list[PodView], node_faults: Mapping[str, str]
) -> tuple[str, str] | None:
    for pod in pods:
        fault = node_faults.get(pod.node or "")
        if fault:
            # First: on such a node the pod's own state is stale (its kubelet is not reporting).
            return "NodeNotReady", f"Pod {pod.name} runs on node {pod.node}, which is {fault}"
        if pod.unschedulable and not _waiting_for_volume(pod.unschedulable):
            return "Unschedulable", f"Pod {pod.name} cannot be scheduled: {pod.unschedulable}"
        for container, reason, message in pod.stuck:
            detail = f": {message}" if message else ""
            return reason, f"Container {container} of pod {pod.name} is {reason}{detail}"
    if deployment is not None and deployment.failure:
        return "ReplicaFailure", deployment.failure
    return None
