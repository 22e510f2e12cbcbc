"""The stack: which components, in which mode, on which target."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

from .components.auth import Auth, AuthArgs
from .components.catalogue import Catalogue, CatalogueArgs, template_names
from .components.eks import Eks, EksArgs
from .components.identity import Identity, IdentityArgs
from .components.operator import Operator, OperatorArgs
from .components.proxy import AUTH_MIDDLEWARE, Proxy, ProxyArgs
from .components.tenancy import Tenancy, TenancyArgs
from .config import ConfigError, Mode, Secrets, StackConfig, Target, load

ROOT = Path(__file__).resolve().parents[1]
LOCAL_KUBECONFIG = ROOT / ".cluster" / "kubeconfig"


def _provider(cfg: StackConfig) -> tuple[k8s.Provider, Eks | None]:
    if cfg.target == Target.EKS:
        eks = Eks(
            "eks",
            EksArgs(cfg.eks, cfg.eks.irsaPolicyArns, [t.name for t in cfg.teams]),
        )
        return k8s.Provider("cluster", kubeconfig=eks.kubeconfig), eks
    kubeconfig = cfg.kubernetes.kubeconfig or (
        str(LOCAL_KUBECONFIG) if cfg.target == Target.LOCAL else None
    )
    return k8s.Provider("cluster", kubeconfig=kubeconfig, context=cfg.kubernetes.context), None


def _require(secrets: Secrets, *names: str) -> dict[str, str]:
    missing = [n for n in names if getattr(secrets, n) is None]
    if missing:
        raise ConfigError(
            f"configuration key jupyter-k8s:{missing[0]} is missing; `make deploy` / `make preview` "
            "generate it once, or choose it: pulumi config set --secret "
            f"jupyter-k8s:{missing[0]} <value>"
        )
    return {n: getattr(secrets, n) for n in names}


def build(cfg: StackConfig, secrets: Secrets) -> dict[str, pulumi.Resource]:
    """Declare every resource; returns the components (tests look at them)."""
    provider, eks = _provider(cfg)
    opts = pulumi.ResourceOptions(provider=provider)
    tenancy = None
    if cfg.mode == Mode.GUIDED:
        # First: the operator's write access exists only in the team namespaces.
        tenancy = Tenancy(
            "tenancy",
            TenancyArgs(cfg.teams, cfg.target, tuple(template_names()), cfg.identity),
            opts,
        )
    served = tuple(cfg.operator.watchNamespaces) or (
        tuple(tenancy.namespaces) if tenancy is not None else ()
    )
    operator = Operator(
        "operator",
        OperatorArgs(
            cfg.operator,
            secrets.proxySecretKey,
            served_namespaces=served,
            namespace_resources=tuple(tenancy.namespace_resources) if tenancy else (),
            target=cfg.target,
        ),
        opts,
    )
    # Custom objects can only be created once their CRDs exist.
    after_crds = pulumi.ResourceOptions(provider=provider, depends_on=operator.crds)
    components: dict[str, pulumi.Resource] = {"operator": operator}
    if eks is not None:
        components["eks"] = eks
        components["storage"] = eks.storage(provider)

    if cfg.mode == Mode.CUSTOMIZED:
        own = cfg.customized
        assert own is not None  # checked by the config model
        components["catalogue"] = Catalogue(
            "catalogue",
            CatalogueArgs(
                domain=cfg.domain,
                routing_mode=cfg.routingMode,
                ingress_class=own.ingressClassName,
                auth_url=own.authUrl,
                sign_in_url=own.signInUrl,
                authorization_url=own.authorizationUrl,
                middlewares=own.middlewares,
                tls_secret_name=own.tlsSecretName,
                with_templates=False,
            ),
            after_crds,
        )
        pulumi.export("templates", own.templates)
        return components

    s = _require(
        secrets,
        "oauth2ProxyCookieSecret",
        "oauth2ProxyClientSecret",
        "tlsCertificate",
        "tlsKey",
        "proxySecretKey",
    )
    auth = Auth(
        "auth",
        AuthArgs(
            cfg.domain,
            cfg.operator,
            s["oauth2ProxyCookieSecret"],
            s["oauth2ProxyClientSecret"],
            cfg.target,
            cfg.identity,
            cfg.platformImages,
        ),
        pulumi.ResourceOptions(provider=provider, depends_on=[operator]),
    )
    proxy = Proxy(
        "proxy",
        ProxyArgs(
            cfg.target,
            auth.authorization_url,
            s["tlsCertificate"],
            s["tlsKey"],
            cfg.domain,
            cfg.platformImages,
        ),
        opts,
    )
    identity = Identity(
        "identity",
        IdentityArgs(
            cfg.domain,
            cfg.dex,
            s["oauth2ProxyClientSecret"],
            secrets.githubClientSecret,
            secrets.oidcClientSecret,
            cfg.platformImages,
        ),
        pulumi.ResourceOptions(provider=provider, depends_on=[auth]),
    )
    assert tenancy is not None
    catalogue = Catalogue(
        "catalogue",
        CatalogueArgs(
            domain=cfg.domain,
            routing_mode=cfg.routingMode,
            ingress_class=proxy.ingress_class,
            auth_url=auth.auth_url,
            sign_in_url=auth.sign_in_url,
            authorization_url=auth.authorization_url,
            middlewares=[AUTH_MIDDLEWARE],
            irsa_role_arn=eks.irsa_role_arn if eks else None,
        ),
        after_crds,
    )
    components.update(
        auth=auth, proxy=proxy, identity=identity, tenancy=tenancy, catalogue=catalogue
    )
    pulumi.export("signInUrl", auth.sign_in_url)
    pulumi.export("issuer", identity.issuer)
    pulumi.export("teamNamespaces", tenancy.namespaces)
    pulumi.export("templates", catalogue.template_names)
    return components


def run() -> None:
    try:
        cfg, secrets = load()
    except ConfigError as err:
        raise pulumi.RunError(str(err)) from None
    try:
        build(cfg, secrets)
    except ConfigError as err:
        raise pulumi.RunError(str(err)) from None
