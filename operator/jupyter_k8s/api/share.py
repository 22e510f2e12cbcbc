"""WorkspaceShare: grants other users, groups or service accounts access to one workspace."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum

from pydantic import Field, model_validator

from .common import DNS_SUBDOMAIN, ConditionType, Model, Name, cel, with_rules
from .kind import AGE, KindDef, PrinterColumn
from .status import BaseStatus


class SubjectKind(StrEnum):
    USER = "User"
    GROUP = "Group"
    SERVICE_ACCOUNT = "ServiceAccount"


_SA_NAMESPACE = "a ServiceAccount subject needs its namespace."
_SA_NAME = (
    "a ServiceAccount subject's name is a ServiceAccount's name: lowercase letters, digits, "
    "'-' and '.'."
)
_NO_EVERYONE = (
    "sharing with everyone is done with spec.accessType: Public on the workspace, "
    "not with a wildcard subject."
)
_EVERYONE = ("*", "system:authenticated", "system:unauthenticated")
_NEEDS_SUBJECT = "spec.subjects must name at least one User, Group or ServiceAccount to share with."


class Subject(Model):
    model_config = with_rules(
        cel(
            "self.kind != 'ServiceAccount' || has(self.namespace)",
            _SA_NAMESPACE,
            fieldPath=".namespace",
        ),
        cel(
            f"self.kind != 'ServiceAccount' || self.name.matches(r'{DNS_SUBDOMAIN}')",  # raw string: the pattern has \.
            _SA_NAME,
            fieldPath=".name",
        ),
        cel(
            " && ".join(f"self.name != '{n}'" for n in _EVERYONE),
            _NO_EVERYONE,
            fieldPath=".name",
        ),
    )

    kind: SubjectKind = Field(description="User, Group or ServiceAccount.")
    name: str = Field(
        min_length=1, max_length=512, description="Name of the user, group or account."
    )
    namespace: Name | None = Field(
        default=None, description="Namespace of a ServiceAccount subject."
    )

    @model_validator(mode="after")
    def _check(self) -> Subject:
        if self.kind == SubjectKind.SERVICE_ACCOUNT and self.namespace is None:
            raise ValueError(_SA_NAMESPACE)
        if self.kind == SubjectKind.SERVICE_ACCOUNT and not re.fullmatch(DNS_SUBDOMAIN, self.name):
            raise ValueError(_SA_NAME)
        if self.name in _EVERYONE:
            raise ValueError(_NO_EVERYONE)
        return self


RFC3339 = (
    r"^([1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])-[0-9]{2}-[0-9]{2}"
    r"[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)


class WorkspaceShareSpec(Model):
    model_config = with_rules(
        cel(
            "has(self.subjects) && size(self.subjects) > 0",
            _NEEDS_SUBJECT,
            fieldPath=".subjects",
            reason="FieldValueRequired",
        ),
    )

    workspaceName: Name = Field(description="Workspace to share, in the same namespace.")
    subjects: list[Subject] | None = Field(
        default=None, max_length=64, description="Who gets access (RBAC-style subjects)."
    )
    expiresAt: datetime | None = Field(
        default=None,
        description="When access ends (RFC 3339, e.g. 2027-01-31T18:00:00Z). Access stops at "
        "that time without anyone acting; the share then reports Active=False, reason Expired.",
        # What the API server accepts must parse here too: years 0001-9999, offsets up to
        # +/-23:59, at most microseconds (its own date-time check then rejects bad dates).
        json_schema_extra={"pattern": RFC3339},
    )

    @model_validator(mode="after")
    def _check(self) -> WorkspaceShareSpec:
        if not self.subjects:
            raise ValueError(_NEEDS_SUBJECT)
        return self


class WorkspaceShareStatus(BaseStatus):
    pass


# The share's name labels its RoleBinding, and label values stop at 63 characters.
_NAME_RULE = cel(
    "size(self.metadata.name) <= 63",
    "a share name is at most 63 characters (it labels the share's RoleBinding).",
    reason="FieldValueInvalid",
)
_WORKSPACE_IMMUTABLE = cel(
    "self.workspaceName == oldSelf.workspaceName",
    "spec.workspaceName is immutable: a share belongs to one workspace. Create a new share "
    "for another workspace.",
    fieldPath=".workspaceName",
    reason="FieldValueForbidden",
)


WORKSPACE_SHARE = KindDef(
    kind="WorkspaceShare",
    plural="workspaceshares",
    short_names=("wss",),
    namespaced=True,
    spec=WorkspaceShareSpec,
    status=WorkspaceShareStatus,
    description="Grants other users, groups or service accounts access to one workspace.",
    columns=(
        PrinterColumn("Workspace", ".spec.workspaceName"),
        PrinterColumn("Active", f'.status.conditions[?(@.type=="{ConditionType.ACTIVE}")].status'),
        # A string: kubectl prints future dates of type "date" as <invalid>.
        PrinterColumn("Expires", ".spec.expiresAt"),
        AGE,
    ),
    spec_rules=(_WORKSPACE_IMMUTABLE,),
    object_rules=(_NAME_RULE,),
)
