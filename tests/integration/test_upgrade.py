"""An operator upgrade (issue 19): the previous version of the operator is replaced by this one
while workspaces run. Every workspace stays as it was: no child object re-created (same UIDs),
no pod restarted, running ones Available throughout, stopped ones Stopped.

"The previous version" is the newest commit whose operator/ differs from this tree's, taken
from git history (JK_UPGRADE_FROM=<commit> picks another), so the test follows the project: it
fails when a change would restart or re-create users' workspaces on upgrade.
"""

from __future__ import annotations

import os
import subprocess
import tarfile
import threading
import time
from io import BytesIO
from pathlib import Path

import pytest

from tests.support.fixtures import ROOT, Operator, restart_operator, start_operator
from tests.support.fixtures import workspace_manifest as ws_manifest
from tests.support.kube import Kubectl, condition, eventually

pytestmark = pytest.mark.integration
API = "workspace.jupyter.org/v1alpha1"
LABEL = "workspace.jupyter.org/workspace-name"
CHILD_KINDS = ("pvc", "deployments", "services", "roles", "rolebindings", "pods")
RUNNING, STOPPED = ("up-a", "up-b", "up-c"), ("up-stopped",)


def _git(*args: str) -> str:
    res = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    if res.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {res.stderr.strip()}")
    return res.stdout


def previous_operator(into: Path) -> str:
    """Extract the previous operator version (or JK_UPGRADE_FROM's) into `into`; returns its
    commit."""
    pinned = os.environ.get("JK_UPGRADE_FROM")
    candidates = (
        [_git("rev-parse", pinned).strip()]
        if pinned
        else _git("log", "--format=%H", "-n", "50", "--", "operator").split()
    )
    for commit in candidates:
        differs = subprocess.run(
            ["git", "diff", "--quiet", commit, "--", "operator"], cwd=ROOT
        ).returncode
        if differs:
            archive = subprocess.run(
                ["git", "archive", commit, "operator"], cwd=ROOT, capture_output=True, check=True
            ).stdout
            with tarfile.open(fileobj=BytesIO(archive)) as tar:
                tar.extractall(into, filter="data")
            return commit
    raise AssertionError(
        "no earlier operator version in the last 50 commits of git history (a shallow clone?); "
        "the upgrade test needs the repository's history: git fetch --unshallow"
    )


def children(kubectl: Kubectl, ns: str) -> dict[str, str]:
    """kind/name -> UID of every object labelled as a workspace's."""
    found = {}
    for kind in CHILD_KINDS:
        for obj in kubectl.list(kind, ns, LABEL):
            if not obj["metadata"].get("deletionTimestamp"):
                found[f"{kind}/{obj['metadata']['name']}"] = obj["metadata"]["uid"]
    return found


def states(kubectl: Kubectl, ns: str) -> dict[str, str]:
    out = {}
    for ws in kubectl.list("workspaces", ns):
        want = "Stopped" if ws["spec"].get("desiredStatus") == "Stopped" else "Available"
        cond = condition(ws, want) or {}
        out[ws["metadata"]["name"]] = (
            want
            if cond.get("status") == "True"
            else f"not {want}: {cond.get('reason')}: {cond.get('message')}"
        )
    return out


def transitions(kubectl: Kubectl, ns: str) -> dict[str, str]:
    """When each workspace last entered its state: a flip and back, however brief, moves it."""
    out = {}
    for ws in kubectl.list("workspaces", ns):
        want = "Stopped" if ws["spec"].get("desiredStatus") == "Stopped" else "Available"
        out[ws["metadata"]["name"]] = (condition(ws, want) or {}).get("lastTransitionTime", "")
    return out


def test_an_upgrade_recreates_nothing_and_restarts_nothing(
    kubectl: Kubectl,
    operator: Operator,
    namespace: str,
    template: str,
    tmp_path: Path,
) -> None:
    old_tree = tmp_path / "previous"
    commit = previous_operator(old_tree)
    print(
        f"\nupgrading from the operator of {commit[:12]}: {_git('log', '-1', '--format=%s', commit)[:100]}"
    )
    operator.stop()
    old = start_operator(
        kubectl, tmp_path / "previous-operator.log", PYTHONPATH=str(old_tree / "operator")
    )
    watching = True
    try:
        for name in RUNNING:
            kubectl.create(ws_manifest(name, template), namespace)
        for name in STOPPED:
            kubectl.create(ws_manifest(name, template, desiredStatus="Stopped"), namespace)
        kubectl.create(
            {
                "apiVersion": API,
                "kind": "WorkspaceShare",
                "metadata": {"name": "with-bob"},
                "spec": {
                    "workspaceName": RUNNING[0],
                    "subjects": [{"kind": "User", "name": "bob"}],
                },
            },
            namespace,
        )
        settled = {**dict.fromkeys(RUNNING, "Available"), **dict.fromkeys(STOPPED, "Stopped")}
        eventually(
            lambda: states(kubectl, namespace) == settled,
            timeout=120,
            what="every workspace settled under the previous operator",
        )
        eventually(
            lambda: any(
                k.startswith("rolebindings/") and "with-bob" in k
                for k in children(kubectl, namespace)
            ),
            what="the share's grant",
        )
        time.sleep(3)  # let the previous operator finish its writes
        before, since = children(kubectl, namespace), transitions(kubectl, namespace)

        # Throughout the upgrade, nothing may leave its state even for a moment.
        lapses: list[dict[str, str]] = []

        def watch() -> None:
            while watching:
                seen = states(kubectl, namespace)
                if seen != settled:
                    lapses.append(seen)
                time.sleep(0.3)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        old.stop()
        restart_operator(kubectl, operator)  # this tree's operator, with empty caches
        started = time.monotonic()
        eventually(
            lambda: operator_reconciled(operator) >= len(settled),
            what="the new operator reconciling every workspace",
        )
        time.sleep(5)  # room for any write or deletion it would make
        watching = False
        watcher.join()
        after = children(kubectl, namespace)
        print(
            f"new operator reconciled {len(settled)} workspaces in {time.monotonic() - started:.1f}s"
        )
        changed = {k: (v, after.get(k)) for k, v in before.items() if after.get(k) != v}
        assert not changed, (
            f"re-created or deleted on upgrade (kind/name: old UID, new UID): {changed}; an upgrade "
            "must not restart users' workspaces (a changed pod template does)"
        )
        assert set(after) == set(before), f"new children: {sorted(set(after) - set(before))}"
        assert not lapses, f"a workspace left its state during the upgrade: {lapses[:3]}"
        assert transitions(kubectl, namespace) == since, "a workspace left its state and came back"
        assert states(kubectl, namespace) == settled
    finally:
        watching = False
        if old.proc.poll() is None:
            old.stop()
        if operator.proc.poll() is not None or not operator.healthy():
            restart_operator(kubectl, operator)


def operator_reconciled(operator: Operator) -> float:
    for line in operator.metrics().splitlines():
        if line.startswith('jupyter_k8s_reconciles_total{kind="Workspace"'):
            return float(line.split()[-1])
    return 0.0
