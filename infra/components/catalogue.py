"""The default catalogue: templates, a WorkspaceManager and an execution profile, all built and
validated with the same API models the operator uses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from jupyter_k8s.api import (
    API_VERSION,
    WorkspaceExecutionProfileSpec,
    WorkspaceManagerSpec,
    WorkspaceTemplateSpec,
)
from jupyter_k8s.api.manager import RoutingMode

from .. import images
from .manifests import declare

MANAGER = "default"
PROFILE = "default"


@dataclass(frozen=True)
class CatalogueArgs:
    domain: str
    routing_mode: RoutingMode
    ingress_class: str
    auth_url: str
    sign_in_url: str
    authorization_url: str | None
    middlewares: list[str]
    tls_secret_name: str | None = None
    irsa_role_arn: pulumi.Input[str] | None = None
    with_templates: bool = True


def _object(kind: str, name: str, spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": "jupyter-k8s"}},
        "spec": spec.model_dump(mode="json", exclude_none=True),
    }


def manager(args: CatalogueArgs) -> dict[str, Any]:
    spec = WorkspaceManagerSpec.model_validate(
        {
            "domain": args.domain,
            "routing": {
                "mode": args.routing_mode,
                "ingressClassName": args.ingress_class,
                **({"tlsSecretName": args.tls_secret_name} if args.tls_secret_name else {}),
            },
            "authentication": {
                "authUrl": args.auth_url,
                "signInUrl": args.sign_in_url,
                "middlewares": args.middlewares,
            },
            "authorization": {"url": args.authorization_url} if args.authorization_url else {},
        }
    )
    return _object("WorkspaceManager", MANAGER, spec)


def profile() -> dict[str, Any]:
    # No Kubernetes API access, no token: what a notebook needs by default.
    return _object(
        "WorkspaceExecutionProfile", PROFILE, WorkspaceExecutionProfileSpec.model_validate({})
    )


def template_names() -> list[str]:
    return [t["metadata"]["name"] for t in templates()]


def templates() -> list[dict[str, Any]]:
    common: dict[str, Any] = {
        "defaultManagerRef": MANAGER,
        "defaultExecutionProfileRef": PROFILE,
        "idleShutdown": {
            "enabledByDefault": True,
            "defaultTimeoutMinutes": 120,
            "minTimeoutMinutes": 15,
            "maxTimeoutMinutes": 720,
        },
    }
    cpu = WorkspaceTemplateSpec.model_validate(
        {
            **common,
            "displayName": "JupyterLab (CPU)",
            "description": "JupyterLab for everyday data work.",
            "appType": "jupyterlab",
            "defaultImage": images.JUPYTERLAB,
            "defaultResources": {
                "requests": {"cpu": "500m", "memory": "1Gi"},
                "limits": {"cpu": "2", "memory": "4Gi"},
            },
            "resourceBounds": {
                "cpu": {"min": "100m", "max": "4"},
                "memory": {"min": "256Mi", "max": "16Gi"},
                "nvidia.com/gpu": {"max": "0"},
            },
            "primaryStorage": {"defaultSize": "10Gi", "minSize": "1Gi", "maxSize": "100Gi"},
        }
    )
    gpu = WorkspaceTemplateSpec.model_validate(
        {
            **common,
            "displayName": "JupyterLab (GPU)",
            "description": "JupyterLab with one NVIDIA GPU.",
            "appType": "jupyterlab",
            "defaultImage": images.JUPYTERLAB_GPU,
            "defaultResources": {
                "requests": {"cpu": "2", "memory": "8Gi", "nvidia.com/gpu": "1"},
                "limits": {"cpu": "8", "memory": "32Gi", "nvidia.com/gpu": "1"},
            },
            "resourceBounds": {
                "cpu": {"min": "1", "max": "16"},
                "memory": {"min": "4Gi", "max": "64Gi"},
                "nvidia.com/gpu": {"min": "1", "max": "4"},
            },
            "primaryStorage": {"defaultSize": "50Gi", "minSize": "10Gi", "maxSize": "500Gi"},
        }
    )
    code = WorkspaceTemplateSpec.model_validate(
        {
            **common,
            "displayName": "VS Code in the browser",
            "description": "code-server, for software development.",
            "appType": "code-server",
            "defaultImage": images.CODE_SERVER,
            "defaultResources": {
                "requests": {"cpu": "500m", "memory": "1Gi"},
                "limits": {"cpu": "2", "memory": "4Gi"},
            },
            "resourceBounds": {
                "cpu": {"min": "100m", "max": "4"},
                "memory": {"min": "512Mi", "max": "16Gi"},
            },
            "primaryStorage": {"defaultSize": "10Gi", "minSize": "1Gi", "maxSize": "100Gi"},
        }
    )
    return [
        _object("WorkspaceTemplate", "jupyterlab-cpu-v1", cpu),
        _object("WorkspaceTemplate", "jupyterlab-gpu-v1", gpu),
        _object("WorkspaceTemplate", "code-server-v1", code),
    ]


class Catalogue(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: CatalogueArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("jupyter-k8s:index:Catalogue", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        prof = profile()
        if args.irsa_role_arn is not None:
            prof["spec"]["serviceAccount"]["annotations"] = {
                "eks.amazonaws.com/role-arn": args.irsa_role_arn
            }
        objs = [manager(args), prof, *(templates() if args.with_templates else [])]
        self.resources = [declare(o, child) for o in objs]
        self.manager_name = MANAGER
        self.template_names = template_names() if args.with_templates else []
        self.register_outputs({"manager": MANAGER, "templates": self.template_names})
