"""List, then watch, one kind forever: the operator's lean informer for a workspace's children.

Kopf processes each event of each watched object through its per-object machinery (a worker,
wrapped bodies, handler matching, keyword arguments), which was most of the operator's CPU with
a workspace's children changing a dozen times each while it starts. The children need none of
that: an index kept current and the owning workspace's key queued. This module does only the
wire part, in a thread (blocking reads on the client's connection pool, JSON decoded there):

- a full list (paged) whose items are handed over at once, then a watch from its
  resourceVersion with bookmarks, resumed from the last version seen when the server closes it;
- "410 Gone" (the version is too old) and any other error event, including "Too large resource
  version" (a lagging watch cache answers 504), lead to a fresh list after a short wait: a
  watch never dies of a server's hiccup (Kopf's own watch does, and leaves the operator deaf).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import urllib3

from .client import Kube, KubeError

log = logging.getLogger(__name__)

Event = tuple[str, dict[str, Any]]  # ("ADDED" | "MODIFIED" | "DELETED", object)


class Relist(Exception):
    """The watch cannot go on from its version: list again."""


@dataclass
class ListWatch:
    kube: Kube
    path: str  # the collection's path: /api/v1/pods, /apis/apps/v1/namespaces/x/deployments
    label_selector: str
    on_listed: Callable[[list[dict[str, Any]]], None]  # every object there is, after each list
    on_events: Callable[[list[Event]], None]  # what changed since, in order, a batch at a time
    timeout_seconds: int = 300  # the server ends each watch after this; resumed at once
    max_backoff: float = 30.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self, name: str) -> None:
        self._thread = threading.Thread(target=self.run, name=name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        failures = 0
        version: str | None = None
        while not self._stop.is_set():
            try:
                if version is None:
                    version = self._list()
                began = time.monotonic()
                version = self._watch(version)
                failures = 0
                if time.monotonic() - began < 1.0:
                    self._stop.wait(1.0)  # a server that ends every watch at once: no busy loop
            except Relist as why:
                log.info("watch of %s: %s; listing again", self.path, why)
                version = None
                failures += 1
            except (KubeError, urllib3.exceptions.HTTPError, OSError, ValueError) as err:
                log.warning("watch of %s failed: %s; listing again", self.path, err)
                version = None
                failures += 1
            except Exception:  # a thread that ended would leave the operator deaf to the kind
                log.exception("watch of %s failed; listing again", self.path)
                version = None
                failures += 1
            if failures:
                # 0.5, 1, 2 ... s (jittered), so that many watches failing together do not
                # come back together; the first retry is quick (a 410 is routine).
                delay = min(0.5 * 2 ** (failures - 1), self.max_backoff)
                self._stop.wait(delay * random.uniform(0.5, 1.0))  # noqa: S311 - spread

    def _list(self) -> str:
        items: list[dict[str, Any]] = []
        token = ""
        while True:
            query = [("labelSelector", self.label_selector), ("limit", "500")]
            page = self.kube.get_path(self.path, query + ([("continue", token)] if token else []))
            items.extend(page.get("items") or [])
            meta = page.get("metadata") or {}
            token = meta.get("continue") or ""
            if not token:
                self.on_listed(items)
                return str(meta.get("resourceVersion") or "")

    def _watch(self, version: str) -> str:
        """One watch request, until the server ends it; the version to resume from."""
        query = [
            ("watch", "true"),
            ("allowWatchBookmarks", "true"),
            ("labelSelector", self.label_selector),
            ("resourceVersion", version),
            ("timeoutSeconds", str(self.timeout_seconds)),
        ]
        for batch in lines(self.kube.stream(self.path, query, self.timeout_seconds + 30)):
            events: list[Event] = []
            for line in batch:
                raw = orjson.loads(line)
                kind, obj = raw.get("type"), raw.get("object") or {}
                if kind == "ERROR":
                    raise Relist(f"{obj.get('code')} {obj.get('message', '')}".strip())
                version = (obj.get("metadata") or {}).get("resourceVersion") or version
                if kind in ("ADDED", "MODIFIED", "DELETED"):
                    events.append((kind, obj))
            if events:
                self.on_events(events)
            if self._stop.is_set():
                break
        return version


def lines(chunks: Iterator[bytes]) -> Iterator[list[bytes]]:
    """Complete lines of a newline-delimited stream, a list per arrival (a chunk may end
    mid-line, or hold many)."""
    rest = b""
    for chunk in chunks:
        rest += chunk
        *done, rest = rest.split(b"\n")
        found = [line for line in done if line.strip()]
        if found:
            yield found
    if rest.strip():
        yield [rest]
