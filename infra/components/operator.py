"""The operator: CRDs (from the API models), namespace, RBAC, Deployment, webhook, metrics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from jupyter_k8s.deploy import installer
from jupyter_k8s.deploy.settings import NAME
from jupyter_k8s.proxy_secret import KEY_SECRET

from ..config import OperatorConfig, Target
from .manifests import declare
from .security import REAL_NODE_ANNOTATIONS


@dataclass(frozen=True)
class OperatorArgs:
    config: OperatorConfig
    # Key of the per-workspace proxy secrets, shared with the authorization service.
    proxy_key: pulumi.Input[str] | None = None
    # Namespaces it serves (guided mode: the teams'); empty: the whole cluster. With some, its
    # write access exists only there (a RoleBinding each) and cluster-wide it only reads.
    served_namespaces: tuple[str, ...] = ()
    # Workspace pods run the SSH server the desktop tunnel reaches (JK_SSH_SERVER=on).
    ssh_server: bool = False
    # Resources those namespaces come from (their RoleBindings wait for them).
    namespace_resources: tuple[pulumi.Resource, ...] = ()
    target: Target | None = None


def operator_manifests(
    config: OperatorConfig,
    served: tuple[str, ...] = (),
    target: Target | None = None,
    ssh_server: bool = False,
) -> list[dict[str, Any]]:
    """What the component declares: the installer's objects, adapted to the config."""
    namespace = installer.namespace()
    if target == Target.LOCAL:
        namespace["metadata"]["annotations"] = dict(REAL_NODE_ANNOTATIONS)
    objs = [
        namespace,
        installer.service_account(),
        installer.cluster_role(namespaced=bool(served)),
        installer.cluster_role_binding(),
        installer.metrics_service(),
    ]
    if served:
        objs.append(installer.namespaced_role(config.bindableClusterRoles))
        objs += [installer.namespace_role_binding(ns, config.namespace) for ns in served]
    if not config.runsOnHost:
        deployment = installer.deployment(config.image)
        env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        if served:
            env.append({"name": "JK_NAMESPACES", "value": ",".join(served)})
        if ssh_server:
            env.append({"name": "JK_SSH_SERVER", "value": "on"})
        objs += [
            installer.self_role(config.namespace),
            installer.self_role_binding(config.namespace),
            deployment,
            installer.disruption_budget(),
            installer.webhook_service(),
            installer.webhook_configuration(),
        ]
    for obj in objs:
        if obj["metadata"].get("namespace") and obj["kind"] != "RoleBinding":
            obj["metadata"]["namespace"] = config.namespace
    for obj in objs:
        if obj["kind"] == "Namespace":
            obj["metadata"]["name"] = config.namespace
        for subject in obj.get("subjects", []):
            subject["namespace"] = config.namespace
        for hook in obj.get("webhooks", []):
            hook["clientConfig"]["service"]["namespace"] = config.namespace
    return objs


class Operator(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: OperatorArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("jupyter-k8s:index:Operator", name, None, opts)
        crds = [
            declare(obj, pulumi.ResourceOptions(parent=self)) for obj in installer.api_manifests()
        ]
        self.crds = crds
        namespace = None
        children = []
        key_secret: pulumi.Resource | None = None
        for obj in operator_manifests(
            args.config, args.served_namespaces, args.target, args.ssh_server
        ):
            depends: list[pulumi.Resource] = (
                [namespace] if namespace is not None and obj["kind"] != "Namespace" else []
            )
            if obj["kind"] == "RoleBinding":
                depends = list(args.namespace_resources)
            if obj["kind"] == "Deployment" and key_secret is not None:
                # The key reaches the pods as an optional environment variable, read once at
                # start: a pod started before the Secret exists runs without it for good.
                depends.append(key_secret)

            res = declare(obj, pulumi.ResourceOptions(parent=self, depends_on=depends))
            if obj["kind"] == "Namespace":
                namespace = res
                if args.proxy_key is not None:
                    key_secret = self._key_secret(args, namespace)
                    children.append(key_secret)
            children.append(res)
        # The webhook's caBundle is filled in by the operator at start-up (it makes its own CA).
        self.namespace = args.config.namespace
        self.register_outputs({"namespace": self.namespace, "name": NAME, "crds": len(crds)})

    def _key_secret(self, args: OperatorArgs, namespace: pulumi.Resource) -> pulumi.Resource:
        return declare(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": KEY_SECRET, "namespace": args.config.namespace},
                "stringData": {"key": pulumi.Output.secret(args.proxy_key)},
            },
            pulumi.ResourceOptions(
                parent=self,
                depends_on=[namespace],
                additional_secret_outputs=["stringData", "data"],
            ),
        )
