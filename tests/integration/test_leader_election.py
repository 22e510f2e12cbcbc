"""Two operator replicas (issue 19, HA): both serve the admission webhook, exactly one
reconciles, and the other takes over when the leader is killed or steps down."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from jupyter_k8s.deploy.settings import NAME
from tests.support.fixtures import Operator, restart_operator, start_operator, workspace_manifest
from tests.support.kube import Kubectl, condition, eventually

pytestmark = pytest.mark.integration
OWNER = "workspace.jupyter.org/created-by"


def _metric(op: Operator, name: str) -> float:
    return sum(
        float(line.split()[-1])
        for line in op.metrics().splitlines()
        if line.startswith(name) and not line.startswith("#")
    )


def _leading(op: Operator) -> bool:
    return _metric(op, "jupyter_k8s_leader ") == 1


def _available(kubectl: Kubectl, ns: str, name: str) -> bool:
    ws = kubectl.get("workspace", name, ns)
    return (condition(ws, "Available") or {}).get("status") == "True"


def test_one_replica_reconciles_and_the_other_takes_over(
    kubectl: Kubectl, operator: Operator, alice_can_edit: str, template: str, tmp_path: Path
) -> None:
    namespace = alice_can_edit
    # The session's operator (no election) would reconcile too: it makes way for the pair.
    operator.proc.kill()
    operator.proc.wait()
    pair = {"JK_LEADER_ELECTION": "on", "JK_POD_NAMESPACE": namespace, "JK_LEASE_SECONDS": "6"}
    replicas: list[Operator] = []
    try:
        a = start_operator(kubectl, tmp_path / "a.log", JK_POD_NAME="replica-a", **pair)
        replicas.append(a)
        eventually(lambda: _leading(a), what="replica-a leading")
        # replica-b registers the webhook last: admission requests now go to the standby.
        b = start_operator(kubectl, tmp_path / "b.log", JK_POD_NAME="replica-b", **pair)
        replicas.append(b)
        eventually(lambda: "standing by: replica-a holds Lease" in b.tail(), what="b standing by")
        assert not _leading(b)

        kubectl.create(workspace_manifest("ha-1", template), namespace, user="alice")
        ws = kubectl.get("workspace", "ha-1", namespace)
        assert ws and ws["metadata"]["annotations"][OWNER] == "alice", "the standby's webhook"
        eventually(lambda: _available(kubectl, namespace, "ha-1"), what="ha-1 Available")
        assert _metric(b, "jupyter_k8s_reconciles_total") == 0, "the standby reconciled"
        assert _metric(a, "jupyter_k8s_reconciles_total") > 0
        lease = kubectl.get("lease", NAME, namespace)
        assert lease and lease["spec"]["holderIdentity"] == "replica-a"

        # The leader killed (no chance to release): the standby waits out the Lease.
        a.proc.kill()
        a.proc.wait()
        killed = time.monotonic()
        eventually(lambda: _leading(b), timeout=60, interval=0.2, what="replica-b leading")
        failover = time.monotonic() - killed
        kubectl.create(workspace_manifest("ha-2", template), namespace, user="alice")
        eventually(lambda: _available(kubectl, namespace, "ha-2"), what="ha-2 Available")

        # A graceful stop (a rollout) releases the Lease: the other takes over at once.
        a2 = start_operator(kubectl, tmp_path / "a2.log", JK_POD_NAME="replica-a", **pair)
        replicas.append(a2)
        eventually(lambda: "standing by: replica-b holds Lease" in a2.tail(), what="a standby")
        stopping = time.monotonic()
        b.stop()
        eventually(lambda: _leading(a2), timeout=30, interval=0.2, what="replica-a leading")
        handover = time.monotonic() - stopping
        kubectl.run("delete", "workspace", "ha-2", "-n", namespace, "--wait=true")
        assert _available(kubectl, namespace, "ha-1")
        print(
            f"\nfailover after kill -9 of the leader: {failover:.1f}s (Lease 6 s, retry 2 s); "
            f"handover on a graceful stop: {handover:.1f}s"
        )
    finally:
        for op in replicas:
            op.stop()
        # The session's operator again, for the tests after this one.
        restart_operator(kubectl, operator)
