"""Authentication (oauth2-proxy in front of every route) and the authorization service."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi

from jupyter_k8s.deploy.installer import proxy_key_env
from jupyter_k8s.deploy.settings import LAST_ACTIVITY, TUNNEL_ACTIVITY
from jupyter_k8s.deploy.settings import NAME as OPERATOR_NAME

from .. import images
from ..config import IdentityConfig, OperatorConfig, Target
from .manifests import SKIP_AWAIT, declare
from .proxy import INGRESS_CLASS
from .security import container_security, pod_security, restricted_namespace

NAMESPACE = "jupyter-k8s-auth"
OAUTH2_LABELS = {
    "app.kubernetes.io/name": "oauth2-proxy",
    "app.kubernetes.io/part-of": "jupyter-k8s",
}
AUTHZ_NAME = "jupyter-k8s-authz"
AUTHZ_SIGNOUTS = "jupyter-k8s-authz-signouts"
AUTHZ_LABELS = {"app.kubernetes.io/name": AUTHZ_NAME, "app.kubernetes.io/part-of": "jupyter-k8s"}
AUTHZ_PORT = 8081
CLIENT_ID = "oauth2-proxy"
DEX_INTERNAL = "http://dex.jupyter-k8s-auth.svc.cluster.local:5556/dex"


def oauth2_proxy_url() -> str:
    return f"http://oauth2-proxy.{NAMESPACE}.svc.cluster.local/"


def authz_url(operator_namespace: str) -> str:
    return f"http://{AUTHZ_NAME}.{operator_namespace}.svc.cluster.local/authorize"


def ingress_annotations(target: Target) -> dict[str, str]:
    # The local target's proxy is a kwok pod that never reports a load-balancer address, which
    # Pulumi would otherwise wait ten minutes for.
    return {SKIP_AWAIT: "true"} if target == Target.LOCAL else {}


def auth_host(domain: str) -> str:
    return f"auth.{domain}"


@dataclass(frozen=True)
class AuthArgs:
    domain: str
    operator: OperatorConfig
    cookie_secret: pulumi.Input[str]
    client_secret: pulumi.Input[str]
    target: Target = Target.KIND
    identity: IdentityConfig = field(default_factory=IdentityConfig)
    platform_images: str = "upstream"


def oauth2_proxy_args(domain: str) -> list[str]:
    issuer = f"https://{auth_host(domain)}/dex"
    return [
        "--provider=oidc",
        f"--oidc-issuer-url={issuer}",
        # The issuer's public name may not resolve inside the cluster: talk to Dex directly.
        "--skip-oidc-discovery=true",
        f"--login-url={issuer}/auth",
        f"--redeem-url={DEX_INTERNAL}/token",
        f"--oidc-jwks-url={DEX_INTERNAL}/keys",
        f"--client-id={CLIENT_ID}",
        f"--redirect-url=https://{auth_host(domain)}/oauth2/callback",
        "--http-address=0.0.0.0:4180",
        "--upstream=static://202",
        "--reverse-proxy=true",
        "--set-xauthrequest=true",
        "--email-domain=*",
        "--scope=openid email profile groups",
        "--oidc-groups-claim=groups",
        # The IdP session stays on the authentication host: no cookie domain, so the browser
        # never sends it to a workspace. Workspaces get their own sessions from the
        # authorization service (/_jk/authorize on this host).
        f"--whitelist-domain={auth_host(domain)}",
        "--cookie-secure=true",
        "--cookie-samesite=lax",
        "--skip-provider-button=true",
        # Its default ("force") makes Dex ask for consent at every sign-in.
        "--approval-prompt=auto",
        "--silence-ping-logging=true",
        # The CLI (jk login) sends Dex's ID token as a bearer token: verified like a session
        # (issuer, signature, audience: Dex issues the CLI's tokens for this client too).
        "--skip-jwt-bearer-tokens=true",
    ]


def auth_manifests(args: AuthArgs) -> list[dict[str, Any]]:
    meta = {"namespace": NAMESPACE, "labels": OAUTH2_LABELS}
    ops_ns = args.operator.namespace
    oauth2 = {
        "name": "oauth2-proxy",
        "image": images.platform(images.OAUTH2_PROXY, args.platform_images),
        "args": oauth2_proxy_args(args.domain),
        "env": [
            {
                "name": "OAUTH2_PROXY_CLIENT_SECRET",
                "valueFrom": {"secretKeyRef": {"name": "oauth2-proxy", "key": "client-secret"}},
            },
            {
                "name": "OAUTH2_PROXY_COOKIE_SECRET",
                "valueFrom": {"secretKeyRef": {"name": "oauth2-proxy", "key": "cookie-secret"}},
            },
        ],
        "ports": [{"name": "http", "containerPort": 4180}],
        "readinessProbe": {"httpGet": {"path": "/ping", "port": "http"}},
        "livenessProbe": {"httpGet": {"path": "/ping", "port": "http"}},
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
        "securityContext": container_security(),
    }
    authz = {
        "name": "authz",
        "image": args.operator.image,
        "args": ["authz"],
        "env": [
            {"name": "JK_AUTHZ_PORT", "value": str(AUTHZ_PORT)},
            {
                "name": "JK_AUTHZ_IDENTITY_URL",
                "value": f"{oauth2_proxy_url().rstrip('/')}/oauth2/auth",
            },
            {
                "name": "JK_AUTHZ_SIGN_IN_URL",
                "value": f"https://{auth_host(args.domain)}/oauth2/start",
            },
            # Workspace sessions of their own, handed over from the authentication host.
            {"name": "JK_AUTHZ_AUTH_HOST", "value": auth_host(args.domain)},
            # RBAC sees IdP identities with the API server's OIDC prefixes.
            {"name": "JK_AUTHZ_USERNAME_PREFIX", "value": args.identity.usernamePrefix},
            {"name": "JK_AUTHZ_GROUPS_PREFIX", "value": args.identity.groupsPrefix},
            proxy_key_env(),
            # Two replicas: a sign-out served by one reaches the other through this ConfigMap.
            {"name": "JK_AUTHZ_SIGNOUTS", "value": f"{ops_ns}/{AUTHZ_SIGNOUTS}"},
            # Open SSH tunnels count as activity for the operator's idle culler.
            {"name": "JK_AUTHZ_TUNNEL_ACTIVITY", "value": f"{ops_ns}/{TUNNEL_ACTIVITY}"},
            # When each workspace was last in use (the culler writes it) for the users' pages.
            {"name": "JK_AUTHZ_LAST_ACTIVITY", "value": f"{ops_ns}/{LAST_ACTIVITY}"},
        ],
        "ports": [{"name": "http", "containerPort": AUTHZ_PORT}],
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"memory": "256Mi"},
        },
        "securityContext": container_security(),
    }
    return [
        restricted_namespace(NAMESPACE, args.target),
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {**meta, "name": "oauth2-proxy"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": OAUTH2_LABELS},
                "template": {
                    "metadata": {"labels": OAUTH2_LABELS},
                    "spec": {
                        "automountServiceAccountToken": False,
                        "securityContext": pod_security(),
                        "containers": [oauth2],
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {**meta, "name": "oauth2-proxy"},
            "spec": {
                "selector": OAUTH2_LABELS,
                "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
            },
        },
        # The authorization service: its own identity, allowed to ask SubjectAccessReviews
        # and to read workspaces and managers, nothing else (its key comes from the pod's env).
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": AUTHZ_NAME, "namespace": ops_ns, "labels": AUTHZ_LABELS},
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": AUTHZ_NAME, "labels": AUTHZ_LABELS},
            "rules": [
                {
                    "apiGroups": ["authorization.k8s.io"],
                    "resources": ["subjectaccessreviews"],
                    "verbs": ["create"],
                },
                {
                    "apiGroups": ["workspace.jupyter.org"],
                    "resources": ["workspaces", "workspacemanagers"],
                    "verbs": ["get", "list", "watch"],
                },
                # The "my workspaces" page: templates to create from, shares to revoke, and
                # the governed namespaces (their allowed templates).
                {
                    "apiGroups": ["workspace.jupyter.org"],
                    "resources": ["workspacetemplates", "workspaceshares"],
                    "verbs": ["list"],
                },
                {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list"]},
                # The users' API (jk start/stop) acts as the signed-in user, so RBAC and the
                # admission policies decide as for kubectl; it impersonates no one else.
                {"apiGroups": [""], "resources": ["users", "groups"], "verbs": ["impersonate"]},
                # The SSH tunnel finds a workspace pod's address here (not in the pods, whose
                # specs it has no reason to read).
                {
                    "apiGroups": ["discovery.k8s.io"],
                    "resources": ["endpointslices"],
                    "verbs": ["list"],
                },
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": AUTHZ_NAME, "labels": AUTHZ_LABELS},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": AUTHZ_NAME,
            },
            "subjects": [{"kind": "ServiceAccount", "name": AUTHZ_NAME, "namespace": ops_ns}],
        },
        # The replicas' shared sign-outs: read and written by them, by this one name only.
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": AUTHZ_SIGNOUTS, "namespace": ops_ns, "labels": AUTHZ_LABELS},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": TUNNEL_ACTIVITY, "namespace": ops_ns, "labels": AUTHZ_LABELS},
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": AUTHZ_NAME, "namespace": ops_ns, "labels": AUTHZ_LABELS},
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["configmaps"],
                    "resourceNames": [AUTHZ_SIGNOUTS, TUNNEL_ACTIVITY],
                    "verbs": ["get", "patch"],
                },
                {
                    "apiGroups": [""],
                    "resources": ["configmaps"],
                    "resourceNames": [LAST_ACTIVITY],
                    "verbs": ["get"],
                },
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": AUTHZ_NAME, "namespace": ops_ns, "labels": AUTHZ_LABELS},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": AUTHZ_NAME,
            },
            "subjects": [{"kind": "ServiceAccount", "name": AUTHZ_NAME, "namespace": ops_ns}],
        },
        # A drain or an upgrade keeps one replica answering the proxy.
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": AUTHZ_NAME, "namespace": ops_ns, "labels": AUTHZ_LABELS},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": AUTHZ_LABELS}},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": AUTHZ_NAME, "namespace": ops_ns, "labels": AUTHZ_LABELS},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": AUTHZ_LABELS},
                "template": {
                    "metadata": {"labels": AUTHZ_LABELS},
                    "spec": {
                        "serviceAccountName": AUTHZ_NAME,
                        "securityContext": pod_security(),
                        "containers": [authz],
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": AUTHZ_NAME, "namespace": ops_ns, "labels": AUTHZ_LABELS},
            "spec": {
                "selector": AUTHZ_LABELS,
                "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
            },
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {**meta, "name": "auth", "annotations": ingress_annotations(args.target)},
            "spec": {
                "ingressClassName": INGRESS_CLASS,
                "tls": [{"hosts": [auth_host(args.domain)]}],
                "rules": [
                    {
                        "host": auth_host(args.domain),
                        "http": {
                            "paths": [
                                {
                                    "path": "/oauth2",
                                    "pathType": "Prefix",
                                    "backend": {
                                        "service": {
                                            "name": "oauth2-proxy",
                                            "port": {"name": "http"},
                                        }
                                    },
                                },
                                {
                                    "path": "/dex",
                                    "pathType": "Prefix",
                                    "backend": {
                                        "service": {"name": "dex", "port": {"name": "http"}}
                                    },
                                },
                            ]
                        },
                    }
                ],
            },
        },
        {
            # The authorization service's own pages on the authentication host: the hand-off
            # to a workspace (/_jk/authorize) and sign-out (/_jk/sign_out).
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {
                "name": AUTHZ_NAME,
                "namespace": ops_ns,
                "labels": AUTHZ_LABELS,
                "annotations": ingress_annotations(args.target),
            },
            "spec": {
                "ingressClassName": INGRESS_CLASS,
                "tls": [{"hosts": [auth_host(args.domain)]}],
                "rules": [
                    {
                        "host": auth_host(args.domain),
                        "http": {
                            "paths": [
                                {
                                    "path": "/_jk",
                                    "pathType": "Prefix",
                                    "backend": {
                                        "service": {"name": AUTHZ_NAME, "port": {"name": "http"}}
                                    },
                                }
                            ]
                        },
                    }
                ],
            },
        },
    ]


class Auth(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: AuthArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("jupyter-k8s:index:Auth", name, None, opts)
        objs = auth_manifests(args)
        ns = declare(objs[0], pulumi.ResourceOptions(parent=self))
        child = pulumi.ResourceOptions(parent=self, depends_on=[ns])
        secret = declare(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {
                    "name": "oauth2-proxy",
                    "namespace": NAMESPACE,
                    "labels": OAUTH2_LABELS,
                },
                "stringData": {
                    "client-secret": pulumi.Output.secret(args.client_secret),
                    "cookie-secret": pulumi.Output.secret(args.cookie_secret),
                },
            },
            pulumi.ResourceOptions(
                parent=self, depends_on=[ns], additional_secret_outputs=["stringData", "data"]
            ),
        )
        self.resources = [ns, secret, *(declare(o, child) for o in objs[1:])]
        self.auth_url = oauth2_proxy_url()
        self.sign_in_url = f"https://{auth_host(args.domain)}/oauth2/start"
        self.authorization_url = authz_url(args.operator.namespace)
        self.register_outputs({"signInUrl": self.sign_in_url, "operator": OPERATOR_NAME})
