"""The lazy deletion protection of templates: a finalizer only while workspaces use it."""

from __future__ import annotations

from dataclasses import dataclass

MAX_NAMED = 10  # how many holders an event lists before summarising


@dataclass(frozen=True)
class TemplatePlan:
    want_finalizer: bool
    workspace_count: int
    blocked_message: str | None  # set while a delete waits for workspaces


def plan_template(deleting: bool, holders: list[str]) -> TemplatePlan:
    """`holders` are the `<namespace>/<name>` of workspaces that reference the template."""
    holders = sorted(holders)
    message = None
    if deleting and holders:
        named = ", ".join(holders[:MAX_NAMED])
        more = f" and {len(holders) - MAX_NAMED} more" if len(holders) > MAX_NAMED else ""
        message = (
            f"Template is in use by {len(holders)} workspace(s): {named}{more}. It is deleted "
            "once they are gone: delete those workspaces first."
        )
    return TemplatePlan(bool(holders), len(holders), message)
