"""The per-workspace proxy secret: proof, for the app in the pod, that a request came through
the authenticating proxy.

It is derived, not stored centrally: HMAC(key, namespace/name/uid). The operator writes it into
the workspace's Secret (handed to the pod); the authorization service derives the same value and
hands it to the proxy, which adds it to every request it lets through. A recreated workspace
(new uid) gets a new secret; rotating the key rotates all of them.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

KEY_ENV = "JK_PROXY_SECRET_KEY"
KEY_FILE_ENV = "JK_PROXY_SECRET_KEY_FILE"
KEY_SECRET = "jupyter-k8s-proxy-key"  # noqa: S105 - a Secret's name (key "key", operator namespace)
HEADER = "X-Jupyter-K8s-Proxy-Secret"
POD_ENV = "JUPYTER_K8S_PROXY_SECRET"


def load_key() -> bytes | None:
    """The shared key from JK_PROXY_SECRET_KEY or the file JK_PROXY_SECRET_KEY_FILE names."""
    value = os.environ.get(KEY_ENV, "")
    path = os.environ.get(KEY_FILE_ENV)
    if not value and path:
        value = Path(path).read_text().strip()
    return value.encode() if value else None


def workspace_secret(key: bytes, namespace: str, name: str, uid: str) -> str:
    return hmac.new(key, f"{namespace}/{name}/{uid}".encode(), hashlib.sha256).hexdigest()
