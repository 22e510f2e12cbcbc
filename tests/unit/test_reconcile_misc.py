"""Names, drift detection and the template finalizer plan."""

from __future__ import annotations

from jupyter_k8s.names import MAX_NAME, workspace_child
from jupyter_k8s.reconcile.drift import contains
from jupyter_k8s.reconcile.template import plan_template


def test_child_names_are_valid_labels_and_distinct() -> None:
    assert workspace_child("lab") == "ws-lab"
    a, b = workspace_child("x" * 70 + "a"), workspace_child("x" * 70 + "b")
    assert len(a) <= MAX_NAME and len(b) <= MAX_NAME and a != b
    assert workspace_child("My.Lab") != workspace_child("my-lab")


def test_drift_compares_desired_fields_only_and_quantities_by_value() -> None:
    have = {"spec": {"replicas": 1, "extra": True, "c": [{"cpu": "500m", "name": "w", "x": 1}]}}
    assert contains(have, {"spec": {"replicas": 1, "c": [{"cpu": "0.5", "name": "w"}]}})
    assert not contains(have, {"spec": {"replicas": 2}})
    assert not contains(have, {"spec": {"c": [{"cpu": "1"}]}})
    assert not contains(have, {"spec": {"missing": 1}})


def test_template_finalizer_follows_its_users() -> None:
    assert plan_template(False, []).want_finalizer is False
    assert plan_template(False, ["a/x"]).want_finalizer is True
    blocked = plan_template(True, ["ns/b", "ns/a"])
    assert blocked.workspace_count == 2
    assert blocked.blocked_message and "ns/a, ns/b" in blocked.blocked_message
    many = plan_template(True, [f"ns/w{i:02d}" for i in range(15)])
    assert many.blocked_message and "and 5 more" in many.blocked_message


def test_drift_check_sees_every_top_level_field() -> None:
    """A Role has rules and a RoleBinding subjects, not a spec: all of them are compared."""
    from jupyter_k8s.core.indexes import trimmed
    from jupyter_k8s.reconcile.access import access_objects
    from jupyter_k8s.reconcile.children import WorkspaceRef

    for desired in access_objects(WorkspaceRef("lab", "ns", "uid"), "alice", "Public"):
        live = {
            **desired,
            "metadata": {**desired["metadata"], "resourceVersion": "7", "managedFields": []},
            "status": {},
        }
        assert contains(trimmed(live), desired), desired["kind"]
        changed = {**live, "rules": [], "subjects": []}
        assert not contains(trimmed(changed), desired), desired["kind"]


def test_a_failing_apply_keeps_the_degraded_transition_time() -> None:
    # Retried every few seconds: only the first failure moves the time, so the status is not
    # rewritten (and watchers not woken) on every retry.
    from jupyter_k8s.api.workspace import WorkspaceStatus
    from jupyter_k8s.core.workspace import _degraded_status

    healthy = {"type": "Degraded", "status": "False", "reason": "AsExpected", "message": ""}
    t0 = "2026-01-01T00:00:00Z"
    planned = WorkspaceStatus.model_validate(
        {"phase": "Running", "conditions": [{**healthy, "lastTransitionTime": t0}]}
    )
    first = _degraded_status(planned, planned.wire(), "Applying the workspace failed: quota").wire()
    (cond,) = first["conditions"]
    assert first["phase"] == "Degraded" and cond["reason"] == "ApplyFailed"
    assert cond["lastTransitionTime"] != t0
    again = _degraded_status(planned, first, "Applying the workspace failed: quota").wire()
    assert again == first


def test_a_field_no_longer_wanted_is_drift() -> None:
    # A subset check alone cannot see a dropped field; the applied digest changes instead.
    from jupyter_k8s.reconcile.drift import APPLIED, stamped

    before = stamped({"metadata": {"name": "x"}, "spec": {"limits": {"cpu": "1", "gpu": "1"}}})
    after = stamped({"metadata": {"name": "x"}, "spec": {"limits": {"cpu": "1"}}})
    assert contains(before, {"spec": {"limits": {"cpu": "1"}}})
    assert not contains(before, after)
    assert before["metadata"]["labels"][APPLIED] != after["metadata"]["labels"][APPLIED]
    assert contains(after, stamped({"metadata": {"name": "x"}, "spec": {"limits": {"cpu": "1"}}}))


def test_the_digest_is_the_one_earlier_versions_stamped() -> None:
    # An upgraded operator that digested differently would re-apply every child of every
    # workspace at start-up. Earlier versions hashed the stdlib's compact, sorted JSON.
    import hashlib
    import json

    from jupyter_k8s.reconcile.drift import APPLIED, stamped

    obj = {
        "metadata": {"name": "x", "labels": {"b": "1", "a": "2"}},
        "spec": {"env": [{"name": "E", "value": 'é 😀 \n\t\x01\x7f \u2028 "q" \\'}], "n": 3},
        "data": {"flag": True, "none": None, "ratio": 0.5},
    }
    old = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    want = hashlib.sha256(old.encode()).hexdigest()[:16]
    assert stamped(obj)["metadata"]["labels"][APPLIED] == want
