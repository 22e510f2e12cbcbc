"""Traefik: the reverse proxy in front of every workspace, with TLS and forward-auth."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pulumi
import yaml

from .. import images
from ..config import Target
from .manifests import declare
from .security import container_security, pod_security, restricted_namespace

NAMESPACE = "jupyter-k8s-proxy"
INGRESS_CLASS = "traefik"
# The middleware chain every workspace route carries (Traefik file provider, no CRDs needed).
AUTH_MIDDLEWARE = "jupyter-auth@file"
LABELS = {"app.kubernetes.io/name": "traefik", "app.kubernetes.io/part-of": "jupyter-k8s"}
NODE_PORTS = {"web": 30080, "websecure": 30443}


@dataclass(frozen=True)
class ProxyArgs:
    target: Target
    authz_url: str  # forward-auth: the authorization service
    tls_certificate: pulumi.Input[str]
    tls_key: pulumi.Input[str]
    domain: str = "workspaces.example.com"
    platform_images: str = "upstream"


def dynamic_config(authz_url: str, domain: str) -> dict[str, Any]:
    return {
        "http": {
            # Any other name under the domain goes to the authorization service too, which
            # answers it exactly as it answers a workspace you may not open: existence is not
            # revealed. (Lowest priority: every real route wins.)
            "routers": {
                "jupyter-unknown": {
                    "rule": f"HostRegexp(`^(.+\\.)?{re.escape(domain)}$`)",
                    "priority": 1,
                    "entryPoints": ["websecure"],
                    "middlewares": ["jupyter-auth"],
                    "service": "noop@internal",
                    "tls": {},
                }
            },
            "middlewares": {
                # The authorization service asks oauth2-proxy who the session is, then RBAC
                # whether they may connect. authResponseHeaders *replace* anything the client
                # sent under those names, so the app never sees a forged identity.
                "jupyter-auth": {
                    "forwardAuth": {
                        "address": authz_url,
                        "authRequestHeaders": ["Cookie", "Authorization", "Accept"],
                        "authResponseHeaders": ["X-Jupyter-K8s-User", "X-Jupyter-K8s-Proxy-Secret"],
                    }
                },
            },
        },
        "tls": {
            "stores": {
                "default": {
                    "defaultCertificate": {
                        "certFile": "/certs/tls.crt",
                        "keyFile": "/certs/tls.key",
                    }
                }
            },
            "options": {"default": {"minVersion": "VersionTLS12"}},
        },
    }


def proxy_manifests(args: ProxyArgs) -> list[dict[str, Any]]:
    meta = {"namespace": NAMESPACE, "labels": LABELS}
    service: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {**meta, "name": "traefik"},
        "spec": {
            "selector": LABELS,
            "ports": [
                {"name": "web", "port": 80, "targetPort": "web"},
                {"name": "websecure", "port": 443, "targetPort": "websecure"},
            ],
        },
    }
    if args.target == Target.EKS:
        service["spec"]["type"] = "LoadBalancer"
        service["metadata"]["annotations"] = {
            "service.beta.kubernetes.io/aws-load-balancer-type": "external",
            "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
            "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing",
        }
    else:
        # kind: map these node ports to the host (extraPortMappings).
        service["spec"]["type"] = "NodePort"
        for port in service["spec"]["ports"]:
            port["nodePort"] = NODE_PORTS[port["name"]]
    container = {
        "name": "traefik",
        "image": images.platform(images.TRAEFIK, args.platform_images),
        "args": [
            "--entryPoints.web.address=:8000",
            "--entryPoints.websecure.address=:8443",
            "--entryPoints.websecure.http.tls=true",
            "--entryPoints.web.http.redirections.entryPoint.to=websecure",
            "--entryPoints.web.http.redirections.entryPoint.scheme=https",
            "--providers.kubernetesingress=true",
            f"--providers.kubernetesingress.ingressClass={INGRESS_CLASS}",
            "--providers.file.directory=/etc/traefik/dynamic",
            "--ping=true",
            "--metrics.prometheus=true",
            "--log.format=json",
            "--accesslog=true",
            "--accesslog.format=json",
            "--global.checkNewVersion=false",
            "--global.sendAnonymousUsage=false",
        ],
        "ports": [
            {"name": "web", "containerPort": 8000},
            {"name": "websecure", "containerPort": 8443},
            {"name": "traefik", "containerPort": 8080},
        ],
        "readinessProbe": {"httpGet": {"path": "/ping", "port": "traefik"}, "periodSeconds": 10},
        "livenessProbe": {"httpGet": {"path": "/ping", "port": "traefik"}, "periodSeconds": 20},
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"memory": "512Mi"},
        },
        "securityContext": container_security(),
        "volumeMounts": [
            {"name": "dynamic", "mountPath": "/etc/traefik/dynamic", "readOnly": True},
            {"name": "certs", "mountPath": "/certs", "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 - a per-pod emptyDir
        ],
    }
    return [
        restricted_namespace(NAMESPACE, args.target, **{"jupyter-k8s/proxy": "true"}),
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {**meta, "name": "traefik"}},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "jupyter-k8s-traefik", "labels": LABELS},
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["services", "secrets", "nodes"],
                    "verbs": ["get", "list", "watch"],
                },
                {
                    "apiGroups": ["discovery.k8s.io"],
                    "resources": ["endpointslices"],
                    "verbs": ["get", "list", "watch"],
                },
                {
                    "apiGroups": ["networking.k8s.io"],
                    "resources": ["ingresses", "ingressclasses"],
                    "verbs": ["get", "list", "watch"],
                },
                {
                    "apiGroups": ["networking.k8s.io"],
                    "resources": ["ingresses/status"],
                    "verbs": ["update"],
                },
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "jupyter-k8s-traefik", "labels": LABELS},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "jupyter-k8s-traefik",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "traefik", "namespace": NAMESPACE}],
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "IngressClass",
            "metadata": {"name": INGRESS_CLASS, "labels": LABELS},
            "spec": {"controller": "traefik.io/ingress-controller"},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {**meta, "name": "traefik-dynamic"},
            "data": {"jupyter.yaml": yaml.safe_dump(dynamic_config(args.authz_url, args.domain))},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {**meta, "name": "traefik"},
            "spec": {
                "replicas": 2 if args.target == Target.EKS else 1,
                "selector": {"matchLabels": LABELS},
                "template": {
                    "metadata": {"labels": LABELS},
                    "spec": {
                        "serviceAccountName": "traefik",
                        "securityContext": pod_security(),
                        "containers": [container],
                        "volumes": [
                            {"name": "dynamic", "configMap": {"name": "traefik-dynamic"}},
                            {"name": "certs", "secret": {"secretName": "traefik-default-cert"}},
                            {"name": "tmp", "emptyDir": {}},
                        ],
                    },
                },
            },
        },
        service,
    ]


class Proxy(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: ProxyArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("jupyter-k8s:index:Proxy", name, None, opts)
        objs = proxy_manifests(args)
        ns = declare(objs[0], pulumi.ResourceOptions(parent=self))
        child = pulumi.ResourceOptions(parent=self, depends_on=[ns])
        cert = declare(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {
                    "name": "traefik-default-cert",
                    "namespace": NAMESPACE,
                    "labels": LABELS,
                },
                "type": "kubernetes.io/tls",
                "stringData": {
                    "tls.crt": pulumi.Output.secret(args.tls_certificate),
                    "tls.key": pulumi.Output.secret(args.tls_key),
                },
            },
            pulumi.ResourceOptions(
                parent=self, depends_on=[ns], additional_secret_outputs=["stringData", "data"]
            ),
        )
        self.resources = [ns, cert, *(declare(o, child) for o in objs[1:])]
        self.ingress_class = INGRESS_CLASS
        self.register_outputs({"namespace": NAMESPACE, "ingressClass": INGRESS_CLASS})
