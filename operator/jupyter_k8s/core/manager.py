"""WorkspaceManager readiness: what it references exists, and how many workspaces use it."""

from __future__ import annotations

import logging
from typing import Any

from ..api import API_VERSION, WORKSPACE_MANAGER
from ..api.common import ConditionType
from ..api.manager import WorkspaceManagerSpec, WorkspaceManagerStatus
from ..api.template import WorkspaceTemplateSpec
from ..kube import KubeError
from ..metrics import reconciling
from ..reconcile.conditions import Cond, merge_conditions
from ..reconcile.manager import readiness, references
from . import indexes as ix
from .indexes import Indexes
from .runtime import Runtime
from .workqueue import Key

log = logging.getLogger(__name__)


def _users(rt: Runtime, idx: Indexes, name: str) -> int:
    count = 0
    for key in list(idx.workspaces):
        ws = ix.one(idx.workspaces, key)
        if ws is None:
            continue
        ref = ws["spec"].get("managerRef")
        template_name = ws["spec"].get("templateRef")
        if ref is None and template_name:
            template = ix.one(idx.templates, template_name)
            ref = (
                template
                and rt.parsed.spec(
                    WorkspaceTemplateSpec, template_name, template["spec"]
                ).defaultManagerRef
            )
        count += ref == name
    return count


async def reconcile_key(rt: Runtime, key: Key) -> None:
    """The work queue's entry for ("WorkspaceManager", name)."""
    await reconcile_manager(rt, rt.idx, key[1])


async def reconcile_manager(rt: Runtime, idx: Indexes, name: str) -> None:
    """Ready when what the manager references exists; status written only on change."""
    body = ix.one(idx.managers, name)
    if body is None:
        return
    with reconciling("WorkspaceManager"):
        spec = WorkspaceManagerSpec.model_validate(body["spec"])
        refs = references(spec)
        ingress_class = bool(
            refs.ingress_class
            and await rt.call(
                rt.kube.get, "networking.k8s.io/v1", "IngressClass", None, refs.ingress_class
            )
        )
        services = {
            (ns, svc): bool(await rt.call(rt.kube.get, "v1", "Service", ns, svc))
            for ns, svc in refs.services
        }
        ready, message = readiness(refs, ingress_class, services)
        old = body["status"]
        status = WorkspaceManagerStatus(
            conditions=merge_conditions(
                old.get("conditions") or [],
                [
                    Cond(
                        ConditionType.READY,
                        ready,
                        "Ready" if ready else "MissingReferences",
                        message,
                    )
                ],
                body["generation"],
            ),
            observedGeneration=body["generation"],
            workspaceCount=_users(rt, idx, name),
        ).wire()
        if status == old:
            return
        try:
            await rt.call(
                rt.kube.merge_patch,
                API_VERSION,
                "WorkspaceManager",
                None,
                name,
                {"status": status},
                "status",
            )
        except KubeError as err:
            if err.status != 404:
                raise


def what_workspaces_see(body: dict[str, Any]) -> tuple[Any, ...]:
    """The part of a manager its workspaces depend on: the spec and the Ready condition.
    (Not workspaceCount: writing it must not send every workspace through another pass.)"""
    ready: dict[str, Any] = next(
        (c for c in body["status"].get("conditions") or [] if c.get("type") == ConditionType.READY),
        {},
    )
    return (body["generation"], ready.get("status"), ready.get("message"))


def _ready(idx: Indexes, name: str) -> bool:
    body = ix.one(idx.managers, name) or {}
    conditions = (body.get("status") or {}).get("conditions") or []
    return any(
        c.get("type") == ConditionType.READY and c.get("status") == "True" for c in conditions
    )


async def resync_managers(rt: Runtime, idx: Indexes, only_not_ready: bool = False) -> None:
    """Re-check what managers reference (an IngressClass may have appeared). A status change
    comes back as a manager event, which moves the workspaces if it matters to them."""
    for name in list(idx.managers):
        if only_not_ready and _ready(idx, name):
            continue
        await rt.reconcile(WORKSPACE_MANAGER, name)
