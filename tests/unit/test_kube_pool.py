"""The operator's keep-alive connections (kube/pool.py) against a local HTTP/1.1 server:
connections are reused, one the server dropped while idle costs no request, and a server
that cannot be reached is an error at once."""

from __future__ import annotations

import http.client
from collections.abc import Iterator

import pytest

from jupyter_k8s.kube.pool import Answer, ConnectionPool
from tests.support.local_api import JsonHandler, local_server

Ports = list[int]


def _server(drop_after_answer: bool) -> Iterator[tuple[str, Ports]]:
    ports: Ports = []

    class Handler(JsonHandler):
        protocol_version = "HTTP/1.1"  # keep-alive

        def do_PATCH(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            ports.append(self.client_address[1])
            self.send_json(200, {"seen": self.headers.get_all("X-Group"), "path": self.path})
            # An idle timeout on the server's side: closed without telling the client.
            self.close_connection = drop_after_answer

    with local_server(Handler) as url:
        yield url, ports


@pytest.fixture
def keeps_alive() -> Iterator[tuple[str, Ports]]:
    yield from _server(drop_after_answer=False)


@pytest.fixture
def drops_idle() -> Iterator[tuple[str, Ports]]:
    yield from _server(drop_after_answer=True)


def test_sequential_requests_share_one_connection(keeps_alive: tuple[str, Ports]) -> None:
    url, ports = keeps_alive
    pool = ConnectionPool(url, None)
    for _ in range(5):
        answer = pool.request("PATCH", "/x", b"{}", [("X-Group", "a"), ("X-Group", "b")])
        assert answer.status == 200 and b'["a", "b"]' in answer.data  # repeated headers kept
    assert len(set(ports)) == 1


def test_a_connection_the_server_dropped_is_replaced_without_losing_the_request(
    drops_idle: tuple[str, Ports],
) -> None:
    url, ports = drops_idle
    pool = ConnectionPool(url, None)
    for _ in range(3):
        assert pool.request("PATCH", "/x", b"{}", []).status == 200
    assert len(ports) == 3 and len(set(ports)) == 3  # each on a new connection, none lost


def test_an_unreachable_server_fails_at_once() -> None:
    pool = ConnectionPool("http://127.0.0.1:9", None)  # discard: nothing listens
    with pytest.raises(ConnectionRefusedError):
        pool.request("GET", "/", None, [])


def test_idle_connections_kept_are_bounded(keeps_alive: tuple[str, Ports]) -> None:
    url, _ = keeps_alive
    pool = ConnectionPool(url, None, size=1)
    extra = [pool._new() for _ in range(3)]
    for conn in extra:
        pool._give_back(conn)
    assert len(pool._idle) == 1
    pool.close()
    assert pool._idle == []


def test_https_needs_a_tls_context() -> None:
    with pytest.raises(ValueError, match="TLS context"):
        ConnectionPool("https://127.0.0.1:6443", None)


def test_a_server_named_with_a_path_keeps_it(keeps_alive: tuple[str, Ports]) -> None:
    url, _ = keeps_alive
    pool = ConnectionPool(f"{url}/k8s/clusters/c-1/", None)  # e.g. behind a proxy
    answer = pool.request("PATCH", "/api/v1/namespaces", b"{}", [])
    assert b'"/k8s/clusters/c-1/api/v1/namespaces"' in answer.data


@pytest.fixture
def varied() -> Iterator[tuple[str, Ports]]:
    """Answers in each of the shapes the API server (or a proxy before it) may use."""
    ports: Ports = []

    class Handler(JsonHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            ports.append(self.client_address[1])
            if self.path == "/chunked":  # a large object or list: Go's server streams it
                self.send_response(200)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for part in (b'{"items": [', b"1, 2", b"]}"):
                    self.wfile.write(b"%x;ext=1\r\n%s\r\n" % (len(part), part))
                self.wfile.write(b"0\r\nX-Trailer: t\r\n\r\n")
            elif self.path == "/close":  # answered, then the connection is closed
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(b"{}")
                self.close_connection = True
            elif self.path == "/until-closed":  # no length: the body ends with the connection
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b'{"to": "the end"}')
                self.close_connection = True
            elif self.path == "/host":
                self.send_json(200, {"host": self.headers.get("Host")})
            elif self.path == "/cut":  # promises more than it sends, then hangs up
                self.send_response(200)
                self.send_header("Content-Length", "100")
                self.end_headers()
                self.wfile.write(b'{"half":')
                self.close_connection = True
            elif self.path == "/bad-length":
                self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: lots\r\n\r\n{}")
                self.close_connection = True
            elif self.path == "/garbage":
                self.wfile.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
                self.close_connection = True
            elif self.path == "/empty":
                self.send_response(204)
                self.end_headers()
            else:
                self.send_json(404, {"reason": "NotFound", "path": self.path})

    with local_server(Handler) as url:
        yield url, ports


def test_answers_of_every_shape_are_read_whole(varied: tuple[str, Ports]) -> None:
    url, ports = varied
    pool = ConnectionPool(url, None)
    assert pool.request("GET", "/chunked", None, []).data == b'{"items": [1, 2]}'
    assert pool.request("GET", "/empty", None, []) == Answer(204, "No Content", b"")
    missing = pool.request("GET", "/nothing-here", None, [])
    assert (missing.status, missing.reason) == (404, "Not Found")
    assert b'"/nothing-here"' in missing.data
    assert pool.request("GET", "/until-closed", None, []).data == b'{"to": "the end"}'
    assert pool.request("GET", "/close", None, []).data == b"{}"
    # One connection until the server ended it (the body read to its close); then a new one,
    # which the server closed after answering: neither is kept.
    assert len(set(ports[:4])) == 1 and ports[4] != ports[0]
    assert pool._idle == []


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/x HTTP/1.1\r\nX-Evil: 1\r\n\r\nGET /y", []),  # a second request smuggled in the path
        ("/x y", []),
        ("/x", [("X-User", "alice\r\nImpersonate-Group: system:masters")]),
        ("/x", [("X-Evil\r\nImpersonate-User", "root")]),
    ],
)
def test_a_request_that_would_split_is_refused_before_sending(
    keeps_alive: tuple[str, Ports], path: str, headers: list[tuple[str, str]]
) -> None:
    url, ports = keeps_alive
    pool = ConnectionPool(url, None)
    with pytest.raises((ValueError, http.client.InvalidURL)):  # as http.client refuses them
        pool.request("PATCH", path, b"{}", headers)
    assert ports == []


def test_a_refused_header_does_not_show_its_value(keeps_alive: tuple[str, Ports]) -> None:
    url, _ = keeps_alive
    pool = ConnectionPool(url, None)
    with pytest.raises(ValueError) as refused:
        pool.request("GET", "/x", None, [("Authorization", "Bearer s3cret\n")])
    assert "Authorization" in str(refused.value) and "s3cret" not in str(refused.value)


def test_the_host_header_names_the_server(varied: tuple[str, Ports]) -> None:
    url, _ = varied
    answer = ConnectionPool(url, None).request("GET", "/host", None, [])
    assert answer.data == b'{"host": "%s"}' % url.removeprefix("http://").encode()


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/cut", http.client.IncompleteRead),
        ("/garbage", http.client.BadStatusLine),
        ("/bad-length", http.client.HTTPException),
    ],
)
def test_a_broken_answer_is_an_error_not_data(
    varied: tuple[str, Ports], path: str, error: type[Exception]
) -> None:
    url, _ = varied
    pool = ConnectionPool(url, None)
    with pytest.raises(error):
        pool.request("GET", path, None, [])
    assert pool._idle == []  # the connection it came on is not kept
    assert pool.request("GET", "/empty", None, []).status == 204  # the pool goes on
