"""A workspace's own events, from the operator's watch (not Kopf's): what the index keeps,
what a re-list reports, and which events set off a pass (not our own status write's echo, not
a new version that changes nothing, nothing before every index is filled)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from jupyter_k8s.api.template import TEMPLATE_FINALIZER
from jupyter_k8s.core.indexes import WorkspaceIndex
from jupyter_k8s.core.runtime import Runtime, context
from jupyter_k8s.core.watches import Watches
from jupyter_k8s.kube import Kube
from jupyter_k8s.kube.connection import Connection


def _ws(name: str, version: int, template: str | None = "t", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "workspace.jupyter.org/v1alpha1",
        "kind": "Workspace",
        "metadata": {
            "name": name,
            "namespace": "team",
            "uid": f"uid-{name}",
            "resourceVersion": str(version),
            "managedFields": [{"manager": "kubectl"}],
        },
        "spec": {**({"templateRef": template} if template else {}), **spec},
        "status": {},
    }


def test_the_index_keeps_workspaces_by_key_and_by_template() -> None:
    index = WorkspaceIndex()
    assert index.apply("ADDED", _ws("a", 1)) is True
    assert index.apply("ADDED", _ws("b", 2)) is True
    (entry,) = index.by_key[("team", "a")]
    assert "managedFields" not in entry["metadata"] and entry["metadata"]["resourceVersion"] == 1
    assert index.by_template == {"t": {"team/a", "team/b"}}
    # A new version with nothing else new: nothing for a pass.
    assert index.apply("MODIFIED", _ws("a", 3)) is False
    assert index.by_key[("team", "a")][0]["metadata"]["resourceVersion"] == 3
    assert index.apply("MODIFIED", _ws("a", 4, template="u")) is True
    assert index.by_template == {"t": {"team/b"}, "u": {"team/a"}}
    assert index.apply("DELETED", _ws("b", 5)) is True
    assert index.by_template == {"u": {"team/a"}}
    assert index.apply("DELETED", _ws("b", 5)) is False, "already gone"


def test_a_relist_reports_new_changed_and_vanished_workspaces() -> None:
    index = WorkspaceIndex()
    for ws in (_ws("same", 1), _ws("changed", 2), _ws("gone", 3)):
        index.apply("ADDED", ws)
    other = _ws("elsewhere", 4)
    other["metadata"]["namespace"] = "team-b"
    index.apply("ADDED", other)
    changes = index.replace("team", [_ws("same", 1), _ws("changed", 7), _ws("new", 8)])
    assert sorted((t, o["metadata"]["name"]) for t, o in changes) == [
        ("ADDED", "new"),
        ("DELETED", "gone"),
        ("MODIFIED", "changed"),
    ]
    assert set(index.by_key) == {
        ("team", "same"),
        ("team", "changed"),
        ("team", "new"),
        ("team-b", "elsewhere"),
    }
    assert index.by_template["t"] == {"team/same", "team/changed", "team/new", "team-b/elsewhere"}


def _setup() -> tuple[Runtime, Watches, list[tuple[str, ...]]]:
    settings = SimpleNamespace(namespaces=())
    rt = Runtime(settings=settings, kube=Kube(Connection(server="http://127.0.0.1:9")))  # type: ignore[arg-type]
    passes: list[tuple[str, ...]] = []

    async def record(key: tuple[str, ...]) -> None:
        passes.append(key)

    for kind in ("Workspace", "WorkspaceTemplate", "WorkspaceShare", "WorkspaceExecutionProfile"):
        rt.queue.register(kind, record)
    rt.queue.ready = rt.ready
    watches = Watches(rt)
    watches._unlisted = {("Workspace", None)}  # only the workspaces' watch, for this test
    return rt, watches, passes


def _kopf_handler_ran(rt: Runtime) -> None:
    """What Kopf hands its first handler: its own indexes (filled by then)."""
    context(
        {
            "memo": SimpleNamespace(runtime=rt),
            "templates": {"t": [{"metadata": {"finalizers": [TEMPLATE_FINALIZER]}}]},
            "managers": {},
            "profiles": {},
            "shares_by_workspace": {("team", "a"): ["share-1"]},
            "node_faults": {},
        }
    )


async def _settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def _running(
    rt: Runtime, watches: Watches, passes: list[tuple[str, ...]], *found: dict[str, Any]
) -> None:
    """Started with `found` listed and Kopf's indexes in; the start-up passes forgotten."""
    watches._on_workspaces_listed(None, list(found))
    _kopf_handler_ran(rt)
    await _settle()
    passes.clear()


def _with_status(ws: dict[str, Any], **status: Any) -> dict[str, Any]:
    return {**ws, "status": status}


def test_no_pass_runs_before_every_index_is_filled_then_each_workspace_once(
    loop: asyncio.AbstractEventLoop,
) -> None:
    rt, watches, passes = _setup()

    async def scenario() -> None:
        watches._on_workspaces_listed(None, [_ws("a", 1), _ws("b", 2)])
        await _settle()
        assert rt.listed.is_set() and passes == [], "Kopf's indexes are not filled yet"
        _kopf_handler_ran(rt)
        await _settle()

    loop.run_until_complete(scenario())
    assert ("Workspace", "team", "a") in passes and ("Workspace", "team", "b") in passes
    assert ("WorkspaceShare", "team", "share-1") in passes, "a share written before it"


def test_our_own_status_write_and_version_only_changes_set_off_nothing(
    loop: asyncio.AbstractEventLoop,
) -> None:
    rt, watches, passes = _setup()

    async def scenario() -> None:
        await _running(rt, watches, passes, _ws("a", 1))
        echo = _with_status(_ws("a", 5), phase="Pending")
        rt.statuses.written["uid-a"] = (5, echo["status"])  # what our write returned
        watches._on_workspace_events([("MODIFIED", echo)])
        again = _with_status(_ws("a", 6), phase="Pending")
        watches._on_workspace_events([("MODIFIED", again)])  # only the version moved
        await _settle()
        assert passes == []
        edited = _with_status(_ws("a", 7, image="custom:1"), phase="Pending")
        watches._on_workspace_events([("MODIFIED", edited)])
        await _settle()

    loop.run_until_complete(scenario())
    assert passes == [("Workspace", "team", "a")]


def test_a_deleted_workspace_reconciles_and_releases_its_template_soon(
    loop: asyncio.AbstractEventLoop,
) -> None:
    rt, watches, passes = _setup()

    async def scenario() -> None:
        await _running(rt, watches, passes, _ws("a", 1))
        watches._on_workspace_events([("DELETED", _ws("a", 2))])
        await _settle()
        assert rt.queue.pending(("WorkspaceTemplate", "t")) is not None
        assert ("team", "a") not in rt.workspaces.by_key

    loop.run_until_complete(scenario())
    assert passes == [("Workspace", "team", "a")]


def _child(kind: str, name: str, version: int, **rest: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1" if kind == "Deployment" else "v1",
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": "team",
            "resourceVersion": str(version),
            "labels": {"workspace.jupyter.org/workspace-name": "a"},
        },
        **rest,
    }


def test_children_changing_together_cost_one_pass(loop: asyncio.AbstractEventLoop) -> None:
    from jupyter_k8s.child_kinds import BY_KIND
    from jupyter_k8s.core.watches import SETTLE_SECONDS

    rt, watches, passes = _setup()

    async def scenario() -> None:
        await _running(rt, watches, passes, _ws("a", 1))
        deployment, pvc = BY_KIND["Deployment"], BY_KIND["PersistentVolumeClaim"]
        watches._on_events(deployment, [("ADDED", _child("Deployment", "ws-a", 2))])
        watches._on_events(pvc, [("ADDED", _child("PersistentVolumeClaim", "ws-a", 3))])
        bound = _child("PersistentVolumeClaim", "ws-a", 4, status={"phase": "Bound"})
        watches._on_events(pvc, [("MODIFIED", bound)])
        await _settle()
        assert passes == [], "settling: more may come"
        await asyncio.sleep(SETTLE_SECONDS * 2)
        await _settle()

    loop.run_until_complete(scenario())
    assert passes == [("Workspace", "team", "a")]
