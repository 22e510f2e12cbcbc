"""Specs are parsed once per version the watch brings, not once per reconciliation pass."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from jupyter_k8s.api.template import WorkspaceTemplateSpec
from jupyter_k8s.handlers.parsed import ParseCache


def test_the_same_indexed_spec_is_parsed_once_and_a_new_version_again() -> None:
    cache = ParseCache()
    spec = {"displayName": "Small", "defaultImage": "jupyter/base:1"}
    first = cache.spec(WorkspaceTemplateSpec, spec)
    assert cache.spec(WorkspaceTemplateSpec, spec) is first  # every pass until the next event
    newer = {
        "displayName": "Small, v2",
        "defaultImage": "jupyter/base:1",
    }  # the index holds a new dict after an event
    assert cache.spec(WorkspaceTemplateSpec, newer).displayName == "Small, v2"
    assert cache.spec(WorkspaceTemplateSpec, spec) is first


def test_an_invalid_spec_raises_every_time_and_the_cache_stays_bounded() -> None:
    cache = ParseCache(limit=3)
    bad = {"displayName": 5, "unknownField": True}
    for _ in range(2):
        with pytest.raises(ValidationError):
            cache.spec(WorkspaceTemplateSpec, bad)
    specs = [{"displayName": f"t{i}", "defaultImage": "jupyter/base:1"} for i in range(10)]
    for spec in specs:
        cache.spec(WorkspaceTemplateSpec, spec)
    assert len(cache) <= 3
