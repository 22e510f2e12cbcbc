"""What a WorkspaceExecutionProfile's status says: whether its spec is usable and how many
workspaces run as it (directly, or through their template's default)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from ..api.common import ConditionType
from ..api.execution_profile import (
    WorkspaceExecutionProfileSpec,
    WorkspaceExecutionProfileStatus,
)
from .conditions import Cond, merge_conditions


def effective_profile(ws_spec: Mapping[str, Any], templates: Mapping[str, Any]) -> str | None:
    """The profile a workspace runs as: its own reference, else its template's default."""
    ref = ws_spec.get("executionProfileRef")
    if ref:
        return str(ref)
    template = templates.get(ws_spec.get("templateRef") or "")
    default = ((template or {}).get("spec") or {}).get("defaultExecutionProfileRef")
    return str(default) if default else None


def profile_users(
    name: str, workspaces: Iterable[Mapping[str, Any]], templates: Mapping[str, Any]
) -> int:
    """How many workspaces (not being deleted) run as profile `name`."""
    return sum(
        1
        for ws in workspaces
        if not ws["metadata"].get("deletionTimestamp")
        and effective_profile(ws.get("spec") or {}, templates) == name
    )


def validity(spec: Mapping[str, Any]) -> Cond:
    try:
        WorkspaceExecutionProfileSpec.model_validate(dict(spec))
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in ("spec", *first["loc"]))
        return Cond(ConditionType.VALID, False, "InvalidSpec", f"{where}: {first['msg']}")
    return Cond(ConditionType.VALID, True, "Accepted", "The profile can be used by workspaces.")


def profile_status(
    spec: Mapping[str, Any],
    generation: int,
    old: Mapping[str, Any],
    users: int,
    now: str | None = None,
) -> WorkspaceExecutionProfileStatus:
    """The status to store (conditions keep their transition time while unchanged)."""
    return WorkspaceExecutionProfileStatus(
        workspaceCount=users,
        observedGeneration=generation,
        conditions=merge_conditions(
            list(old.get("conditions") or []), [validity(spec)], generation, now
        ),
    )


def status_changed(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether `new` says something `old` does not (timestamps alone are not news)."""

    def essence(status: Mapping[str, Any]) -> Any:
        conds = [
            (c.get("type"), c.get("status"), c.get("reason"), c.get("message"))
            for c in status.get("conditions") or []
        ]
        return (status.get("workspaceCount"), status.get("observedGeneration"), conds)

    return bool(essence(old) != essence(new))
