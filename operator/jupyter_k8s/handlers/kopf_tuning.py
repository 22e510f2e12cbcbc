"""What Kopf does by default that this operator does not need, switched off.

Measured with `make bench BENCH_ARGS="--profile /tmp/op.prof"` (cProfile): for an operator of
event handlers and indexes only, Kopf still deep-copies every object of every event twice to
detect changes for handlers it does not have (a fifth of the operator's CPU), and writes one
log line per handler call. (A workspace's children, which change most, are not Kopf's at all:
core/watches.py.)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from typing import Any

import kopf

log = logging.getLogger(__name__)


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


def tune(settings: kopf.OperatorSettings) -> None:
    settings.persistence.diffbase_storage = NoDiffBase()


def quiet_handler_logs() -> None:
    """No "Handler 'pvc_event' succeeded." for every event of every child (noise that cost
    CPU); warnings and errors of handlers still show. Not with --verbose."""
    logging.getLogger("kopf.objects").setLevel(logging.WARNING)


def watches_survive_errors(retry_after: float = 1.0) -> None:
    """Kopf ends a kind's watch for good when the server sends an error event other than
    410 Gone (a lagging watch cache's 504 "Too large resource version", seen under a burst of
    a thousand workspaces), or a request keeps failing: the operator would stay deaf to that
    kind until restarted. Kopf's stream is wrapped so that it starts again (a fresh list)."""
    from kopf._cogs.clients import errors, watching  # Kopf has no public hook for this

    original = watching.infinite_watch
    if getattr(original, "survives_errors", False):
        return

    async def infinite_watch(**kwargs: Any) -> AsyncIterator[Any]:
        while True:
            try:
                async for event in original(**kwargs):
                    yield event
                return
            except (watching.WatchingError, errors.APIError) as err:
                log.warning("the watch of %s failed (%s); listing again", kwargs["resource"], err)
                await asyncio.sleep(retry_after)

    infinite_watch.survives_errors = True  # type: ignore[attr-defined]
    watching.infinite_watch = infinite_watch
