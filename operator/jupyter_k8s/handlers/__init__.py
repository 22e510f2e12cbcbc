"""Thin Kopf handlers: look up, call the pure reconcile functions, apply, patch status.

Importing this package registers every handler with Kopf.
"""

from . import indexes, lifecycle, managers, shares, templates, webhook, workspaces

__all__ = ["indexes", "lifecycle", "managers", "shares", "templates", "webhook", "workspaces"]
