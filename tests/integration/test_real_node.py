"""Workspaces on the local cluster's real node: a real kubelet runs the real images, probes
decide Available, volumes keep files, and restricted pod security is enforced for real."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from jupyter_k8s import ssh_keys
from tests.support.fixtures import (
    PROXY_KEY,
    ROOT,
    STATE,
    Operator,
    restart_operator,
    template_manifest,
    workspace_manifest,
)
from tests.support.kube import Kubectl, condition, eventually

pytestmark = pytest.mark.integration
sys.path.insert(0, str(ROOT / "hack"))
import node  # noqa: E402 - hack/node.py: names and namespace annotations of the real node

WS_LABEL = "workspace.jupyter.org/workspace-name"


@pytest.fixture(scope="module")
def real_node(kubectl: Kubectl) -> str:
    state = json.loads((STATE / "state.json").read_text())
    if not state.get("real_node"):
        reason = node.why_not()
        if reason:
            pytest.skip(f"this machine cannot run the real node: {reason}")
        pytest.fail("the machine allows a real node but the cluster has none (make cluster-up)")
    return node.NAME


@pytest.fixture
def real_ns(kubectl: Kubectl, real_node: str, unique: str) -> Iterator[str]:
    """A namespace whose pods all run on the real node, enforcing restricted pod security."""
    name = f"real-{unique}"
    kubectl.apply(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": name,
                "labels": {"pod-security.kubernetes.io/enforce": "restricted"},
                "annotations": node.REAL_NODE_NAMESPACE_ANNOTATIONS,
            },
        }
    )
    eventually(lambda: kubectl.get("serviceaccount", "default", name), what="default SA")
    yield name
    kubectl.run("delete", "namespace", name, "--wait=false")


def pod_of(kubectl: Kubectl, ns: str, ws: str) -> dict[str, Any] | None:
    pods = [
        p
        for p in kubectl.list("pods", ns, f"{WS_LABEL}={ws}")
        if not p["metadata"].get("deletionTimestamp")
    ]
    return pods[0] if len(pods) == 1 else None


def available(kubectl: Kubectl, ns: str, ws: str) -> dict[str, Any] | None:
    obj = kubectl.get("workspace", ws, ns)
    return obj if (condition(obj, "Available") or {}).get("status") == "True" else None


def replace_pod(kubectl: Kubectl, ns: str, ws: str) -> dict[str, Any]:
    """Delete the workspace's pod; the new one once the workspace reports it Available.

    Available must be a new transition (Starting, then Running again): right after the delete
    the stored status still says Available until the operator's next pass, while the new pod
    is not even scheduled."""
    old, before = pod_of(kubectl, ns, ws), available(kubectl, ns, ws)
    assert old is not None and before is not None, "replace the pod of an Available workspace"
    since = condition(before, "Available")["lastTransitionTime"]  # type: ignore[index]
    kubectl.run("delete", "pod", "-n", ns, old["metadata"]["name"], "--wait=false")

    def replaced() -> dict[str, Any] | None:
        ws_now = available(kubectl, ns, ws)
        if ws_now is None or condition(ws_now, "Available")["lastTransitionTime"] == since:  # type: ignore[index]
            return None
        new = pod_of(kubectl, ns, ws)
        return new if new is not None and new["metadata"]["uid"] != old["metadata"]["uid"] else None

    found: dict[str, Any] = eventually(replaced, timeout=120, what="a new pod Available")
    return found


def http(url: str, headers: dict[str, str] | None = None) -> int:
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, headers=headers or {}), timeout=10
        ) as r:
            return int(r.status)
    except urllib.error.HTTPError as err:
        return err.code


def proxy_secret(kubectl: Kubectl, ns: str, ws: str) -> str:
    secret = kubectl.get("secret", f"ws-{ws}-proxy", ns)
    assert secret is not None
    return base64.b64decode(secret["data"]["secret"]).decode()


def exec_in(kubectl: Kubectl, ns: str, ws: str, script: str) -> str:
    pod = pod_of(kubectl, ns, ws)
    assert pod is not None
    res = kubectl.run("exec", "-n", ns, pod["metadata"]["name"], "--", "sh", "-c", script)
    return res.stdout


def test_jupyterlab_is_available_only_when_it_answers_and_comes_back_after_a_crash(
    kubectl: Kubectl, operator: Operator, real_ns: str
) -> None:
    kubectl.apply(
        (ROOT / "samples/workspace_v1alpha1_workspacetemplate_production.yaml").read_text()
    )
    sample = yaml.safe_load(
        (ROOT / "samples/workspace_v1alpha1_workspace_with_template.yaml").read_text()
    )
    name = sample["metadata"]["name"]
    started = time.monotonic()
    kubectl.create(sample, real_ns)
    seen_available_unready = []

    def answering() -> dict[str, Any] | None:
        ws = kubectl.get("workspace", name, real_ns)
        pod = pod_of(kubectl, real_ns, name)
        ready = pod is not None and (condition(pod, "Ready") or {}).get("status") == "True"
        if (condition(ws, "Available") or {}).get("status") == "True" and not ready:
            seen_available_unready.append(pod and pod["status"].get("conditions"))
        return ws if ready and available(kubectl, real_ns, name) else None

    eventually(answering, timeout=120, interval=0.5, what="Available with a Ready JupyterLab")
    pod = pod_of(kubectl, real_ns, name)
    assert pod is not None and pod["spec"]["nodeName"] == node.NAME
    base = f"http://{pod['status']['podIP']}:8888/"
    assert http(f"{base}api") == 200  # the readiness probe's path
    took = time.monotonic() - started
    print(f"\nkubectl apply -> real JupyterLab answering: {took:.1f}s")
    assert not seen_available_unready, "Available=True before the readiness probe passed"
    secret = proxy_secret(kubectl, real_ns, name)
    assert http(f"{base}api/contents") == 403
    assert (
        http(
            f"{base}api/contents",
            {"X-Jupyter-K8s-Proxy-Secret": secret, "X-Jupyter-K8s-User": "alice"},
        )
        == 200
    )

    # JupyterLab dies: the workspace stops being Available, then the kubelet restarts it.
    pod = pod_of(kubectl, real_ns, name)
    assert pod is not None
    kill = (
        "import os, signal\n"
        "for p in filter(str.isdigit, os.listdir('/proc')):\n"
        "    if b'jupyter-lab' in open(f'/proc/{p}/cmdline', 'rb').read():\n"
        "        os.kill(int(p), signal.SIGKILL)\n"
    )
    kubectl.run(
        "exec", "-n", real_ns, pod["metadata"]["name"], "--", "python3", "-c", kill, check=False
    )

    def not_available() -> str | None:
        ws = kubectl.get("workspace", name, real_ns)
        cond = condition(ws, "Available") or {}
        return ws["status"]["phase"] if cond.get("status") != "True" else None  # type: ignore[index]

    phase = eventually(
        not_available, timeout=60, interval=0.3, what="Available=False after the crash"
    )
    assert phase in ("Starting", "Degraded", "Progressing"), phase
    eventually(answering, timeout=120, interval=0.5, what="Available again after the restart")
    pod = pod_of(kubectl, real_ns, name)
    assert pod is not None and pod["status"]["containerStatuses"][0]["restartCount"] >= 1


def test_a_file_in_home_survives_stop_start_and_pod_deletion(
    kubectl: Kubectl, operator: Operator, real_ns: str, template: str
) -> None:
    kubectl.create(workspace_manifest("keep", template), real_ns)
    eventually(lambda: available(kubectl, real_ns, "keep"), timeout=120, what="Available")
    exec_in(kubectl, real_ns, "keep", "echo precious > /home/jovyan/notes.txt")
    pvc = kubectl.get("pvc", "ws-keep", real_ns)
    assert pvc is not None
    pv = kubectl.get("pv", pvc["spec"]["volumeName"])
    assert pv is not None
    path = Path(pv["spec"]["local"]["path"])
    assert path.is_dir() and (path / "notes.txt").read_text() == "precious\n"

    def patch(spec: dict[str, Any]) -> None:
        kubectl.run(
            "patch",
            "workspace",
            "keep",
            "-n",
            real_ns,
            "--type=merge",
            "-p",
            json.dumps({"spec": spec}),
        )

    patch({"desiredStatus": "Stopped"})
    eventually(
        lambda: (
            (condition(kubectl.get("workspace", "keep", real_ns), "Stopped") or {}).get("status")
            == "True"
            and not kubectl.list("pods", real_ns, f"{WS_LABEL}=keep")
        ),
        timeout=90,
        what="Stopped with no pod",
    )
    patch({"desiredStatus": "Running"})
    eventually(lambda: available(kubectl, real_ns, "keep"), timeout=120, what="Available again")
    assert exec_in(kubectl, real_ns, "keep", "cat /home/jovyan/notes.txt") == "precious\n"

    replace_pod(kubectl, real_ns, "keep")
    assert exec_in(kubectl, real_ns, "keep", "cat /home/jovyan/notes.txt") == "precious\n"
    assert kubectl.get("pvc", "ws-keep", real_ns)["metadata"]["uid"] == pvc["metadata"]["uid"]  # type: ignore[index]

    # Deleting the workspace deletes its volume, and the directory behind it.
    kubectl.run("delete", "workspace", "keep", "-n", real_ns, "--wait=true", "--timeout=90s")
    eventually(
        lambda: kubectl.get("pv", pv["metadata"]["name"]) is None, timeout=60, what="PV deleted"
    )
    eventually(lambda: not path.exists(), timeout=30, what="the volume's directory removed")


def test_code_server_answers_through_its_guard(
    kubectl: Kubectl, operator: Operator, real_ns: str, unique: str
) -> None:
    tmpl = f"code-{unique}"
    kubectl.create(
        template_manifest(
            tmpl,
            appType="code-server",
            defaultImage="ghcr.io/jupyter-k8s/code-server:0.1.0",
            allowedImages=["ghcr.io/jupyter-k8s/code-server:0.1.0"],
        )
    )
    try:
        kubectl.create(workspace_manifest("vscode", tmpl), real_ns)
        eventually(lambda: available(kubectl, real_ns, "vscode"), timeout=150, what="Available")
        pod = pod_of(kubectl, real_ns, "vscode")
        assert pod is not None
        base = f"http://{pod['status']['podIP']}:8888/"
        assert http(f"{base}healthz") == 200
        assert http(base) == 403
        secret = proxy_secret(kubectl, real_ns, "vscode")
        headers = {"X-Jupyter-K8s-Proxy-Secret": secret, "X-Jupyter-K8s-User": "alice"}
        eventually(
            lambda: http(f"{base}?folder=/home/jovyan", headers) == 200,
            timeout=60,
            what="workbench",
        )
    finally:
        kubectl.run("delete", "workspace", "vscode", "-n", real_ns, "--wait=true", "--timeout=90s")
        kubectl.run("delete", "workspacetemplate", tmpl, "--wait=false")


def test_restricted_pod_security_is_enforced_by_the_real_node(
    kubectl: Kubectl, operator: Operator, real_ns: str, template: str, unique: str
) -> None:
    root_pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "as-root"},
        "spec": {
            "securityContext": {"runAsUser": 0},
            "containers": [{"name": "c", "image": "ghcr.io/jupyter-k8s/jupyterlab:0.1.0"}],
        },
    }
    res = kubectl.create(root_pod, real_ns, check=False)
    assert res.returncode != 0 and 'violates PodSecurity "restricted' in res.stderr

    kubectl.create(workspace_manifest("locked", template), real_ns)
    eventually(lambda: available(kubectl, real_ns, "locked"), timeout=120, what="Available")
    out = exec_in(
        kubectl,
        real_ns,
        "locked",
        "id -u; id -g; touch /usr/x 2>&1 | grep -c 'Read-only'; grep -E 'CapEff|NoNewPrivs|Seccomp:' /proc/1/status;"
        " ls /var/run/secrets/kubernetes.io 2>&1 | grep -c 'No such'",
    ).split("\n")
    assert out[0] == "1000" and out[1] == "100" and out[2] == "1"
    assert "CapEff:\t0000000000000000" in out and "NoNewPrivs:\t1" in out and "Seccomp:\t2" in out
    assert out[-2] == "1", "no ServiceAccount token without a profile asking for one"

    # A profile that asks for a token gets one, as the workspace's own ServiceAccount.
    profile, tmpl = f"token-{unique}", f"tmpl-token-{unique}"
    kubectl.apply(
        {
            "apiVersion": "workspace.jupyter.org/v1alpha1",
            "kind": "WorkspaceExecutionProfile",
            "metadata": {"name": profile},
            "spec": {"serviceAccount": {"automountToken": True}},
        }
    )
    kubectl.create(template_manifest(tmpl, defaultExecutionProfileRef=profile))
    try:
        kubectl.create(workspace_manifest("with-token", tmpl), real_ns)
        eventually(lambda: available(kubectl, real_ns, "with-token"), timeout=120, what="Available")
        token = exec_in(
            kubectl,
            real_ns,
            "with-token",
            "cat /var/run/secrets/kubernetes.io/serviceaccount/token",
        )
        claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
        assert claims["sub"] == f"system:serviceaccount:{real_ns}:ws-with-token"
    finally:
        kubectl.run("delete", "workspace", "--all", "-n", real_ns, "--wait=true", "--timeout=90s")
        kubectl.run("delete", "workspacetemplate", tmpl, "--wait=false")
        kubectl.run("delete", "workspaceexecutionprofile", profile, "--wait=false")


def test_an_image_that_cannot_be_pulled_degrades_the_workspace(
    kubectl: Kubectl, operator: Operator, real_ns: str, template: str
) -> None:
    kubectl.create(
        workspace_manifest("broken", template, image="registry.invalid/broken:1"), real_ns
    )

    def degraded() -> dict[str, Any] | None:
        cond = condition(kubectl.get("workspace", "broken", real_ns), "Degraded")
        return cond if cond and cond["status"] == "True" else None

    cond = eventually(degraded, timeout=120, what="Degraded")
    assert (
        "ImagePull" in cond["reason"]
        or "ErrImagePull" in cond["message"]
        or "ImagePull" in cond["message"]
    )
    pod = pod_of(kubectl, real_ns, "broken")
    assert pod is not None and pod["spec"]["nodeName"] == node.NAME


def test_a_stopped_kubelet_degrades_its_workspaces_until_it_is_back(
    kubectl: Kubectl, operator: Operator, real_ns: str, template: str
) -> None:
    """Chaos: the real node's kubelet stops (its pods keep running under containerd). Once the
    node lifecycle controller marks the node Ready=Unknown, the workspace is Degraded with
    reason NodeNotReady and the node's condition in the message; with the kubelet back it is
    Available again, on the same pod and the same volume."""
    kubectl.create(workspace_manifest("steady", template), real_ns)
    eventually(lambda: available(kubectl, real_ns, "steady"), timeout=120, what="Available")
    pod, pvc = pod_of(kubectl, real_ns, "steady"), kubectl.get("pvc", "ws-steady", real_ns)
    assert pod is not None and pvc is not None
    cluster = [sys.executable, str(ROOT / "hack" / "cluster.py")]

    def degraded() -> dict[str, Any] | None:
        ws = kubectl.get("workspace", "steady", real_ns)
        cond = condition(ws, "Degraded") or {}
        return cond if cond.get("status") == "True" else None

    stopped = time.monotonic()
    subprocess.run([*cluster, "stop-kubelet"], check=True, capture_output=True)
    try:
        # The controller manager's default grace period is 50 s (node-monitor-grace-period).
        cond = eventually(degraded, timeout=150, what="Degraded after the kubelet stopped")
        print(f"\nkubelet stopped -> workspace Degraded: {time.monotonic() - stopped:.1f}s")
        assert cond["reason"] == "NodeNotReady", cond
        assert node.NAME in cond["message"], cond
        assert "NodeStatusUnknown" in cond["message"], cond
        assert "Kubelet stopped posting node status" in cond["message"], cond
        ws = kubectl.get("workspace", "steady", real_ns)
        assert ws is not None and ws["status"]["phase"] == "Degraded"
        assert (condition(ws, "Available") or {}).get("status") == "False"
    finally:
        back = time.monotonic()
        subprocess.run([*cluster, "start-kubelet"], check=True, capture_output=True)
    eventually(lambda: available(kubectl, real_ns, "steady"), timeout=120, what="Available again")
    print(f"kubelet started -> workspace Available: {time.monotonic() - back:.1f}s")
    again, pvc_again = pod_of(kubectl, real_ns, "steady"), kubectl.get("pvc", "ws-steady", real_ns)
    assert again is not None and again["metadata"]["uid"] == pod["metadata"]["uid"]
    assert pvc_again is not None and pvc_again["metadata"]["uid"] == pvc["metadata"]["uid"]


def test_node_down_leaves_nothing_behind_and_comes_back(kubectl: Kubectl, real_node: str) -> None:
    """Last in this module: stop the real node, check the machine is clean, start it again."""
    cluster = [sys.executable, str(ROOT / "hack" / "cluster.py")]
    subprocess.run([*cluster, "node-down"], check=True, capture_output=True)
    left = subprocess.run([*cluster, "leftovers"], capture_output=True, text=True)
    assert left.returncode == 0 and not left.stdout.strip(), left.stdout
    started = time.monotonic()
    subprocess.run([*cluster, "node-up"], check=True, capture_output=True)
    print(f"\nreal node up again in {time.monotonic() - started:.1f}s")
    eventually(
        lambda: (condition(kubectl.get("node", real_node), "Ready") or {}).get("status") == "True",
        what="the real node Ready",
    )


@pytest.fixture
def ssh_operator(kubectl: Kubectl, operator: Operator) -> Iterator[Operator]:
    """The session's operator, restarted with the SSH server of the desktop tunnel on."""
    operator.stop()
    restart_operator(kubectl, operator, JK_SSH_SERVER="on")
    yield operator
    operator.stop()
    restart_operator(kubectl, operator)


class SshClient:
    """The real OpenSSH client, configured by options only (nothing of ~/.ssh is read)."""

    def __init__(self, home: Path, address: str) -> None:
        self.home, self.address = home, address
        self.key = home / "id_ed25519"
        user = Ed25519PrivateKey.generate()
        self.key.write_text(ssh_keys.private_openssh(user))
        self.key.chmod(0o600)
        self.public = ssh_keys.public_openssh(user)

    def certify(self, namespace: str, name: str, **kw: Any) -> None:
        ca = ssh_keys.user_ca(PROXY_KEY.encode())
        cert = ssh_keys.sign_user(
            ca, self.public, user="alice", namespace=namespace, name=name, **kw
        )
        (self.home / "id_ed25519-cert.pub").write_text(cert + "\n")

    def pin(self, host_key: str) -> None:
        (self.home / "known_hosts").write_text(f"[{self.address}]:{ssh_keys.SSH_PORT} {host_key}\n")

    def options(self) -> list[str]:
        return [
            "-F",
            "/dev/null",
            "-i",
            str(self.key),
            "-o",
            f"CertificateFile={self.home / 'id_ed25519-cert.pub'}",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "IdentityAgent=none",
            "-o",
            f"UserKnownHostsFile={self.home / 'known_hosts'}",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=10",
        ]

    def ssh(self, command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                "ssh",
                *self.options(),
                "-p",
                str(ssh_keys.SSH_PORT),
                f"jovyan@{self.address}",
                command,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )


def test_the_ssh_server_in_a_workspace_takes_only_certificates_for_that_workspace(
    kubectl: Kubectl, ssh_operator: Operator, real_ns: str, template: str, tmp_path: Path
) -> None:
    kubectl.create(workspace_manifest("remote", template), real_ns)
    eventually(lambda: available(kubectl, real_ns, "remote"), timeout=120, what="Available")
    ws = kubectl.get("workspace", "remote", real_ns)
    assert ws is not None
    host_key = ssh_keys.public_openssh(
        ssh_keys.host_key(PROXY_KEY.encode(), real_ns, "remote", ws["metadata"]["uid"])
    )
    pod = pod_of(kubectl, real_ns, "remote")
    assert pod is not None
    client = SshClient(tmp_path, pod["status"]["podIP"])
    client.pin(host_key)

    client.certify(real_ns, "remote")
    res = eventually(
        lambda: (r := client.ssh("id -u; id -un; echo $HOME")).returncode == 0 and r,
        timeout=30,
        what="ssh with a certificate for this workspace",
    )
    assert res.stdout.split() == ["1000", "jovyan", "/home/jovyan"], res.stdout
    # The pod still runs as restricted pod security demands (the namespace enforces it).
    container = pod["spec"]["containers"][0]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]

    # SFTP (scp uses it) into the home, and a local forward to a port inside the pod.
    (tmp_path / "payload.txt").write_text("through ssh\n")
    scp = subprocess.run(
        [
            "scp",
            *client.options(),
            "-P",
            str(ssh_keys.SSH_PORT),
            str(tmp_path / "payload.txt"),
            f"jovyan@{client.address}:payload.txt",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert scp.returncode == 0, scp.stderr
    assert exec_in(kubectl, real_ns, "remote", "cat /home/jovyan/payload.txt") == "through ssh\n"

    # Refused: a certificate for another workspace, an expired one, a key without one.
    client.certify(real_ns, "another")
    refused = client.ssh("true")
    assert refused.returncode == 255 and "Permission denied" in refused.stderr, refused.stderr
    client.certify(real_ns, "remote", now=time.time() - 3600)
    refused = client.ssh("true")
    assert refused.returncode == 255 and "Permission denied" in refused.stderr, refused.stderr
    (tmp_path / "id_ed25519-cert.pub").unlink()
    refused = client.ssh("true")
    assert refused.returncode == 255 and "Permission denied" in refused.stderr, refused.stderr
    # The host key is the workspace's own: the same after the pod is replaced.
    new = replace_pod(kubectl, real_ns, "remote")
    client.address = new["status"]["podIP"]
    client.pin(host_key)  # strict checking: a changed host key would fail here
    client.certify(real_ns, "remote")
    res = eventually(
        lambda: (r := client.ssh("cat payload.txt")).returncode == 0 and r,
        timeout=30,
        what="ssh to the new pod",
    )
    assert res.stdout == "through ssh\n"
    # No Service exposes the SSH server.
    for svc in kubectl.list("services", real_ns):
        assert all(p.get("port") != ssh_keys.SSH_PORT for p in svc["spec"]["ports"]), svc


async def _start_long_cell(ip: str, secret: str, code: str) -> None:
    """A kernel in the workspace's JupyterLab running `code` (still running on return)."""
    base = f"http://{ip}:8888"
    xsrf = uuid.uuid4().hex  # Jupyter's XSRF check: the same value as cookie and header
    headers = {
        "X-Jupyter-K8s-Proxy-Secret": secret,
        "X-Jupyter-K8s-User": "alice",
        "Cookie": f"_xsrf={xsrf}",
        "X-XSRFToken": xsrf,
    }
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.post(f"{base}/api/kernels", json={"name": "python3"}) as resp:
            assert resp.status == 201, await resp.text()
            kernel = (await resp.json())["id"]
        async with http.ws_connect(
            f"{base}/api/kernels/{kernel}/channels", params={"_xsrf": xsrf}
        ) as ws:
            msg_id = uuid.uuid4().hex
            await ws.send_json(
                {
                    "header": {
                        "msg_id": msg_id,
                        "msg_type": "execute_request",
                        "username": "alice",
                        "session": uuid.uuid4().hex,
                        "version": "5.3",
                        "date": "",
                    },
                    "parent_header": {},
                    "metadata": {},
                    "content": {"code": code, "silent": False},
                    "channel": "shell",
                }
            )
            async for msg in ws:
                data = msg.json()
                if (
                    data.get("parent_header", {}).get("msg_id") == msg_id
                    and data.get("msg_type") == "status"
                    and data["content"].get("execution_state") == "busy"
                ):
                    return


def _phase(kubectl: Kubectl, ns: str, name: str) -> tuple[str, str, str]:
    ws = kubectl.get("workspace", name, ns) or {}
    stopped = condition(ws, "Stopped") or {}
    return (
        ws.get("spec", {}).get("desiredStatus", ""),
        (ws.get("status") or {}).get("phase", ""),
        stopped.get("reason", "") if stopped.get("status") == "True" else "",
    )


def test_idle_culling_stops_only_what_is_idle_and_never_on_a_failed_probe(
    kubectl: Kubectl, operator: Operator, real_ns: str, template: str, unique: str
) -> None:
    idle = {"enabled": True, "timeoutMinutes": 1}
    names = ("sleepy", "busy", "tunneled")
    coders = ("coder", "coder-used")  # code-server: its heartbeat is the activity
    code_image = "ghcr.io/jupyter-k8s/code-server:0.1.0"
    code = f"code-{unique}"
    kubectl.create(
        template_manifest(
            code, appType="code-server", defaultImage=code_image, allowedImages=[code_image]
        )
    )
    # Culling every 5 s; open tunnels are read from a ConfigMap in this namespace.
    operator.stop()
    restart_operator(kubectl, operator, JK_CULL_INTERVAL_SECONDS="5", JK_POD_NAMESPACE=real_ns)
    using = threading.Event()
    try:
        for name in names:
            kubectl.create(workspace_manifest(name, template, idleShutdown=idle), real_ns)
        for name in coders:
            kubectl.create(workspace_manifest(name, code, idleShutdown=idle), real_ns)
        for name in (*names, *coders):
            eventually(lambda n=name: available(kubectl, real_ns, n), timeout=180, what=name)
        created = time.monotonic()
        # Someone works in coder-used: a request through its guard every 15 s (code-server
        # beats on any request but its healthz); coder is never opened.
        used = pod_of(kubectl, real_ns, "coder-used")
        assert used is not None
        guard = {
            "X-Jupyter-K8s-Proxy-Secret": proxy_secret(kubectl, real_ns, "coder-used"),
            "X-Jupyter-K8s-User": "alice",
        }

        def work() -> None:
            while not using.is_set():
                http(f"http://{used['status']['podIP']}:8888/?folder=/home/jovyan", guard)
                using.wait(15)

        threading.Thread(target=work, daemon=True).start()
        busy = pod_of(kubectl, real_ns, "busy")
        assert busy is not None
        asyncio.run(
            _start_long_cell(
                busy["status"]["podIP"],
                proxy_secret(kubectl, real_ns, "busy"),
                "import time; time.sleep(1800)",
            )
        )

        # An open SSH tunnel, as the authorization service records it (every minute).
        def tunnel_open() -> None:
            kubectl.apply(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "jupyter-k8s-tunnel-activity", "namespace": real_ns},
                    "data": {f"{real_ns}.tunneled": str(int(time.time()))},
                }
            )

        tunnel_open()
        # The probes fail (another proxy key: the apps refuse the culler's requests) for well
        # past the timeout: nothing is stopped.
        operator.stop()
        restart_operator(
            kubectl,
            operator,
            JK_CULL_INTERVAL_SECONDS="5",
            JK_POD_NAMESPACE=real_ns,
            JK_PROXY_SECRET_KEY="not-the-key-the-pods-have",
        )
        while time.monotonic() - created < 100:
            time.sleep(10)
            tunnel_open()
        assert _phase(kubectl, real_ns, "sleepy") == ("Running", "Running", "")
        assert "activity of " in operator.tail(400) and "unknown" in operator.tail(400)

        # The probes answer again: the idle one is stopped (reason Idle), the others are not.
        operator.stop()
        restart_operator(kubectl, operator, JK_CULL_INTERVAL_SECONDS="5", JK_POD_NAMESPACE=real_ns)
        tunnel_open()
        eventually(
            lambda: _phase(kubectl, real_ns, "sleepy") == ("Stopped", "Stopped", "Idle"),
            timeout=120,
            interval=2,
            what="the idle workspace Stopped with reason Idle",
        )
        assert kubectl.get("pvc", "ws-sleepy", real_ns) is not None  # its volume stays
        events = kubectl.run(
            "get", "events", "-n", real_ns, "--field-selector", "reason=Idle", "-o", "json"
        ).stdout
        assert "sleepy" in events and "idle for" in events
        # code-server never used: idle since its start (its heartbeat says 0), stopped too.
        eventually(
            lambda: _phase(kubectl, real_ns, "coder") == ("Stopped", "Stopped", "Idle"),
            timeout=60,
            interval=2,
            what="the never-used code-server Stopped with reason Idle",
        )
        time.sleep(15)  # three more rounds
        for name in ("busy", "tunneled", "coder-used"):
            assert _phase(kubectl, real_ns, name) == ("Running", "Running", ""), name
        # When each was last in use, for the users' page: the busy one now, the stopped one
        # kept from before it was stopped.
        record = kubectl.get("configmap", "jupyter-k8s-last-activity", real_ns)
        assert record is not None
        last = {k: float(v) for k, v in record["data"].items()}
        assert time.time() - last[f"{real_ns}.busy"] < 30
        assert time.time() - last[f"{real_ns}.coder-used"] < 90
        assert time.time() - last[f"{real_ns}.sleepy"] > 60
        # Started again by its owner, it is Running, and no longer says Idle.
        kubectl.run(
            "patch",
            "workspace",
            "sleepy",
            "-n",
            real_ns,
            "--type=merge",
            "-p",
            json.dumps({"spec": {"desiredStatus": "Running"}}),
        )
        eventually(lambda: available(kubectl, real_ns, "sleepy"), timeout=120, what="restarted")
    finally:
        using.set()
        operator.stop()
        restart_operator(kubectl, operator)
        for name in coders:
            kubectl.run("delete", "workspace", name, "-n", real_ns, "--wait=false", check=False)
        kubectl.run("delete", "workspacetemplate", code, "--wait=false", check=False)
