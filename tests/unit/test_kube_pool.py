"""The operator's keep-alive connections (kube/pool.py) against a local HTTP/1.1 server:
connections are reused, one the server dropped while idle costs no request, and a server
that cannot be reached is an error at once."""

from __future__ import annotations

import http.client
from collections.abc import Iterator

import pytest

from jupyter_k8s.kube.pool import ConnectionPool
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
    extra: list[http.client.HTTPConnection] = [pool._new() for _ in range(3)]
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
