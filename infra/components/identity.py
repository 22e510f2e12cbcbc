"""Dex, the OIDC identity provider: static users for local/kind, GitHub or OIDC upstream for
real deployments. Its client is oauth2-proxy."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi

from jupyter_k8s.cli import CLIENT_ID as CLI_CLIENT_ID

from .. import images
from ..config import DexConfig
from .auth import CLIENT_ID, NAMESPACE, auth_host
from .manifests import SKIP_AWAIT, declare
from .security import container_security, pod_security

LABELS = {"app.kubernetes.io/name": "dex", "app.kubernetes.io/part-of": "jupyter-k8s"}


@dataclass(frozen=True)
class IdentityArgs:
    domain: str
    dex: DexConfig
    client_secret: pulumi.Input[str]
    github_client_secret: pulumi.Input[str] | None = None
    oidc_client_secret: pulumi.Input[str] | None = None
    platform_images: str = "upstream"


def dex_config(
    args: IdentityArgs, client_secret: str, github_secret: str | None, oidc_secret: str | None
) -> dict[str, Any]:
    issuer = f"https://{auth_host(args.domain)}/dex"
    connectors: list[dict[str, Any]] = []
    if args.dex.github:
        connectors.append(
            {
                "type": "github",
                "id": "github",
                "name": "GitHub",
                "config": {
                    "clientID": args.dex.github.clientId,
                    "clientSecret": github_secret or "",
                    "redirectURI": f"{issuer}/callback",
                    **(
                        {"orgs": [{"name": o} for o in args.dex.github.orgs]}
                        if args.dex.github.orgs
                        else {}
                    ),
                    "loadAllGroups": False,
                    "teamNameField": "slug",
                },
            }
        )
    if args.dex.oidc:
        connectors.append(
            {
                "type": "oidc",
                "id": "oidc",
                "name": "Single sign-on",
                "config": {
                    "issuer": args.dex.oidc.issuer,
                    "clientID": args.dex.oidc.clientId,
                    "clientSecret": oidc_secret or "",
                    "redirectURI": f"{issuer}/callback",
                    "insecureEnableGroups": True,
                    "scopes": ["openid", "email", "profile", "groups"],
                },
            }
        )
    config: dict[str, Any] = {
        "issuer": issuer,
        "storage": {"type": "sqlite3", "config": {"file": "/var/dex/dex.db"}},
        "web": {"http": "0.0.0.0:5556"},
        "telemetry": {"http": "0.0.0.0:5558"},
        "oauth2": {"skipApprovalScreen": True, "responseTypes": ["code"]},
        "staticClients": [
            {
                "id": CLIENT_ID,
                "name": "jupyter-k8s",
                "secret": client_secret,
                "redirectURIs": [f"https://{auth_host(args.domain)}/oauth2/callback"],
                # The CLI's tokens are issued for this client too (audience), so oauth2-proxy
                # accepts them as bearer tokens.
                "trustedPeers": [CLI_CLIENT_ID],
            },
            {
                # jk login: a public client (no secret on users' machines) using the loopback
                # redirect with PKCE (RFC 8252); Dex allows any 127.0.0.1 port for it.
                "id": CLI_CLIENT_ID,
                "name": "jupyter-k8s CLI",
                "public": True,
            },
        ],
        "connectors": connectors,
        "enablePasswordDB": bool(args.dex.staticUsers),
        "staticPasswords": [
            {"email": u.email, "hash": u.passwordHash, "username": u.username, "userID": u.username}
            for u in args.dex.staticUsers
        ],
    }
    return config


def dex_manifests(platform_images: str = "upstream") -> list[dict[str, Any]]:
    meta = {"namespace": NAMESPACE, "labels": LABELS}
    container = {
        "name": "dex",
        "image": images.platform(images.DEX, platform_images),
        "args": ["dex", "serve", "/etc/dex/config.yaml"],
        "ports": [
            {"name": "http", "containerPort": 5556},
            {"name": "telemetry", "containerPort": 5558},
        ],
        "readinessProbe": {"httpGet": {"path": "/healthz/ready", "port": "telemetry"}},
        "livenessProbe": {"httpGet": {"path": "/healthz/live", "port": "telemetry"}},
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
        "securityContext": container_security(),
        "volumeMounts": [
            {"name": "config", "mountPath": "/etc/dex", "readOnly": True},
            {"name": "data", "mountPath": "/var/dex"},
        ],
    }
    return [
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            # Pulumi waits for a claim of a WaitForFirstConsumer class (kind's local-path, EKS's
            # gp3) to be Pending; Dex's pod, made at the same time, can bind it first, and the
            # wait then never ends (5 minutes, then `up` fails). Dex's Deployment waits for its
            # claims to be Bound anyway.
            "metadata": {**meta, "name": "dex-data", "annotations": {SKIP_AWAIT: "true"}},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {**meta, "name": "dex"},
            "spec": {
                "replicas": 1,
                "strategy": {"type": "Recreate"},  # one writer of the sqlite volume
                "selector": {"matchLabels": LABELS},
                "template": {
                    "metadata": {"labels": LABELS},
                    "spec": {
                        "automountServiceAccountToken": False,
                        "securityContext": pod_security(1001),
                        "containers": [container],
                        "volumes": [
                            {"name": "config", "secret": {"secretName": "dex-config"}},
                            {"name": "data", "persistentVolumeClaim": {"claimName": "dex-data"}},
                        ],
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {**meta, "name": "dex"},
            "spec": {
                "selector": LABELS,
                "ports": [{"name": "http", "port": 5556, "targetPort": "http"}],
            },
        },
    ]


class Identity(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: IdentityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("jupyter-k8s:index:Identity", name, None, opts)
        config = pulumi.Output.all(
            args.client_secret, args.github_client_secret, args.oidc_client_secret
        ).apply(lambda s: json.dumps(dex_config(args, s[0], s[1], s[2]), indent=2))
        secret = declare(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "dex-config", "namespace": NAMESPACE, "labels": LABELS},
                "stringData": {"config.yaml": pulumi.Output.secret(config)},
            },
            pulumi.ResourceOptions(parent=self, additional_secret_outputs=["stringData", "data"]),
        )
        child = pulumi.ResourceOptions(parent=self, depends_on=[secret])
        self.resources = [
            secret,
            *(declare(o, child) for o in dex_manifests(args.platform_images)),
        ]
        self.issuer = f"https://{auth_host(args.domain)}/dex"
        self.register_outputs({"issuer": self.issuer})
