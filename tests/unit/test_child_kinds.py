"""The one registry of child kinds drives the operator's watches, indexes, API paths and RBAC:
a kind in it is watched, indexed, writable (or only readable) and nothing else is."""

from __future__ import annotations

import kopf

from jupyter_k8s.child_kinds import BY_KIND, CHILD_KINDS, OWNED
from jupyter_k8s.deploy.rbac import namespace_rules
from jupyter_k8s.kube.client import object_path


def _allowed(group: str, plural: str, verb: str) -> bool:
    return any(
        group in r.get("apiGroups", [])
        and plural in r.get("resources", [])
        and verb in r.get("verbs", [])
        and not r.get("resourceNames")
        for r in namespace_rules()
    )


def test_every_child_kind_is_watched_and_indexed_by_workspace() -> None:
    import jupyter_k8s.handlers  # noqa: F401
    from jupyter_k8s.core.indexes import Indexes

    registry = kopf.get_default_registry()  # type: ignore[attr-defined]
    for child in CHILD_KINDS:
        resource = kopf.Resource(child.group, child.version, child.plural)
        ids = {h.id for h in registry._indexing.get_all_handlers() if h.selector.check(resource)}
        assert child.index in ids, child.kind
        events = [h for h in registry._watching.get_all_handlers() if h.selector.check(resource)]
        assert events, f"no event handler for {child.kind}"
    # A handler gets them by kind.
    kwargs = {name: {} for name in Indexes.__dataclass_fields__ if name != "by_kind"}
    kwargs |= {child.index: {("ns", "ws"): [child.kind]} for child in CHILD_KINDS}
    idx = Indexes.of(kwargs)
    for child in CHILD_KINDS:
        assert idx.of_kind(child)[("ns", "ws")] == [child.kind]


def test_the_operator_may_write_what_it_owns_and_only_read_the_rest() -> None:
    for child in CHILD_KINDS:
        for verb in ("get", "list", "watch"):
            assert _allowed(child.group, child.plural, verb), (child.kind, verb)
        for verb in ("create", "patch", "delete"):
            assert _allowed(child.group, child.plural, verb) is child.owned, (child.kind, verb)


def test_every_child_kind_has_an_api_path() -> None:
    for child in CHILD_KINDS:
        path = object_path(child.api_version, child.kind, "team-a", "ws-lab")
        assert path.endswith(f"/namespaces/team-a/{child.plural}/ws-lab")
    assert BY_KIND["Deployment"].foreground_delete
    assert {c.kind for c in OWNED} == set(BY_KIND) - {"Pod"}
