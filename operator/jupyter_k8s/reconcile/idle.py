"""Idle culling, the pure part: from what a workspace's app and tunnels said about activity,
is it idle long enough to stop?

Activity comes from the app itself (JupyterLab's /api/status and its kernels, code-server's
heartbeat) and from the authorization service's SSH tunnels. A probe that failed, or an answer
older than the culling round, never culls: a workspace is only stopped on positive evidence
that nobody used it for its whole timeout.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# Annotation the culler sets with the generation its stop produced: the Stopped condition then
# says "Idle" (until the spec changes again, e.g. the owner starts it).
IDLE_STOP_ANNOTATION = "workspace.jupyter.org/idle-stopped-generation"


@dataclass(frozen=True)
class Activity:
    """What one probe of a running workspace found (times in seconds since the epoch)."""

    ok: bool  # False: the app did not answer (or answered nonsense)
    last_activity: float | None = None  # the app's own last activity
    started: float | None = None  # when the app (else its pod) started
    busy: bool = False  # a kernel is executing right now
    error: str = ""


@dataclass(frozen=True)
class Verdict:
    cull: bool
    idle_seconds: float | None  # None: unknown (probe failed)
    why: str
    last_active: float | None = None  # when it was last in use (epoch seconds), if known


def activity_key(namespace: str, name: str) -> str:
    """A workspace's key in the activity ConfigMaps (namespaces hold no dot, so it splits)."""
    return f"{namespace}.{name}"


def read_activity(data: dict[str, str] | None) -> dict[tuple[str, str], float]:
    """An activity ConfigMap's data (key -> epoch seconds), skipping what does not parse."""
    out: dict[tuple[str, str], float] = {}
    for key, value in (data or {}).items():
        namespace, _, name = key.partition(".")
        try:
            out[(namespace, name)] = float(value)
        except ValueError:
            continue
    return out


def parse_time(value: object) -> float | None:
    """Jupyter's ISO times ("2026-12-01T22:35:40.123456Z") or milliseconds since the epoch."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) / 1000.0
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def verdict(
    activity: Activity,
    timeout_minutes: int | None,
    now: float,
    tunnel_activity: float | None = None,
) -> Verdict:
    """Whether to stop it; `timeout_minutes` None (idle shutdown off): never, the reading only
    says when it was last used."""
    # code-server says 0 until its first use: then only its start counts.
    times = [t for t in (activity.last_activity, activity.started, tunnel_activity) if t]
    if not activity.ok or not times:
        return Verdict(False, None, f"no activity reading ({activity.error or 'no answer'})")
    if activity.busy:
        return Verdict(False, 0.0, "a kernel is busy", now)
    last = max(times)
    if last > now + 300:
        return Verdict(False, None, "the app's clock is ahead: not trusting it")
    idle = max(0.0, now - last)
    last = min(last, now)
    if timeout_minutes and idle >= timeout_minutes * 60:
        why = f"idle for {idle / 60:.0f} min (timeout {timeout_minutes} min)"
        return Verdict(True, idle, why, last)
    return Verdict(False, idle, "active", last)
