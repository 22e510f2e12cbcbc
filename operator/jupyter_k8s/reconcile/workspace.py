"""The whole decision for one workspace: which children should exist, and its new status."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..api.common import ConditionType
from ..api.execution_profile import WorkspaceExecutionProfileSpec
from ..api.manager import WorkspaceManagerSpec
from ..api.template import WorkspaceTemplateSpec
from ..api.workspace import OWNER_ANNOTATION, DesiredStatus, Phase, WorkspaceSpec, WorkspaceStatus
from ..names import workspace_child
from . import health
from .access import access_objects, connect_role_name
from .children import (
    SshKeys,
    WorkspaceRef,
    build_deployment,
    build_proxy_secret,
    build_pvc,
    build_service,
    pvc_name,
)
from .conditions import Cond, merge_conditions
from .drift import stamped
from .identity import identity_objects, service_account_name
from .idle import IDLE_STOP_ANNOTATION
from .observed import DeploymentView, PodView, PvcView
from .resolve import resolve
from .routes import build_ingress
from .routing import route
from .validate import violations


@dataclass(frozen=True)
class ManagerState:
    name: str
    spec: WorkspaceManagerSpec | None  # None: not found
    ready: bool = True
    message: str = ""


@dataclass(frozen=True)
class WorkspaceInputs:
    ref: WorkspaceRef
    generation: int
    spec: WorkspaceSpec
    annotations: dict[str, str]
    status: dict[str, Any]
    template_name: str | None
    template: WorkspaceTemplateSpec | None
    manager: ManagerState | None = None
    profile_name: str | None = None
    profile: WorkspaceExecutionProfileSpec | None = None
    pvc: PvcView | None = None
    deployment: DeploymentView | None = None
    pods: list[PodView] = field(default_factory=list)
    # Why the nodes of those pods that are not Ready are not (node name -> the node's words).
    node_faults: dict[str, str] = field(default_factory=dict)
    # (kind, name) of the optional children that exist now, so stale ones can be removed.
    existing: frozenset[tuple[str, str]] = frozenset()
    # The workspace's proxy secret (None: no key configured; the app then refuses everything).
    proxy_secret: str | None = None
    # The keys of the workspace's SSH server (None: no desktop tunnel; needs the proxy secret).
    ssh: SshKeys | None = None
    # Whether a WorkspaceShare names it (its grants bind the connect Role).
    shared: bool = False


@dataclass(frozen=True)
class Event:
    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass(frozen=True)
class WorkspacePlan:
    apply: list[dict[str, Any]]
    delete: list[tuple[str, str]]  # (kind, name) of children that must go
    status: WorkspaceStatus
    wire: dict[str, Any]  # `status` as the API server stores it (made once per pass)
    status_changed: bool  # whether `status` says something the stored one does not
    events: list[Event]


def _routed(manager: ManagerState | None) -> Cond | None:
    if manager is None:
        return None  # no manager: reachable with kubectl port-forward, nothing to report
    if manager.spec is None:
        return Cond(
            ConditionType.ROUTED,
            False,
            "ManagerNotFound",
            f'WorkspaceManager "{manager.name}" does not exist.',
        )
    if not manager.ready:
        return Cond(
            ConditionType.ROUTED,
            False,
            "ManagerNotReady",
            f'WorkspaceManager "{manager.name}" is not ready: {manager.message}',
        )
    return Cond(
        ConditionType.ROUTED, True, "Routed", f'Served through WorkspaceManager "{manager.name}".'
    )


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
    if inp.profile_name and inp.profile is None:
        problems.append(
            f'spec.executionProfileRef: WorkspaceExecutionProfile "{inp.profile_name}" does not exist; '
            "create it or choose another"
        )
    manager_spec = inp.manager.spec if inp.manager else None
    where = route(inp.ref.name, inp.ref.namespace, manager_spec)
    apply: list[dict[str, Any]] = []
    delete: list[tuple[str, str]] = []
    wanted: set[tuple[str, str]] = set()

    if problems:
        reason = "TemplateNotFound" if inp.template_name and inp.template is None else "InvalidSpec"
        outcome = health.invalid("; ".join(problems), reason)
        # No compute while invalid. An existing volume stays: bad input must not lose data.
        if inp.deployment is not None and not inp.deployment.deleting:
            delete.append(("Deployment", workspace_child(inp.ref.name)))
    else:
        running = spec.desiredStatus == DesiredStatus.RUNNING
        service_account = None
        if inp.profile is not None:
            identity = identity_objects(inp.ref, inp.profile)
            apply += identity
            service_account = service_account_name(inp.ref.name)
        elif inp.deployment is not None and inp.deployment.service_account:
            # Pods that name an account keep naming one: "default" once the profile is gone
            # (dropping the fields would restart the pod a second time).
            service_account = "default"
        apply += access_objects(inp.ref, owner, spec.accessType, inp.shared)
        if inp.proxy_secret is not None:
            apply.append(build_proxy_secret(inp.ref, inp.proxy_secret, inp.ssh))
        replacing = inp.deployment is not None and inp.deployment.deleting
        apply.append(build_pvc(inp.ref, resolved))
        if not replacing:  # a new Deployment only once the old one and its pods are gone
            apply.append(
                build_deployment(
                    inp.ref,
                    resolved,
                    running=running,
                    base_url=where.base_url,
                    owner=owner,
                    service_account=service_account,
                    automount_token=inp.profile.serviceAccount.automountToken
                    if inp.profile
                    else False,
                    proxy_secret=inp.proxy_secret is not None,
                    ssh=inp.proxy_secret is not None and inp.ssh is not None,
                )
            )
        apply.append(build_service(inp.ref))
        if manager_spec is not None:
            apply.append(build_ingress(inp.ref, manager_spec))
        outcome = (
            health.running(inp.deployment, inp.pods, inp.pvc, inp.node_faults)
            if running
            else health.stopped(
                inp.pods,
                idle=inp.annotations.get(IDLE_STOP_ANNOTATION) == str(inp.generation),
            )
        )
    wanted = {(o["kind"], o["metadata"]["name"]) for o in apply}
    # A connect Role once made stays: without a binding it grants nothing, and removing it
    # could race a share being granted (which makes it too: core/share.py).
    wanted.add(("Role", connect_role_name(inp.ref.name)))
    # Optional children that exist but are no longer wanted: a public grant after going
    # Private, a route after leaving the manager, a profile's bindings after changing it.
    delete += sorted(k for k in inp.existing if k not in wanted and k not in set(delete))

    old = inp.status
    conditions = list(outcome.conditions)
    routed = _routed(inp.manager)
    if routed is not None:
        conditions.append(routed)
    new_status = WorkspaceStatus(
        phase=outcome.phase,
        conditions=merge_conditions(old.get("conditions") or [], conditions, inp.generation, now),
        observedGeneration=inp.generation,
        url=where.url if outcome.phase != Phase.INVALID and manager_spec is not None else None,
        owner=owner,
        pvcName=pvc_name(inp.ref) if apply or inp.pvc else None,
        template=inp.template_name,
    )
    wire = new_status.wire()
    events = []
    if old.get("phase") != outcome.phase.value:
        events.append(_transition_event(outcome))
    return WorkspacePlan([stamped(o) for o in apply], delete, new_status, wire, wire != old, events)


def _transition_event(outcome: health.Health) -> Event:
    """One event per phase change; problems carry the condition's explanation."""
    conds = {c.type: c for c in outcome.conditions}
    if outcome.phase == Phase.INVALID:
        return Event("Warning", "Invalid", conds[ConditionType.VALID].message)
    if outcome.phase == Phase.DEGRADED:
        return Event(
            "Warning", conds[ConditionType.DEGRADED].reason, conds[ConditionType.DEGRADED].message
        )
    return Event("Normal", outcome.phase.value, f"Workspace is {outcome.phase.value}.")
