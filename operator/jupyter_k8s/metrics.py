"""Prometheus metrics of the operator (served on /metrics)."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Gauge, Histogram

RECONCILES = Counter(
    "jupyter_k8s_reconciles_total", "Reconciliations by kind and outcome.", ["kind", "outcome"]
)
RECONCILE_SECONDS = Histogram(
    "jupyter_k8s_reconcile_duration_seconds",
    "Time spent reconciling one object.",
    ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
RETRIES = Counter(
    "jupyter_k8s_reconcile_retries_total",
    "Reconciliations that failed and were scheduled again (with backoff), by kind.",
    ["kind"],
)
LEADER = Gauge(
    "jupyter_k8s_leader", "1 on the replica that reconciles (holds the Lease), 0 on a standby."
)
WORKSPACES = Gauge("jupyter_k8s_workspaces", "Workspaces by phase.", ["phase"])
ADMISSIONS = Counter(
    "jupyter_k8s_admission_total",
    "Admission requests the operator's webhook answered: allowed, refused (a rule said no, with "
    "a message) or error (the webhook failed, so the API server refused the write).",
    ["webhook", "outcome"],
)
API_REQUESTS = Counter(
    "jupyter_k8s_api_requests_total",
    "Requests the operator sent to the API server (watches excluded).",
    ["verb", "resource"],
)

CULLED = Counter("jupyter_k8s_culled_total", "Workspaces stopped for being idle.")
IDLE_SECONDS = Gauge(
    "jupyter_k8s_idle_seconds",
    "Seconds since the last activity of each running workspace with idle shutdown "
    "(absent while unknown).",
    ["namespace", "workspace"],
)
PROBES = Counter(
    "jupyter_k8s_activity_probes_total", "Activity probes of workspaces by outcome.", ["outcome"]
)
GC_SECONDS = Counter(
    "jupyter_k8s_gc_pause_seconds_total",
    "Time the process spent in Python's cyclic garbage collector, by generation.",
    ["generation"],
)


def time_gc() -> None:
    """Count the collector's pauses into GC_SECONDS (its cost grows with what the operator
    holds: a full collection walks every object)."""
    started = 0.0
    by_generation = [GC_SECONDS.labels(generation=str(g)) for g in range(3)]

    def hook(phase: str, info: dict[str, int]) -> None:
        nonlocal started
        if phase == "start":
            started = time.perf_counter()
        else:
            by_generation[info["generation"]].inc(time.perf_counter() - started)

    gc.callbacks.append(hook)


@contextmanager
def reconciling(kind: str) -> Iterator[None]:
    started = time.perf_counter()
    outcome = "error"
    try:
        yield
        outcome = "success"
    finally:
        RECONCILES.labels(kind=kind, outcome=outcome).inc()
        RECONCILE_SECONDS.labels(kind=kind).observe(time.perf_counter() - started)


@contextmanager
def admitting(webhook: str) -> Iterator[None]:
    import kopf  # only the operator process serves admission

    outcome = "error"
    try:
        yield
        outcome = "allowed"
    except kopf.AdmissionError:
        outcome = "refused"
        raise
    finally:
        ADMISSIONS.labels(webhook=webhook, outcome=outcome).inc()


class PhaseBook:
    """Last known phase per workspace, exported as counts (no per-workspace label cardinality)."""

    def __init__(self) -> None:
        self._phases: dict[tuple[str, str], str] = {}

    def set(self, key: tuple[str, str], phase: str | None) -> None:
        old = self._phases.pop(key, None)
        if old is not None:
            WORKSPACES.labels(phase=old).dec()
        if phase is not None:
            self._phases[key] = phase
            WORKSPACES.labels(phase=phase).inc()
