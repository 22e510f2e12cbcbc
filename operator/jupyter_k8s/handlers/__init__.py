"""Kopf registration: events say what to reconcile (core/ does it), indexes keep the views.
The workspaces and their children are not Kopf's: the operator watches them itself
(core/watches.py).

Importing this package registers every handler with Kopf; the admission webhook's handlers are
registered by `register_webhooks()` only when a webhook server runs (JK_WEBHOOK_MODE != off).
"""

from . import indexes, lifecycle, managers, nodes, profiles, shares, templates


def register_webhooks() -> None:
    from . import webhook  # noqa: F401 - importing registers the mutating handlers


__all__ = [
    "indexes",
    "lifecycle",
    "managers",
    "nodes",
    "profiles",
    "register_webhooks",
    "shares",
    "templates",
]
