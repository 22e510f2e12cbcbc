"""WorkspaceTemplate: defaults and bounds that workspaces inherit and must satisfy."""

from __future__ import annotations

from pydantic import Field, model_validator

from .common import (
    AppType,
    EnvVar,
    Image,
    LabelName,
    Model,
    Name,
    Quantity,
    ResourceRequirements,
    cel,
    quantity_value,
    with_rules,
)
from .kind import AGE, KindDef, PrinterColumn
from .status import BaseStatus

TEMPLATE_FINALIZER = "workspace.jupyter.org/template-protection"
DEFAULT_MOUNT_PATH = "/home/jovyan"


def _check_not_above(low: str | None, high: str | None, message: str) -> None:
    """The Python twin of `_not_above`, so that the models reject what the API server rejects."""
    if low is not None and high is not None and quantity_value(low) > quantity_value(high):
        raise ValueError(message)


def _not_above(low: str, high: str) -> str:
    """CEL: `low` <= `high` as quantities, when both are set (int-or-string values)."""
    return (
        f"!has(self.{low}) || !has(self.{high}) || "
        f"quantity(string(self.{low})).compareTo(quantity(string(self.{high}))) <= 0"
    )


_RANGE_MESSAGE = "min must not exceed max: lower min or raise max."


class QuantityRange(Model):
    model_config = with_rules(cel(_not_above("min", "max"), _RANGE_MESSAGE))

    min: Quantity | None = Field(default=None, description="Smallest allowed value (inclusive).")
    max: Quantity | None = Field(default=None, description="Largest allowed value (inclusive).")

    @model_validator(mode="after")
    def _ordered(self) -> QuantityRange:
        _check_not_above(self.min, self.max, _RANGE_MESSAGE)
        return self


# min <= default <= max, as CEL on the server and as a validator here.
_STORAGE_ORDER = (("minSize", "defaultSize"), ("defaultSize", "maxSize"), ("minSize", "maxSize"))


def _storage_message(low: str, high: str) -> str:
    return f"primaryStorage.{low} must not exceed primaryStorage.{high}."


class PrimaryStorage(Model):
    model_config = with_rules(
        *(
            cel(_not_above(lo, hi), _storage_message(lo, hi), fieldPath=f".{lo}")
            for lo, hi in _STORAGE_ORDER
        )
    )

    defaultSize: Quantity = Field(
        default="10Gi", description="Volume size for workspaces that do not ask for one."
    )
    minSize: Quantity | None = Field(
        default=None, description="Smallest size a workspace may ask for."
    )
    maxSize: Quantity | None = Field(
        default=None, description="Largest size a workspace may ask for."
    )
    storageClassName: str | None = Field(
        default=None,
        max_length=253,
        description="StorageClass for workspace volumes; empty means the cluster default.",
    )
    mountPath: str = Field(
        default=DEFAULT_MOUNT_PATH,
        max_length=1024,
        pattern=r"^/",
        description="Where the volume is mounted in the workspace container.",
    )

    @model_validator(mode="after")
    def _ordered(self) -> PrimaryStorage:
        for lo, hi in _STORAGE_ORDER:
            _check_not_above(getattr(self, lo), getattr(self, hi), _storage_message(lo, hi))
        return self


class ContainerPort(Model):
    name: LabelName | None = Field(default=None, description="Name of the port.")
    containerPort: int = Field(ge=1, le=65535, description="Port the container listens on.")
    protocol: str = Field(
        default="TCP", pattern=r"^(TCP|UDP|SCTP)$", description="TCP, UDP or SCTP."
    )


class Sidecar(Model):
    """A container added to every workspace pod (a subset of the core Container fields)."""

    name: LabelName = Field(description="Container name, unique within the pod.")
    image: Image = Field(description="Container image (pin a tag).")
    command: list[str] | None = Field(
        default=None, max_length=64, description="Entrypoint override."
    )
    args: list[str] | None = Field(default=None, max_length=64, description="Arguments.")
    env: list[EnvVar] | None = Field(default=None, max_length=64, description="Environment.")
    ports: list[ContainerPort] | None = Field(default=None, max_length=16, description="Ports.")
    resources: ResourceRequirements | None = Field(
        default=None, description="Compute requests and limits of the sidecar."
    )


class IdleShutdownPolicy(Model):
    model_config = with_rules(
        cel(
            "self.minTimeoutMinutes <= self.defaultTimeoutMinutes && "
            "self.defaultTimeoutMinutes <= self.maxTimeoutMinutes",
            "idleShutdown needs minTimeoutMinutes <= defaultTimeoutMinutes <= maxTimeoutMinutes.",
        ),
    )

    enabledByDefault: bool = Field(
        default=False, description="Whether workspaces stop when idle unless they say otherwise."
    )
    defaultTimeoutMinutes: int = Field(default=60, ge=1, le=10080, description="Default timeout.")
    minTimeoutMinutes: int = Field(default=5, ge=1, le=10080, description="Smallest timeout.")
    maxTimeoutMinutes: int = Field(default=1440, ge=1, le=10080, description="Largest timeout.")

    @model_validator(mode="after")
    def _ordered(self) -> IdleShutdownPolicy:
        if not (self.minTimeoutMinutes <= self.defaultTimeoutMinutes <= self.maxTimeoutMinutes):
            raise ValueError(
                "idleShutdown needs minTimeoutMinutes <= defaultTimeoutMinutes <= maxTimeoutMinutes."
            )
        return self


class WorkspaceTemplateSpec(Model):
    displayName: str = Field(min_length=1, max_length=253, description="Name shown to users.")
    description: str | None = Field(
        default=None, max_length=4096, description="What this template is for."
    )
    appType: AppType = Field(
        default=AppType.JUPYTERLAB,
        description="Application of workspaces using this template: jupyterlab or code-server.",
    )
    defaultImage: Image = Field(description="Image of workspaces that do not name one.")
    allowedImages: list[Image] | None = Field(
        default=None,
        max_length=64,
        description="Images a workspace may ask for. Empty means only defaultImage.",
    )
    defaultResources: ResourceRequirements | None = Field(
        default=None, description="Requests and limits of workspaces that do not set any."
    )
    resourceBounds: dict[str, QuantityRange] | None = Field(
        default=None,
        max_length=16,
        description="Allowed min/max per resource name (cpu, memory, nvidia.com/gpu, ...), "
        "checked against both requests and limits of every workspace.",
    )
    primaryStorage: PrimaryStorage = Field(
        default_factory=PrimaryStorage,
        description="Size bounds, class and mount path of each workspace's home volume.",
    )
    env: list[EnvVar] | None = Field(
        default=None, max_length=64, description="Environment variables of every workspace."
    )
    sidecars: list[Sidecar] | None = Field(
        default=None, max_length=8, description="Containers added to every workspace pod."
    )
    defaultManagerRef: Name | None = Field(
        default=None, description="WorkspaceManager of workspaces that do not name one."
    )
    defaultExecutionProfileRef: Name | None = Field(
        default=None, description="WorkspaceExecutionProfile of workspaces that do not name one."
    )
    allowedExecutionProfiles: list[Name] | None = Field(
        default=None,
        max_length=32,
        description="Execution profiles workspaces may use. Empty means only the default "
        "(or none).",
    )
    idleShutdown: IdleShutdownPolicy | None = Field(
        default=None, description="Idle shutdown default and bounds."
    )


class WorkspaceTemplateStatus(BaseStatus):
    workspaceCount: int | None = Field(
        default=None, ge=0, description="How many workspaces reference this template."
    )


_SPEC_IMMUTABLE = cel(
    "self == oldSelf",
    "WorkspaceTemplate spec is immutable: create a new template version instead, "
    "e.g. production-v2, and point new workspaces at it.",
    reason="FieldValueForbidden",
)

WORKSPACE_TEMPLATE = KindDef(
    kind="WorkspaceTemplate",
    plural="workspacetemplates",
    short_names=("wst",),
    namespaced=False,
    spec=WorkspaceTemplateSpec,
    status=WorkspaceTemplateStatus,
    description="Defaults and bounds that workspaces inherit and must satisfy. The spec is "
    "immutable: a new version is a new template.",
    columns=(
        PrinterColumn("Display Name", ".spec.displayName"),
        PrinterColumn("App", ".spec.appType"),
        PrinterColumn("Default Image", ".spec.defaultImage"),
        PrinterColumn("Workspaces", ".status.workspaceCount", "integer"),
        AGE,
    ),
    spec_rules=(_SPEC_IMMUTABLE,),
)
