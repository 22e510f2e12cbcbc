"""metav1.Condition bookkeeping: a condition's timestamp moves only on a real transition."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..api.common import Condition, ConditionType


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
    old: Sequence[Mapping[str, Any]],
    new: list[Cond],
    generation: int | None,
    now: str | None = None,
) -> list[Condition]:
    """The conditions to store: `new` in order, keeping the stored lastTransitionTime when the
    status did not change (reason/message updates are not transitions). `old` is the stored
    list as the API server returns it."""
    previous = {c.get("type"): c for c in old}
    stamp = now or now_iso()
    out = []
    for cond in new:
        before = previous.get(cond.type)
        changed = before is None or before.get("status") != cond.status_str
        out.append(
            Condition(
                type=cond.type,
                status=cond.status_str,
                # The schema's bounds: a long message is cut, never a refused status write.
                reason=cond.reason[:1024],
                message=cond.message[:32768],
                lastTransitionTime=stamp if changed else before.get("lastTransitionTime") or stamp,  # type: ignore[union-attr]
                observedGeneration=generation,
            )
        )
    return out


def only_messages_differ(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether two statuses (as stored) differ, and in nothing but their conditions' messages:
    no phase, reason, status or generation changed (a starting workspace's progress: its
    volume bound, its pod scheduled, its pod running)."""
    if old == new:
        return False
    return _without_messages(old) == _without_messages(new)


def _without_messages(status: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **status,
        "conditions": [
            {k: v for k, v in c.items() if k != "message"} for c in status.get("conditions") or []
        ],
    }
