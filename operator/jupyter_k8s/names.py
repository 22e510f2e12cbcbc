"""Deterministic, length-safe names for the objects the operator creates."""

from __future__ import annotations

import hashlib
import re

MAX_NAME = 63  # DNS-1123/1035 label: Services, label values, hostnames


def child_name(prefix: str, name: str, suffix: str = "") -> str:
    """`<prefix>-<name>[-<suffix>]`, a valid DNS label; long names are cut and get a hash.

    The hash keeps two long names that share a prefix from colliding after truncation.
    """
    safe = re.sub(r"[^a-z0-9-]", "-", name.lower()).strip("-") or "x"
    tail = f"-{suffix}" if suffix else ""
    full = f"{prefix}-{safe}{tail}"
    if len(full) <= MAX_NAME and safe == name:
        return full
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    room = MAX_NAME - len(prefix) - len(tail) - len(digest) - 2
    return f"{prefix}-{safe[:room].rstrip('-')}-{digest}{tail}"


def workspace_child(name: str, suffix: str = "") -> str:
    """Name of a Workspace's PVC, Deployment, Service... (`ws-<name>`)."""
    return child_name("ws", name, suffix)
