"""Checks of a resolved workspace against its template's bounds. Each violation names the
field, the offending value and the allowed range, so the user knows what to change."""

from __future__ import annotations

import math

from ..api.common import quantity_value
from ..api.template import WorkspaceTemplateSpec
from ..api.workspace import WorkspaceSpec
from .resolve import Resolved

# The operator sets these itself (apps.py); a second definition would break the pod.
RESERVED_ENV_PREFIX = "JUPYTER_K8S_"
# Smaller volumes are nonsense, and sub-byte sizes are rounded by the API server.
MIN_VOLUME = "1Mi"


def _allowed_images(t: WorkspaceTemplateSpec) -> list[str]:
    return list(t.allowedImages or []) or [t.defaultImage]


def violations(
    spec: WorkspaceSpec,
    resolved: Resolved,
    template: WorkspaceTemplateSpec | None,
    template_name: str | None,
    current_volume_size: str | None = None,
) -> list[str]:
    """Everything wrong with the workspace, in a stable order; empty means valid."""
    found: list[str] = []
    if template_name and template is None:
        return [
            f'spec.templateRef: WorkspaceTemplate "{template_name}" does not exist; '
            "create it or recreate the workspace with an existing template"
        ]
    if resolved.image is None:
        found.append("spec.image: no image set and no template to take one from; set spec.image")
    for i, var in enumerate(spec.env or []):
        if var.name.startswith(RESERVED_ENV_PREFIX):
            found.append(
                f'spec.env[{i}].name: "{var.name}" is reserved (jupyter-k8s sets '
                f"{RESERVED_ENV_PREFIX}* itself); use another name"
            )
    for var in (template.env or []) if template is not None else []:
        if var.name.startswith(RESERVED_ENV_PREFIX):
            found.append(
                f'template "{template_name}" env: "{var.name}" is reserved (jupyter-k8s sets '
                f"{RESERVED_ENV_PREFIX}* itself); an admin must fix the template"
            )
    if quantity_value(resolved.storage_size) < quantity_value(MIN_VOLUME):
        found.append(
            f"spec.storage.size: {resolved.storage_size} is below the minimum {MIN_VOLUME}"
        )

    for kind, values in (("requests", resolved.requests), ("limits", resolved.limits)):
        for res, amount in values.items():
            if quantity_value(amount) < 0:
                found.append(f"spec.resources.{kind}.{res}: {amount} is negative")
    for res, req in resolved.requests.items():
        lim = resolved.limits.get(res)
        if lim is not None and quantity_value(req) > quantity_value(lim):
            found.append(
                f"spec.resources.requests.{res}: {req} is above its limit {lim}; "
                "raise the limit or lower the request"
            )

    if template is not None:
        allowed = _allowed_images(template)
        if resolved.image is not None and resolved.image not in allowed:
            found.append(
                f'spec.image: "{resolved.image}" is not allowed by template '
                f'"{template_name}"; use one of: {", ".join(allowed)}'
            )
        for res, bounds in sorted((template.resourceBounds or {}).items()):
            for kind, values in (("requests", resolved.requests), ("limits", resolved.limits)):
                qty = values.get(res)
                if qty is None:
                    continue

                if bounds.min is not None and quantity_value(qty) < quantity_value(bounds.min):
                    found.append(
                        f"spec.resources.{kind}.{res}: {qty} is below the template's minimum "
                        f"{bounds.min}"
                    )
                if bounds.max is not None and quantity_value(qty) > quantity_value(bounds.max):
                    found.append(
                        f"spec.resources.{kind}.{res}: {qty} is above the template's maximum "
                        f"{bounds.max}"
                    )
        storage = template.primaryStorage
        size = quantity_value(resolved.storage_size)
        if storage.minSize is not None and size < quantity_value(storage.minSize):
            found.append(
                f"spec.storage.size: {resolved.storage_size} is below the template's minimum "
                f"{storage.minSize}"
            )
        if storage.maxSize is not None and size > quantity_value(storage.maxSize):
            found.append(
                f"spec.storage.size: {resolved.storage_size} is above the template's maximum "
                f"{storage.maxSize}"
            )
        profiles = list(template.allowedExecutionProfiles or [])
        if template.defaultExecutionProfileRef:
            profiles.append(template.defaultExecutionProfileRef)
        if resolved.profile_ref and resolved.profile_ref not in profiles:
            found.append(
                f'spec.executionProfileRef: "{resolved.profile_ref}" is not allowed by template '
                f'"{template_name}"; use one of: {", ".join(profiles) or "(none)"}'
            )
        policy = template.idleShutdown
        timeout = spec.idleShutdown.timeoutMinutes if spec.idleShutdown else None
        if (
            policy is not None
            and timeout is not None
            and not policy.minTimeoutMinutes <= timeout <= policy.maxTimeoutMinutes
        ):
            found.append(
                f"spec.idleShutdown.timeoutMinutes: {timeout} is outside the template's "
                f"range {policy.minTimeoutMinutes}-{policy.maxTimeoutMinutes}"
            )

    # Whole bytes on both sides: the API server rounds a stored request up to a whole byte.
    if current_volume_size is not None and math.ceil(
        quantity_value(resolved.storage_size)
    ) < math.ceil(quantity_value(current_volume_size)):
        found.append(
            f"spec.storage.size: {resolved.storage_size} is smaller than the existing volume "
            f"({current_volume_size}); volumes cannot shrink"
        )
    return found
