"""A template's pass: the lazy finalizer (present while workspaces use the template, gone
after) and its workspaceCount."""

from __future__ import annotations

import logging

from ..api import API_VERSION
from ..api.template import TEMPLATE_FINALIZER
from ..kube import KubeError
from ..metrics import reconciling
from ..reconcile.template import plan_template
from . import indexes as ix
from .indexes import Indexes
from .missed import live_workspace
from .runtime import Runtime
from .workqueue import Key

log = logging.getLogger(__name__)


async def reconcile_key(rt: Runtime, key: Key) -> None:
    """The work queue's entry for ("WorkspaceTemplate", name)."""
    await sync_template(rt, rt.idx, key[1])


async def sync_template(rt: Runtime, idx: Indexes, name: str) -> None:
    template = ix.one(idx.templates, name)
    if template is None:
        return
    meta = template["metadata"]
    deleting = bool(meta.get("deletionTimestamp"))
    holders = [
        ref
        for ref in idx.workspaces_by_template.get(name) or []
        if live_workspace(rt, idx, _key(ref))
    ]
    plan = plan_template(deleting, holders)
    has = TEMPLATE_FINALIZER in meta["finalizers"]
    with reconciling("WorkspaceTemplate"):
        if plan.want_finalizer != has and not (deleting and plan.want_finalizer):
            # Server-side apply: our manager owns just this finalizer entry, so applying the
            # list with or without it adds or removes ours and leaves everyone else's alone.
            await rt.call(
                rt.kube.apply,
                {
                    "apiVersion": API_VERSION,
                    "kind": "WorkspaceTemplate",
                    "metadata": {
                        "name": name,
                        "finalizers": [TEMPLATE_FINALIZER] if plan.want_finalizer else [],
                    },
                },
            )
        status = template["status"]
        if status.get("workspaceCount") != plan.workspace_count:
            try:
                await rt.call(
                    rt.kube.merge_patch,
                    API_VERSION,
                    "WorkspaceTemplate",
                    None,
                    name,
                    {
                        "status": {
                            "workspaceCount": plan.workspace_count,
                            "observedGeneration": meta["generation"],
                        }
                    },
                    "status",
                )
            except KubeError as err:
                if err.status != 404:
                    raise
        if plan.blocked_message:
            involved = {"apiVersion": API_VERSION, "kind": "WorkspaceTemplate", "metadata": meta}
            await rt.call(rt.kube.event, involved, "Warning", "TemplateInUse", plan.blocked_message)


def _key(ref: str) -> tuple[str, str]:
    namespace, name = ref.split("/", 1)
    return namespace, name
