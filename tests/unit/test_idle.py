"""The idle culler's judgement (reconcile/idle.py) and what a culled workspace says."""

from __future__ import annotations

import pytest

from jupyter_k8s.reconcile import health
from jupyter_k8s.reconcile.idle import Activity, parse_time, verdict

NOW = 1_800_000_000.0


def test_idle_past_the_timeout_is_culled() -> None:
    said = verdict(Activity(ok=True, last_activity=NOW - 601, started=NOW - 3600), 10, NOW)
    assert said.cull and said.idle_seconds == pytest.approx(601)
    assert "idle for 10 min (timeout 10 min)" in said.why


@pytest.mark.parametrize(
    ("activity", "tunnel", "why"),
    [
        (Activity(ok=True, last_activity=NOW - 599, started=NOW - 3600), None, "active"),
        # A kernel running a long cell reports nothing until it ends: busy is activity now.
        (Activity(ok=True, last_activity=NOW - 3600, busy=True), None, "a kernel is busy"),
        # An open SSH tunnel (recorded by the authorization service) is activity.
        (Activity(ok=True, last_activity=NOW - 3600), NOW - 60, "active"),
        # Just started: the start counts as activity.
        (Activity(ok=True, last_activity=NOW - 3600, started=NOW - 30), None, "active"),
        # No answer, or no reading: never culled.
        (Activity(ok=False, error="ConnectionRefused"), None, "no activity reading"),
        (Activity(ok=True, last_activity=None), None, "no activity reading"),
        (Activity(ok=True, last_activity=NOW + 3600), None, "clock is ahead"),
    ],
)
def test_never_culled_without_evidence_of_a_whole_idle_timeout(
    activity: Activity, tunnel: float | None, why: str
) -> None:
    said = verdict(activity, 10, NOW, tunnel)
    assert not said.cull
    assert why in said.why


def test_times_from_jupyter_and_code_server() -> None:
    assert parse_time("2027-01-15T08:00:00.000000Z") == 1800000000.0
    assert parse_time(1800000000000) == 1800000000.0  # code-server: milliseconds
    assert parse_time("yesterday") is None and parse_time(None) is None and parse_time(True) is None


def test_a_culled_workspace_says_idle_and_a_stopped_one_does_not() -> None:
    idle = {c.type: c for c in health.stopped([], idle=True).conditions}
    plain = {c.type: c for c in health.stopped([]).conditions}
    assert idle["Stopped"].status is True and idle["Stopped"].reason == "Idle"
    assert "idle" in idle["Stopped"].message and "volume is kept" in idle["Stopped"].message
    assert plain["Stopped"].reason == "Stopped"


def test_only_running_workspaces_with_idle_shutdown_are_judged_at_their_own_path() -> None:
    from jupyter_k8s.handlers.culling import candidate

    def ws(desired: str = "Running", phase: str = "Running", **extra: object) -> dict[str, object]:
        return {
            "metadata": {"name": "w", "namespace": "n"},
            "spec": {"desiredStatus": desired, **extra},
            "status": {"phase": phase, "url": "https://x.org/workspaces/n/w/"},
        }

    on = {"idleShutdown": {"enabled": True, "timeoutMinutes": 30}}
    assert candidate(None, ("n", "w"), ws(**on)) == ("jupyterlab", 30, "/workspaces/n/w/")
    assert candidate(None, ("n", "w"), ws()) is None  # not enabled
    assert candidate(None, ("n", "w"), ws("Stopped", **on)) is None
    assert candidate(None, ("n", "w"), ws(phase="Starting", **on)) is None
