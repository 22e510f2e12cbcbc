"""The five kinds of workspace.jupyter.org/v1alpha1: the single source of truth for the API.

`crds/` is generated from these models (`make manifests`); the operator parses objects with them
and the Pulumi stack builds CRDs and default objects from them.
"""

from .common import API_VERSION, CATEGORY, GROUP, VERSION
from .execution_profile import WORKSPACE_EXECUTION_PROFILE, WorkspaceExecutionProfileSpec
from .kind import KindDef
from .manager import WORKSPACE_MANAGER, WorkspaceManagerSpec
from .share import WORKSPACE_SHARE, WorkspaceShareSpec
from .template import WORKSPACE_TEMPLATE, WorkspaceTemplateSpec
from .workspace import WORKSPACE, WorkspaceSpec

KINDS: tuple[KindDef, ...] = (
    WORKSPACE,
    WORKSPACE_TEMPLATE,
    WORKSPACE_MANAGER,
    WORKSPACE_EXECUTION_PROFILE,
    WORKSPACE_SHARE,
)

__all__ = [
    "API_VERSION",
    "CATEGORY",
    "GROUP",
    "KINDS",
    "VERSION",
    "WORKSPACE",
    "WORKSPACE_EXECUTION_PROFILE",
    "WORKSPACE_MANAGER",
    "WORKSPACE_SHARE",
    "WORKSPACE_TEMPLATE",
    "KindDef",
    "WorkspaceExecutionProfileSpec",
    "WorkspaceManagerSpec",
    "WorkspaceShareSpec",
    "WorkspaceSpec",
    "WorkspaceTemplateSpec",
]
