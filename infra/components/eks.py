"""EKS: the cluster (found by name and region, or created), a kubeconfig for it, a gp3
StorageClass and, where an execution profile asks for one, an IAM role for service accounts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from ..config import EksConfig
from .manifests import declare


@dataclass(frozen=True)
class EksArgs:
    config: EksConfig
    irsa_policy_arns: list[str]
    workspace_namespaces: list[str]


def kubeconfig(name: str, endpoint: str, ca_data: str, region: str) -> str:
    """A kubeconfig that authenticates with `aws eks get-token` (no static credentials)."""
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": name,
                    "cluster": {"server": endpoint, "certificate-authority-data": ca_data},
                }
            ],
            "users": [
                {
                    "name": name,
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": "aws",
                            "args": [
                                "eks",
                                "get-token",
                                "--cluster-name",
                                name,
                                "--region",
                                region,
                                "--output",
                                "json",
                            ],
                        }
                    },
                }
            ],
            "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
            "current-context": name,
        }
    )


def gp3_storage_class() -> dict[str, Any]:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": "gp3",
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
        "provisioner": "ebs.csi.aws.com",
        "parameters": {"type": "gp3", "encrypted": "true"},
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
        "allowVolumeExpansion": True,
    }


def irsa_trust_policy(oidc_provider_arn: str, issuer: str, namespaces: list[str]) -> str:
    host = issuer.removeprefix("https://")
    # Only the per-workspace service accounts (ws-*) of the team namespaces may assume it.
    subjects = [f"system:serviceaccount:{ns}:ws-*" for ns in namespaces] or [
        "system:serviceaccount:*:ws-*"
    ]
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": oidc_provider_arn},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {
                        "StringEquals": {f"{host}:aud": "sts.amazonaws.com"},
                        "StringLike": {f"{host}:sub": subjects},
                    },
                }
            ],
        }
    )


class Eks(pulumi.ComponentResource):
    """Outputs `kubeconfig` for the Kubernetes provider; `irsa_role_arn` when asked for."""

    def __init__(
        self, name: str, args: EksArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("jupyter-k8s:index:Eks", name, None, opts)
        cfg = args.config
        aws_provider = aws.Provider(
            "aws", region=cfg.region, opts=pulumi.ResourceOptions(parent=self)
        )
        child = pulumi.ResourceOptions(parent=self, provider=aws_provider)
        if cfg.createCluster:
            cluster = self._create_cluster(cfg, child)
            endpoint, ca, issuer = (
                cluster.endpoint,
                cluster.certificate_authority.data,
                cluster.identities[0].oidcs[0].issuer,
            )
        else:
            found = aws.eks.get_cluster_output(
                name=cfg.clusterName, opts=pulumi.InvokeOptions(provider=aws_provider, parent=self)
            )
            endpoint = found.endpoint
            ca = found.certificate_authorities[0].data
            issuer = found.identities[0].oidcs[0].issuer
        config: pulumi.Output[str] = pulumi.Output.all(endpoint, ca).apply(
            lambda v: kubeconfig(cfg.clusterName, v[0], v[1], cfg.region)
        )
        self.kubeconfig: pulumi.Output[str] = pulumi.Output.secret(config)

        self.irsa_role_arn: pulumi.Output[str] | None = None
        if args.irsa_policy_arns:
            oidc = aws.iam.OpenIdConnectProvider(
                "eks-oidc", url=issuer, client_id_lists=["sts.amazonaws.com"], opts=child
            )
            role = aws.iam.Role(
                "workspace-irsa",
                assume_role_policy=pulumi.Output.all(oidc.arn, issuer).apply(
                    lambda v: irsa_trust_policy(v[0], v[1], args.workspace_namespaces)
                ),
                description="Assumed by jupyter-k8s workspace pods through IRSA",
                opts=child,
            )
            for i, arn in enumerate(args.irsa_policy_arns):
                aws.iam.RolePolicyAttachment(
                    f"workspace-irsa-{i}", role=role.name, policy_arn=arn, opts=child
                )
            self.irsa_role_arn = role.arn
        self.register_outputs({"clusterName": cfg.clusterName, "region": cfg.region})

    def storage(self, provider: pulumi.ProviderResource) -> pulumi.CustomResource:
        return declare(gp3_storage_class(), pulumi.ResourceOptions(parent=self, provider=provider))

    def _create_cluster(self, cfg: EksConfig, opts: pulumi.ResourceOptions) -> aws.eks.Cluster:
        def role(name: str, service: str, policies: list[str]) -> aws.iam.Role:
            r = aws.iam.Role(
                name,
                assume_role_policy=json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": service},
                                "Action": "sts:AssumeRole",
                            }
                        ],
                    }
                ),
                opts=opts,
            )
            for i, arn in enumerate(policies):
                aws.iam.RolePolicyAttachment(f"{name}-{i}", role=r.name, policy_arn=arn, opts=opts)
            return r

        if not cfg.subnetIds:
            raise ValueError(
                "eks.createCluster needs eks.subnetIds (at least two subnets in two AZs)"
            )
        cluster_role = role(
            "eks-cluster", "eks.amazonaws.com", ["arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"]
        )
        node_role = role(
            "eks-nodes",
            "ec2.amazonaws.com",
            [
                "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
                "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
                "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
                "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy",
            ],
        )
        cluster = aws.eks.Cluster(
            "cluster",
            name=cfg.clusterName,
            role_arn=cluster_role.arn,
            vpc_config={"subnet_ids": cfg.subnetIds, "endpoint_public_access": True},
            opts=opts,
        )
        aws.eks.NodeGroup(
            "nodes",
            cluster_name=cluster.name,
            node_role_arn=node_role.arn,
            subnet_ids=cfg.subnetIds,
            instance_types=[cfg.nodeInstanceType],
            scaling_config={
                "desired_size": cfg.nodeCount,
                "min_size": cfg.nodeCount,
                "max_size": cfg.nodeCount,
            },
            opts=opts,
        )
        aws.eks.Addon(
            "ebs-csi", cluster_name=cluster.name, addon_name="aws-ebs-csi-driver", opts=opts
        )
        return cluster
