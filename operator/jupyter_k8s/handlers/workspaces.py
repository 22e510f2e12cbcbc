"""Workspace reconciliation: triggered by the workspace, by any of its children, and by resync."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf
from pydantic import ValidationError

from ..api import API_VERSION, GROUP, VERSION
from ..api.manager import WorkspaceManagerSpec
from ..api.template import WorkspaceTemplateSpec
from ..api.workspace import WORKSPACE_LABEL, WorkspaceSpec
from ..kube import KubeError
from ..metrics import reconciling
from ..reconcile import health
from ..reconcile.children import WorkspaceRef
from ..reconcile.conditions import merge_conditions
from ..reconcile.drift import contains
from ..reconcile.workspace import WorkspaceInputs, plan_workspace
from . import indexes as ix
from .indexes import CHILD, Indexes
from .runtime import Runtime, runtime
from .templates import sync_template

log = logging.getLogger(__name__)
RETRY_SECONDS = 10.0


def _parse_template(idx: Indexes, name: str | None) -> WorkspaceTemplateSpec | None:
    body = ix.one(idx.templates, name) if name else None
    if body is None:
        return None
    return WorkspaceTemplateSpec.model_validate(body["spec"])


def _parse_manager(idx: Indexes, name: str | None) -> WorkspaceManagerSpec | None:
    body = ix.one(idx.managers, name) if name else None
    if body is None:
        return None
    return WorkspaceManagerSpec.model_validate(body["spec"])


def _status_patch(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """A merge patch turning `old` into `new` (keys that disappear are nulled)."""
    return {**{k: None for k in old if k not in new}, **new}


async def reconcile_workspace(rt: Runtime, idx: Indexes, namespace: str, name: str) -> None:
    key = (namespace, name)
    ws = ix.one(idx.workspaces, key)
    if ws is None or ws["metadata"].get("deletionTimestamp"):
        rt.phases.set(key, None)  # gone, or going: the garbage collector takes the children
        return
    meta = ws["metadata"]
    with reconciling("Workspace"):
        try:
            spec = WorkspaceSpec.model_validate(ws["spec"])
            template_name = spec.templateRef
            template = _parse_template(idx, template_name)
        except ValidationError as err:
            await _write_status(rt, ws, _invalid_status(ws, str(err)))
            return
        seen_pvc, seen_deploy = ix.pvc(idx, key), ix.deployment(idx, key)
        ref = WorkspaceRef(name=name, namespace=namespace, uid=meta["uid"])
        inputs = WorkspaceInputs(
            ref=ref,
            generation=meta["generation"],
            spec=spec,
            annotations=meta["annotations"],
            status=ws["status"],
            template_name=template_name,
            template=template,
            manager=_manager_for(idx, spec, template),
            pvc=seen_pvc.view if seen_pvc else None,
            deployment=seen_deploy.view if seen_deploy else None,
            pods=ix.pods(idx, key),
        )
        plan = plan_workspace(inputs)
        seen = {
            "PersistentVolumeClaim": seen_pvc,
            "Deployment": seen_deploy,
            "Service": ix.one(idx.workspace_services, key),
        }
        status = plan.status
        try:
            for obj in plan.apply:
                current = seen.get(obj["kind"])
                if current is None or not contains(current.body, obj):
                    await rt.call(rt.kube.apply, obj)
            for kind, child in plan.delete:
                api_version = "apps/v1" if kind == "Deployment" else "v1"
                await rt.call(rt.kube.delete, api_version, kind, namespace, child)
        except KubeError as err:
            # Tell the user (the usual cause is a quota or a storage class that cannot grow)
            # and try again later; nothing else is touched.
            status = _degraded_status(
                ws, plan.status, f"Applying the workspace failed: {err.message}"
            )
            _retry_later(rt, idx, key)
            await _write_status(rt, ws, status)
            raise
        await _write_status(rt, ws, status if plan.status_changed else None)
        for event in plan.events:
            await rt.call(rt.kube.event, ws, event.type, event.reason, event.message)
        rt.phases.set(key, status.get("phase"))


def _manager_for(
    idx: Indexes, spec: WorkspaceSpec, template: WorkspaceTemplateSpec | None
) -> WorkspaceManagerSpec | None:
    ref = spec.managerRef or (template.defaultManagerRef if template else None)
    return _parse_manager(idx, ref)


def _invalid_status(ws: dict[str, Any], message: str) -> dict[str, Any]:
    outcome = health.invalid(message)
    old = ws["status"]
    return {
        **{k: v for k, v in old.items() if k in ("owner", "pvcName")},
        "phase": outcome.phase.value,
        "conditions": merge_conditions(
            old.get("conditions") or [], list(outcome.conditions), ws["metadata"]["generation"]
        ),
        "observedGeneration": ws["metadata"]["generation"],
    }


def _degraded_status(ws: dict[str, Any], status: dict[str, Any], message: str) -> dict[str, Any]:
    conditions = [c for c in status["conditions"] if c["type"] != "Degraded"]
    degraded = {**next(c for c in status["conditions"] if c["type"] == "Degraded")}
    if degraded.get("status") != "True":
        degraded["lastTransitionTime"] = status["conditions"][0]["lastTransitionTime"]
    degraded.update(status="True", reason="ApplyFailed", message=message[:2000])
    return {**status, "phase": "Degraded", "conditions": [*conditions, degraded]}


async def _write_status(rt: Runtime, ws: dict[str, Any], status: dict[str, Any] | None) -> None:
    if status is None or status == ws["status"]:
        return  # written only when something changed
    meta = ws["metadata"]
    try:
        await rt.call(
            rt.kube.merge_patch,
            API_VERSION,
            "Workspace",
            meta["namespace"],
            meta["name"],
            {"status": _status_patch(ws["status"], status)},
            "status",
        )
    except KubeError as err:
        if err.status != 404:  # deleted meanwhile: nothing to report on
            raise


def _retry_later(rt: Runtime, idx: Indexes, key: tuple[str, str]) -> None:
    if key in rt.retries:
        return
    loop = asyncio.get_running_loop()

    def fire() -> None:
        rt.retries.pop(key, None)
        task = asyncio.ensure_future(trigger(rt, idx, *key))
        rt.tasks.add(task)
        task.add_done_callback(rt.tasks.discard)

    rt.retries[key] = loop.call_later(RETRY_SECONDS, fire)


async def trigger(rt: Runtime, idx: Indexes, namespace: str, name: str) -> None:
    rt.indexes = idx  # the same live objects every time; kept for the resync loop

    async def job() -> None:
        try:
            await reconcile_workspace(rt, idx, namespace, name)
        except KubeError as err:
            log.warning("reconciling workspace %s/%s failed: %s", namespace, name, err)
            _retry_later(rt, idx, (namespace, name))

    await rt.coalescer.run(("Workspace", namespace, name), job)


# --- handlers -----------------------------------------------------------------------------


@kopf.on.event(GROUP, VERSION, "workspaces")
async def workspace_event(**kw: Any) -> None:
    rt, idx, spec = runtime(kw["memo"]), Indexes.of(kw), kw["spec"]
    await trigger(rt, idx, kw["namespace"], kw["name"])
    if kw["type"] in (None, "ADDED", "DELETED") and spec.get("templateRef"):
        await sync_template(rt, idx, spec["templateRef"])


async def _child_event(kw: dict[str, Any]) -> None:
    """A child changed (or vanished): its workspace reconciles, which repairs drift."""
    await trigger(
        runtime(kw["memo"]), Indexes.of(kw), kw["namespace"], kw["labels"][WORKSPACE_LABEL]
    )


@kopf.on.event("v1", "persistentvolumeclaims", labels=CHILD)
async def pvc_event(**kw: Any) -> None:
    await _child_event(kw)


@kopf.on.event("apps", "v1", "deployments", labels=CHILD)
async def deployment_event(**kw: Any) -> None:
    await _child_event(kw)


@kopf.on.event("v1", "services", labels=CHILD)
async def service_event(**kw: Any) -> None:
    await _child_event(kw)


@kopf.on.event("v1", "pods", labels=CHILD)
async def pod_event(**kw: Any) -> None:
    await _child_event(kw)


@kopf.on.event(GROUP, VERSION, "workspacemanagers")
async def manager_event(**kw: Any) -> None:
    """A manager's domain or routing changed: every workspace's URL may change."""
    rt, idx = runtime(kw["memo"]), Indexes.of(kw)
    for namespace, ws_name in list(idx.workspaces):
        await trigger(rt, idx, namespace, ws_name)


async def resync_forever(rt: Runtime) -> None:
    """Level-based safety net: reconcile every workspace periodically even without events.

    (Not a Kopf timer: timers put a finalizer on every object, and a workspace must be
    deletable while the operator is down.)"""
    while True:
        await asyncio.sleep(rt.settings.resync_seconds)
        idx = rt.indexes
        if idx is None:
            continue
        for namespace, name in list(idx.workspaces):
            await trigger(rt, idx, namespace, name)
