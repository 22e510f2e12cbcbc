"""A WorkspaceShare's decision: grant (a RoleBinding) or not, and its Active condition."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..api.common import ConditionType
from ..api.share import WorkspaceShareSpec
from .access import connect_role, share_binding
from .children import WorkspaceRef
from .conditions import Cond
from .drift import stamped


@dataclass(frozen=True)
class SharePlan:
    binding: dict[str, Any] | None  # None: no grant (remove any)
    active: Cond
    recheck_in: float | None  # seconds until the share expires
    # The workspace's connect Role the binding names: made with the grant, since the workspace
    # makes it only once shared (reconcile/access.py) and the share must work at once.
    role: dict[str, Any] | None = None


def plan_share(
    share_name: str,
    share_uid: str,
    spec: WorkspaceShareSpec,
    workspace: WorkspaceRef | None,
    now: datetime | None = None,
    bound_uid: str | None = None,
) -> SharePlan:
    """`bound_uid` is the UID of the workspace the share was admitted for (stamped at
    admission): a share grants that workspace only, never a later one with the same name."""
    now = now or datetime.now(UTC)
    if spec.expiresAt is not None:
        expires = spec.expiresAt if spec.expiresAt.tzinfo else spec.expiresAt.replace(tzinfo=UTC)
        if expires <= now:
            return SharePlan(
                None,
                Cond(ConditionType.ACTIVE, False, "Expired", f"Expired at {expires.isoformat()}."),
                None,
            )
        recheck: float | None = (expires - now).total_seconds()
        until = f" until {expires.isoformat()}"
    else:
        recheck, until = None, ""
    if workspace is None:
        return SharePlan(
            None,
            Cond(
                ConditionType.ACTIVE,
                False,
                "WorkspaceNotFound",
                f'Workspace "{spec.workspaceName}" does not exist in this namespace.',
            ),
            recheck,
        )
    if bound_uid != workspace.uid:
        reason, message = (
            (
                "WorkspaceReplaced",
                f'Workspace "{spec.workspaceName}" was deleted and created again since this '
                "share was made; its owner must share the new workspace anew.",
            )
            if bound_uid
            else (
                "NotBound",
                "This share was not admitted for a particular workspace (it predates "
                "jupyter-k8s' share admission); delete it and create it again.",
            )
        )
        return SharePlan(None, Cond(ConditionType.ACTIVE, False, reason, message), recheck)
    who = ", ".join(f"{s.kind} {s.name}" for s in spec.subjects or [])
    return SharePlan(
        stamped(share_binding(workspace, share_name, share_uid, spec)),
        Cond(
            ConditionType.ACTIVE,
            True,
            "Granted",
            f"{who} may connect to {spec.workspaceName}{until}.",
        ),
        recheck,
        role=stamped(connect_role(workspace)),
    )
