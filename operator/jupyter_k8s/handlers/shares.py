"""Share events: the share's pass (core/share.py); a deleted share's grant ends at once."""

from __future__ import annotations

from typing import Any

import kopf

from ..api import GROUP, VERSION, WORKSPACE_SHARE
from ..core.runtime import context
from ..core.share import RBAC
from ..reconcile.access import share_binding_name


@kopf.on.event(GROUP, VERSION, "workspaceshares")
async def share_event(**kw: Any) -> None:
    rt, _ = context(kw)
    if kw["type"] == "DELETED":
        # Its RoleBinding is owned by it, but access must end now, not whenever the garbage
        # collector gets to it.
        await rt.call(
            rt.kube.delete, RBAC, "RoleBinding", kw["namespace"], share_binding_name(kw["name"])
        )
        return
    await rt.reconcile(WORKSPACE_SHARE, kw["namespace"], kw["name"])
