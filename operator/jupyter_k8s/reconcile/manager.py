"""Is a WorkspaceManager usable? Ready when everything it references exists."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..api.manager import WorkspaceManagerSpec

# http://<service>.<namespace>.svc[.cluster.local][:port]/...
_SERVICE_URL = re.compile(
    r"^https?://([a-z0-9-]+)\.([a-z0-9-]+)\.svc(\.cluster\.local)?(:\d+)?(/|$)"
)


@dataclass(frozen=True)
class References:
    ingress_class: str | None
    services: list[tuple[str, str]]  # (namespace, name) of in-cluster endpoints


def references(spec: WorkspaceManagerSpec) -> References:
    urls = [spec.authentication.authUrl, spec.authorization.url]
    services = []
    for url in urls:
        match = _SERVICE_URL.match(url or "")
        if match:
            services.append((match.group(2), match.group(1)))
    return References(spec.routing.ingressClassName, services)


def readiness(
    refs: References, ingress_class_found: bool, services_found: dict[tuple[str, str], bool]
) -> tuple[bool, str]:
    missing = []
    if refs.ingress_class and not ingress_class_found:
        missing.append(f'IngressClass "{refs.ingress_class}"')
    missing += [f"Service {ns}/{name}" for (ns, name), ok in services_found.items() if not ok]
    if missing:
        return (
            False,
            f"missing: {', '.join(missing)}; install the proxy and auth it points at, or fix the spec",
        )
    return True, "Everything this manager references exists."
