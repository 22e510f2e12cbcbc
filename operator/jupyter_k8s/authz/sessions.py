"""Workspace sessions: the IdP session never reaches a workspace app.

oauth2-proxy's session cookie lives on the authentication host only. A browser opening a
workspace is sent there (`/_jk/authorize`), where the authorization service sees who is signed
in and whether they may connect; it answers with a one-minute *hand-off* token bound to that
workspace's host (and path, in path routing), which the workspace host exchanges
(`/_jk/session`) for its own short-lived, host-only cookie. The cookie is bound to user and
workspace: presented to any other workspace it is refused. (JupyterHub's per-server OAuth is
the reference design; HMAC-signed tokens keep the service stateless.)

Tokens are `<base64url JSON>.<base64url HMAC-SHA256>`, keyed by a key derived from the proxy
secret key (so replicas agree without talking to each other).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

HANDOFF = "handoff"
SESSION = "session"
COOKIE = "_jk_ws"
HANDOFF_SECONDS = 60
SESSION_SECONDS = 8 * 3600


def session_key(proxy_key: bytes) -> bytes:
    """Its own key, derived: a token can never be mistaken for a proxy secret."""
    return hmac.new(proxy_key, b"jupyter-k8s workspace sessions v1", hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sid_of(idp_cookie: str) -> str:
    """A stable id of an IdP session (never the cookie itself): sign-out revokes it."""
    return hashlib.sha256(idp_cookie.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Grant:
    kind: str  # HANDOFF or SESSION
    user: str
    groups: tuple[str, ...]
    host: str
    path: str  # "/" (subdomain routing) or "/workspaces/<ns>/<name>/"
    expires: float
    sid: str

    def covers(self, host: str, path: str) -> bool:
        return host == self.host and (path == self.path.rstrip("/") or path.startswith(self.path))


def mint(
    key: bytes,
    kind: str,
    user: str,
    groups: tuple[str, ...],
    host: str,
    path: str,
    sid: str,
    now: float | None = None,
) -> str:
    ttl = HANDOFF_SECONDS if kind == HANDOFF else SESSION_SECONDS
    body = {
        "k": kind,
        "u": user,
        "g": list(groups),
        "h": host.lower(),
        "p": path,
        "e": int((now if now is not None else time.time()) + ttl),
        "s": sid,
    }
    payload = _b64(json.dumps(body, separators=(",", ":"), sort_keys=True).encode())
    mac = hmac.new(key, payload.encode(), hashlib.sha256).digest()
    return f"{payload}.{_b64(mac)}"


def verify(key: bytes, token: str, kind: str, now: float | None = None) -> Grant | None:
    """The grant in `token` if it is genuine, of `kind` and not expired; else None."""
    payload, _, mac = token.partition(".")
    if not payload or not mac:
        return None
    want = hmac.new(key, payload.encode(), hashlib.sha256).digest()
    try:
        if not hmac.compare_digest(want, _unb64(mac)):
            return None
        body = json.loads(_unb64(payload))
        grant = Grant(
            kind=str(body["k"]),
            user=str(body["u"]),
            groups=tuple(str(g) for g in body["g"]),
            host=str(body["h"]),
            path=str(body["p"]),
            expires=float(body["e"]),
            sid=str(body["s"]),
        )
    except (ValueError, KeyError, TypeError):
        return None
    if grant.kind != kind or grant.expires < (now if now is not None else time.time()):
        return None
    return grant


def cookie_header(token: str, path: str, max_age: int = SESSION_SECONDS) -> str:
    """Host-only (no Domain): the browser sends it to this workspace host alone."""
    return f"{COOKIE}={token}; Path={path}; Max-Age={max_age}; Secure; HttpOnly; SameSite=Lax"


def safe_return(url: str, host: str, path: str) -> str:
    """Where to send the browser after the hand-off: only somewhere on this workspace."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if (
        parts.scheme != "https"
        or (parts.hostname or "").lower() != host
        or not (parts.path or "/").startswith(path)
    ):
        return path
    return parts.path + (f"?{parts.query}" if parts.query else "")


ACTION_SECONDS = 600


def _action_mac(key: bytes, action: str, user: str, workspace: str, at: int) -> str:
    msg = f"{action}\0{user}\0{workspace}\0{at}".encode()
    return _b64(hmac.new(key, msg, hashlib.sha256).digest())[:32]


def action_token(
    key: bytes, action: str, user: str, workspace: str, now: float | None = None
) -> str:
    """A token a page's button carries: this user may ask this action on this workspace for the
    next ten minutes (what protects the form against cross-site requests, besides the host-only
    SameSite cookie and the Origin check)."""
    at = int(time.time() if now is None else now)
    return f"{at}.{_action_mac(key, action, user, workspace, at)}"


def check_action(
    key: bytes, token: str, action: str, user: str, workspace: str, now: float | None = None
) -> bool:
    at_text, _, mac = token.partition(".")
    try:
        at = int(at_text)
    except ValueError:
        return False
    now = time.time() if now is None else now
    if not 0 <= now - at <= ACTION_SECONDS:
        return False
    return hmac.compare_digest(mac, _action_mac(key, action, user, workspace, at))
