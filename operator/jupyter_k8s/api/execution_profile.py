"""WorkspaceExecutionProfile: the Kubernetes (and cloud) identity a workspace pod runs as."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from .common import Model, Name, cel, validations
from .kind import AGE, KindDef, PrinterColumn
from .status import BaseStatus

_WILDCARD_MESSAGE = (
    "wildcards are not allowed: list the API groups, resources and verbs explicitly."
)
_NO_WILDCARD = cel("self.all(x, x != '*')", _WILDCARD_MESSAGE)


def _no_wildcard(words: list[str]) -> list[str]:
    if "*" in words:
        raise ValueError(_WILDCARD_MESSAGE)
    return words


RbacWord = Annotated[str, Field(min_length=1, max_length=253)]
RbacWords = Annotated[list[RbacWord], AfterValidator(_no_wildcard)]
ApiGroup = Annotated[str, Field(max_length=253)]  # "" is the core group


class PolicyRule(Model):
    apiGroups: Annotated[list[ApiGroup], AfterValidator(_no_wildcard)] = Field(
        default_factory=lambda: [""],
        max_length=16,
        description='API groups of the resources ("" is the core group).',
        json_schema_extra=validations(_NO_WILDCARD),
    )
    resources: RbacWords = Field(
        min_length=1,
        max_length=32,
        description="Resources, e.g. configmaps or pods/log.",
        json_schema_extra=validations(_NO_WILDCARD),
    )
    verbs: RbacWords = Field(
        min_length=1,
        max_length=16,
        description="Verbs, e.g. get, list, watch.",
        json_schema_extra=validations(_NO_WILDCARD),
    )
    resourceNames: list[RbacWord] | None = Field(
        default=None, max_length=32, description="Restrict the rule to these object names."
    )


class ServiceAccountSettings(Model):
    annotations: dict[str, str] | None = Field(
        default=None,
        max_length=32,
        description="Annotations of the per-workspace ServiceAccount, e.g. "
        "eks.amazonaws.com/role-arn for IRSA.",
    )
    automountToken: bool = Field(
        default=False,
        description="Mount the ServiceAccount token into the pod. Off by default: turn it on "
        "only when code in the workspace must call the Kubernetes API.",
    )


class WorkspaceExecutionProfileSpec(Model):
    serviceAccount: ServiceAccountSettings = Field(
        default_factory=ServiceAccountSettings,
        description="The per-workspace ServiceAccount the pod runs as.",
    )
    rules: list[PolicyRule] | None = Field(
        default=None,
        max_length=32,
        description="RBAC rules granted to the pod in the workspace's namespace.",
    )
    clusterRoles: list[Name] | None = Field(
        default=None,
        max_length=16,
        description="ClusterRoles bound to the pod in the workspace's namespace only.",
    )
    imagePullSecrets: list[Name] | None = Field(
        default=None,
        max_length=8,
        description="Secrets (in the workspace's namespace) used to pull the images.",
    )


class WorkspaceExecutionProfileStatus(BaseStatus):
    workspaceCount: int | None = Field(
        default=None, ge=0, description="How many workspaces run with this profile."
    )


WORKSPACE_EXECUTION_PROFILE = KindDef(
    kind="WorkspaceExecutionProfile",
    plural="workspaceexecutionprofiles",
    short_names=("wsep",),
    namespaced=False,
    spec=WorkspaceExecutionProfileSpec,
    status=WorkspaceExecutionProfileStatus,
    description="The Kubernetes (and cloud) identity a workspace pod runs as.",
    columns=(
        PrinterColumn("Automount Token", ".spec.serviceAccount.automountToken", "boolean"),
        PrinterColumn("Cluster Roles", ".spec.clusterRoles", priority=1),
        PrinterColumn("Workspaces", ".status.workspaceCount", "integer"),
        AGE,
    ),
)
