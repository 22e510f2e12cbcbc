"""The idle culler's judgement (reconcile/idle.py) and what a culled workspace says."""

from __future__ import annotations

import pytest

from jupyter_k8s.reconcile import health
from jupyter_k8s.reconcile.idle import Activity, activity_key, parse_time, read_activity, verdict

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


def test_when_last_in_use_is_known_whether_or_not_idle_shutdown_is_on() -> None:
    # Idle shutdown off: never stopped, however long idle; the reading still says when.
    off = verdict(Activity(ok=True, last_activity=NOW - 86400, started=NOW - 90000), None, NOW)
    assert not off.cull and off.last_active == NOW - 86400
    assert verdict(Activity(ok=True, last_activity=NOW - 9, busy=True), 10, NOW).last_active == NOW
    tunnel = verdict(Activity(ok=True, last_activity=NOW - 3600), 10, NOW, NOW - 60)
    assert tunnel.last_active == NOW - 60
    assert verdict(Activity(ok=False), 10, NOW).last_active is None  # unknown stays unknown


def test_activity_records_round_trip_and_skip_what_does_not_parse() -> None:
    data = {activity_key("team-a", "alice-lab"): "1800000000", "team-b.x": "soon"}
    assert read_activity(data) == {("team-a", "alice-lab"): 1800000000.0}
    assert read_activity(None) == {}


def test_running_workspaces_are_judged_at_their_own_path_stopped_only_with_idle_shutdown() -> None:
    from jupyter_k8s.handlers.culling import candidate

    def ws(desired: str = "Running", phase: str = "Running", **extra: object) -> dict[str, object]:
        return {
            "metadata": {"name": "w", "namespace": "n"},
            "spec": {"desiredStatus": desired, **extra},
            "status": {"phase": phase, "url": "https://x.org/workspaces/n/w/"},
        }

    on = {"idleShutdown": {"enabled": True, "timeoutMinutes": 30}}
    assert candidate(None, ("n", "w"), ws(**on)) == ("jupyterlab", 30, "/workspaces/n/w/")
    # Not enabled: asked for when it was last used, never stopped.
    assert candidate(None, ("n", "w"), ws()) == ("jupyterlab", None, "/workspaces/n/w/")
    assert candidate(None, ("n", "w"), ws("Stopped", **on)) is None
    assert candidate(None, ("n", "w"), ws(phase="Starting", **on)) is None


def test_code_server_never_used_is_idle_from_its_start() -> None:
    # code-server's heartbeat is 0 until its first use: the pod's start counts instead.
    never = Activity(ok=True, last_activity=None, started=NOW - 601)
    assert verdict(never, 10, NOW).cull
    assert not verdict(Activity(ok=True, last_activity=None, started=NOW - 30), 10, NOW).cull


@pytest.mark.parametrize(
    ("answer", "ok", "last"),
    [
        ({"status": "expired", "lastHeartbeat": 0}, True, None),  # never used yet
        ({"status": "alive", "lastHeartbeat": 1800000000000}, True, 1800000000.0),
    ],
)
def test_code_servers_heartbeat_is_read_from_healthz(
    answer: dict[str, object], ok: bool, last: float | None
) -> None:
    import asyncio

    import aiohttp
    from aiohttp import web
    from aiohttp.test_utils import TestServer

    from jupyter_k8s.handlers.culling import probe

    async def go() -> Activity:
        app = web.Application()
        app.router.add_get("/ws/healthz", lambda _: web.json_response(answer))
        async with TestServer(app) as server, aiohttp.ClientSession() as http:
            return await probe(http, "code-server", str(server.make_url("/ws/")), {})

    # A loop of its own, left as it was: asyncio.run() would unset the thread's current loop,
    # which Pulumi's mocks (tests/infra) ask for later in the same session.
    loop = asyncio.new_event_loop()
    try:
        found = loop.run_until_complete(go())
    finally:
        loop.close()
    assert (found.ok, found.last_activity) == (ok, last)


def test_a_culling_round_with_nothing_running_asks_the_api_server_nothing() -> None:
    # An idle operator sends no request between resyncs: the tunnels' activity is read only
    # when some workspace is judged.
    import asyncio
    from types import SimpleNamespace
    from typing import Any

    import jupyter_k8s.handlers.culling as culling
    from jupyter_k8s.core.runtime import Runtime

    class CountingKube:
        def __init__(self) -> None:
            self.calls: list[str] = []

        def get(self, *args: Any) -> dict[str, Any]:
            self.calls.append("GET " + args[3])
            return {"data": {}}

        def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
            self.calls.append("APPLY")
            return obj

    stopped = {
        "metadata": {"name": "w", "namespace": "n", "uid": "u"},
        "spec": {"desiredStatus": "Stopped"},
        "status": {"phase": "Stopped"},
    }
    kube = CountingKube()
    rt = Runtime(settings=SimpleNamespace(webhook_namespace="jk"), kube=kube)  # type: ignore[arg-type]
    rt.proxy_key = b"k" * 32
    rt.indexes = SimpleNamespace(workspaces={("n", "w"): [stopped]}, templates={})  # type: ignore[assignment]
    culling._last_active = None  # as in a process that just started
    loop = asyncio.new_event_loop()  # not asyncio.run: see the test above
    try:
        loop.run_until_complete(culling.cull_round(rt, None))  # type: ignore[arg-type]
        first = list(kube.calls)
        loop.run_until_complete(culling.cull_round(rt, None))  # type: ignore[arg-type]
    finally:
        loop.close()
    assert first == [f"GET {culling.LAST_ACTIVITY}"]  # once, at the first round
    assert kube.calls == first  # and nothing in the rounds after
