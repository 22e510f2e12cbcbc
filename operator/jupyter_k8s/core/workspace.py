"""One workspace's pass: read what the indexes hold, plan (reconcile/workspace.py), apply
the children, write the status. The work queue runs it; core/watches.py says when."""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

from pydantic import ValidationError

from ..api import API_VERSION, WORKSPACE
from ..api.common import Condition, ConditionType
from ..api.execution_profile import WorkspaceExecutionProfileSpec
from ..api.manager import WorkspaceManagerSpec
from ..api.template import WorkspaceTemplateSpec
from ..api.workspace import Phase, WorkspaceSpec, WorkspaceStatus
from ..child_kinds import OPTIONAL_KINDS
from ..kube import KubeError
from ..metrics import reconciling
from ..proxy_secret import workspace_secret
from ..reconcile import health
from ..reconcile.children import SshKeys, WorkspaceRef
from ..reconcile.conditions import merge_conditions, now_iso, only_messages_differ
from ..reconcile.resolve import resolve
from ..reconcile.workspace import ManagerState, WorkspaceInputs, plan_workspace
from ..ssh_keys import host_key, private_openssh, public_openssh, user_ca
from . import indexes as ix
from .indexes import Indexes
from .missed import check_still_there, live_workspace
from .runtime import Runtime
from .slots import FIRST, UPDATE
from .workqueue import Key

log = logging.getLogger(__name__)
# Seconds a workspace pass may take once it has its slot: a few round trips, each bounded by
# the connection pool's 30 s socket timeout (kube/pool.py), usually well under a second.
PASS_TIMEOUT = 120.0
# Seconds a status whose only news is a condition's message may wait for a real change (see
# `_settling`): what `kubectl get` shows of a starting workspace's progress lags by at most this.
MESSAGE_SETTLE = 2.0


@functools.lru_cache(maxsize=16384)
def ssh_keys(key: bytes, namespace: str, name: str, uid: str) -> SshKeys:
    """Derived once per workspace, not per pass (an ed25519 derivation and two encodings)."""
    return SshKeys(
        host_key=private_openssh(host_key(key, namespace, name, uid)),
        user_ca=public_openssh(user_ca(key)),
    )


def _template(rt: Runtime, idx: Indexes, name: str | None) -> WorkspaceTemplateSpec | None:
    body = ix.one(idx.templates, name) if name else None
    return rt.parsed.spec(WorkspaceTemplateSpec, name, body["spec"]) if body else None


def _manager_state(rt: Runtime, idx: Indexes, name: str | None) -> ManagerState | None:
    if not name:
        return None
    body = ix.one(idx.managers, name)
    if body is None:
        return ManagerState(name, None)
    ready = next(
        (c for c in body["status"].get("conditions") or [] if c.get("type") == ConditionType.READY),
        None,
    )
    return ManagerState(
        name,
        rt.parsed.spec(WorkspaceManagerSpec, name, body["spec"]),
        # Not evaluated yet counts as ready: the manager's own reconciliation follows shortly.
        ready=ready is None or ready.get("status") == "True",
        message=(ready or {}).get("message", ""),
    )


def _profile(rt: Runtime, idx: Indexes, name: str | None) -> WorkspaceExecutionProfileSpec | None:
    body = ix.one(idx.profiles, name) if name else None
    return rt.parsed.spec(WorkspaceExecutionProfileSpec, name, body["spec"]) if body else None


def _status_patch(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """A merge patch turning `old` into `new` (keys that disappear are nulled)."""
    return {**{k: None for k in old if k not in new}, **new}


async def reconcile_workspace(rt: Runtime, idx: Indexes, namespace: str, name: str) -> None:
    key = (namespace, name)
    ws = live_workspace(rt, idx, key)
    if ws is None or ws["metadata"].get("deletionTimestamp"):
        rt.phases.set(key, None)  # gone, or going: the garbage collector takes the children
        rt.settling.pop(key, None)
        rt.applier.forget(key)
        rt.parsed.forget(WorkspaceSpec, key)
        if ws is not None:
            rt.statuses.forget(ws["metadata"]["uid"])
        return
    meta = ws["metadata"]
    ws = {**ws, "status": rt.statuses.latest(ws)}
    with reconciling("Workspace"):
        try:
            spec = rt.parsed.spec(WorkspaceSpec, key, ws["spec"])
            template = _template(rt, idx, spec.templateRef)
        except ValidationError as err:
            await _write_status(rt, ws, _invalid_status(ws, str(err)).wire())
            return
        refs = resolve(spec, template)
        children = idx.children(key)
        seen_pvc, seen_deploy = ix.pvc(idx, key), ix.deployment(idx, key)
        pods = ix.pods(idx, key)
        plan = plan_workspace(
            WorkspaceInputs(
                ref=WorkspaceRef(name=name, namespace=namespace, uid=meta["uid"]),
                generation=meta["generation"],
                spec=spec,
                annotations=meta["annotations"],
                status=ws["status"],
                template_name=spec.templateRef,
                template=template,
                manager=_manager_state(rt, idx, refs.manager_ref),
                profile_name=refs.profile_ref,
                profile=_profile(rt, idx, refs.profile_ref),
                pvc=seen_pvc.view if seen_pvc else None,
                deployment=seen_deploy.view if seen_deploy else None,
                pods=pods,
                node_faults={
                    p.node: fault
                    for p in pods
                    if p.node and (fault := ix.one(idx.node_faults, p.node))
                },
                proxy_secret=workspace_secret(rt.proxy_key, namespace, name, meta["uid"])
                if rt.proxy_key
                else None,
                ssh=ssh_keys(rt.proxy_key, namespace, name, meta["uid"])
                if rt.proxy_key and rt.settings.ssh_server
                else None,
                existing=frozenset(
                    k for k, c in children.items() if k[0] in OPTIONAL_KINDS and not c.share_owned
                ),
                shared=bool(idx.shares_by_workspace.get(key)),
            )
        )
        try:
            await rt.applier.apply(key, plan.apply, children)
            await rt.applier.delete(namespace, plan.delete)
        except KubeError as err:
            if err.namespace_terminating:
                # Its namespace is being deleted, the workspace with it: nothing to recreate,
                # nothing to retry (a deleted namespace would otherwise retry every child).
                log.debug("%s/%s: namespace is being deleted; not applying", namespace, name)
                return
            # Tell the user (the usual causes: a quota, a storage class that cannot grow)
            # and try again later; nothing else is touched.
            failed = _degraded_status(
                plan.status, ws["status"], f"Applying the workspace failed: {err.message}"
            )
            await _write_status(rt, ws, failed.wire())
            raise  # the work queue comes back with backoff
        if not _settling(rt, key, ws["status"], plan.wire):
            await _write_status(rt, ws, plan.wire)
        if plan.events:
            # Best effort, and nothing a pass decides on: posted beside the queue, so that
            # the workspace's next pass (its Deployment became available) does not wait for
            # them behind hundreds of other workspaces' writes.
            rt.post_events(ws, [(e.type, e.reason, e.message) for e in plan.events])
        rt.phases.set(key, plan.status.phase)


def _settling(rt: Runtime, key: tuple[str, str], old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether the new status waits: one whose only news is a condition's message (a starting
    workspace's volume bound, its pod scheduled, its pod running) waits up to MESSAGE_SETTLE
    seconds for the next real change (most often Available), which then writes both at once.
    A start used to write 3-4 statuses (each a request and a watch event) to say what a person
    rarely reads within seconds. True: not written now; a pass comes back by the deadline.
    False (and no deadline kept): a real change, the deadline passed, or nothing new at all."""
    if not only_messages_differ(old, new):
        rt.settling.pop(key, None)
        return False
    now = asyncio.get_running_loop().time()
    since = rt.settling.setdefault(key, now)
    if now - since >= MESSAGE_SETTLE:
        rt.settling.pop(key, None)
        return False
    rt.queue.later((WORKSPACE.kind, *key), since + MESSAGE_SETTLE - now)
    return True


def _invalid_status(ws: dict[str, Any], message: str) -> WorkspaceStatus:
    outcome = health.invalid(message)
    old = ws["status"]
    return WorkspaceStatus(
        owner=old.get("owner"),
        pvcName=old.get("pvcName"),
        phase=outcome.phase,
        conditions=merge_conditions(
            old.get("conditions") or [], list(outcome.conditions), ws["metadata"]["generation"]
        ),
        observedGeneration=ws["metadata"]["generation"],
    )


def _degraded_status(
    status: WorkspaceStatus, stored: dict[str, Any], message: str
) -> WorkspaceStatus:
    """`status` with Degraded=True ApplyFailed. The transition time is the stored one while the
    stored status already says so: a retry every few seconds must not rewrite the status."""
    was: dict[str, Any] = next(
        (c for c in stored.get("conditions") or [] if c["type"] == ConditionType.DEGRADED), {}
    )
    since = was.get("lastTransitionTime") if was.get("status") == "True" else None
    conditions = [
        Condition(
            **{
                **cond.model_dump(),
                "status": "True",
                "reason": "ApplyFailed",
                "message": message[:2000],
                "lastTransitionTime": since or now_iso(),
            }
        )
        if cond.type == ConditionType.DEGRADED
        else cond
        for cond in status.conditions
    ]
    return status.model_copy(update={"phase": Phase.DEGRADED.value, "conditions": conditions})


async def _write_status(rt: Runtime, ws: dict[str, Any], wire: dict[str, Any]) -> None:
    """Writes `wire` (a status as stored) as the workspace's status, if it says anything new."""
    if wire == ws["status"]:
        return  # written only when something changed
    meta = ws["metadata"]
    gone = False
    rt.statuses.begin(meta["uid"])
    try:
        done = await rt.call(
            rt.kube.merge_patch,
            API_VERSION,
            "Workspace",
            meta["namespace"],
            meta["name"],
            {"status": _status_patch(ws["status"], wire)},
            "status",
            metadata_only=True,
        )
        rt.statuses.remember(meta["uid"], int(done["metadata"]["resourceVersion"]), wire)
    except KubeError as err:
        if err.status != 404:
            raise
        gone = True
    finally:
        rt.statuses.end(meta["uid"])  # before any other await: held events wait for it
    if gone and rt.indexes is not None:
        # Deleted meanwhile: nothing to report on. If its DELETED event never comes (a watch
        # that reconnected), it is forgotten now rather than reconciled forever.
        await check_still_there(rt, rt.indexes, (meta["namespace"], meta["name"]))


async def reconcile_key(rt: Runtime, key: Key) -> None:
    """The work queue's entry for ("Workspace", namespace, name): a pass when a slot is free
    (core/slots.py), before the first passes of others if its Deployment exists.

    A pass that has its slot ends within PASS_TIMEOUT: one that never returned would hold its
    key as running, and every later change of the workspace would fold into it without a word.
    Timed out, it fails like any pass (logged where it waited, retried with backoff); cutting
    a pass short is safe, as every pass plans from scratch."""
    first = ix.deployment(rt.idx, (key[1], key[2])) is None
    async with rt.slots.slot(FIRST if first else UPDATE), asyncio.timeout(PASS_TIMEOUT):
        await reconcile_workspace(rt, rt.idx, key[1], key[2])
