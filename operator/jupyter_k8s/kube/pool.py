"""Keep-alive connections to the API server for the operator's requests (not its watches).

On the standard library's http.client rather than urllib3's pool: a request costs ~0.23 ms of
CPU here against ~0.43 ms through urllib3's PoolManager (URL parsing, pool keys, retry and
timeout objects, a liveness poll before each reuse, response wrappers), and the operator makes
about ten requests per workspace. Watches stay on urllib3 (kube/client.py `stream`).
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

# What a connection the server closed while it sat idle raises on its next use; the request
# never reached the server, so it is sent again on the next idle connection or a new one (a
# new connection's failure is the caller's).
STALE = (
    http.client.RemoteDisconnected,
    http.client.CannotSendRequest,
    BrokenPipeError,
    ConnectionResetError,
    ssl.SSLEOFError,
)


@dataclass(frozen=True)
class Answer:
    status: int
    reason: str
    data: bytes


class _TLSConnection(http.client.HTTPSConnection):
    """An HTTPS connection whose certificate is checked for `server_hostname` when the
    kubeconfig names one (tls-server-name), not for the host dialled."""

    def __init__(
        self,
        host: str,
        port: int | None,
        timeout: float,
        context: ssl.SSLContext,
        server_hostname: str | None,
    ) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._tls = context
        self._server_hostname = server_hostname or host

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self._server_hostname)


class ConnectionPool:
    """Up to `size` idle connections kept for reuse; a request opens one when none is idle.
    Thread-safe: a connection is used by one thread at a time."""

    def __init__(
        self,
        server: str,
        context: ssl.SSLContext | None,
        server_hostname: str | None = None,
        size: int = 32,
        timeout: float = 30.0,
        retry_stale: bool = True,
    ) -> None:
        url = urlsplit(server)
        self._https = url.scheme == "https"
        if self._https and context is None:
            raise ValueError(f"{server}: an https server needs a TLS context")
        self._host = url.hostname or "localhost"
        self._port = url.port
        # A server behind a proxy may be named with a path (https://proxy/k8s/clusters/c-1).
        self._prefix = url.path.rstrip("/")
        self._context = context
        self._server_hostname = server_hostname
        self._size = size
        self._timeout = timeout
        self._retry_stale = retry_stale
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def _new(self) -> http.client.HTTPConnection:
        if self._https:
            assert self._context is not None
            return _TLSConnection(
                self._host, self._port, self._timeout, self._context, self._server_hostname
            )
        return http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)

    def _take(self) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            if self._idle:
                return self._idle.pop(), True
        return self._new(), False

    def _give_back(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if len(self._idle) < self._size:
                self._idle.append(conn)
                return
        conn.close()

    def request(
        self, method: str, path: str, body: bytes | None, headers: Iterable[tuple[str, str]]
    ) -> Answer:
        """One request; OSError or http.client.HTTPException when the server cannot be
        reached or the connection breaks (the caller decides whether to try again)."""
        headers = list(headers)
        while True:
            conn, reused = self._take()
            try:
                conn.putrequest(method, self._prefix + path, skip_accept_encoding=True)
                for name, value in headers:
                    conn.putheader(name, value)
                if body is not None:
                    conn.putheader("Content-Length", str(len(body)))
                conn.endheaders(body)
                resp = conn.getresponse()
                data = resp.read()
            except STALE:
                conn.close()
                if reused and self._retry_stale:
                    continue  # the next idle one, or a new connection
                raise
            except BaseException:
                conn.close()
                raise
            if resp.will_close:
                conn.close()
            else:
                self._give_back(conn)
            return Answer(resp.status, resp.reason, data)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
