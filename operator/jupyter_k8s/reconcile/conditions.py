"""metav1.Condition bookkeeping: a condition's timestamp moves only on a real transition."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..api.common import ConditionType


@dataclass(frozen=True)
class Cond:
    type: ConditionType
    status: bool | None  # None -> "Unknown"
    reason: str
    message: str

    @property
    def status_str(self) -> str:
        return "Unknown" if self.status is None else str(self.status)


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_conditions(
    old: list[dict[str, Any]], new: list[Cond], generation: int | None, now: str | None = None
) -> list[dict[str, Any]]:
    """The condition list to store: `new` in order, keeping lastTransitionTime when the status
    did not change (reason/message updates are not transitions)."""
    previous = {c.get("type"): c for c in old}
    stamp = now or now_iso()
    out = []
    for cond in new:
        before = previous.get(cond.type)
        changed = before is None or before.get("status") != cond.status_str
        entry: dict[str, Any] = {
            "type": cond.type,
            "status": cond.status_str,
            "reason": cond.reason,
            "message": cond.message,
            "lastTransitionTime": stamp if changed else before.get("lastTransitionTime", stamp),  # type: ignore[union-attr]
        }
        if generation is not None:
            entry["observedGeneration"] = generation
        out.append(entry)
    return out


def find(conditions: list[dict[str, Any]], type_: str) -> dict[str, Any] | None:
    return next((c for c in conditions if c.get("type") == type_), None)
