"""Where the API server is and how to prove who we are: the pod's service account, or a
kubeconfig (certificates, a token, a token file, or an exec credential plugin such as
`aws eks get-token`).

The operator's own loader instead of the official client's: importing `kubernetes` costs ~20 MiB
of resident memory per process (every generated model) for the few lines used here. The same
connection feeds our urllib3 pool (kube/client.py) and Kopf's login (handlers/lifecycle.py).
"""

from __future__ import annotations

import atexit
import base64
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import urllib3
import yaml

from .pool import ConnectionPool

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
# client-go re-reads a projected service-account token this often: the kubelet rotates the file.
TOKEN_FILE_REREAD_S = 60.0
# An exec plugin's token is fetched again this long before it expires.
EXPIRY_MARGIN_S = 60.0


class KubeconfigError(Exception):
    """No usable cluster configuration; the message says what is missing and the fix."""


class TokenSource:
    """A bearer token that may change: a fixed string, a file re-read now and then, or an exec
    plugin run again before its token expires (and after the server refused it)."""

    def __init__(self, fetch: Callable[[], tuple[str, float | None]], ttl: float | None) -> None:
        self._fetch = fetch  # -> (token, expires at as a time.time(), or None)
        self._ttl = ttl  # re-fetch after this many seconds even without an expiry
        self._lock = threading.Lock()
        self._token = ""
        self._expires: float | None = 0.0  # when to fetch again; 0.0: not fetched yet
        self._valid_until: float | None = None  # the credential's own expiry, if it has one

    def token(self) -> str:
        with self._lock:
            if self._expires is not None and time.time() >= self._expires:
                token, valid_until = self._fetch()
                expires = valid_until
                if self._ttl is not None:
                    expires = min(valid_until or float("inf"), time.time() + self._ttl)
                self._token, self._expires, self._valid_until = token, expires, valid_until
            return self._token

    def expires_at(self) -> datetime | None:
        """The credential's own expiry (an exec plugin's), not when a file is read again:
        Kopf logs in anew at this time, and closes its watches to do so."""
        self.token()
        return None if self._valid_until is None else datetime.fromtimestamp(self._valid_until, UTC)

    def expire(self) -> None:
        """The server refused the token: fetch it again on the next request."""
        with self._lock:
            self._expires = 0.0


@dataclass
class Connection:
    server: str  # https://host:port, no trailing slash
    ca_file: str | None = None
    insecure: bool = False
    cert_file: str | None = None
    key_file: str | None = None
    tls_server_name: str | None = None
    token: TokenSource | None = None
    basic_auth: str | None = None  # "user:password" (legacy kubeconfigs)
    namespace: str | None = None

    def ssl_context(self) -> ssl.SSLContext | None:
        """How to check the server and prove who we are over TLS (None for http://)."""
        if not self.server.startswith("https:"):
            return None
        context = ssl.create_default_context(cafile=self.ca_file)
        if self.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.cert_file:
            context.load_cert_chain(self.cert_file, self.key_file)
        return context

    def pool(self, size: int, retries: int | None = None) -> urllib3.PoolManager:
        """A urllib3 pool to the server, for long requests (watches)."""
        kwargs: dict[str, Any] = {"maxsize": size}
        context = self.ssl_context()
        if context is not None:
            kwargs["ssl_context"] = context
        if self.tls_server_name:
            kwargs["server_hostname"] = self.tls_server_name
        if retries is not None:
            kwargs["retries"] = retries
        return urllib3.PoolManager(**kwargs)

    def requests_pool(self, size: int, retry_stale: bool = True) -> ConnectionPool:
        """Keep-alive connections for short requests (kube/pool.py)."""
        return ConnectionPool(
            self.server, self.ssl_context(), self.tls_server_name, size, retry_stale=retry_stale
        )

    def authorization(self) -> str | None:
        """The Authorization header's value for the next request, if any."""
        if self.token:
            return f"Bearer {self.token.token()}"
        if self.basic_auth:
            return "Basic " + base64.b64encode(self.basic_auth.encode()).decode()
        return None


def load_connection(kubeconfig: str | None = None) -> Connection:
    """A kubeconfig if one is given (`kubeconfig`, else KUBECONFIG), else the pod's service
    account, else ~/.kube/config; KubeconfigError if none of them is there."""
    path = kubeconfig or os.environ.get("KUBECONFIG")
    if not path and (SERVICE_ACCOUNT / "token").exists():
        return in_cluster()
    if not path and Path("~/.kube/config").expanduser().exists():
        path = str(Path("~/.kube/config").expanduser())
    if not path:
        raise KubeconfigError(
            "not in a cluster (no service account token) and no kubeconfig (KUBECONFIG is "
            "unset and ~/.kube/config does not exist)"
        )
    return from_kubeconfig(path)


def in_cluster(root: Path = SERVICE_ACCOUNT) -> Connection:
    host, port = (
        os.environ.get("KUBERNETES_SERVICE_HOST"),
        os.environ.get("KUBERNETES_SERVICE_PORT"),
    )
    if not host or not port:
        raise KubeconfigError(
            "a service account is mounted but KUBERNETES_SERVICE_HOST/PORT are not set"
        )
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    token_file = root / "token"

    def read() -> tuple[str, float | None]:
        return token_file.read_text().strip(), None

    ns_file = root / "namespace"
    return Connection(
        server=f"https://{host}:{port}",
        ca_file=str(root / "ca.crt") if (root / "ca.crt").exists() else None,
        token=TokenSource(read, ttl=TOKEN_FILE_REREAD_S),
        namespace=ns_file.read_text().strip() if ns_file.exists() else None,
    )


def from_kubeconfig(path: str, context: str | None = None) -> Connection:
    """The current (or the named) context of a kubeconfig; KUBECONFIG-style lists of files are
    merged as kubectl does (the first file that sets a value wins)."""
    merged: dict[str, dict[str, Any]] = {"clusters": {}, "users": {}, "contexts": {}}
    current: str | None = None
    bases: dict[tuple[str, str], Path] = {}  # relative paths are relative to their file
    for one in [p for p in path.split(os.pathsep) if p]:
        file = Path(one).expanduser()
        try:
            doc = yaml.safe_load(file.read_text()) or {}
        except OSError as err:
            raise KubeconfigError(f"cannot read kubeconfig {file}: {err.strerror}") from None
        except yaml.YAMLError as err:
            raise KubeconfigError(f"kubeconfig {file} is not YAML: {err}") from None
        current = current or doc.get("current-context")
        for section, key in (("clusters", "cluster"), ("users", "user"), ("contexts", "context")):
            for item in doc.get(section) or []:
                if item.get("name") not in merged[section]:
                    merged[section][item["name"]] = item.get(key) or {}
                    bases[(section, item["name"])] = file.parent
    name = context or current
    if not name or name not in merged["contexts"]:
        raise KubeconfigError(
            f"kubeconfig {path}: no current context"
            if not name
            else f"kubeconfig {path}: context {name!r} is not defined"
        )
    ctx = merged["contexts"][name]
    cluster_name, user_name = ctx.get("cluster"), ctx.get("user")
    if cluster_name not in merged["clusters"]:
        raise KubeconfigError(f"kubeconfig {path}: context {name!r} names no defined cluster")
    cluster = merged["clusters"][cluster_name]
    user = merged["users"].get(user_name) or {}
    if not cluster.get("server"):
        raise KubeconfigError(f"kubeconfig {path}: cluster {cluster_name!r} has no server")
    cbase = bases[("clusters", cluster_name)]
    ubase = bases.get(("users", user_name), cbase)
    conn = Connection(
        server=str(cluster["server"]).rstrip("/"),
        ca_file=_file(cluster, "certificate-authority", cbase),
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        tls_server_name=cluster.get("tls-server-name"),
        cert_file=_file(user, "client-certificate", ubase),
        key_file=_file(user, "client-key", ubase),
        namespace=ctx.get("namespace"),
    )
    if user.get("token"):
        token = str(user["token"])
        conn.token = TokenSource(lambda: (token, None), ttl=None)
    elif user.get("tokenFile"):
        token_file = _resolve(user["tokenFile"], ubase)
        conn.token = TokenSource(
            lambda: (token_file.read_text().strip(), None), TOKEN_FILE_REREAD_S
        )
    elif user.get("exec"):
        conn.token = TokenSource(_exec_plugin(user["exec"], ubase), ttl=None)
    elif user.get("auth-provider"):
        access = (user["auth-provider"].get("config") or {}).get("access-token")
        if not access:
            raise KubeconfigError(
                f"kubeconfig {path}: user {user_name!r} uses the auth-provider "
                f"{user['auth-provider'].get('name')!r}, which the operator does not run; "
                "use a token, a client certificate or an exec plugin"
            )
        conn.token = TokenSource(lambda: (str(access), None), ttl=None)
    elif user.get("username"):
        conn.basic_auth = f"{user['username']}:{user.get('password') or ''}"
    return conn


def _resolve(value: str, base: Path) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else base / p


_private_dir: str | None = None


def _file(section: dict[str, Any], key: str, base: Path) -> str | None:
    """The path of `key`, or of `key`-data written to a private file (TLS needs files)."""
    if section.get(key):
        return str(_resolve(section[key], base))
    data = section.get(f"{key}-data")
    if not data:
        return None
    global _private_dir
    if _private_dir is None:
        _private_dir = tempfile.mkdtemp(prefix="jk-kube-")  # 0700
        atexit.register(shutil.rmtree, _private_dir, True)
    fd, name = tempfile.mkstemp(dir=_private_dir, suffix=f".{key}")  # 0600
    with os.fdopen(fd, "wb") as f:
        f.write(base64.b64decode(data))
    return name


def _exec_plugin(spec: dict[str, Any], base: Path) -> Callable[[], tuple[str, float | None]]:
    """A client-go credential plugin (client.authentication.k8s.io): run the command, read the
    ExecCredential it prints. Only token credentials: every cloud's plugin gives one."""
    command = str(spec.get("command") or "")
    if "/" in command and not Path(command).is_absolute():
        command = str(base / command)  # as client-go: a relative path is relative to the file
    argv = [command, *[str(a) for a in spec.get("args") or []]]
    api_version = spec.get("apiVersion") or "client.authentication.k8s.io/v1"

    def run() -> tuple[str, float | None]:
        env = dict(os.environ)
        env.update({e["name"]: str(e["value"]) for e in spec.get("env") or []})
        env["KUBERNETES_EXEC_INFO"] = json.dumps(
            {"apiVersion": api_version, "kind": "ExecCredential", "spec": {"interactive": False}}
        )
        try:
            # The command is the kubeconfig's, as kubectl runs it: whoever writes the kubeconfig
            # already chooses what the operator runs as.
            out = subprocess.run(  # noqa: S603
                argv, env=env, capture_output=True, text=True, timeout=60, check=True
            ).stdout
        except FileNotFoundError:
            hint = spec.get("installHint") or f"install {argv[0]!r} or fix the kubeconfig"
            raise KubeconfigError(f"credential plugin {argv[0]!r} not found: {hint}") from None
        except subprocess.CalledProcessError as err:
            raise KubeconfigError(
                f"credential plugin {argv[0]!r} failed (exit {err.returncode}): "
                f"{err.stderr.strip()[-500:]}"
            ) from None
        except subprocess.TimeoutExpired:
            raise KubeconfigError(f"credential plugin {argv[0]!r} ran over 60 s") from None
        status = (json.loads(out) or {}).get("status") or {}
        if not status.get("token"):
            raise KubeconfigError(
                f"credential plugin {argv[0]!r} gave no token (client certificates from a "
                "plugin are not supported; use a token plugin or a certificate kubeconfig)"
            )
        expires = None
        if status.get("expirationTimestamp"):
            stamp = str(status["expirationTimestamp"]).replace("Z", "+00:00")
            expires = datetime.fromisoformat(stamp).timestamp() - EXPIRY_MARGIN_S
        return str(status["token"]), expires

    return run
