"""The route (an Ingress) a WorkspaceManager asks for, per workspace."""

from __future__ import annotations

from typing import Any

from ..api.manager import RoutingMode, WorkspaceManagerSpec
from ..names import workspace_child
from .apps import PORT_NAME
from .children import WorkspaceRef
from .routing import route

TRAEFIK_MIDDLEWARES = "traefik.ingress.kubernetes.io/router.middlewares"
NGINX_AUTH_URL = "nginx.ingress.kubernetes.io/auth-url"
NGINX_SIGN_IN = "nginx.ingress.kubernetes.io/auth-signin"


def proxy_annotations(manager: WorkspaceManagerSpec) -> dict[str, str]:
    """The forward-auth wiring the proxy needs, from the manager's authentication settings."""
    auth = manager.authentication
    out: dict[str, str] = {}
    if auth.middlewares:
        out[TRAEFIK_MIDDLEWARES] = ",".join(auth.middlewares)
    elif (manager.routing.ingressClassName or "").startswith("nginx"):
        target = manager.authorization.url or auth.authUrl
        if target:
            out[NGINX_AUTH_URL] = target
        if auth.signInUrl:
            out[NGINX_SIGN_IN] = f"{auth.signInUrl}?rd=$scheme://$host$escaped_request_uri"
    out.update(manager.routing.annotations or {})
    return out


def build_ingress(ws: WorkspaceRef, manager: WorkspaceManagerSpec) -> dict[str, Any]:
    where = route(ws.name, ws.namespace, manager)
    assert where.host is not None  # a manager always gives a host
    meta = ws.metadata(workspace_child(ws.name))
    meta["annotations"] = proxy_annotations(manager)
    spec: dict[str, Any] = {
        "rules": [
            {
                "host": where.host,
                "http": {
                    "paths": [
                        {
                            "path": where.base_url
                            if manager.routing.mode == RoutingMode.PATH
                            else "/",
                            "pathType": "Prefix",
                            "backend": {
                                "service": {
                                    "name": workspace_child(ws.name),
                                    "port": {"name": PORT_NAME},
                                }
                            },
                        }
                    ]
                },
            }
        ]
    }
    if manager.routing.ingressClassName:
        spec["ingressClassName"] = manager.routing.ingressClassName
    if manager.routing.tlsSecretName:
        spec["tls"] = [{"hosts": [where.host], "secretName": manager.routing.tlsSecretName}]
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta, "spec": spec}
