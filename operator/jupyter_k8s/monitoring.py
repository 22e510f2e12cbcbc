"""Prometheus alerting rules and a Grafana dashboard, generated from the metric objects the code
defines (metrics.py, authz/server.py): a metric renamed in the code is renamed here, and
`promtool check rules` on the generated file runs in the tests.

`make monitoring` writes dist/monitoring/ (prometheus-rules.yaml, grafana-dashboard.json); the
Pulumi stack deploys the same rules as a PrometheusRule, a ServiceMonitor and the dashboard as a
ConfigMap when the cluster has the Prometheus Operator's CRDs.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from .authz.server import DECISIONS, LATENCY
from .authz.tunnel import TUNNEL_ANSWERS, TUNNELS
from .metrics import (
    ADMISSIONS,
    API_REQUESTS,
    CULLED,
    GC_SECONDS,
    IDLE_SECONDS,
    LEADER,
    PROBES,
    RECONCILE_SECONDS,
    RECONCILES,
    RETRIES,
    WORKSPACES,
)


def _family(metric: Counter | Gauge | Histogram) -> str:
    return str(next(iter(metric.describe())).name)


def total(metric: Counter) -> str:
    return f"{_family(metric)}_total"


def gauge(metric: Gauge) -> str:
    return _family(metric)


def buckets(metric: Histogram) -> str:
    return f"{_family(metric)}_bucket"


def _alert(
    name: str, expr: str, for_: str, severity: str, summary: str, description: str
) -> dict[str, Any]:
    return {
        "alert": name,
        "expr": expr,
        "for": for_,
        "labels": {"severity": severity},
        "annotations": {"summary": summary, "description": description},
    }


def alerting_rules() -> dict[str, Any]:
    """A Prometheus rules file (`groups:`), also the spec of the stack's PrometheusRule."""
    decisions = total(DECISIONS)
    rules = [
        _alert(
            "JupyterK8sWorkspacesDegraded",
            f'sum({gauge(WORKSPACES)}{{phase="Degraded"}}) > 0',
            "15m",
            "warning",
            "Workspaces have been Degraded for 15 minutes",
            "{{ $value }} workspaces are Degraded: kubectl get workspaces -A shows which, and "
            "their Degraded condition says why (quota, image pull, node not ready, ...).",
        ),
        _alert(
            "JupyterK8sReconcileErrors",
            f'sum by (kind) (rate({total(RECONCILES)}{{outcome="error"}}[10m])) > 0',
            "15m",
            "warning",
            "The operator keeps failing to reconcile {{ $labels.kind }} objects",
            "Reconciliations of {{ $labels.kind }} fail for 15 minutes; the operator's log "
            "names the objects and the API server's answer.",
        ),
        _alert(
            "JupyterK8sNoActiveOperator",
            f"max({gauge(LEADER)}) < 1 or absent({gauge(LEADER)})",
            "5m",
            "critical",
            "No operator replica is reconciling",
            "No replica holds the operator's Lease: workspaces are not started, stopped or "
            "repaired. Check the operator's pods in its namespace.",
        ),
        _alert(
            "JupyterK8sAdmissionFailures",
            f'sum by (webhook) (rate({total(ADMISSIONS)}{{outcome="error"}}[5m])) > 0',
            "10m",
            "critical",
            "The {{ $labels.webhook }} admission webhook fails",
            "The operator's webhook answers with errors, and the API server refuses those "
            "workspace and share writes (fail closed). See the operator's log.",
        ),
        _alert(
            "JupyterK8sAuthorizationSlow",
            f"histogram_quantile(0.99, sum by (le) (rate({buckets(LATENCY)}[5m]))) > 0.5",
            "10m",
            "warning",
            "Opening a workspace waits on the authorization service",
            "The 99th percentile of forward-auth answers is above 0.5 s: check the API "
            "server's SubjectAccessReview latency and the service's CPU.",
        ),
        _alert(
            "JupyterK8sAuthorizationErrors",
            f'sum(rate({decisions}{{outcome="error"}}[5m])) > 0',
            "10m",
            "critical",
            "The authorization service fails to decide",
            "Forward-auth requests end in errors (users see an error instead of their "
            "workspace): the service's log says why (API server, oauth2-proxy).",
        ),
        _alert(
            "JupyterK8sAuthorizationDenialsHigh",
            f'sum(rate({decisions}{{outcome="forbidden"}}[15m])) '
            f"/ sum(rate({decisions}[15m])) > 0.5",
            "15m",
            "info",
            "Most requests to workspaces are refused",
            "More than half the forward-auth answers are 403 for 15 minutes: shares that "
            "expired while in use, a misconfigured group prefix, or someone probing.",
        ),
    ]
    return {"groups": [{"name": "jupyter-k8s", "rules": rules}]}


def _panel(
    title: str, targets: list[tuple[str, str]], x: int, y: int, unit: str = "short"
) -> dict[str, Any]:
    return {
        "type": "timeseries",
        "title": title,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"h": 8, "w": 12, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [
            {"refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend}
            for i, (expr, legend) in enumerate(targets)
        ],
    }


def dashboard() -> dict[str, Any]:
    """A Grafana dashboard (JSON model) over the same metrics."""
    panels = [
        ("Workspaces by phase", [(f"sum by (phase) ({gauge(WORKSPACES)})", "{{phase}}")], "short"),
        (
            "Reconciliations per second",
            [(f"sum by (kind, outcome) (rate({total(RECONCILES)}[5m]))", "{{kind}} {{outcome}}")],
            "ops",
        ),
        (
            "Retries scheduled per second (failed reconciliations, with backoff)",
            [(f"sum by (kind) (rate({total(RETRIES)}[5m]))", "{{kind}}")],
            "ops",
        ),
        (
            "Reconcile time, p95",
            [
                (
                    "histogram_quantile(0.95, sum by (le, kind) "
                    f"(rate({buckets(RECONCILE_SECONDS)}[5m])))",
                    "{{kind}}",
                )
            ],
            "s",
        ),
        (
            "Operator API requests per second",
            [(f"sum by (verb) (rate({total(API_REQUESTS)}[5m]))", "{{verb}}")],
            "reqps",
        ),
        (
            "Admission answers per second",
            [
                (
                    f"sum by (webhook, outcome) (rate({total(ADMISSIONS)}[5m]))",
                    "{{webhook}} {{outcome}}",
                )
            ],
            "ops",
        ),
        (
            "Share of time in Python's garbage collector",
            [(f"sum by (generation) (rate({total(GC_SECONDS)}[5m]))", "generation {{generation}}")],
            "percentunit",
        ),
        ("Active operator replica", [(f"sum({gauge(LEADER)})", "reconciling")], "short"),
        (
            "Authorization answers per second",
            [(f"sum by (outcome) (rate({total(DECISIONS)}[5m]))", "{{outcome}}")],
            "ops",
        ),
        (
            "Authorization time",
            [
                (
                    f"histogram_quantile({q}, sum by (le) (rate({buckets(LATENCY)}[5m])))",
                    f"p{int(q * 100)}",
                )
                for q in (0.5, 0.99)
            ],
            "s",
        ),
        (
            "Workspaces stopped for being idle (per hour)",
            [(f"sum(increase({total(CULLED)}[1h]))", "stopped")],
            "short",
        ),
        (
            "Minutes since last activity (most idle running workspaces)",
            [(f"topk(10, {gauge(IDLE_SECONDS)}) / 60", "{{namespace}}/{{workspace}}")],
            "m",
        ),
        (
            "Activity probes per second",
            [(f"sum by (outcome) (rate({total(PROBES)}[5m]))", "{{outcome}}")],
            "ops",
        ),
        ("SSH tunnels open", [(f"sum({gauge(TUNNELS)})", "open")], "short"),
        (
            "SSH tunnel and certificate answers per second",
            [
                (
                    f"sum by (kind, outcome) (rate({total(TUNNEL_ANSWERS)}[5m]))",
                    "{{kind}} {{outcome}}",
                )
            ],
            "ops",
        ),
    ]
    return {
        "title": "jupyter-k8s",
        "uid": "jupyter-k8s",
        "tags": ["jupyter-k8s"],
        "timezone": "browser",
        "schemaVersion": 39,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Prometheus",
                    "type": "datasource",
                    "query": "prometheus",
                }
            ]
        },
        "panels": [
            _panel(title, targets, 12 * (i % 2), 8 * (i // 2), unit)
            for i, (title, targets, unit) in enumerate(panels)
        ],
    }
