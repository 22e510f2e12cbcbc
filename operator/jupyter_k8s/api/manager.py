"""WorkspaceManager: routing, authentication and authorization for the workspaces that use it."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, model_validator

from .common import ConditionType, Model, cel, with_rules
from .kind import AGE, KindDef, PrinterColumn
from .status import BaseStatus

HOSTNAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
URL = r"^https?://[^\s]+$"


class RoutingMode(StrEnum):
    PATH = "path"
    SUBDOMAIN = "subdomain"


class Routing(Model):
    mode: RoutingMode = Field(
        default=RoutingMode.SUBDOMAIN,
        description="subdomain: https://<name>--<namespace>.<domain>/ (the safer default: "
        "cookies cannot cross workspaces). path: https://<domain>/workspaces/<namespace>/<name>/.",
    )
    ingressClassName: str | None = Field(
        default=None, max_length=253, description="IngressClass of the routes (e.g. traefik)."
    )
    tlsSecretName: str | None = Field(
        default=None,
        max_length=253,
        description="Secret with the TLS certificate of the domain (a wildcard for subdomain "
        "mode), in each workspace namespace. Without it routes are plain HTTP.",
    )
    annotations: dict[str, str] | None = Field(
        default=None, max_length=32, description="Extra annotations on every route."
    )


class Authentication(Model):
    authUrl: str | None = Field(
        default=None,
        max_length=2048,
        pattern=URL,
        description="Forward-auth endpoint of the authenticating proxy (oauth2-proxy's /oauth2/auth).",
    )
    signInUrl: str | None = Field(
        default=None,
        max_length=2048,
        pattern=URL,
        description="Where browsers are sent to sign in (oauth2-proxy's /oauth2/start).",
    )
    middlewares: list[str] | None = Field(
        default=None,
        max_length=8,
        description="Proxy middlewares applied to every route, as <namespace>-<name>@kubernetescrd "
        "for Traefik.",
    )


class Authorization(Model):
    url: str | None = Field(
        default=None,
        max_length=2048,
        pattern=URL,
        description="Forward-auth endpoint of the jupyter-k8s authorization service.",
    )


# Subdomain hosts are <name>--<namespace>.<domain>; leave room for the first label.
_MAX_SUBDOMAIN_DOMAIN = 190
_DOMAIN_TOO_LONG = (
    f"domain is too long for subdomain routing (max {_MAX_SUBDOMAIN_DOMAIN} characters): "
    "use a shorter domain or routing.mode: path."
)


class WorkspaceManagerSpec(Model):
    model_config = with_rules(
        cel(
            f"self.routing.mode != 'subdomain' || size(self.domain) <= {_MAX_SUBDOMAIN_DOMAIN}",
            _DOMAIN_TOO_LONG,
            fieldPath=".domain",
        ),
    )

    domain: str = Field(
        min_length=1,
        max_length=253,
        pattern=HOSTNAME,
        description="DNS name under which workspaces are served, e.g. workspaces.example.com.",
    )
    routing: Routing = Field(default_factory=Routing, description="How URLs map to workspaces.")
    authentication: Authentication = Field(
        default_factory=Authentication, description="How the proxy authenticates users."
    )
    authorization: Authorization = Field(
        default_factory=Authorization, description="How the proxy authorizes each request."
    )

    @model_validator(mode="after")
    def _check(self) -> WorkspaceManagerSpec:
        if self.routing.mode == RoutingMode.SUBDOMAIN and len(self.domain) > _MAX_SUBDOMAIN_DOMAIN:
            raise ValueError(_DOMAIN_TOO_LONG)
        return self


class WorkspaceManagerStatus(BaseStatus):
    workspaceCount: int | None = Field(
        default=None, ge=0, description="How many workspaces use this manager."
    )


WORKSPACE_MANAGER = KindDef(
    kind="WorkspaceManager",
    plural="workspacemanagers",
    short_names=("wsm",),
    namespaced=False,
    spec=WorkspaceManagerSpec,
    status=WorkspaceManagerStatus,
    description="Routing, authentication and authorization for the workspaces that use it.",
    columns=(
        PrinterColumn("Domain", ".spec.domain"),
        PrinterColumn("Routing", ".spec.routing.mode"),
        PrinterColumn("Ready", f'.status.conditions[?(@.type=="{ConditionType.READY}")].status'),
        PrinterColumn("Workspaces", ".status.workspaceCount", "integer"),
        AGE,
    ),
)
