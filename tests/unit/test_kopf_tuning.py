"""What the operator switches off in Kopf, and which events it lets pass without a pass."""

from __future__ import annotations

from typing import Any

import kopf
import pytest

from jupyter_k8s.core.applier import Applier
from jupyter_k8s.handlers.kopf_tuning import NoDiffBase, tune


def test_no_diff_base_is_built_stored_or_read() -> None:
    settings = kopf.OperatorSettings()
    tune(settings)
    storage = settings.persistence.diffbase_storage
    assert isinstance(storage, NoDiffBase)
    body = kopf.Body({"metadata": {"name": "x", "annotations": {}}, "spec": {"a": 1}})
    assert storage.build(body=body) is None and storage.fetch(body=body) is None
    patch = kopf.Patch()
    storage.store(body=body, patch=patch, essence=storage.build(body=body))
    assert not patch  # nothing written to the object either


def child(kind: str, rv: str) -> dict[str, Any]:
    return {"kind": kind, "metadata": {"name": "ws-lab", "resourceVersion": rv}}


@pytest.mark.parametrize(
    ("kind", "rv", "echo"),
    [
        ("Role", "42", True),  # exactly what our last write produced
        ("Role", "43", False),  # someone changed it since: reconcile (drift)
        ("Service", "42", True),
        ("Deployment", "42", False),  # its status is read: every event counts
        ("PersistentVolumeClaim", "42", False),
    ],
)
def test_only_the_echo_of_our_own_write_of_a_statusless_child_is_skipped(
    kind: str, rv: str, echo: bool
) -> None:
    key = ("team-a", "lab")
    applier = Applier(kube=None, call=None, applied={key: {(kind, "ws-lab"): ("digest", 42)}})  # type: ignore[arg-type]
    assert applier.is_echo(key, child(kind, rv)) is echo
    assert applier.is_echo(("team-a", "other"), child(kind, "42")) is False


def test_children_are_watched_with_a_server_side_label_selector() -> None:
    import jupyter_k8s.handlers  # noqa: F401 - registers the operator's handlers
    from jupyter_k8s.api.workspace import WORKSPACE_LABEL

    settings = kopf.OperatorSettings()
    tune(settings)
    selectors = settings.watching.label_selectors

    def watch_selector(group: str, version: str, plural: str) -> list[str]:
        return list(selectors.collect(kopf.Resource(group, version, plural)))

    for group, plural in [
        ("", "pods"),
        ("", "persistentvolumeclaims"),
        ("", "secrets"),
        ("", "services"),
        ("", "serviceaccounts"),
        ("apps", "deployments"),
        ("networking.k8s.io", "ingresses"),
        ("rbac.authorization.k8s.io", "roles"),
        ("rbac.authorization.k8s.io", "rolebindings"),
    ]:
        assert watch_selector(group, "v1", plural) == [WORKSPACE_LABEL], plural
    # Everything of these kinds is wanted: no selector.
    assert watch_selector("", "v1", "nodes") == []
    assert watch_selector("workspace.jupyter.org", "v1alpha1", "workspaces") == []


def test_no_selector_where_one_handler_wants_objects_without_the_labels() -> None:
    registry = kopf.OperatorRegistry()

    @kopf.on.event("v1", "configmaps", labels={"a": kopf.PRESENT}, registry=registry)
    async def labelled(**_: Any) -> None: ...

    @kopf.index("v1", "configmaps", registry=registry)
    async def everything(**_: Any) -> dict[Any, Any]:
        return {}

    @kopf.on.event("v1", "secrets", labels={"a": "x"}, registry=registry)
    async def by_value(**_: Any) -> None: ...

    @kopf.on.event("v1", "pods", labels={"a": kopf.PRESENT, "b": kopf.PRESENT}, registry=registry)
    async def both(**_: Any) -> None: ...

    settings = kopf.OperatorSettings()
    tune(settings, registry)
    collect = settings.watching.label_selectors.collect
    assert list(collect(kopf.Resource("", "v1", "configmaps"))) == []
    assert list(collect(kopf.Resource("", "v1", "secrets"))) == []  # by value: client side
    assert list(collect(kopf.Resource("", "v1", "pods"))) == ["a,b"]
