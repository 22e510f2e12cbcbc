"""Pure parts of the authorization decision: which workspace a request is for, and caching."""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar
from urllib.parse import unquote

from ..reconcile.access import ALL_AUTHENTICATED

V = TypeVar("V")


@dataclass(frozen=True)
class Identity:
    """Who oauth2-proxy says the request comes from (never what the client says)."""

    user: str
    groups: tuple[str, ...] = ()

    def rbac_groups(self) -> list[str]:
        """The groups RBAC sees: oauth2-proxy authenticated this user, so they are in
        system:authenticated, as the API server puts anyone it authenticates (what Public binds)."""
        return [*self.groups, ALL_AUTHENTICATED]


SYSTEM_PREFIX = "system:"


def identity_from(
    user: str, groups: list[str], username_prefix: str = "", groups_prefix: str = ""
) -> Identity | None:
    """The identity RBAC sees for what the IdP said, mapped exactly as the API server's own
    `--oidc-username-prefix` / `--oidc-groups-prefix` would map it. An IdP cannot claim a
    Kubernetes system identity: `system:` groups are dropped, and a `system:` user is refused."""
    name = f"{username_prefix}{user}"
    if not user or name.startswith(SYSTEM_PREFIX):
        return None
    mapped = tuple(
        f"{groups_prefix}{g}" for g in groups if g and not g.strip().startswith(SYSTEM_PREFIX)
    )
    return Identity(name, tuple(g for g in mapped if not g.startswith(SYSTEM_PREFIX)))


class AmbiguousPath(ValueError):
    """A path a proxy could normalise to another workspace than the one it names."""


_ENCODED_SEPARATOR = re.compile(r"%(2f|5c)", re.IGNORECASE)


def check_path(uri: str) -> None:
    """Refuse dot segments, encoded or back slashes and empty segments: the decision must be
    for the very workspace the proxy routes to, whatever normalisation it applies."""
    path = uri.split("?", 1)[0]
    decoded = unquote(path)
    if _ENCODED_SEPARATOR.search(path) or "\\" in decoded or "//" in path:
        raise AmbiguousPath(path)
    if any(seg in (".", "..") for seg in decoded.split("/")):
        raise AmbiguousPath(path)


@dataclass(frozen=True)
class Manager:
    domain: str
    mode: str  # "subdomain" | "path"


def target(host: str, uri: str, managers: list[Manager]) -> tuple[str, str] | None:
    """(namespace, name) of the workspace a request addresses, or None.

    subdomain: <name>--<namespace>.<domain>; path: <domain>/workspaces/<namespace>/<name>/...
    Workspace names cannot contain "--" (a CRD rule), so the first "--" splits unambiguously.
    Raises AmbiguousPath for a path-mode path that normalises differently (answer 400).
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
            check_path(uri)
            parts = uri.split("?", 1)[0].split("/")
            # ["", "workspaces", ns, name, ...]
            if len(parts) >= 4 and parts[1] == "workspaces" and parts[2] and parts[3]:
                return parts[2], parts[3]
    return None


def route_prefix(host: str, managers: list[Manager], namespace: str, name: str) -> str:
    """The path a workspace is served under on `host`: "/" or /workspaces/<ns>/<name>/."""
    host = host.split(":", 1)[0].lower().rstrip(".")
    for m in managers:
        if m.mode == "path" and host == m.domain.lower():
            return f"/workspaces/{namespace}/{name}/"
    return "/"


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
