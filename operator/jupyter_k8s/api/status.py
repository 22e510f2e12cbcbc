"""The status fields every kind shares."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from .common import CONDITIONS_LIST, Condition, Model


class BaseStatus(Model):
    conditions: list[Condition] = Field(
        default_factory=list,
        max_length=16,
        description="Standard conditions; each changes only on a real transition.",
        json_schema_extra=CONDITIONS_LIST,
    )
    observedGeneration: int | None = Field(
        default=None,
        ge=0,
        description="The .metadata.generation this status was computed from. When it is lower "
        "than .metadata.generation, the operator has not processed the latest change yet.",
    )

    def wire(self) -> dict[str, Any]:
        """The status as the API server stores it (JSON types, unset fields left out), so it
        compares equal to what a watch event carries when nothing changed."""
        return self.model_dump(mode="json", exclude_none=True)
