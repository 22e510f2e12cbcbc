"""Leader election's rules (issue 19, HA): who may write the Lease, and when."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from jupyter_k8s.leader import LeaseTerms, holder, micro_time, next_lease, released

NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)
ME = LeaseTerms("jupyter-k8s-operator", "jupyter-k8s-system", "pod-a", duration=15)


def lease(who: str, renewed: datetime, duration: int = 15, transitions: int = 3) -> dict[str, Any]:
    return {
        "metadata": {"name": ME.name, "namespace": ME.namespace, "resourceVersion": "42"},
        "spec": {
            "holderIdentity": who,
            "leaseDurationSeconds": duration,
            "acquireTime": micro_time(renewed - timedelta(minutes=5)),
            "renewTime": micro_time(renewed),
            "leaseTransitions": transitions,
        },
    }


def test_no_lease_yet_is_created_and_held() -> None:
    new = next_lease(None, ME, NOW)
    assert new is not None and holder(new) == "pod-a"
    assert new["spec"]["leaseTransitions"] == 0 and "resourceVersion" not in new["metadata"]


def test_the_holder_renews_keeping_its_acquire_time_and_the_version_read() -> None:
    current = lease("pod-a", NOW - timedelta(seconds=4))
    new = next_lease(current, ME, NOW)
    assert new is not None and holder(new) == "pod-a"
    assert new["spec"]["renewTime"] == micro_time(NOW)
    assert new["spec"]["acquireTime"] == current["spec"]["acquireTime"]
    assert new["spec"]["leaseTransitions"] == 3
    assert new["metadata"]["resourceVersion"] == "42", "a write that loses a race gets 409"


def test_another_holders_valid_lease_is_left_alone() -> None:
    assert next_lease(lease("pod-b", NOW - timedelta(seconds=14)), ME, NOW) is None


def test_an_expired_lease_is_taken_over() -> None:
    new = next_lease(lease("pod-b", NOW - timedelta(seconds=15)), ME, NOW)
    assert new is not None and holder(new) == "pod-a"
    assert new["spec"]["acquireTime"] == micro_time(NOW)
    assert new["spec"]["leaseTransitions"] == 4


def test_a_released_lease_is_taken_at_once() -> None:
    given_up = released(lease("pod-a", NOW), ME, NOW)
    assert given_up is not None and holder(given_up) == ""
    other = LeaseTerms(ME.name, ME.namespace, "pod-b")
    taken = next_lease({**given_up, "metadata": given_up["metadata"]}, other, NOW)
    assert taken is not None and holder(taken) == "pod-b"


def test_only_the_holder_releases() -> None:
    assert released(lease("pod-b", NOW), ME, NOW) is None
    assert released(None, ME, NOW) is None


def test_leader_election_settings_are_checked(monkeypatch: Any) -> None:
    import pytest

    from jupyter_k8s.config import ConfigError, Settings

    monkeypatch.setenv("JK_LEADER_ELECTION", "yes")
    with pytest.raises(ConfigError, match="JK_LEADER_ELECTION='yes': use on"):
        Settings.from_env()
    monkeypatch.setenv("JK_LEADER_ELECTION", "on")
    monkeypatch.setenv("JK_LEASE_SECONDS", "2")
    with pytest.raises(ConfigError, match="JK_LEASE_SECONDS=2"):
        Settings.from_env()
    monkeypatch.delenv("JK_LEASE_SECONDS")
    monkeypatch.setenv("JK_POD_NAME", "jupyter-k8s-operator-abc")
    s = Settings.from_env()
    assert s.leader_election and s.pod_name == "jupyter-k8s-operator-abc" and s.lease_seconds == 15
