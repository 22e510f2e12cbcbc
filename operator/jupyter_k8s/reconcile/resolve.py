"""Template inheritance: every field a workspace leaves empty comes from its template."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..api.common import AppType, EnvVar
from ..api.template import DEFAULT_MOUNT_PATH, Sidecar, WorkspaceTemplateSpec
from ..api.workspace import WorkspaceSpec

DEFAULT_STORAGE_SIZE = "10Gi"


@dataclass(frozen=True)
class Resolved:
    """A workspace with its template applied: what the pod and volume are built from."""

    app_type: str
    image: str | None
    requests: dict[str, str]
    limits: dict[str, str]
    storage_size: str
    storage_class: str | None
    mount_path: str
    env: tuple[EnvVar, ...]
    manager_ref: str | None
    profile_ref: str | None
    idle_enabled: bool
    idle_timeout_minutes: int | None
    sidecars: tuple[Sidecar, ...] = field(default=())


def merge_env(*layers: list[EnvVar] | None) -> tuple[EnvVar, ...]:
    """Later layers override earlier ones by name; order of first appearance is kept."""
    merged: dict[str, EnvVar] = {}
    for layer in layers:
        for var in layer or []:
            merged[var.name] = var
    return tuple(merged.values())


def resolve(spec: WorkspaceSpec, template: WorkspaceTemplateSpec | None) -> Resolved:
    t = template
    storage = spec.storage
    # Resources inherit as a whole: a workspace that sets requests but not limits gets the
    # template's limits (and vice versa), which is what users expect from "defaults".
    default_res = t.defaultResources if t else None
    requests = (spec.resources.requests if spec.resources else None) or (
        default_res.requests if default_res else None
    )
    limits = (spec.resources.limits if spec.resources else None) or (
        default_res.limits if default_res else None
    )
    idle_policy = t.idleShutdown if t else None
    ws_idle = spec.idleShutdown
    return Resolved(
        app_type=spec.appType or (t.appType if t else AppType.JUPYTERLAB.value),
        image=spec.image or (t.defaultImage if t else None),
        requests=dict(requests or {}),
        limits=dict(limits or {}),
        storage_size=(storage.size if storage and storage.size else None)
        or (t.primaryStorage.defaultSize if t else DEFAULT_STORAGE_SIZE),
        storage_class=(storage.storageClassName if storage else None)
        or (t.primaryStorage.storageClassName if t else None),
        mount_path=(storage.mountPath if storage and storage.mountPath else None)
        or (t.primaryStorage.mountPath if t else DEFAULT_MOUNT_PATH),
        env=merge_env(t.env if t else None, spec.env),
        manager_ref=spec.managerRef or (t.defaultManagerRef if t else None),
        profile_ref=spec.executionProfileRef or (t.defaultExecutionProfileRef if t else None),
        idle_enabled=ws_idle.enabled
        if ws_idle
        else (idle_policy.enabledByDefault if idle_policy else False),
        idle_timeout_minutes=(ws_idle.timeoutMinutes if ws_idle else None)
        or (idle_policy.defaultTimeoutMinutes if idle_policy else None),
        sidecars=tuple(t.sidecars or ()) if t else (),
    )
