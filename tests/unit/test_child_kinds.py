"""The one registry of child kinds drives the operator's watches, indexes, API paths and RBAC:
a kind in it is watched, indexed, writable (or only readable) and nothing else is."""

from __future__ import annotations

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
