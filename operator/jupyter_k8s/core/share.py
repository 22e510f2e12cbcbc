"""WorkspaceShares: bind their subjects to the workspace's connect role until they expire."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError

from ..api import API_VERSION, WORKSPACE_SHARE
from ..api.admission import SHARE_WORKSPACE_UID_ANNOTATION
from ..api.common import ConditionType
from ..api.share import WorkspaceShareSpec, WorkspaceShareStatus
from ..child_kinds import ROLE, ROLE_BINDING, ChildKind
from ..kube import KubeError
from ..metrics import reconciling
from ..reconcile.access import share_binding_name
from ..reconcile.children import WorkspaceRef
from ..reconcile.conditions import Cond, merge_conditions
from ..reconcile.drift import contains
from ..reconcile.share import plan_share
from . import indexes as ix
from .indexes import Indexes
from .runtime import Runtime
from .workqueue import Key

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
            await _write_status(
                rt, body, [Cond(ConditionType.ACTIVE, False, "InvalidSpec", str(err)[:1000])]
            )
            return
        ws = ix.one(idx.workspaces, (namespace, spec.workspaceName))
        ref = WorkspaceRef(spec.workspaceName, namespace, ws["metadata"]["uid"]) if ws else None
        bound = (meta.get("annotations") or {}).get(SHARE_WORKSPACE_UID_ANNOTATION)
        plan = plan_share(name, meta["uid"], spec, ref, bound_uid=bound)
        binding_name = share_binding_name(name)
        if plan.role is not None and not _has(idx, ROLE, namespace, spec.workspaceName, plan.role):
            await rt.call(rt.kube.apply, plan.role)
        if plan.binding is not None:
            if not _has(idx, ROLE_BINDING, namespace, spec.workspaceName, plan.binding):
                try:
                    await rt.call(rt.kube.apply, plan.binding)
                except KubeError as err:
                    if not 400 <= err.status < 500 or err.status in (409, 429):
                        raise  # worth retrying
                    # Refused for good (the API's message names the field): say so.
                    message = f"The RoleBinding granting this share was refused: {err.message}"
                    await _write_status(
                        rt,
                        body,
                        [Cond(ConditionType.ACTIVE, False, "BindingRefused", message[:1000])],
                    )
                    return
        else:
            await rt.call(rt.kube.delete, RBAC, "RoleBinding", namespace, binding_name)
        await _write_status(rt, body, [plan.active])
        if plan.recheck_in is not None:
            # Come back at expiry: access must stop without anyone touching the share.
            rt.queue.later((WORKSPACE_SHARE.kind, namespace, name), plan.recheck_in + 0.5)


def _has(
    idx: Indexes, kind: ChildKind, namespace: str, workspace: str, obj: dict[str, Any]
) -> bool:
    """Whether the workspace's `kind` child named as `obj` is there, holding what `obj` says."""
    name = obj["metadata"]["name"]
    found = [c for c in idx.of_kind(kind).get((namespace, workspace)) or [] if c.name == name]
    return bool(found) and contains(found[0].body, obj)


async def _write_status(rt: Runtime, body: dict[str, Any], conditions: list[Cond]) -> None:
    meta = body["metadata"]
    old = body.get("status") or {}
    status = WorkspaceShareStatus(
        conditions=merge_conditions(
            old.get("conditions") or [], conditions, meta.get("generation")
        ),
        observedGeneration=meta.get("generation"),
    ).wire()
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


async def reconcile_key(rt: Runtime, key: Key) -> None:
    """The work queue's entry for ("WorkspaceShare", namespace, name): read fresh, because
    shares are not indexed whole (only by workspace)."""
    body = await rt.call(rt.kube.get, API_VERSION, "WorkspaceShare", key[1], key[2])
    if body is not None:
        await reconcile_share(rt, rt.idx, body)
