"""Pure parts of the authorization decision: which workspace a request is for, and caching."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

V = TypeVar("V")


@dataclass(frozen=True)
class Identity:
    """Who oauth2-proxy says the request comes from (never what the client says)."""

    user: str
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class Manager:
    domain: str
    mode: str  # "subdomain" | "path"


def target(host: str, uri: str, managers: list[Manager]) -> tuple[str, str] | None:
    """(namespace, name) of the workspace a request addresses, or None.

    subdomain: <name>--<namespace>.<domain>; path: <domain>/workspaces/<namespace>/<name>/...
    Workspace names cannot contain "--" (a CRD rule), so the first "--" splits unambiguously.
    """
    host = host.split(":", 1)[0].lower().rstrip(".")
    for m in managers:
        domain = m.domain.lower()
        if m.mode == "subdomain" and host.endswith("." + domain):
            label = host[: -len(domain) - 1]
            if "." in label or "--" not in label:
                continue
            name, namespace = label.split("--", 1)
            if name and namespace:
                return namespace, name
        elif m.mode == "path" and host == domain:
            parts = uri.split("?", 1)[0].split("/")
            # ["", "workspaces", ns, name, ...]
            if len(parts) >= 4 and parts[1] == "workspaces" and parts[2] and parts[3]:
                return parts[2], parts[3]
    return None


class TTLCache(Generic[V]):
    """A small bounded cache whose entries live `ttl` seconds."""

    def __init__(
        self, ttl: float, size: int = 10000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl, self.size, self.clock = ttl, size, clock
        self._data: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()

    def get(self, key: Hashable) -> V | None:
        hit = self._data.get(key)
        if hit is None:
            return None
        expires, value = hit
        if expires < self.clock():
            del self._data[key]
            return None
        return value

    def put(self, key: Hashable, value: V) -> None:
        self._data[key] = (self.clock() + self.ttl, value)
        self._data.move_to_end(key)
        while len(self._data) > self.size:
            self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)


def decision_key(who: Identity, namespace: str, name: str) -> tuple[str, tuple[str, ...], str, str]:
    """Decisions are cached per user *and* groups: never shared across users."""
    return (who.user, tuple(sorted(who.groups)), namespace, name)
