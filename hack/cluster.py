#!/usr/bin/env python3
"""A real local Kubernetes control plane on loopback, from binaries built by hack/tools.py.

    python hack/cluster.py up       # start (harmless when already running); `make tools` builds first
    python hack/cluster.py status   # what runs, where
    python hack/cluster.py down     # stop every process and remove the cluster's state
    python hack/cluster.py stop-extras  # stop what runs next to it (make demo's operator)
    python hack/cluster.py restart-apiserver  # (or restart-etcd) fault injection for tests
    python hack/cluster.py stop-kubelet       # (then start-kubelet) the real node loses its kubelet

Components: etcd, kube-apiserver (RBAC + Node authorization, admission webhooks, service-account
tokens), kube-controller-manager (GC, namespaces, deployments, service accounts and tokens,
PV/PVC binding with the host-path provisioner), kube-scheduler and kwok, which keeps a few fake
nodes Ready and moves pods bound to them to Running. Everything listens on 127.0.0.1 only.

State lives in .cluster/ (ignored by git): PKI, kubeconfigs, etcd data, logs and pid files.
Only the standard library is used, so this runs before any virtualenv exists.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import node  # hack/node.py: the real node
import tools  # hack/tools.py, next to this file
from procs import ROOT, STATE, VENV_PYTHON, Component, log, wait

HOST = "127.0.0.1"
PORTS = {
    "etcd": int(os.environ.get("JK_ETCD_PORT", "23790")),
    "etcd-peer": int(os.environ.get("JK_ETCD_PEER_PORT", "23800")),
    "apiserver": int(os.environ.get("JK_APISERVER_PORT", "16443")),
    "controller-manager": int(os.environ.get("JK_KCM_PORT", "16257")),
    "scheduler": int(os.environ.get("JK_SCHEDULER_PORT", "16259")),
    "kwok": int(os.environ.get("JK_KWOK_PORT", "16280")),
}
SERVICE_CIDR = "10.96.0.0/16"
POD_CIDR = "10.244.0.0/16"
NODES = [
    # name, cpu, memory, extra capacity
    ("kwok-node-0", "32", "128Gi", {}),
    ("kwok-node-1", "32", "128Gi", {}),
    ("kwok-gpu-0", "16", "64Gi", {"nvidia.com/gpu": "4"}),
]


# --- binaries -----------------------------------------------------------------------------


def binaries() -> dict[str, Path]:
    dirs = tools.paths()
    kube, etcd, kwok = Path(dirs["KUBE_BIN"]), Path(dirs["ETCD_BIN"]), Path(dirs["KWOK_BIN"])
    return {
        "etcd": etcd / "etcd",
        "kube-apiserver": kube / "kube-apiserver",
        "kube-controller-manager": kube / "kube-controller-manager",
        "kube-scheduler": kube / "kube-scheduler",
        "kubectl": kube / "kubectl",
        "kwok": kwok / "kwok",
        "kwok-stages": Path(dirs["KWOK_STAGES"]),
    }


def ensure_binaries() -> dict[str, Path]:
    tools.require("control-plane")  # built by `make tools` / `make cluster-up`, never here
    return binaries()


# --- PKI ----------------------------------------------------------------------------------


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def _cert(pki: Path, name: str, subject: str, ext: str) -> None:
    if (pki / f"{name}.crt").exists():
        return
    _openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        str(pki / f"{name}.key"),
        "-out",
        str(pki / f"{name}.csr"),
        "-subj",
        subject,
    )
    (pki / f"{name}.ext").write_text(ext)
    _openssl(
        "x509",
        "-req",
        "-in",
        str(pki / f"{name}.csr"),
        "-CA",
        str(pki / "ca.crt"),
        "-CAkey",
        str(pki / "ca.key"),
        "-CAcreateserial",
        "-days",
        "3650",
        "-extfile",
        str(pki / f"{name}.ext"),
        "-out",
        str(pki / f"{name}.crt"),
    )


# Client identities: admin is cluster-admin through system:masters; the others get the
# built-in roles Kubernetes binds to these names.
CLIENTS = {
    "admin": "/O=system:masters/CN=kubernetes-admin",
    "controller-manager": "/CN=system:kube-controller-manager",
    "scheduler": "/CN=system:kube-scheduler",
    # kwok plays every kubelet; it needs to write node and pod status of all fake nodes.
    "kwok": "/O=system:masters/CN=kwok-controller",
    # The real node: its kubelet (Node authorizer + NodeRestriction), kube-proxy (bound to
    # system:node-proxier by default), and the API server's own identity towards kubelets.
    f"node-{node.NAME}": f"/O=system:nodes/CN=system:node:{node.NAME}",
    "kube-proxy": "/CN=system:kube-proxy",
    "apiserver-kubelet-client": "/O=system:masters/CN=kube-apiserver-kubelet-client",
    # The volume provisioner (hack/local_path.py), with a role of its own (bootstrap_objects).
    "local-path": "/CN=jupyter-k8s-local-path",
    # Cluster DNS for the real node (reads Services, EndpointSlices, namespaces and pods).
    "coredns": "/CN=jupyter-k8s-coredns",
}


def make_pki() -> Path:
    pki = STATE / "pki"
    pki.mkdir(parents=True, exist_ok=True)
    if not (pki / "ca.crt").exists():
        _openssl(
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(pki / "ca.key"),
            "-out",
            str(pki / "ca.crt"),
            "-days",
            "3650",
            "-subj",
            "/CN=jupyter-k8s-local-ca",
        )
    _cert(
        pki,
        "apiserver",
        "/CN=kube-apiserver",
        "subjectAltName=DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,"
        "DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,"
        # Pods reach it through the `kubernetes` Service, at the real node's bridge address.
        f"IP:127.0.0.1,IP:10.96.0.1,IP:{node.NODE_IP}\nextendedKeyUsage=serverAuth\n",
    )
    for name, subject in CLIENTS.items():
        _cert(pki, name, subject, "extendedKeyUsage=clientAuth\n")
    if not (pki / "sa.key").exists():
        _openssl("genrsa", "-out", str(pki / "sa.key"), "2048")
        _openssl("rsa", "-in", str(pki / "sa.key"), "-pubout", "-out", str(pki / "sa.pub"))
    for f in pki.glob("*.key"):
        f.chmod(0o600)
    return pki


def write_kubeconfig(path: Path, pki: Path, user: str) -> None:
    # Absolute paths: the admin kubeconfig is meant to be used from anywhere.
    path.write_text(
        f"""apiVersion: v1
kind: Config
clusters:
- name: jupyter-k8s-local
  cluster:
    server: https://{HOST}:{PORTS["apiserver"]}
    certificate-authority: {pki / "ca.crt"}
users:
- name: {user}
  user:
    client-certificate: {pki / f"{user}.crt"}
    client-key: {pki / f"{user}.key"}
contexts:
- name: jupyter-k8s-local
  context:
    cluster: jupyter-k8s-local
    user: {user}
    namespace: default
current-context: jupyter-k8s-local
"""
    )
    path.chmod(0o600)


# --- processes ----------------------------------------------------------------------------


def components(bins: dict[str, Path], pki: Path) -> list[Component]:
    s = str(STATE)
    p = PORTS
    return [
        Component(
            "etcd",
            [
                str(bins["etcd"]),
                "--name=local",
                f"--data-dir={s}/etcd",
                f"--listen-client-urls=http://{HOST}:{p['etcd']}",
                f"--advertise-client-urls=http://{HOST}:{p['etcd']}",
                f"--listen-peer-urls=http://{HOST}:{p['etcd-peer']}",
                f"--initial-advertise-peer-urls=http://{HOST}:{p['etcd-peer']}",
                f"--initial-cluster=local=http://{HOST}:{p['etcd-peer']}",
                "--listen-metrics-urls=",
                "--log-level=warn",
                # A throwaway development cluster: durability is not worth the latency.
                "--unsafe-no-fsync=true",
                "--quota-backend-bytes=4294967296",
            ],
        ),
        Component(
            "kube-apiserver",
            [
                str(bins["kube-apiserver"]),
                f"--etcd-servers=http://{HOST}:{p['etcd']}",
                f"--bind-address={HOST}",
                f"--advertise-address={HOST}",
                f"--secure-port={p['apiserver']}",
                f"--tls-cert-file={pki}/apiserver.crt",
                f"--tls-private-key-file={pki}/apiserver.key",
                f"--client-ca-file={pki}/ca.crt",
                "--authorization-mode=Node,RBAC",
                # On top of the default set; the last two let a namespace send its pods to the
                # real node (node.REAL_NODE_NAMESPACE_ANNOTATIONS).
                "--enable-admission-plugins=NodeRestriction,PodNodeSelector,PodTolerationRestriction",
                f"--kubelet-client-certificate={pki}/apiserver-kubelet-client.crt",
                f"--kubelet-client-key={pki}/apiserver-kubelet-client.key",
                # The node's name does not resolve; its InternalIP (the bridge) does.
                "--kubelet-preferred-address-types=InternalIP,Hostname",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={pki}/sa.pub",
                f"--service-account-signing-key-file={pki}/sa.key",
                "--api-audiences=https://kubernetes.default.svc.cluster.local",
                # No kubelets: the `kubernetes` Service cannot point at a routable endpoint.
                "--endpoint-reconciler-type=none",
                "--allow-privileged=true",
                "--profiling=false",
                "--max-requests-inflight=800",
                "--max-mutating-requests-inflight=400",
                "--v=1",
            ],
        ),
        Component(
            "kube-controller-manager",
            [
                str(bins["kube-controller-manager"]),
                f"--kubeconfig={s}/controller-manager.kubeconfig",
                f"--authentication-kubeconfig={s}/controller-manager.kubeconfig",
                f"--authorization-kubeconfig={s}/controller-manager.kubeconfig",
                f"--bind-address={HOST}",
                f"--secure-port={p['controller-manager']}",
                "--leader-elect=false",
                f"--service-account-private-key-file={pki}/sa.key",
                f"--root-ca-file={pki}/ca.crt",
                "--use-service-account-credentials=true",
                "--controllers=*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller",
                f"--cluster-cidr={POD_CIDR}",
                "--kube-api-qps=200",
                "--kube-api-burst=400",
                "--concurrent-deployment-syncs=10",
                "--concurrent-replicaset-syncs=10",
                "--v=1",
            ],
        ),
        Component(
            "kube-scheduler",
            [
                str(bins["kube-scheduler"]),
                f"--kubeconfig={s}/scheduler.kubeconfig",
                f"--authentication-kubeconfig={s}/scheduler.kubeconfig",
                f"--authorization-kubeconfig={s}/scheduler.kubeconfig",
                f"--bind-address={HOST}",
                f"--secure-port={p['scheduler']}",
                "--leader-elect=false",
                "--v=1",
            ],
        ),
        Component(
            "kwok",
            [
                str(bins["kwok"]),
                f"--kubeconfig={s}/kwok.kubeconfig",
                f"--config={bins['kwok-stages']}",
                f"--config={ROOT / 'hack' / 'kwok' / 'image-pull-failure.yaml'}",
                "--manage-all-nodes=false",
                "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
                f"--cidr={POD_CIDR}",
                "--node-ip=10.244.0.1",
                "--node-lease-duration-seconds=40",
                f"--server-address={HOST}:{p['kwok']}",
                "--v=WARN",  # INFO logs every pod patch
            ],
        ),
        Component(
            "local-path",
            [
                sys.executable,
                str(ROOT / "hack" / "local_path.py"),
                f"--kubeconfig={s}/local-path.kubeconfig",
                f"--root={s}/volumes",
                f"--real-node={node.NAME}",
            ],
        ),
    ]


# --- readiness ----------------------------------------------------------------------------


def _tcp_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((HOST, port)) == 0


def apiserver_ready() -> bool:
    ca = STATE / "pki" / "ca.crt"
    if not ca.exists():
        return False
    ctx = ssl.create_default_context(cafile=str(ca))
    try:
        with urllib.request.urlopen(
            f"https://{HOST}:{PORTS['apiserver']}/readyz", context=ctx, timeout=2
        ) as resp:
            return bool(resp.read() == b"ok")
    except OSError:
        return False


def kubectl(bins: dict[str, Path], *args: str, stdin: str | None = None) -> str:
    res = subprocess.run(
        [str(bins["kubectl"]), f"--kubeconfig={STATE / 'kubeconfig'}", *args],
        input=stdin,
        capture_output=True,
        text=True,
    )
    if res.returncode != 0:
        raise SystemExit(f"kubectl {' '.join(args)} failed: {res.stderr.strip()}")
    return res.stdout


PODS_PER_NODE = (
    1000  # room for `make bench N=1000` (a kubelet would say 110; kwok pods cost nothing)
)


def kwok_node(name: str, cpu: str, mem: str, extra: dict[str, str] | None = None) -> dict[str, Any]:
    """A fake node that kwok runs (its annotation) and keeps Ready."""
    capacity = {"cpu": cpu, "memory": mem, "pods": str(PODS_PER_NODE), **(extra or {})}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
                **({"nvidia.com/gpu.present": "true"} if extra else {}),
            },
        },
        "status": {"capacity": capacity, "allocatable": capacity},
    }


def bootstrap_objects() -> str:
    """Fake nodes and a default StorageClass, as kind would have them."""
    docs = [kwok_node(name, cpu, mem, extra) for name, cpu, mem, extra in NODES]
    docs.append(
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {
                "name": "standard",
                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
            },
            # hack/local_path.py, like kind's local-path provisioner: a volume is made on the
            # node its first pod is scheduled to, writable by non-root workspaces.
            "provisioner": "jupyter-k8s.io/local-path",
            "reclaimPolicy": "Delete",
            "volumeBindingMode": "WaitForFirstConsumer",
        }
    )
    docs += [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "jupyter-k8s-coredns"},
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["services", "namespaces", "pods"],
                    "verbs": ["list", "watch"],
                },
                {
                    "apiGroups": ["discovery.k8s.io"],
                    "resources": ["endpointslices"],
                    "verbs": ["list", "watch"],
                },
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "jupyter-k8s-coredns"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "jupyter-k8s-coredns",
            },
            "subjects": [
                {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "User",
                    "name": "jupyter-k8s-coredns",
                }
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "jupyter-k8s-local-path"},
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["persistentvolumes"],
                    "verbs": ["get", "list", "watch", "create", "delete"],
                },
                {
                    "apiGroups": [""],
                    "resources": ["persistentvolumeclaims"],
                    "verbs": ["get", "list", "watch"],
                },
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "jupyter-k8s-local-path"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "jupyter-k8s-local-path",
            },
            "subjects": [
                {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "User",
                    "name": "jupyter-k8s-local-path",
                }
            ],
        },
    ]
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": docs})


# --- commands -----------------------------------------------------------------------------


def up() -> int:
    if not shutil.which("openssl"):
        raise SystemExit(
            "openssl is needed to create the cluster's certificates: apt-get install openssl"
        )
    started = time.monotonic()
    bins = ensure_binaries()
    pki = make_pki()
    for user in CLIENTS:
        name = "kubeconfig" if user == "admin" else f"{user}.kubeconfig"
        write_kubeconfig(STATE / name, pki, user)
    comps = {c.name: c for c in components(bins, pki)}
    for name, port in (("etcd", PORTS["etcd"]), ("kube-apiserver", PORTS["apiserver"])):
        if not comps[name].pid() and _tcp_open(port):
            raise SystemExit(
                f"port {port} on {HOST} is taken by another program; free it or set "
                f"JK_{'ETCD' if name == 'etcd' else 'APISERVER'}_PORT"
            )
    comps["etcd"].start()
    wait("etcd", lambda: _tcp_open(PORTS["etcd"]), 30, comps["etcd"])
    comps["kube-apiserver"].start()
    wait("kube-apiserver /readyz", apiserver_ready, 120, comps["kube-apiserver"])
    for name in ("kube-controller-manager", "kube-scheduler", "kwok", "local-path"):
        comps[name].start()
    kubectl(
        bins,
        "apply",
        "--server-side",
        "--field-manager=jupyter-k8s-cluster",
        "-f",
        "-",
        stdin=bootstrap_objects(),
    )
    wait("nodes Ready", lambda: _nodes_ready(bins), 60, comps["kwok"])
    wait(
        "the default service account",
        lambda: _default_sa(bins),
        60,
        comps["kube-controller-manager"],
    )
    real = node.up(_kubectl_fn(bins), SERVICE_CIDR, PORTS["apiserver"])
    (STATE / "state.json").write_text(
        json.dumps({"ports": PORTS, "kubectl": str(bins["kubectl"]), "real_node": real})
    )
    log(f"ready in {time.monotonic() - started:.1f}s")
    print(
        f"\nThe local cluster is up ({HOST}:{PORTS['apiserver']}). Use it with:\n"
        f"  export KUBECONFIG={STATE / 'kubeconfig'}\n"
        f"  export PATH={bins['kubectl'].parent}:$PATH   # kubectl of the same version\n"
        f"  kubectl get nodes\n"
    )
    return 0


def _nodes_ready(bins: dict[str, Path]) -> bool:
    out = kubectl(
        bins,
        "get",
        "nodes",
        "-o",
        "jsonpath={range .items[*]}{.metadata.name} "
        '{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}',
    )
    ready = dict(line.split() for line in out.splitlines() if line.strip())
    return all(ready.get(name) == "True" for name, *_ in NODES)


def _try_kubectl(bins: dict[str, Path], *args: str) -> subprocess.CompletedProcess[str]:
    """kubectl on the cluster's kubeconfig, for polling: never raises, output captured."""
    return subprocess.run(
        [str(bins["kubectl"]), f"--kubeconfig={STATE / 'kubeconfig'}", *args],
        capture_output=True,
        text=True,
    )


def _default_sa(bins: dict[str, Path]) -> bool:
    return _try_kubectl(bins, "get", "sa", "default", "-n", "default", "-o", "name").returncode == 0


def stop_extras() -> int:
    """Stop what was started next to the cluster (the demo's operator), not the cluster."""
    known = {c.name for c in [*components(binaries(), STATE / "pki"), *node.components()]}
    for pidfile in sorted((STATE / "run").glob("*.pid")) if (STATE / "run").exists() else []:
        if pidfile.stem not in known:
            Component(pidfile.stem, [str(VENV_PYTHON)]).stop()
    return 0


def _kubectl_fn(bins: dict[str, Path]) -> node.Kubectl:
    """kubectl for hack/node.py: output, or "" when check=False and it failed."""

    def run(*args: str, check: bool = True, stdin: str | None = None) -> str:
        if check:
            return kubectl(bins, *args, stdin=stdin)
        res = subprocess.run(
            [str(bins["kubectl"]), f"--kubeconfig={STATE / 'kubeconfig'}", *args],
            capture_output=True,
            text=True,
            input=stdin,
        )
        return res.stdout if res.returncode == 0 else ""

    return run


def down() -> int:
    bins = binaries()
    pki = STATE / "pki"
    stop_extras()  # first: the demo's operator talks to the cluster
    if node.running() or node.leftovers(SERVICE_CIDR):
        node.down(_kubectl_fn(bins) if apiserver_ready() else None, SERVICE_CIDR)
        log(f"stopped the real node {node.NAME}")
    for comp in reversed(components(bins, pki)):
        comp.stop()
    if STATE.exists():
        shutil.rmtree(STATE)
        log(f"removed {STATE}")
    return 0


def status() -> int:
    bins = binaries()
    running = 0
    for comp in components(bins, STATE / "pki"):
        pid = comp.pid()
        running += bool(pid)
        print(f"{comp.name:<24} {'running (pid ' + str(pid) + ')' if pid else 'stopped'}")
    for comp in node.components():
        pid = comp.pid()
        print(f"{comp.name:<24} {'running (pid ' + str(pid) + ')' if pid else 'stopped'}")
    ready = apiserver_ready()
    print(f"{'apiserver /readyz':<24} {'ok' if ready else 'not ready'}")
    if ready:
        print(kubectl(bins, "get", "nodes", "-o", "wide").rstrip())
        print(f"\nexport KUBECONFIG={STATE / 'kubeconfig'}")
    return 0 if ready else 1


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "command",
        choices=[
            "up",
            "down",
            "status",
            "stop-extras",
            "node-up",
            "node-down",
            "leftovers",
            "import-images",
            "restart-apiserver",
            "restart-etcd",
            "stop-kubelet",
            "start-kubelet",
        ],
    )
    args = parser.parse_args()
    if args.command.startswith("restart-"):
        return restart({"apiserver": "kube-apiserver", "etcd": "etcd"}[args.command[8:]])
    return {
        "up": up,
        "down": down,
        "status": status,
        "stop-extras": stop_extras,
        "node-up": node_up,
        "node-down": node_down,
        "leftovers": leftovers,
        "import-images": import_images,
        "stop-kubelet": stop_kubelet,
        "start-kubelet": start_kubelet,
    }[args.command]()


def restart(name: str) -> int:
    """Stop one control-plane process and start it again (fault injection: what clients meet
    when the API server or etcd restarts). Returns once the API server answers /readyz."""
    bins = binaries()
    comp = {c.name: c for c in components(bins, make_pki())}[name]
    started = time.monotonic()
    comp.stop()
    comp.start()
    wait("kube-apiserver /readyz", apiserver_ready, 120, comp if name == "kube-apiserver" else None)
    # /readyz comes before RBAC's caches: until then controllers are refused and back off.
    wait("RBAC answering for the controllers", lambda: _controllers_authorized(bins), 60)
    log(f"{name} restarted; the API server ready again in {time.monotonic() - started:.1f}s")
    return 0


def _controllers_authorized(bins: dict[str, Path]) -> bool:
    res = _try_kubectl(
        bins, "auth", "can-i", "watch", "deployments", "--all-namespaces",
        "--as=system:kube-controller-manager",
    )  # fmt: skip
    return res.stdout.strip() == "yes"


def stop_kubelet() -> int:
    """Fault injection: the real node's kubelet stops (its pods keep running)."""
    node.stop_kubelet(PORTS["apiserver"])
    return 0


def start_kubelet() -> int:
    node.start_kubelet(_kubectl_fn(binaries()), PORTS["apiserver"])
    return 0


def node_up() -> int:
    """Start (or refresh: new images) the real node of a running cluster."""
    return 0 if node.up(_kubectl_fn(binaries()), SERVICE_CIDR, PORTS["apiserver"]) else 1


def node_down() -> int:
    node.down(_kubectl_fn(binaries()) if apiserver_ready() else None, SERVICE_CIDR)
    return 0


def import_images() -> int:
    """Bring `make images`' new or changed images into a running real node (else nothing)."""
    if node.running():
        done = node.import_images()
        if done:
            log(f"imported into the real node: {', '.join(done)}")
    return 0


def leftovers() -> int:
    """What the real node left on this machine; exit 1 if anything."""
    found = node.leftovers(SERVICE_CIDR)
    for item in found:
        print(item)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
