"""Specs parsed once per event, not once per pass.

The indexes hold each object's spec as a plain dict, rebuilt when (and only when) a watch
event brings a new version. A parsed model is remembered against that very dict: every pass
until the next event reuses it, so a template shared by 500 workspaces is parsed once, not
once per pass of each of them (pydantic validation was a visible share of each pass).
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)


class ParseCache:
    def __init__(self, limit: int = 8192) -> None:
        self.limit = limit
        # (model, id of the spec dict) -> (that dict, its parsed model). The dict is kept so
        # that its id cannot be reused by another object while the entry exists.
        self._parsed: dict[tuple[type[BaseModel], int], tuple[Any, BaseModel]] = {}

    def spec(self, model: type[M], spec: Any) -> M:
        """`model.model_validate(spec)`, once per spec object (raises as it does)."""
        key = (model, id(spec))
        hit = self._parsed.get(key)
        if hit is not None and hit[0] is spec:
            return hit[1]  # type: ignore[return-value]
        parsed = model.model_validate(spec)
        if len(self._parsed) >= self.limit:
            self._parsed.clear()  # superseded versions pile up otherwise; a miss only re-parses
        self._parsed[key] = (spec, parsed)
        return parsed

    def __len__(self) -> int:
        return len(self._parsed)
