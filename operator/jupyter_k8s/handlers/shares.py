"""WorkspaceShares: bind their subjects to the workspace's connect role until they expire."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf
from pydantic import ValidationError

from ..api import API_VERSION, GROUP, VERSION
from ..api.admission import SHARE_WORKSPACE_UID_ANNOTATION
from ..api.share import WorkspaceShareSpec
from ..kube import KubeError
from ..metrics import reconciling
from ..reconcile.access import share_binding_name
from ..reconcile.children import WorkspaceRef
from ..reconcile.conditions import Cond, merge_conditions
from ..reconcile.drift import contains
from ..reconcile.share import plan_share
from . import indexes as ix
from .indexes import Indexes
from .runtime import Runtime, runtime

log = logging.getLogger(__name__)
RBAC = "rbac.authorization.k8s.io/v1"


async def reconcile_share(rt: Runtime, idx: Indexes, body: dict[str, Any]) -> None:
    meta = body["metadata"]
    namespace, name = meta["namespace"], meta["name"]
    with reconciling("WorkspaceShare"):
        try:
            spec = WorkspaceShareSpec.model_validate(body["spec"])
        except ValidationError as err:
            # The API server let it through; say what is wrong instead of failing silently.
            await rt.call(rt.kube.delete, RBAC, "RoleBinding", namespace, share_binding_name(name))
            await _write_status(rt, body, [Cond("Active", False, "InvalidSpec", str(err)[:1000])])
            return
        ws = ix.one(idx.workspaces, (namespace, spec.workspaceName))
        ref = WorkspaceRef(spec.workspaceName, namespace, ws["metadata"]["uid"]) if ws else None
        bound = (meta.get("annotations") or {}).get(SHARE_WORKSPACE_UID_ANNOTATION)
        plan = plan_share(name, meta["uid"], spec, ref, bound_uid=bound)
        binding_name = share_binding_name(name)
        existing = (
            {
                s.name: s
                for s in idx.workspace_rolebindings.get((namespace, spec.workspaceName)) or []
            }
            if ws
            else {}
        )
        if plan.binding is not None:
            current = existing.get(binding_name)
            if current is None or not contains(current.body, plan.binding):
                try:
                    await rt.call(rt.kube.apply, plan.binding)
                except KubeError as err:
                    if not 400 <= err.status < 500 or err.status in (409, 429):
                        raise  # worth retrying
                    # Refused for good (the API's message names the field): say so.
                    message = f"The RoleBinding granting this share was refused: {err.message}"
                    await _write_status(
                        rt, body, [Cond("Active", False, "BindingRefused", message[:1000])]
                    )
                    return
        else:
            await rt.call(rt.kube.delete, RBAC, "RoleBinding", namespace, binding_name)
        await _write_status(rt, body, [plan.active])
        if plan.recheck_in is not None:
            _recheck(rt, idx, body, plan.recheck_in)


async def _write_status(rt: Runtime, body: dict[str, Any], conditions: list[Cond]) -> None:
    meta = body["metadata"]
    old = body.get("status") or {}
    status = {
        "conditions": merge_conditions(
            old.get("conditions") or [], conditions, meta.get("generation")
        ),
        "observedGeneration": meta.get("generation"),
    }
    if status != old:
        await rt.call(
            rt.kube.merge_patch,
            API_VERSION,
            "WorkspaceShare",
            meta["namespace"],
            meta["name"],
            {"status": status},
            "status",
        )


def _recheck(rt: Runtime, idx: Indexes, body: dict[str, Any], delay: float) -> None:
    """Come back at expiry: access must stop without anyone touching the share."""
    key = ("WorkspaceShare", body["metadata"]["namespace"], body["metadata"]["name"])
    if key in rt.retries:
        rt.retries.pop(key).cancel()
    loop = asyncio.get_running_loop()

    def fire() -> None:
        rt.retries.pop(key, None)
        task = asyncio.ensure_future(
            trigger_share(rt, idx, body["metadata"]["namespace"], body["metadata"]["name"])
        )
        rt.tasks.add(task)
        task.add_done_callback(rt.tasks.discard)

    rt.retries[key] = loop.call_later(delay + 0.5, fire)


async def trigger_share(rt: Runtime, idx: Indexes, namespace: str, name: str) -> None:
    async def job() -> None:
        body = await rt.call(rt.kube.get, API_VERSION, "WorkspaceShare", namespace, name)
        if body is None:
            return
        try:
            await reconcile_share(rt, idx, body)
        except KubeError as err:
            log.warning("reconciling share %s/%s failed: %s", namespace, name, err)

    await rt.coalescer.run(("WorkspaceShare", namespace, name), job)


async def trigger_shares_of(rt: Runtime, idx: Indexes, namespace: str, workspace: str) -> None:
    for share in list(idx.shares_by_workspace.get((namespace, workspace)) or []):
        await trigger_share(rt, idx, namespace, share)


@kopf.on.event(GROUP, VERSION, "workspaceshares")
async def share_event(**kw: Any) -> None:
    rt = runtime(kw["memo"])
    if kw["type"] == "DELETED":
        # Its RoleBinding is owned by it, but access must end now, not whenever the garbage
        # collector gets to it.
        await rt.call(
            rt.kube.delete, RBAC, "RoleBinding", kw["namespace"], share_binding_name(kw["name"])
        )
        return
    await trigger_share(rt, Indexes.of(kw), kw["namespace"], kw["name"])
