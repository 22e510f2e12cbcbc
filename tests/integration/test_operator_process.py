"""The operator as a process: restart convergence, metrics, liveness."""

from __future__ import annotations

import pytest

from tests.support.fixtures import Operator, restart_operator, start_operator, workspace_manifest
from tests.support.kube import Kubectl, condition, eventually

pytestmark = pytest.mark.integration


def test_metrics_and_liveness(operator: Operator) -> None:
    assert operator.healthy()
    text = operator.metrics()
    for metric in (
        "jupyter_k8s_reconciles_total",
        "jupyter_k8s_reconcile_duration_seconds",
        "jupyter_k8s_workspaces",
    ):
        assert metric in text


def test_restart_converges_without_duplicates(
    kubectl: Kubectl, operator: Operator, namespace: str, template: str, tmp_path: object
) -> None:
    # Create workspaces and kill the operator while it is working on them (no clean shutdown),
    # then start a new one: it must converge and create exactly one of each child.
    for i in range(3):
        kubectl.create(workspace_manifest(f"halfway-{i}", template), namespace)
    operator.proc.kill()
    operator.proc.wait()
    restart_operator(kubectl, operator)

    def all_available() -> bool:
        items = kubectl.list("workspaces", namespace)
        return len(items) == 3 and all(
            (condition(ws, "Available") or {}).get("status") == "True" for ws in items
        )

    eventually(all_available, what="all three Available after the restart")
    for kind in ("deployments", "services", "pvc", "replicasets"):
        assert len(kubectl.list(kind, namespace)) == 3, kind


def test_runs_without_a_webhook_when_told_so(
    kubectl: Kubectl, operator: Operator, namespace: str, template: str, tmp_path: object
) -> None:
    """JK_WEBHOOK_MODE=off: no admission server, no webhook configuration; it reconciles."""
    from pathlib import Path

    log = Path(str(tmp_path)) / "operator-off.log"
    off = start_operator(kubectl, log, JK_WEBHOOK_MODE="off", JK_NAMESPACES=namespace)
    try:
        kubectl.create(workspace_manifest("no-hook", template), namespace)

        def reconciled() -> bool:
            return any(
                line.startswith('jupyter_k8s_reconciles_total{kind="Workspace"')
                and float(line.split()[-1]) > 0
                for line in off.metrics().splitlines()
            )

        eventually(reconciled, what="the webhook-less operator reconciling")
        assert off.proc.poll() is None and "no admission server" not in off.tail()
    finally:
        off.stop()
