"""Where a workspace is reached: its URL and the base path the app serves under."""

from __future__ import annotations

from dataclasses import dataclass

from ..api.manager import RoutingMode, WorkspaceManagerSpec


@dataclass(frozen=True)
class Route:
    host: str | None
    base_url: str  # path prefix the app serves under, "/" or "/workspaces/<ns>/<name>/"
    url: str | None


def route(name: str, namespace: str, manager: WorkspaceManagerSpec | None) -> Route:
    if manager is None:
        # No manager: reachable with `kubectl port-forward` only, at the root path.
        return Route(host=None, base_url="/", url=None)
    # Always https: the proxy terminates TLS with routing.tlsSecretName or its default
    # certificate (guided mode installs one); workspaces are never served in the clear.
    scheme = "https"
    if manager.routing.mode == RoutingMode.PATH:
        base = f"/workspaces/{namespace}/{name}/"
        return Route(host=manager.domain, base_url=base, url=f"{scheme}://{manager.domain}{base}")
    host = f"{name}--{namespace}.{manager.domain}"
    return Route(host=host, base_url="/", url=f"{scheme}://{host}/")
