"""The data-safety invariant (issue 19): a workspace's volume is the same object through every
state it can go through (valid and invalid, running and stopped, its template, profile and
manager changing or vanishing, the operator restarted with empty caches); only deleting the
workspace deletes it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.fixtures import Operator, restart_operator, template_manifest, workspace_manifest
from tests.support.kube import Kubectl, condition, eventually

pytestmark = pytest.mark.integration
API = "workspace.jupyter.org/v1alpha1"
LABEL = "workspace.jupyter.org/workspace-name"


def test_the_volume_survives_every_transition_and_goes_only_with_the_workspace(
    kubectl: Kubectl, operator: Operator, namespace: str, unique: str
) -> None:
    profile, tmpl = f"safe-{unique}", f"safe-tmpl-{unique}"
    managers = [f"safe-a-{unique}", f"safe-b-{unique}"]
    kubectl.apply(
        {
            "apiVersion": API,
            "kind": "WorkspaceExecutionProfile",
            "metadata": {"name": profile},
            "spec": {"rules": [{"resources": ["configmaps"], "verbs": ["get"]}]},
        }
    )
    kubectl.create(template_manifest(tmpl, allowedExecutionProfiles=[profile]))
    kubectl.create(workspace_manifest("keeper", tmpl), namespace)
    uid: dict[str, str] = {}

    def state(want: str) -> None:
        last: list[Any] = []

        def reached() -> bool:
            ws = kubectl.get("workspace", "keeper", namespace) or {}
            last[:] = [ws.get("status")]
            seen = ws.get("status", {}).get("observedGeneration") == ws["metadata"]["generation"]
            expected = "False" if want == "Valid" else "True"
            return seen and (condition(ws, want) or {}).get("status") == expected

        try:
            eventually(reached, timeout=90, what=f"keeper: {want}")
        except AssertionError as err:
            raise AssertionError(f"{err}; its status: {last[0]}") from None
        claims = [
            p for p in kubectl.list("pvc", namespace, f"{LABEL}=keeper")
            if not p["metadata"].get("deletionTimestamp")
        ]  # fmt: skip
        assert len(claims) == 1, [c["metadata"]["name"] for c in claims]
        uid.setdefault("pvc", claims[0]["metadata"]["uid"])
        assert claims[0]["metadata"]["uid"] == uid["pvc"], f"the volume was replaced ({want})"

    def routed(manager: str, want: str) -> None:
        def reached() -> bool:
            cond = condition(kubectl.get("workspace", "keeper", namespace), "Routed") or {}
            return cond.get("status") == want and manager in cond.get("message", "")

        eventually(reached, timeout=60, what=f"keeper: Routed={want} via {manager}")

    def patch(spec: dict[str, Any]) -> None:
        kubectl.run(
            "patch", "workspace", "keeper", "-n", namespace, "--type=merge",
            "-p", json.dumps({"spec": spec}),
        )  # fmt: skip

    try:
        state("Available")
        patch({"image": "registry.invalid/not-allowed:1"})  # invalid
        state("Valid")
        patch({"image": None})  # valid again
        state("Available")
        patch({"desiredStatus": "Stopped"})
        state("Stopped")
        patch({"desiredStatus": "Running"})
        state("Available")
        # Its template gone (an admin forcing it past its finalizer), then back.
        kubectl.run("delete", "workspacetemplate", tmpl, "--wait=false")
        kubectl.run(
            "patch", "workspacetemplate", tmpl, "--type=merge",
            "-p", '{"metadata":{"finalizers":null}}',
        )  # fmt: skip
        eventually(lambda: kubectl.get("workspacetemplate", tmpl) is None, what="template gone")
        state("Valid")
        kubectl.create(template_manifest(tmpl, allowedExecutionProfiles=[profile]))
        state("Available")
        patch({"executionProfileRef": profile})  # another identity
        state("Available")
        assert kubectl.get("serviceaccount", "ws-keeper", namespace)
        profile_body = kubectl.get("workspaceexecutionprofile", profile)
        kubectl.run("delete", "workspaceexecutionprofile", profile)  # its profile goes away
        state("Valid")
        kubectl.apply(
            {
                "apiVersion": API,
                "kind": "WorkspaceExecutionProfile",
                "metadata": {"name": profile},
                "spec": profile_body["spec"],  # type: ignore[index]
            }
        )
        state("Available")
        patch({"executionProfileRef": None})
        state("Available")

        # Managers: routed through one, moved to another, that one deleted, then none.
        for manager in managers:
            kubectl.apply(
                {
                    "apiVersion": API,
                    "kind": "WorkspaceManager",
                    "metadata": {"name": manager},
                    "spec": {"domain": f"{manager}.test", "routing": {"mode": "path"}},
                }
            )
        for manager in managers:
            patch({"managerRef": manager})
            state("Available")
            routed(manager, "True")
            assert kubectl.get("ingress", "ws-keeper", namespace), f"no route via {manager}"
        kubectl.run("delete", "workspacemanager", managers[1])
        routed(managers[1], "False")
        state("Available")
        patch({"managerRef": None})
        state("Available")
        eventually(
            lambda: kubectl.get("ingress", "ws-keeper", namespace) is None,
            what="the route gone with the manager reference",
        )

        # The operator killed, and a new one with empty caches.
        operator.proc.kill()
        operator.proc.wait()
        restart_operator(kubectl, operator)
        eventually(
            lambda: any(
                line.startswith('jupyter_k8s_reconciles_total{kind="Workspace"')
                and float(line.split()[-1]) > 0
                for line in operator.metrics().splitlines()
            ),
            what="the new operator reconciling",
        )
        state("Available")

        kubectl.run("delete", "workspace", "keeper", "-n", namespace, "--wait=true")
        eventually(
            lambda: not kubectl.list("pvc", namespace, f"{LABEL}=keeper"),
            timeout=60,
            what="the volume going with its workspace",
        )
    finally:
        kubectl.run("delete", "workspace", "--all", "-n", namespace, "--wait=true", "--timeout=90s")
        kubectl.run("delete", "workspacetemplate", tmpl, "--ignore-not-found", "--wait=false")
        kubectl.run(
            "delete", "workspaceexecutionprofile", profile, "--ignore-not-found", "--wait=false"
        )
        for manager in managers:
            kubectl.run("delete", "workspacemanager", manager, "--ignore-not-found")
