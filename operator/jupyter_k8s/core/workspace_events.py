"""What a workspace's own event sets off (its watch: core/watches.py): its pass, its template's
count, the profiles' counts, and shares written before it existed."""

from __future__ import annotations

from typing import Any

from ..api import WORKSPACE, WORKSPACE_SHARE
from .runtime import Runtime

# None: seen in the first list (as Kopf names an object found when it starts).
EventType = str | None


def sets_off_a_pass(rt: Runtime, type_: EventType, obj: dict[str, Any], changed: bool) -> bool:
    """Whether the event is news to the operator: not the echo of our own status write, and
    not an event that changed nothing a pass reads."""
    echo = rt.statuses.delivered(obj["metadata"])
    if type_ != "MODIFIED":
        return True
    return changed and not echo


async def workspace_changed(
    rt: Runtime, type_: EventType, namespace: str, name: str, template: str | None
) -> None:
    await rt.wait_ready()  # the indexes the passes read are all filled
    idx = rt.idx
    # The template's count first: the workspace's pass may wait for a slot (core/slots.py),
    # and counts asked for while hundreds are created at once then fold into one pass.
    if type_ in (None, "ADDED", "DELETED") and template:
        await rt.template_used(template)
    await rt.reconcile(WORKSPACE, namespace, name)
    # Counting is cheap and writes only on a change: any event may have moved a workspace
    # onto another profile (its reference edited) or off one (deleted).
    rt.recount_profiles()
    if type_ in (None, "ADDED"):
        # Shares written before their workspace existed can now grant.
        for share in list(idx.shares_by_workspace.get((namespace, name)) or []):
            await rt.reconcile(WORKSPACE_SHARE, namespace, share)
