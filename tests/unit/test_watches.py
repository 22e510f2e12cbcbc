"""The operator's own watches of the workspaces and their children: every child kind is listed
and watched by label, the workspaces in full (neither through Kopf), the indexes follow the
events and a re-list, a workspace's event sets off its pass unless it is our own echo, and a
watch survives the server's errors (a 410, a lagging cache's 504) by listing again."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import kopf
import pytest

from jupyter_k8s.api import API_VERSION, GROUP, VERSION
from jupyter_k8s.api.workspace import WORKSPACE_LABEL
from jupyter_k8s.child_kinds import CHILD_KINDS, DEPLOYMENT, POD, ROLE
from jupyter_k8s.core.indexes import ChildIndex, Seen
from jupyter_k8s.core.runtime import Runtime
from jupyter_k8s.core.watches import Watches
from jupyter_k8s.kube import Kube
from jupyter_k8s.kube.client import object_path
from jupyter_k8s.kube.connection import Connection
from jupyter_k8s.kube.watch import Event, ListWatch, lines
from tests.support.local_api import JsonHandler, local_server


def _obj(name: str, version: int, workspace: str = "lab", **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {
            "name": name,
            "namespace": "team",
            "resourceVersion": str(version),
            "labels": {WORKSPACE_LABEL: workspace},
        },
        **extra,
    }


def test_neither_workspaces_nor_children_go_through_kopf() -> None:
    import jupyter_k8s.handlers  # noqa: F401

    registry = kopf.get_default_registry()
    kinds = [(c.group, c.version, c.plural) for c in CHILD_KINDS]
    for group, version, plural in [*kinds, (GROUP, VERSION, "workspaces")]:
        resource = kopf.Resource(group, version, plural)
        for part in (registry._indexing, registry._watching, registry._changing):
            handlers = part.get_all_handlers()
            assert not [h for h in handlers if h.selector and h.selector.check(resource)], plural


def test_the_index_follows_events_by_workspace() -> None:
    index = ChildIndex(ROLE)
    assert index.apply("ADDED", _obj("r1", 1)) == ("team", "lab")
    index.apply("ADDED", _obj("r2", 2, rules=[{"verbs": ["get"]}]))
    index.apply("MODIFIED", _obj("r2", 3, rules=[]))
    found = {s.name: s for s in index.get(("team", "lab"))}
    assert set(found) == {"r1", "r2"}
    assert isinstance(found["r2"], Seen) and found["r2"].version == 3
    assert found["r2"].body["rules"] == [] and "resourceVersion" not in found["r2"].body["metadata"]
    # A new version that changes nothing a pass reads: no pass (None).
    assert index.apply("MODIFIED", _obj("r2", 6, rules=[])) is None
    assert {s.version for s in index.get(("team", "lab"))} == {1, 6}
    assert index.apply("DELETED", _obj("r1", 4)) == ("team", "lab")
    assert index.apply("DELETED", _obj("r1", 4)) is None, "already gone"
    index.apply("DELETED", _obj("r2", 5))
    assert index.get(("team", "lab")) is None and len(index) == 0
    # Not a workspace's child: ignored.
    assert index.apply("ADDED", {"metadata": {"name": "x", "namespace": "team"}}) is None


def test_a_relist_reports_what_changed_while_unwatched() -> None:
    index = ChildIndex(ROLE)
    for obj in (_obj("same", 1), _obj("changed", 2), _obj("gone", 3), _obj("other-ns", 4)):
        index.apply("ADDED", obj)
    index.apply(
        "ADDED",
        {
            **_obj("elsewhere", 4),
            "metadata": {**_obj("x", 4)["metadata"], "name": "elsewhere", "namespace": "team-b"},
        },
    )
    changes = index.replace(
        "team", [_obj("same", 1), _obj("changed", 7), _obj("new", 8), _obj("other-ns", 4)]
    )
    assert sorted((t, o["metadata"]["name"]) for t, o in changes) == [
        ("DELETED", "gone"),
        ("MODIFIED", "changed"),
        ("MODIFIED", "new"),
    ]
    names = {s.name for s in index.get(("team", "lab"))}
    assert names == {"same", "changed", "new", "other-ns"}
    assert index.get(("team-b", "lab")), "a list of one namespace leaves the others alone"


def test_pods_are_kept_as_their_status_view() -> None:
    index = ChildIndex(POD)
    pod = {"metadata": {"name": "p", "namespace": "team", "labels": {WORKSPACE_LABEL: "lab"}}}
    index.apply("ADDED", {**pod, "status": {"phase": "Pending"}})
    assert index.apply("MODIFIED", {**pod, "status": {"phase": "Pending", "qosClass": "x"}}) is None
    assert index.apply("MODIFIED", {**pod, "status": {"phase": "Running"}}) == ("team", "lab")
    (view,) = index.get(("team", "lab"))
    assert view.name == "p" and view.phase == "Running"


def test_a_deployment_sets_off_a_pass_only_when_its_rollout_is_done_or_undone() -> None:
    """Its controller moves the counters two or three times while a pod starts (observed the
    generation, one replica updated, then ready and available): only the last decides."""
    index = ChildIndex(DEPLOYMENT)
    meta = {
        "name": "ws-lab",
        "namespace": "team",
        "generation": 1,
        "labels": {WORKSPACE_LABEL: "lab"},
    }
    key = ("team", "lab")

    def event(version: int, **status: int) -> Any:
        body = {"metadata": {**meta, "resourceVersion": str(version)}, "spec": {"replicas": 1}}
        return index.apply("MODIFIED", {**body, "status": status})

    assert event(1) == key  # new
    assert event(2, observedGeneration=1) is None
    assert event(3, observedGeneration=1, replicas=1, updatedReplicas=1) is None
    assert event(4, observedGeneration=1, updatedReplicas=1, availableReplicas=1) == key
    assert index.get(key)[0].view.rolled_out
    assert event(5, observedGeneration=1, updatedReplicas=1, availableReplicas=0) == key
    assert not index.get(key)[0].view.rolled_out


def test_lines_are_whole_whatever_the_chunks() -> None:
    chunks = [b'{"a":', b'1}\n{"b":2}\n{"c"', b":3}\n", b"\n", b'{"d":4}']
    assert [json.loads(x) for batch in lines(iter(chunks)) for x in batch] == [
        {"a": 1},
        {"b": 2},
        {"c": 3},
        {"d": 4},
    ]


@pytest.fixture
def api() -> Iterator[tuple[Kube, list[dict[str, Any]], threading.Event]]:
    """A server that lists, then streams a watch that ends with a 504 error event (a lagging
    watch cache), lists again, and streams one more event."""
    requests: list[dict[str, Any]] = []
    release = threading.Event()

    class Handler(JsonHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
            requests.append(query)
            if query.get("watch") != "true":
                lists = sum(1 for r in requests if r.get("watch") != "true")
                items = [_obj("a", 5)] if lists == 1 else [_obj("b", 12)]
                self.send_json(
                    200,
                    {"metadata": {"resourceVersion": "10" if lists == 1 else "13"}, "items": items},
                )
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            if query["resourceVersion"] == "10":
                self._chunk({"type": "ADDED", "object": _obj("c", 11)})
                self._chunk({"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "12"}}})
                self._chunk(
                    {
                        "type": "ERROR",
                        "object": {"code": 504, "message": "Too large resource version"},
                    }
                )
            else:
                self._chunk({"type": "MODIFIED", "object": _obj("b", 14)})
                release.wait(10)
            self.wfile.write(b"0\r\n\r\n")

        def _chunk(self, event: dict[str, Any]) -> None:
            data = json.dumps(event).encode() + b"\n"
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

    with local_server(Handler) as url:
        try:
            yield Kube(Connection(server=url)), requests, release
        finally:
            release.set()


def test_a_watch_lists_then_follows_and_lists_again_after_an_error(
    api: tuple[Kube, list[dict[str, Any]], threading.Event],
) -> None:
    kube, requests, release = api
    listed: list[list[str]] = []
    events: list[Event] = []
    watch = ListWatch(
        kube,
        "/apis/rbac.authorization.k8s.io/v1/roles",
        WORKSPACE_LABEL,
        on_listed=lambda objs: listed.append([o["metadata"]["name"] for o in objs]),
        on_events=events.extend,
    )
    watch.start("test-watch")
    deadline = time.monotonic() + 10
    while len(events) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    watch.stop()
    release.set()
    assert listed == [["a"], ["b"]]
    assert [(t, o["metadata"]["name"], o["metadata"]["resourceVersion"]) for t, o in events] == [
        ("ADDED", "c", "11"),
        ("MODIFIED", "b", "14"),
    ]
    watches = [r for r in requests if r.get("watch") == "true"]
    assert [w["resourceVersion"] for w in watches[:2]] == ["10", "13"]
    assert all(r["labelSelector"] == WORKSPACE_LABEL for r in requests)
    assert all(w["allowWatchBookmarks"] == "true" for w in watches)


def test_the_workspaces_and_every_child_kind_are_watched_in_each_scope(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started: list[str] = []
    selectors: dict[str, str] = {}

    def start(self: ListWatch, name: str) -> None:
        started.append(self.path)
        selectors[self.path] = self.label_selector

    monkeypatch.setattr(ListWatch, "start", start)
    settings = SimpleNamespace(namespaces=("team-a", "team-b"))
    rt = Runtime(settings=settings, kube=Kube(Connection(server="http://127.0.0.1:9")))  # type: ignore[arg-type]

    async def begin() -> None:
        Watches(rt).start()

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(begin())
    finally:
        loop.close()
    children = [
        object_path(c.api_version, c.kind, ns) for c in CHILD_KINDS for ns in settings.namespaces
    ]
    workspaces = [object_path(API_VERSION, "Workspace", ns) for ns in settings.namespaces]
    assert sorted(started) == sorted(children + workspaces)
    assert selectors["/apis/apps/v1/namespaces/team-a/deployments"] == WORKSPACE_LABEL
    assert selectors[f"/apis/{API_VERSION}/namespaces/team-b/workspaces"] == ""
