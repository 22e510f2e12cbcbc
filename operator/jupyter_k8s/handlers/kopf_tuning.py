"""What Kopf does by default that this operator does not need, switched off.

Measured with `make bench BENCH_ARGS="--profile /tmp/op.prof"` (cProfile): for an operator of
event handlers and indexes only, Kopf still deep-copies every object of every event twice to
detect changes for handlers it does not have (a fifth of the operator's CPU), and writes one
log line per handler call. And it filters handlers' labels on the client only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import kopf


class NoDiffBase(kopf.DiffBaseStorage):
    """No "last handled configuration": it only serves on.create/update/field handlers, and
    this operator reconciles from events (level-based) instead. Nothing is built, stored or
    read; Kopf then computes no diff either."""

    def build(
        self, *, body: kopf.Body, extra_fields: Iterable[Any] | None = None
    ) -> kopf.BodyEssence:
        return None  # type: ignore[return-value]  # Kopf checks for None before using it

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        return None

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        return None


def label_selectors(registry: kopf.OperatorRegistry) -> dict[Any, str]:
    """For each resource whose every handler (index or event) wants only objects that carry
    some labels: those labels, as its watch's server-side selector. Kopf matches handlers'
    labels on the client: without this the operator would receive every pod, secret and role
    of the cluster and drop all but the workspaces' children."""
    wanted: dict[Any, list[Any]] = {}
    for part in (registry._indexing, registry._watching, registry._changing, registry._spawning):
        for handler in part.get_all_handlers():
            wanted.setdefault(handler.selector, []).append(handler.labels)
    out: dict[Any, str] = {}
    for selector, labels in wanted.items():
        if not all(labels) or any(v is not kopf.PRESENT for one in labels for v in one.values()):
            continue  # a handler wants objects without them, or labels by value: client side
        common = set.intersection(*(set(one) for one in labels))
        if common:
            out[selector] = ",".join(sorted(common))
    return out


def tune(settings: kopf.OperatorSettings, registry: kopf.OperatorRegistry | None = None) -> None:
    settings.persistence.diffbase_storage = NoDiffBase()
    found = label_selectors(registry or kopf.get_default_registry())
    for selector, labels in found.items():
        settings.watching.label_selectors[selector] = labels


def quiet_handler_logs() -> None:
    """No "Handler 'pvc_event' succeeded." for every event of every child (noise that cost
    CPU); warnings and errors of handlers still show. Not with --verbose."""
    logging.getLogger("kopf.objects").setLevel(logging.WARNING)
