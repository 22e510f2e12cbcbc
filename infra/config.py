"""The stack's configuration: one typed model, validated before any resource is declared.

Every key lives in the `jupyter-k8s` namespace of the stack config (Pulumi.<stack>.yaml). Objects
are set with `pulumi config set --path`, e.g. `pulumi config set --path 'jupyter-k8s:eks.region'
eu-west-1`. A wrong or missing key stops `pulumi preview` with one message naming the key and
the fix.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any, Literal

import pulumi
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from jupyter_k8s.api.common import DNS_LABEL, Quantity
from jupyter_k8s.api.manager import HOSTNAME, RoutingMode

from . import images

NAMESPACE = "jupyter-k8s"


class Misconfigured(ValueError):
    """A model-level problem (several keys together), raised from a model validator: `key` is
    the key to change, relative to the model that raised it, and `fix` what to run."""

    def __init__(self, key: str, problem: str, fix: str) -> None:
        super().__init__(problem)
        self.key, self.problem, self.fix = key, problem, fix


class Mode(StrEnum):
    GUIDED = "guided"
    CUSTOMIZED = "customized"


class Target(StrEnum):
    LOCAL = "local"  # the embedded control plane of `make cluster-up` (kwok nodes)
    KIND = "kind"
    EKS = "eks"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=True)


class OperatorConfig(Strict):
    image: str = Field(default=images.OPERATOR, description="Operator image (pin a tag or digest).")
    namespace: str = Field(default="jupyter-k8s-system", pattern=DNS_LABEL)
    watchNamespaces: list[str] = Field(
        default_factory=list, description="Namespaces to serve; empty means the whole cluster."
    )
    runsOnHost: bool = Field(
        default=False,
        description="The operator runs as a process outside the cluster (local target: kwok "
        "nodes run no containers), so no Deployment and no in-cluster webhook are created.",
    )
    bindableClusterRoles: list[str] = Field(
        default_factory=list,
        description="ClusterRoles execution profiles may bind in team namespaces (guided mode): "
        "the operator may bind these and no other.",
    )


class MonitoringConfig(Strict):
    prometheusOperator: bool | Literal["auto"] = Field(
        default="auto",
        description="Deploy ServiceMonitors, alerting rules (PrometheusRule) and the Grafana "
        "dashboard: true, false, or auto (when the cluster serves the Prometheus Operator's "
        "CRDs; a cluster this stack creates has none yet).",
    )


class IdentityConfig(Strict):
    """How IdP identities reach RBAC: keep equal to the API server's OIDC settings."""

    usernamePrefix: str = Field(
        default="",
        description="Prefix of IdP user names, as the API server's --oidc-username-prefix.",
    )
    groupsPrefix: str = Field(
        default="oidc:",
        description="Prefix of IdP groups, as the API server's --oidc-groups-prefix; groups "
        "starting with system: are dropped whatever the prefix.",
    )


class KubernetesConfig(Strict):
    kubeconfig: str | None = Field(default=None, description="Path of the kubeconfig (kind/local).")
    context: str | None = Field(default=None, description="Context in it, e.g. kind-jupyter-k8s.")


class EksConfig(Strict):
    clusterName: str = "jupyter-k8s-cluster"
    region: str = "us-west-2"
    createCluster: bool = Field(default=False, description="Create the EKS cluster too.")
    subnetIds: list[str] = Field(default_factory=list, description="Subnets when creating it.")
    nodeInstanceType: str = "m6i.xlarge"
    nodeCount: int = Field(default=2, ge=1, le=100)
    irsaPolicyArns: list[str] = Field(
        default_factory=list,
        description="IAM policies for workspace pods (IRSA): an IAM role is created and put on "
        "the default execution profile. Empty: workspaces get no AWS identity.",
    )


class StaticUser(Strict):
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    username: str = Field(pattern=DNS_LABEL)
    passwordHash: str = Field(
        pattern=r"^\$2[aby]\$", description="bcrypt hash, e.g. from `htpasswd -bnBC 10 '' pw`."
    )


class GithubConnector(Strict):
    clientId: str
    orgs: list[str] = Field(default_factory=list, description="Only members of these orgs.")


class OidcConnector(Strict):
    issuer: str = Field(pattern=r"^https://")
    clientId: str


class DexConfig(Strict):
    staticUsers: list[StaticUser] = Field(default_factory=list)
    github: GithubConnector | None = None
    oidc: OidcConnector | None = None


class TeamQuota(Strict):
    cpu: Quantity = "16"
    memory: Quantity = "64Gi"
    gpu: Quantity = "0"
    storage: Quantity = "500Gi"
    workspaces: int = Field(default=20, ge=0, description="Volumes, so workspaces, per team.")


class Team(Strict):
    name: str = Field(pattern=DNS_LABEL, max_length=63)
    users: list[str] = Field(default_factory=list, description="IdP user names (unprefixed).")
    groups: list[str] = Field(default_factory=list, description="IdP groups (unprefixed).")
    quota: TeamQuota = Field(default_factory=TeamQuota)
    allowedTemplates: list[str] = Field(
        default_factory=list,
        description="Templates the team's workspaces may use; empty: the catalogue's.",
    )
    defaultTemplate: str | None = Field(
        default=None,
        description="Template of a workspace that names none; default: the first allowed.",
    )

    @model_validator(mode="after")
    def _someone(self) -> Team:
        if not self.users and not self.groups:
            raise Misconfigured(
                "users",
                f"team {self.name!r} needs users or groups",
                "add one: pulumi config set --path '{key}[0]' <IdP user name> (or set groups)",
            )
        if (
            self.defaultTemplate
            and self.allowedTemplates
            and self.defaultTemplate not in self.allowedTemplates
        ):
            raise Misconfigured(
                "defaultTemplate",
                f"team {self.name!r}: defaultTemplate {self.defaultTemplate!r} is not one of "
                "its allowedTemplates",
                "pick one of them: pulumi config set --path '{key}' <template>",
            )
        return self


class CustomizedConfig(Strict):
    """The admin's own pieces, referenced by the WorkspaceManager the stack creates."""

    ingressClassName: str
    authUrl: str = Field(pattern=r"^https?://", description="Forward-auth endpoint of the proxy.")
    signInUrl: str = Field(pattern=r"^https?://")
    authorizationUrl: str | None = Field(default=None, pattern=r"^https?://")
    middlewares: list[str] = Field(default_factory=list)
    tlsSecretName: str | None = None
    templates: list[str] = Field(
        default_factory=list, description="Names of existing WorkspaceTemplates to keep using."
    )


class PlatformImages(StrEnum):
    UPSTREAM = "upstream"
    LOCAL = "local"


class StackConfig(Strict):
    mode: Mode
    target: Target
    domain: str = Field(pattern=HOSTNAME, max_length=190)
    routingMode: RoutingMode = RoutingMode.SUBDOMAIN
    platformImages: PlatformImages = Field(
        default=PlatformImages.UPSTREAM,
        description="Where Traefik, oauth2-proxy and Dex come from: the upstream registries, or "
        "`local` (the same releases built by make images, for a cluster without a registry).",
    )
    operator: OperatorConfig = Field(default_factory=OperatorConfig)
    kubernetes: KubernetesConfig = Field(default_factory=KubernetesConfig)
    eks: EksConfig = Field(default_factory=EksConfig)
    dex: DexConfig = Field(default_factory=DexConfig)
    identity: IdentityConfig = Field(default_factory=IdentityConfig)
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)
    teams: list[Team] = Field(default_factory=list)
    customized: CustomizedConfig | None = None

    @model_validator(mode="after")
    def _consistent(self) -> StackConfig:
        if self.mode == Mode.CUSTOMIZED and self.customized is None:
            raise Misconfigured(
                "customized",
                "customized mode needs the 'customized' object: ingressClassName, authUrl, "
                "signInUrl (your proxy and authentication)",
                "set them: pulumi config set --path '{key}.ingressClassName' <class> (and "
                "'{key}.authUrl', '{key}.signInUrl')",
            )
        if self.mode == Mode.GUIDED:
            if self.customized is not None:
                raise Misconfigured(
                    "customized",
                    "'customized' is only read in customized mode",
                    "remove it: pulumi config rm '{key}' (or set mode to customized)",
                )
            if not (self.dex.staticUsers or self.dex.github or self.dex.oidc):
                raise Misconfigured(
                    "dex",
                    "guided mode needs a way to sign in: dex.staticUsers (local/kind), "
                    "dex.github or dex.oidc",
                    "set one: pulumi config set --path '{key}.github.clientId' <id> (or "
                    "'{key}.oidc.issuer', or '{key}.staticUsers[0].email' on local/kind)",
                )
            if (
                self.target == Target.EKS
                and self.dex.staticUsers
                and not (self.dex.github or self.dex.oidc)
            ):
                raise Misconfigured(
                    "dex.staticUsers",
                    "static users are for local/kind only",
                    "remove them: pulumi config rm --path '{key}', and set dex.github or dex.oidc",
                )
        names = [t.name for t in self.teams]
        if len(names) != len(set(names)):
            dup = next(n for n in names if names.count(n) > 1)
            raise Misconfigured(
                "teams",
                f"team names must be unique: {dup!r} is used twice",
                "rename one: pulumi config set --path '{key}[<index>].name' <name>",
            )
        return self


class Secrets(Strict):
    """Secret values, kept apart so they are only ever handled as pulumi secrets."""

    oauth2ProxyCookieSecret: str | None = None
    oauth2ProxyClientSecret: str | None = None
    tlsCertificate: str | None = None
    tlsKey: str | None = None
    githubClientSecret: str | None = None
    oidcClientSecret: str | None = None
    proxySecretKey: str | None = None  # derives every workspace's proxy secret


class ConfigError(Exception):
    """One message naming the key and the fix; raised before any resource is declared."""


_SECRET_KEYS = set(Secrets.model_fields)


def _raw_config() -> dict[str, Any]:
    """All `jupyter-k8s:*` keys of the stack, with JSON objects decoded."""
    merged = {**pulumi.runtime.get_config_env(), **pulumi.runtime.config.CONFIG.get()}
    out: dict[str, Any] = {}
    for key, value in merged.items():
        ns, _, name = key.partition(":")
        if ns != NAMESPACE:
            continue
        try:
            out[name] = json.loads(value) if isinstance(value, str) else value
        except ValueError:
            out[name] = value
    return out


def _path(loc: tuple[int | str, ...]) -> str:
    """A location as `pulumi config set --path` writes it: teams[0].users[1]."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f"{'.' if out else ''}{part}"
    return out


def _format(err: ValidationError) -> str:
    first = err.errors()[0]
    more = f" (and {len(err.errors()) - 1} more)" if len(err.errors()) > 1 else ""
    problem = (first.get("ctx") or {}).get("error")
    path = _path(first["loc"])
    if isinstance(problem, Misconfigured):
        # Raised by a model: its own key, under where that model sits.
        key = f"{NAMESPACE}:{'.'.join(p for p in (path, problem.key) if p)}"
        fix = problem.fix.replace("{key}", key)
        return f"configuration key {key}: {problem.problem}; {fix}{more}"
    key = f"{NAMESPACE}:{path}"
    kind = first["type"]
    if kind == "missing":
        fix = f"set it: pulumi config set --path '{key}' <value>"
    elif kind == "extra_forbidden":
        fix = f"remove it or fix its spelling: pulumi config rm --path '{key}'"
    else:
        fix = f"fix it: pulumi config set --path '{key}' <value>"
    return f"configuration key {key}: {first['msg']}; {fix}{more}"


def parse(raw: dict[str, Any]) -> tuple[StackConfig, Secrets]:
    """Validate raw key/values (pure, for tests and the program)."""
    public = {k: v for k, v in raw.items() if k not in _SECRET_KEYS}
    secret = {k: v for k, v in raw.items() if k in _SECRET_KEYS}
    try:
        return StackConfig.model_validate(public), Secrets.model_validate(secret)
    except ValidationError as err:
        raise ConfigError(_format(err)) from None


def load() -> tuple[StackConfig, Secrets]:
    return parse(_raw_config())
