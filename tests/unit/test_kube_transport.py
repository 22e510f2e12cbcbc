"""The operator's API client on the wire: paths, queries, bodies, headers and errors, against a
local HTTP server that records what it is sent (the real API server: tests/integration)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from jupyter_k8s.kube import Kube, KubeError
from jupyter_k8s.kube.connection import Connection, TokenSource
from tests.support.local_api import JsonHandler, local_server

Seen = list[dict[str, Any]]


@pytest.fixture
def server() -> Iterator[tuple[Kube, Seen]]:
    seen: Seen = []

    class Handler(JsonHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            seen.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "headers": self.headers,
                    "body": self.rfile.read(length) if length else b"",
                }
            )
            if "/missing" in self.path:
                status, body = 404, {"kind": "Status", "message": 'pods "missing" not found'}
            elif "/terminating" in self.path:  # what NamespaceLifecycle answers, as sent
                status, body = (
                    403,
                    {
                        "kind": "Status",
                        "reason": "Forbidden",
                        "message": 'events "x." is forbidden: unable to create new content in '
                        "namespace terminating because it is being terminated",
                        "details": {
                            "causes": [
                                {
                                    "reason": "NamespaceTerminating",
                                    "message": "namespace terminating is being terminated",
                                    "field": "metadata.namespace",
                                }
                            ]
                        },
                    },
                )
            elif "/refused" in self.path:
                status, body = 422, {"kind": "Status", "message": "spec.x: Invalid value"}
            else:
                status, body = 200, {"metadata": {"resourceVersion": "7"}}
            self.send_json(status, body)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _answer

    with local_server(Handler) as url:
        token = TokenSource(lambda: ("t0ken", None), ttl=None)
        yield Kube(Connection(server=url, token=token), field_manager="fm"), seen


def test_server_side_apply_sends_the_object_as_utf8_with_the_field_manager(
    server: tuple[Kube, Seen],
) -> None:
    kube, seen = server
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "n"},
        "data": {"k": "\U0001f600"},  # outside the BMP: UTF-8, not a surrogate pair
    }
    assert kube.apply(obj)["metadata"]["resourceVersion"] == "7"
    (req,) = seen
    assert req["method"] == "PATCH"
    assert req["path"] == "/api/v1/namespaces/n/configmaps/c?fieldManager=fm&force=true"
    assert req["headers"]["Content-Type"] == "application/apply-patch+yaml"
    assert req["headers"]["Authorization"] == "Bearer t0ken"
    assert json.loads(req["body"]) == obj and "\\ud83d" not in req["body"].decode()


def test_merge_patch_status_and_list_query(server: tuple[Kube, Seen]) -> None:
    kube, seen = server
    kube.merge_patch(
        "workspace.jupyter.org/v1alpha1", "Workspace", "n", "w", {"status": {"a": 1}}, "status"
    )
    kube.list_objects("v1", "Pod", None)
    patch, listing = seen
    assert patch["path"] == "/apis/workspace.jupyter.org/v1alpha1/namespaces/n/workspaces/w/status"
    assert patch["headers"]["Content-Type"] == "application/merge-patch+json"
    assert json.loads(patch["body"]) == {"status": {"a": 1}}
    assert listing["method"] == "GET" and listing["path"] == "/api/v1/pods?limit=500"


def test_errors_carry_the_servers_message_and_a_missing_object_is_none(
    server: tuple[Kube, Seen],
) -> None:
    kube, _ = server
    assert kube.get("v1", "Pod", "n", "missing") is None
    assert kube.delete("v1", "Pod", "n", "missing") is False
    with pytest.raises(KubeError) as err:
        kube.merge_patch("v1", "Pod", "n", "refused", {"spec": {}})
    assert err.value.status == 422 and err.value.message == "spec.x: Invalid value"


def test_impersonation_names_the_user_and_every_group(server: tuple[Kube, Seen]) -> None:
    kube, seen = server
    kube.call_as("alice", ["team-a", "devs"], "GET", "/api/v1/namespaces/n/pods")
    (req,) = seen
    assert req["headers"]["Impersonate-User"] == "alice"
    assert req["headers"].get_all("Impersonate-Group") == ["team-a", "devs"]
    assert req["headers"]["Authorization"] == "Bearer t0ken"


def test_an_unreachable_server_is_a_transport_error() -> None:
    conn = Connection(server="http://127.0.0.1:9")  # discard: nothing listens
    with pytest.raises(KubeError) as err:
        Kube(conn, retries=0).get("v1", "Pod", "n", "p")
    assert err.value.status == 0


def test_writes_read_only_for_their_version_ask_for_the_metadata_alone(
    server: tuple[Kube, Seen],
) -> None:
    kube, seen = server
    obj = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "n"}}
    kube.apply(obj, metadata_only=True)
    kube.merge_patch("v1", "Service", "n", "s", {"spec": {}}, metadata_only=True)
    kube.apply(obj)
    lean, lean_patch, whole = (r["headers"]["Accept"] for r in seen)
    assert lean == lean_patch and lean.startswith("application/json;as=PartialObjectMetadata;")
    assert lean.endswith(",application/json")  # a server that cannot: the whole object
    assert whole == "application/json"


def test_a_namespace_being_deleted_is_told_apart_and_its_events_are_not_warned_about(
    server: tuple[Kube, Seen], caplog: pytest.LogCaptureFixture
) -> None:
    kube, _ = server
    obj = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s", "namespace": "terminating"},
    }
    with pytest.raises(KubeError) as err:
        kube.apply(obj)
    assert err.value.status == 403 and err.value.namespace_terminating
    with pytest.raises(KubeError) as other:
        kube.merge_patch("v1", "Pod", "n", "refused", {"spec": {}})
    assert not other.value.namespace_terminating
    involved = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "terminating"},
    }
    with caplog.at_level("WARNING"):
        kube.event(involved, "Normal", "Starting", "")  # best effort: neither raised nor warned
        kube.event(
            {**involved, "metadata": {"name": "p", "namespace": "refused"}}, "Normal", "X", ""
        )
    assert [r.getMessage() for r in caplog.records] == [
        "could not post event X on p: 422 Unprocessable Entity: spec.x: Invalid value"
    ]
