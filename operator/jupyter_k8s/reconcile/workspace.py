"""The whole decision for one workspace: which children should exist, and its new status."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..api.manager import WorkspaceManagerSpec
from ..api.template import WorkspaceTemplateSpec
from ..api.workspace import OWNER_ANNOTATION, DesiredStatus, Phase, WorkspaceSpec
from ..names import workspace_child
from . import health
from .children import WorkspaceRef, build_deployment, build_pvc, build_service, pvc_name
from .conditions import merge_conditions
from .observed import DeploymentView, PodView, PvcView
from .resolve import resolve
from .routing import route
from .validate import violations


@dataclass(frozen=True)
class WorkspaceInputs:
    ref: WorkspaceRef
    generation: int
    spec: WorkspaceSpec
    annotations: dict[str, str]
    status: dict[str, Any]
    template_name: str | None
    template: WorkspaceTemplateSpec | None
    manager: WorkspaceManagerSpec | None = None
    pvc: PvcView | None = None
    deployment: DeploymentView | None = None
    pods: list[PodView] = field(default_factory=list)


@dataclass(frozen=True)
class Event:
    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass(frozen=True)
class WorkspacePlan:
    apply: list[dict[str, Any]]
    delete: list[tuple[str, str]]  # (kind, name) of children that must go
    status: dict[str, Any]
    status_changed: bool
    events: list[Event]


def plan_workspace(inp: WorkspaceInputs, now: str | None = None) -> WorkspacePlan:
    spec = inp.spec
    resolved = resolve(spec, inp.template)
    owner = inp.annotations.get(OWNER_ANNOTATION)
    problems = violations(
        spec,
        resolved,
        inp.template,
        inp.template_name,
        current_volume_size=inp.pvc.requested if inp.pvc else None,
    )
    where = route(inp.ref.name, inp.ref.namespace, inp.manager)
    apply: list[dict[str, Any]] = []
    delete: list[tuple[str, str]] = []

    if problems:
        reason = "TemplateNotFound" if inp.template_name and inp.template is None else "InvalidSpec"
        outcome = health.invalid("; ".join(problems), reason)
        # No compute while invalid. An existing volume stays: bad input must not lose data.
        if inp.deployment is not None:
            delete.append(("Deployment", workspace_child(inp.ref.name)))
    else:
        running = spec.desiredStatus == DesiredStatus.RUNNING
        apply = [
            build_pvc(inp.ref, resolved),
            build_deployment(
                inp.ref, resolved, running=running, base_url=where.base_url, owner=owner
            ),
            build_service(inp.ref),
        ]
        outcome = (
            health.running(inp.deployment, inp.pods, inp.pvc)
            if running
            else health.stopped(inp.pods)
        )

    old = inp.status
    new_status: dict[str, Any] = {
        "phase": outcome.phase.value,
        "conditions": merge_conditions(
            old.get("conditions") or [], list(outcome.conditions), inp.generation, now
        ),
        "observedGeneration": inp.generation,
        "url": where.url if outcome.phase != Phase.INVALID else None,
        "owner": owner,
        "pvcName": pvc_name(inp.ref) if apply or inp.pvc else None,
        "template": inp.template_name,
    }
    new_status = {k: v for k, v in new_status.items() if v is not None}
    changed = any(old.get(k) != new_status.get(k) for k in set(old) | set(new_status))
    events = []
    if old.get("phase") != outcome.phase.value:
        events.append(_transition_event(outcome))
    return WorkspacePlan(apply, delete, new_status, changed, events)


def _transition_event(outcome: health.Health) -> Event:
    """One event per phase change; problems carry the condition's explanation."""
    conds = {c.type: c for c in outcome.conditions}
    if outcome.phase == Phase.INVALID:
        return Event("Warning", "Invalid", conds["Valid"].message)
    if outcome.phase == Phase.DEGRADED:
        return Event("Warning", conds["Degraded"].reason, conds["Degraded"].message)
    return Event("Normal", outcome.phase.value, f"Workspace is {outcome.phase.value}.")
