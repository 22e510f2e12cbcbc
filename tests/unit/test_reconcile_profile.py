"""A WorkspaceExecutionProfile's status (issue 19, defect 3: it never had one)."""

from __future__ import annotations

from typing import Any

from jupyter_k8s.reconcile.profile import (
    effective_profile,
    profile_status,
    profile_users,
    status_changed,
)

TEMPLATES = {"with-default": {"spec": {"defaultExecutionProfileRef": "reader"}}, "plain": {}}


def ws(spec: dict[str, Any], deleting: bool = False) -> dict[str, Any]:
    return {
        "metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z" if deleting else None},
        "spec": spec,
    }


def test_a_workspace_runs_as_its_own_profile_else_its_templates_default() -> None:
    assert effective_profile({"executionProfileRef": "mine"}, TEMPLATES) == "mine"
    assert (
        effective_profile({"templateRef": "with-default", "executionProfileRef": "mine"}, TEMPLATES)
        == "mine"
    )
    assert effective_profile({"templateRef": "with-default"}, TEMPLATES) == "reader"
    assert effective_profile({"templateRef": "plain"}, TEMPLATES) is None
    assert effective_profile({"templateRef": "missing"}, TEMPLATES) is None
    assert effective_profile({}, TEMPLATES) is None


def test_the_count_includes_template_defaults_and_leaves_out_deleted_workspaces() -> None:
    workspaces = [
        ws({"templateRef": "with-default"}),
        ws({"executionProfileRef": "reader"}),
        ws({"executionProfileRef": "reader"}, deleting=True),
        ws({"templateRef": "with-default", "executionProfileRef": "other"}),
        ws({}),
    ]
    assert profile_users("reader", workspaces, TEMPLATES) == 2
    assert profile_users("other", workspaces, TEMPLATES) == 1
    assert profile_users("unused", workspaces, TEMPLATES) == 0


def test_status_says_valid_and_counts_and_only_changes_on_news() -> None:
    first = profile_status({"clusterRoles": ["view"]}, 3, {}, 2, now="2026-01-01T00:00:00Z").wire()
    assert first["workspaceCount"] == 2 and first["observedGeneration"] == 3
    (valid,) = first["conditions"]
    assert (valid["type"], valid["status"], valid["reason"]) == ("Valid", "True", "Accepted")
    again = profile_status(
        {"clusterRoles": ["view"]}, 3, first, 2, now="2026-02-02T00:00:00Z"
    ).wire()
    assert not status_changed(first, again)
    assert again["conditions"][0]["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    assert status_changed(first, profile_status({}, 3, first, 3).wire())


def test_a_spec_the_api_stored_but_the_model_refuses_is_invalid_naming_the_field() -> None:
    status = profile_status({"rules": [{"resources": ["pods"], "verbs": ["*"]}]}, 1, {}, 0).wire()
    (valid,) = status["conditions"]
    assert valid["status"] == "False" and valid["reason"] == "InvalidSpec"
    assert valid["message"].startswith("spec.rules.0.verbs")
    assert "wildcards are not allowed" in valid["message"]
