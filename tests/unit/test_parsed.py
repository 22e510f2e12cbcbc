"""Specs are parsed once per version the watch brings, not once per reconciliation pass."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from jupyter_k8s.api.template import WorkspaceTemplateSpec
from jupyter_k8s.core.parsed import ParseCache

IMAGE = "jupyter/base:1"


def test_the_same_indexed_spec_is_parsed_once_and_a_new_version_again() -> None:
    cache = ParseCache()
    spec = {"displayName": "Small", "defaultImage": IMAGE}
    first = cache.spec(WorkspaceTemplateSpec, "small", spec)
    assert cache.spec(WorkspaceTemplateSpec, "small", spec) is first  # every pass until an event
    newer = {"displayName": "Small, v2", "defaultImage": IMAGE}  # the index's dict after one
    assert cache.spec(WorkspaceTemplateSpec, "small", newer).displayName == "Small, v2"
    assert len(cache) == 1, "one entry per object, not per version"
    cache.forget(WorkspaceTemplateSpec, "small")
    assert len(cache) == 0


def test_an_invalid_spec_raises_every_time() -> None:
    cache = ParseCache()
    bad = {"displayName": 5, "unknownField": True}
    for _ in range(2):
        with pytest.raises(ValidationError):
            cache.spec(WorkspaceTemplateSpec, "bad", bad)
