"""Specs parsed once per event, not once per pass.

The indexes hold each object's spec as a plain dict, rebuilt when (and only when) a watch
event brings a new version. A parsed model is remembered against that very dict: every pass
until the next event reuses it, so a template shared by 500 workspaces is parsed once, not
once per pass of each of them (pydantic validation was a visible share of each pass). One
entry per object: a new version replaces the old one, and a deleted workspace's entry goes
with `forget` (templates, managers and profiles are few), so memory follows the number of
objects, not of events.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)


class ParseCache:
    def __init__(self) -> None:
        # (model, object key) -> (the indexed spec dict it was parsed from, the model)
        self._parsed: dict[tuple[type[BaseModel], Hashable], tuple[Any, BaseModel]] = {}

    def spec(self, model: type[M], key: Hashable, spec: Any) -> M:
        """`model.model_validate(spec)`, once per version of object `key` (raises as it does)."""
        entry = (model, key)
        hit = self._parsed.get(entry)
        if hit is not None and hit[0] is spec:
            return hit[1]  # type: ignore[return-value]
        parsed = model.model_validate(spec)
        self._parsed[entry] = (spec, parsed)
        return parsed

    def forget(self, model: type[BaseModel], key: Hashable) -> None:
        self._parsed.pop((model, key), None)

    def __len__(self) -> int:
        return len(self._parsed)
