"""Workspace: a compute unit with dedicated storage, a unique URL and an access list."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from .common import (
    AppType,
    ConditionType,
    EnvVar,
    Image,
    LabelName,
    Model,
    Name,
    Quantity,
    ResourceRequirements,
    cel,
    with_rules,
)
from .kind import AGE, KindDef, PrinterColumn
from .status import BaseStatus

OWNER_ANNOTATION = "workspace.jupyter.org/created-by"
WORKSPACE_LABEL = "workspace.jupyter.org/workspace-name"


class DesiredStatus(StrEnum):
    RUNNING = "Running"
    STOPPED = "Stopped"


class AccessType(StrEnum):
    PRIVATE = "Private"
    PUBLIC = "Public"


class Phase(StrEnum):
    PENDING = "Pending"
    INVALID = "Invalid"
    STARTING = "Starting"
    RUNNING = "Running"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    DEGRADED = "Degraded"


_TEMPLATE_REF_IMMUTABLE = cel(
    "has(self.templateRef) == has(oldSelf.templateRef) && "
    "(!has(self.templateRef) || self.templateRef == oldSelf.templateRef)",
    "spec.templateRef is immutable: it cannot be added, changed or removed after creation. "
    "Create a new workspace to use another template.",
    fieldPath=".templateRef",
    reason="FieldValueForbidden",
)
_STORAGE_CLASS_IMMUTABLE = cel(
    "(has(self.storage) && has(self.storage.storageClassName) ? self.storage.storageClassName : '')"
    " == (has(oldSelf.storage) && has(oldSelf.storage.storageClassName)"
    " ? oldSelf.storage.storageClassName : '')",
    "spec.storage.storageClassName is immutable: a volume cannot move to another storage class. "
    "Create a new workspace and copy the data.",
    fieldPath=".storage.storageClassName",
    reason="FieldValueForbidden",
)


class WorkspaceStorage(Model):
    size: Quantity | None = Field(
        default=None,
        description="Size of the workspace's persistent volume, e.g. 10Gi. "
        "Defaults to the template's primaryStorage.defaultSize and must lie within its bounds.",
    )
    storageClassName: str | None = Field(
        default=None,
        max_length=253,
        description="StorageClass of the volume. Defaults to the template's, then to the "
        "cluster default. Immutable: a volume cannot move to another class.",
    )
    mountPath: str | None = Field(
        default=None,
        max_length=1024,
        pattern=r"^/",
        description="Where the volume is mounted in the container (an absolute path). "
        "Defaults to the template's, then to /home/jovyan.",
    )


class IdleShutdown(Model):
    enabled: bool = Field(
        default=False, description="Stop the workspace after it has been idle for timeoutMinutes."
    )
    timeoutMinutes: int | None = Field(
        default=None,
        ge=1,
        le=10080,
        description="Idle minutes before the workspace is stopped; within the template's bounds.",
    )


class WorkspaceSpec(Model):
    model_config = with_rules(_TEMPLATE_REF_IMMUTABLE, _STORAGE_CLASS_IMMUTABLE)

    displayName: str | None = Field(
        default=None, max_length=253, description="Human-friendly name shown in UIs."
    )
    templateRef: Name | None = Field(
        default=None,
        description="Name of the WorkspaceTemplate that supplies defaults and bounds. "
        "Cannot be added, changed or removed after creation.",
    )
    image: Image | None = Field(
        default=None,
        description="Container image. Defaults to the template's defaultImage and must be in "
        "its allowedImages.",
    )
    appType: AppType | None = Field(
        default=None,
        description="Which application the image runs: jupyterlab or code-server. Defaults to the "
        "template's, then jupyterlab. It decides the command, port and base URL of the pod.",
    )
    resources: ResourceRequirements | None = Field(
        default=None,
        description="Compute requests and limits. Defaults to the template's defaultResources and "
        "must lie within its resourceBounds.",
    )
    storage: WorkspaceStorage | None = Field(
        default=None, description="The workspace's persistent home volume."
    )
    env: list[EnvVar] | None = Field(
        default=None,
        max_length=64,
        description="Extra environment variables, added to (and overriding) the template's env.",
    )
    desiredStatus: DesiredStatus = Field(
        default=DesiredStatus.RUNNING,
        description="Running starts the workspace; Stopped removes its pod and keeps its volume.",
    )
    accessType: AccessType = Field(
        default=AccessType.PRIVATE,
        description="Private: only the owner and the subjects of WorkspaceShares may connect. "
        "Public: every authenticated user of the manager may connect.",
    )
    managerRef: Name | None = Field(
        default=None,
        description="WorkspaceManager that routes and authenticates this workspace. Defaults to "
        "the template's defaultManagerRef.",
    )
    executionProfileRef: Name | None = Field(
        default=None,
        description="WorkspaceExecutionProfile the pod runs as. Defaults to the template's "
        "defaultExecutionProfileRef; must be one the template allows.",
    )
    idleShutdown: IdleShutdown | None = Field(
        default=None, description="Stop the workspace automatically when it is idle."
    )


class WorkspaceStatus(BaseStatus):
    phase: Phase | None = Field(
        default=None,
        description="One word for humans: Pending, Invalid, Starting, Running, Stopping, "
        "Stopped or Degraded. Programs should read conditions.",
    )
    url: str | None = Field(
        default=None, max_length=2048, description="Where the workspace is reached in a browser."
    )
    owner: str | None = Field(
        default=None,
        max_length=512,
        description="The user who created the workspace (from the admission webhook).",
    )
    pvcName: LabelName | None = Field(
        default=None, description="The PersistentVolumeClaim that holds the workspace's data."
    )
    template: str | None = Field(
        default=None, max_length=253, description="The template the workspace resolved to."
    )


_NAME_RULE = cel(
    "size(self.metadata.name) <= 63 && !self.metadata.name.contains('--')",
    "a workspace name is at most 63 characters and has no '--': it becomes part of the host "
    "name <name>--<namespace>.<domain>.",
    reason="FieldValueInvalid",
)

WORKSPACE = KindDef(
    kind="Workspace",
    plural="workspaces",
    short_names=("ws",),
    namespaced=True,
    spec=WorkspaceSpec,
    status=WorkspaceStatus,
    description="A JupyterLab or code-server workspace: a compute unit with dedicated storage, "
    "a unique URL and an access list.",
    columns=(
        PrinterColumn("Template", ".spec.templateRef", description="WorkspaceTemplate in use"),
        PrinterColumn(
            "Phase", ".status.phase", description="Pending, Invalid, Starting, Running..."
        ),
        PrinterColumn(
            "Available",
            f'.status.conditions[?(@.type=="{ConditionType.AVAILABLE}")].status',
            description="Whether the workspace answers",
        ),
        PrinterColumn("URL", ".status.url", description="Where to open it"),
        PrinterColumn("Owner", ".status.owner", priority=1),
        PrinterColumn(
            "Reason",
            f'.status.conditions[?(@.type=="{ConditionType.VALID}")].reason',
            priority=1,
            description="Why it is (in)valid",
        ),
        AGE,
    ),
    object_rules=(_NAME_RULE,),
)
