"""Types shared by several kinds: quantities, resources, env, conditions, names.

Every field carries a description: the CRD generator copies it into the schema, which is what
`kubectl explain` prints.
"""

from __future__ import annotations

import functools
import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic.config import JsonDict

GROUP = "workspace.jupyter.org"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
CATEGORY = "jupyter"

# A DNS-1123 subdomain: what Kubernetes accepts as the name of most objects.
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
# A DNS-1123 label: names that end up in hostnames and labels.
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
ENV_NAME = r"^[-._a-zA-Z][-._a-zA-Z0-9]*$"
# Same grammar as Kubernetes resource.Quantity (decimal with optional SI / binary suffix or exponent).
QUANTITY_PATTERN = r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"


# Suffix -> multiplier, as resource.Quantity reads them (binary, decimal SI).
_SUFFIXES: dict[str, Decimal] = {
    **{f"{p}i": Decimal(1024) ** (i + 1) for i, p in enumerate("KMGTPE")},
    **{p: Decimal(1000) ** (i + 1) for i, p in enumerate("kMGTPE")},
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
}
_QUANTITY = re.compile(r"([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(.*)")


def parse_quantity(value: str) -> Decimal:
    """The value of a quantity (`500m` -> 0.5, `4Gi` -> 4294967296); ValueError if it is not
    one. The grammar is the schema's (QUANTITY_PATTERN), as the API server reads it."""
    match = _QUANTITY.fullmatch(value) if re.fullmatch(QUANTITY_PATTERN, value) else None
    if match is None:
        raise ValueError(f"{value!r} is not a quantity")
    number, suffix = match.groups()
    try:
        if suffix not in _SUFFIXES:  # an exponent: 1e3, 2E-2
            return Decimal(number + suffix)
        # Multiplying rounds to 28 digits: a bare number is taken exactly.
        return Decimal(number) * _SUFFIXES[suffix] if suffix else Decimal(number)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a quantity") from None


def _quantity(value: Any) -> str:
    """Accept `1`, `0.5` or `"500m"` like Kubernetes does, store the canonical string form."""
    if isinstance(value, bool):
        raise ValueError("a quantity is a number or a string such as 500m or 10Gi, not a boolean")
    if isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError("a quantity is a number or a string such as 500m or 10Gi")
    try:
        parse_quantity(value)
    except ValueError as err:
        raise ValueError(
            f"{value!r} is not a Kubernetes quantity (examples: 500m, 2, 4Gi)"
        ) from err
    return value


Quantity = Annotated[
    str,
    BeforeValidator(_quantity),
    WithJsonSchema(
        {
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "pattern": QUANTITY_PATTERN,
            "maxLength": 64,  # bounds the cost of CEL rules that read quantities
            "x-kubernetes-int-or-string": True,
        }
    ),
]
"""A Kubernetes quantity (`500m`, `2`, `4Gi`): an int-or-string in the schema, a string in Python."""

Name = Annotated[str, Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN)]
Image = Annotated[str, Field(min_length=1, max_length=512)]
LabelName = Annotated[str, Field(min_length=1, max_length=63, pattern=DNS_LABEL)]


@functools.lru_cache(maxsize=4096)
def quantity_value(q: str) -> Decimal:
    """The numeric value of a quantity, for comparisons. Cached: every pass compares the same
    few quantities (requests, limits, bounds) again."""
    return parse_quantity(q)


class Model(BaseModel):
    """Base of every API model: camelCase on the wire, unknown fields rejected, immutable in memory."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        use_enum_values=True,
    )


class Status(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class AppType(StrEnum):
    JUPYTERLAB = "jupyterlab"
    CODE_SERVER = "code-server"


ResourceList = Annotated[dict[str, Quantity], Field(max_length=16)]


class ResourceRequirements(Model):
    requests: ResourceList | None = Field(
        default=None,
        description="Minimum compute the workspace needs, by resource name "
        "(cpu, memory, nvidia.com/gpu, ...). Example: {cpu: 500m, memory: 1Gi}.",
    )
    limits: ResourceList | None = Field(
        default=None,
        description="Maximum compute the workspace may use, by resource name. "
        "For extended resources such as nvidia.com/gpu, requests must equal limits.",
    )


class EnvVar(Model):
    name: str = Field(
        min_length=1,
        max_length=256,
        pattern=ENV_NAME,
        description="Name of the environment variable.",
    )
    value: str = Field(default="", max_length=32768, description="Value of the variable.")


class ConditionType(StrEnum):
    """Every condition type the operator writes, on which kinds (one list: reconciliation,
    handlers, printer columns and tests name them from here)."""

    VALID = "Valid"  # Workspace, WorkspaceExecutionProfile: the spec can be acted on
    ROUTED = "Routed"  # Workspace: its manager's route exists
    PROGRESSING = "Progressing"  # Workspace: starting, stopping or rolling out
    AVAILABLE = "Available"  # Workspace: its app answers
    DEGRADED = "Degraded"  # Workspace: something keeps it from its desired state
    STOPPED = "Stopped"  # Workspace: stopped (why: reason, e.g. Idle)
    READY = "Ready"  # WorkspaceManager: what it references exists
    ACTIVE = "Active"  # WorkspaceShare: its grant is in force


class Condition(Model):
    """The standard metav1.Condition shape."""

    type: str = Field(max_length=316, description="Type of the condition, e.g. Valid or Available.")
    status: Status = Field(description="True, False or Unknown.")
    reason: str = Field(
        default="",
        max_length=1024,
        description="One CamelCase word a program can match on, e.g. TemplateNotFound.",
    )
    message: str = Field(
        default="", max_length=32768, description="What happened and what to do next, for humans."
    )
    lastTransitionTime: datetime | None = Field(
        default=None, description="When the status last changed."
    )
    observedGeneration: int | None = Field(
        default=None, ge=0, description="The .metadata.generation the condition was computed from."
    )


def cel(rule: str, message: str, **extra: str) -> JsonDict:
    """One CEL rule for `x-kubernetes-validations`; the message is what `kubectl` prints."""
    return {"rule": rule, "message": message, **extra}


def validations(*rules: JsonDict) -> JsonDict:
    """`json_schema_extra` carrying CEL rules for a field."""
    return {"x-kubernetes-validations": list(rules)}


def with_rules(*rules: JsonDict) -> ConfigDict:
    """`model_config` of a model whose schema carries CEL rules."""
    return ConfigDict(**Model.model_config, json_schema_extra=validations(*rules))


# Conditions are a map keyed by type (server-side apply merges them per type).
CONDITIONS_LIST: JsonDict = {
    "x-kubernetes-list-type": "map",
    "x-kubernetes-list-map-keys": ["type"],
}
