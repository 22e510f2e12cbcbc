"""How a kind is described to Kubernetes: names, scope, printer columns, spec and status models."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from .common import CATEGORY, GROUP


@dataclass(frozen=True)
class PrinterColumn:
    name: str
    json_path: str
    type: Literal["string", "integer", "number", "boolean", "date"] = "string"
    description: str = ""
    priority: int = 0

    def manifest(self) -> dict[str, Any]:
        col: dict[str, Any] = {"name": self.name, "type": self.type, "jsonPath": self.json_path}
        if self.description:
            col["description"] = self.description
        if self.priority:
            col["priority"] = self.priority
        return col


AGE = PrinterColumn("Age", ".metadata.creationTimestamp", "date")


@dataclass(frozen=True)
class KindDef:
    """Everything the CRD generator, the operator and the stack need to know about one kind."""

    kind: str
    plural: str
    short_names: tuple[str, ...]
    namespaced: bool
    spec: type[BaseModel]
    status: type[BaseModel]
    description: str
    columns: tuple[PrinterColumn, ...] = ()
    # CEL rules on the spec node itself (e.g. immutability: `self == oldSelf`).
    spec_rules: tuple[dict[str, Any], ...] = field(default=())
    # CEL rules on the whole object (only metadata.name is visible to them there).
    object_rules: tuple[dict[str, Any], ...] = field(default=())

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{GROUP}"

    @property
    def categories(self) -> tuple[str, ...]:
        return (CATEGORY,)
