"""Owner stamping through the admission webhook, with users impersonated by kubectl --as."""

from __future__ import annotations

import pytest

from tests.support.fixtures import Operator, workspace_manifest
from tests.support.kube import Kubectl, eventually

pytestmark = pytest.mark.integration
OWNER = "workspace.jupyter.org/created-by"


def test_creator_becomes_owner_and_cannot_hand_it_over(
    kubectl: Kubectl, operator: Operator, alice_can_edit: str, template: str
) -> None:
    ns = alice_can_edit
    kubectl.create(workspace_manifest("mine", template), ns, user="alice")
    ws = kubectl.get("workspace", "mine", ns)
    assert ws["metadata"]["annotations"][OWNER] == "alice"  # type: ignore[index]
    eventually(
        lambda: kubectl.jsonpath("workspace", "mine", "{.status.owner}", ns) == "alice",
        what="status.owner",
    )

    res = kubectl.run(
        "annotate",
        "workspace",
        "mine",
        "-n",
        ns,
        f"{OWNER}=mallory",
        "--overwrite",
        user="alice",
        check=False,
    )
    assert res.returncode != 0 and "only an admin may change it" in res.stderr

    # A cluster admin may (e.g. to hand a workspace over).
    kubectl.run("annotate", "workspace", "mine", "-n", ns, f"{OWNER}=bob", "--overwrite")
    assert kubectl.get("workspace", "mine", ns)["metadata"]["annotations"][OWNER] == "bob"  # type: ignore[index]


def test_forged_owner_on_create_is_refused(
    kubectl: Kubectl, operator: Operator, alice_can_edit: str, template: str
) -> None:
    manifest = workspace_manifest("forged", template)
    manifest["metadata"]["annotations"] = {OWNER: "bob"}
    res = kubectl.create(manifest, alice_can_edit, user="alice", check=False)
    assert (
        res.returncode != 0
        and "only an admin may create a workspace on behalf of 'bob'" in res.stderr
    )


def test_in_cluster_mode_fills_in_the_installed_configuration(
    kubectl: Kubectl, crds: Kubectl, unique: str
) -> None:
    """In a cluster the webhook configuration comes from the installer (service reference,
    no caBundle); the operator fills in the CA of the certificate it made at start-up."""
    import base64
    import dataclasses

    import yaml

    from jupyter_k8s.config import Settings
    from jupyter_k8s.core.runtime import Runtime
    from jupyter_k8s.handlers.lifecycle import publish_webhook
    from jupyter_k8s.kube.client import Kube
    from jupyter_k8s.kube.connection import from_kubeconfig
    from tests.support.fixtures import ROOT

    name = f"owner-stamp-{unique}"
    (installed,) = [
        o
        for o in yaml.safe_load_all((ROOT / "dist" / "install.yaml").read_text())
        if o["kind"] == "MutatingWebhookConfiguration"
    ]
    installed["metadata"]["name"] = name
    installed["webhooks"][0]["namespaceSelector"] = {
        "matchLabels": {"never": "matches"}
    }  # inert here
    kubectl.apply(installed)
    try:
        settings = dataclasses.replace(
            Settings.from_env(), webhook_mode="service", webhook_configuration=name
        )
        rt = Runtime(settings=settings, kube=Kube(from_kubeconfig(str(kubectl.kubeconfig))))
        publish_webhook(
            rt, {"url": "https://ignored:9443", "caBundle": base64.b64encode(b"CA PEM").decode()}
        )
        hook = kubectl.get("mutatingwebhookconfiguration", name)["webhooks"][0]  # type: ignore[index]
        assert base64.b64decode(hook["clientConfig"]["caBundle"]) == b"CA PEM"
        assert hook["clientConfig"]["service"]["name"] == "jupyter-k8s-operator-webhook"
        assert "url" not in hook["clientConfig"]
    finally:
        kubectl.run("delete", "mutatingwebhookconfiguration", name, "--ignore-not-found")


def test_a_host_operator_does_not_take_over_an_installed_one(
    kubectl: Kubectl, crds: Kubectl, unique: str
) -> None:
    """`make run` next to an operator installed in the cluster: the one on the host refuses to
    start with the fix in one line, and the installed configuration is left as it was."""
    import os
    import subprocess
    import sys

    import yaml

    from tests.support.fixtures import PROXY_KEY, ROOT, free_port

    name = f"installed-{unique}"
    (installed,) = [
        o
        for o in yaml.safe_load_all((ROOT / "dist" / "install.yaml").read_text())
        if o["kind"] == "MutatingWebhookConfiguration"
    ]
    installed["metadata"]["name"] = name
    installed["webhooks"][0]["namespaceSelector"] = {"matchLabels": {"never": "matches"}}
    installed["webhooks"][1]["namespaceSelector"] = {"matchLabels": {"never": "matches"}}
    kubectl.apply(installed)
    try:
        before = kubectl.get("mutatingwebhookconfiguration", name)["webhooks"]  # type: ignore[index]
        res = subprocess.run(
            [sys.executable, "-m", "jupyter_k8s", "run"],
            env={
                **os.environ,
                "KUBECONFIG": str(kubectl.kubeconfig),
                "JK_WEBHOOK_MODE": "url",
                "JK_WEBHOOK_CONFIGURATION": name,
                "JK_WEBHOOK_PORT": str(free_port()),
                "JK_HEALTH_PORT": str(free_port()),
                "JK_METRICS_PORT": str(free_port()),
                "JK_CERT_DIR": str(ROOT / "build" / f"cert-{unique}"),
                "JK_PROXY_SECRET_KEY": PROXY_KEY,
                "JK_LOG_FORMAT": "plain",
            },
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert res.returncode == 1, res.stderr[-2000:]
        last = res.stderr.strip().splitlines()[-1]
        assert "belongs to an operator installed in the cluster" in last
        assert "Service jupyter-k8s-system/jupyter-k8s-operator-webhook" in last
        assert kubectl.get("mutatingwebhookconfiguration", name)["webhooks"] == before  # type: ignore[index]
    finally:
        kubectl.run("delete", "mutatingwebhookconfiguration", name, "--ignore-not-found")
