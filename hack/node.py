"""The local cluster's real node: kubelet + containerd + runc + CNI bridge + kube-proxy, next to
the kwok nodes, so that workspaces run real JupyterLab and code-server pods.

It joins as `jk-real-0` (labels `type=real`, `jupyter-k8s.io/real-node=true`; taint
`jupyter-k8s.io/real-node:NoSchedule`): only pods that tolerate the taint land on it, e.g. every
pod of a namespace annotated with REAL_NODE_NAMESPACE_ANNOTATIONS (the API server's
PodNodeSelector and PodTolerationRestriction admission plugins add selector and toleration).
Everything else (scale tests) stays on kwok nodes.

Images come without a registry: the pause image is made here from hack/pause, and the OCI
archives of `make images` (dist/images/*.tar) are imported into containerd. containerd resolves
every registry to a closed local port, so a pull never leaves the machine and an image that is
not there fails as ErrImagePull / ImagePullBackOff, as on any cluster.

Needs root, cgroups and overlayfs; where the machine lacks one, the cluster comes up with kwok
nodes only and `why_not()` says why. Host changes (bridge `jkbr0`, a route for the Service
range, iptables rules of kube-proxy, the kubelet and our pod-egress guard, cgroups under
`jk-real`, mounts under .cluster/, no IPv6 on new interfaces) are all undone by `down()`; only `net.ipv4.ip_forward=1`,
which the CNI bridge sets, stays. Recipe and pitfalls: see the README ("The real node").
"""

from __future__ import annotations

import calendar
import contextlib
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

import tools
from procs import ROOT, STATE, Component, log, wait

NAME = "jk-real-0"
BRIDGE = "jkbr0"
NODE_IP = "10.242.0.1"
POD_CIDR = "10.242.0.0/24"
TAINT = "jupyter-k8s.io/real-node"
LABELS = {"type": "real", "jupyter-k8s.io/real-node": "true"}
PAUSE_IMAGE = f"localhost/jupyter-k8s/pause:{tools.PAUSE_VERSION}"
KUBELET_HEALTH_PORT = 20248
CLUSTER_DOMAIN = "cluster.local"
# Guided mode's entry point (Traefik's NodePort on the bridge), on this machine's loopback, so
# that https://<anything>.workspaces.localhost/ reaches it (browsers resolve *.localhost there).
ENTRY_PORT = int(os.environ.get("JK_ENTRY_PORT", "443"))
ENTRY_NODE_PORT = 30443
EGRESS_CHAIN = "JK-REAL-EGRESS"
# A namespace with these annotations has all its pods on the real node (and only there).
REAL_NODE_NAMESPACE_ANNOTATIONS = {
    "scheduler.alpha.kubernetes.io/node-selector": "type=real",
    "scheduler.alpha.kubernetes.io/defaultTolerations": json.dumps(
        [{"key": TAINT, "operator": "Exists", "effect": "NoSchedule"}]
    ),
}
NODE_STATE = STATE / "node"
# containerd's image store outlives the cluster: images are imported once.
CONTAINERD_ROOT = tools.CACHE / "node-containerd"
SOCKET = NODE_STATE / "containerd" / "containerd.sock"
IMAGES = ROOT / "dist" / "images"

Kubectl = Callable[..., str]


def _sh(*argv: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, check=check)


def why_not() -> str | None:
    """Why this machine cannot run the real node, or None when it can."""
    if os.environ.get("JK_REAL_NODE", "on") == "off":
        return "JK_REAL_NODE=off"
    if os.geteuid() != 0:
        return "not root (the real node needs root: bridge, iptables, mounts, cgroups)"
    if not Path("/sys/fs/cgroup").is_dir() or not any(Path("/sys/fs/cgroup").iterdir()):
        return "no cgroup filesystem at /sys/fs/cgroup"
    if "overlay" not in Path("/proc/filesystems").read_text():
        return "no overlayfs in this kernel"
    absent = tools.missing(["node"])
    if absent:
        return f"not built: {', '.join(t.key for t in absent)} (make tools)"
    for tool in ("ip", "iptables", "runc"):
        if not shutil.which(tool):
            return f"{tool} is missing"
    return None


def _bins() -> dict[str, Path]:
    p = tools.paths()
    return {
        "coredns": Path(p["COREDNS_BIN"]) / "coredns",
        "kubelet": Path(p["KUBE_NODE_BIN"]) / "kubelet",
        "kube-proxy": Path(p["KUBE_NODE_BIN"]) / "kube-proxy",
        "containerd": Path(p["CONTAINERD_BIN"]) / "containerd",
        "ctr": Path(p["CONTAINERD_BIN"]) / "ctr",
        "pause": Path(p["PAUSE_BIN"]) / "pause",
    }


def components(api_port: int = 16443) -> list[Component]:
    bins = _bins()
    path = f"{bins['containerd'].parent}:{os.environ.get('PATH', '/usr/sbin:/usr/bin:/sbin:/bin')}"
    forward = [sys.executable, str(ROOT / "hack" / "forward.py")]
    return [
        Component(
            "containerd",
            [str(bins["containerd"]), f"--config={NODE_STATE / 'containerd' / 'config.toml'}"],
            # containerd finds its shim through PATH.
            env={"PATH": path},
        ),
        Component(
            "kubelet",
            [
                str(bins["kubelet"]),
                f"--config={NODE_STATE / 'kubelet.yaml'}",
                f"--kubeconfig={STATE / f'node-{NAME}.kubeconfig'}",
                f"--root-dir={NODE_STATE / 'kubelet'}",
                f"--hostname-override={NAME}",
                f"--node-ip={NODE_IP}",
                f"--node-labels={','.join(f'{k}={v}' for k, v in LABELS.items())}",
                "--v=1",
            ],
            env={"PATH": path},
        ),
        Component(
            "kube-proxy",
            [str(bins["kube-proxy"]), f"--config={NODE_STATE / 'kube-proxy.yaml'}", "--v=1"],
        ),
        # Cluster DNS for the node's pods (*.svc.cluster.local), answering nothing else.
        Component("coredns", [str(bins["coredns"]), "-conf", str(NODE_STATE / "Corefile")]),
        # Pods reach the API server (on loopback) at the bridge address: the endpoint of the
        # `kubernetes` Service.
        Component(
            "api-forward",
            [*forward, f"--listen={NODE_IP}:{api_port}", f"--to=127.0.0.1:{api_port}"],
        ),
        Component(
            "entry-forward",
            [*forward, f"--listen=127.0.0.1:{ENTRY_PORT}", f"--to={NODE_IP}:{ENTRY_NODE_PORT}"],
        ),
    ]


# --- configuration files --------------------------------------------------------------------


def _write(path: Path, text: str) -> None:
    # Only on change: kube-proxy exits when its configuration file is written to.
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def _write_configs(service_cidr: str) -> None:
    c = NODE_STATE / "containerd"
    for d in (c / "state", c / "runc", c / "certs.d" / "_default", NODE_STATE / "cni" / "net.d"):
        d.mkdir(parents=True, exist_ok=True)
    CONTAINERD_ROOT.mkdir(parents=True, exist_ok=True)
    # Every registry resolves to a closed local port: no pull ever leaves the machine.
    _write(
        c / "certs.d" / "_default" / "hosts.toml",
        'server = "http://127.0.0.1:9"\n\n[host."http://127.0.0.1:9"]\n  capabilities = ["pull", "resolve"]\n',
    )
    _write(
        c / "config.toml",
        f"""version = 2
root = "{CONTAINERD_ROOT}"
state = "{c / "state"}"
[grpc]
  address = "{SOCKET}"
[ttrpc]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  stream_server_address = "127.0.0.1"
  disable_apparmor = true
  # Root here may lack CAP_SYS_RESOURCE: runc cannot lower oom_score_adj below the parent's.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "{c / "certs.d"}"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "{shutil.which("runc")}"
        Root = "{c / "runc"}"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{NODE_STATE / "cni" / "net.d"}"
    max_conf_num = 1
""",
    )
    _write(
        NODE_STATE / "cni" / "net.d" / "10-jk.conflist",
        json.dumps(
            {
                "cniVersion": "0.4.0",
                "name": "jk-real",
                "plugins": [
                    {
                        "type": "bridge",
                        "bridge": BRIDGE,
                        "isGateway": True,
                        "ipMasq": False,  # no NAT: pods reach this machine and each other only
                        "hairpinMode": True,
                        "ipam": {
                            "type": "host-local",
                            "dataDir": str(NODE_STATE / "cni" / "ipam"),
                            "ranges": [[{"subnet": POD_CIDR, "gateway": NODE_IP}]],
                            "routes": [{"dst": "0.0.0.0/0"}],
                        },
                    },
                    {"type": "portmap", "capabilities": {"portMappings": True}},
                ],
            },
            indent=2,
        ),
    )
    pki = STATE / "pki"
    unified = Path("/sys/fs/cgroup/cgroup.controllers").exists()
    _write(
        NODE_STATE / "kubelet.yaml",
        f"""apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /jk-real
containerRuntimeEndpoint: unix://{SOCKET}
address: {NODE_IP}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: {KUBELET_HEALTH_PORT}
authentication:
  anonymous: {{enabled: false}}
  webhook: {{enabled: true}}
  x509: {{clientCAFile: {pki / "ca.crt"}}}
authorization: {{mode: Webhook}}
registerWithTaints: [{{key: {TAINT}, effect: NoSchedule}}]
failSwapOn: false
# Images cannot be pulled again here: never garbage-collect them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
podLogsDir: {NODE_STATE / "pod-logs"}
volumePluginDir: {NODE_STATE / "kubelet" / "volume-plugins"}
maxPods: 50
serializeImagePulls: false
# The node shares this machine's disk with everything else on it: the defaults (evict below
# 10-15 % free) would taint it on a big, busy disk. Evict only when truly short.
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1Gi
  imagefs.available: 1Gi
  nodefs.inodesFree: 1%
clusterDNS: [{NODE_IP}]
clusterDomain: {CLUSTER_DOMAIN}
{"" if unified else "# cgroup v1 (this host): deprecated upstream, still supported with failCgroupV1: false"}
""",
    )
    _write(
        NODE_STATE / "kube-proxy.yaml",
        f"""apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {{kubeconfig: {STATE / "kube-proxy.kubeconfig"}}}
hostnameOverride: {NAME}
mode: iptables
clusterCIDR: {POD_CIDR}
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:20256
metricsBindAddress: 127.0.0.1:20249
nodePortAddresses: [{NODE_IP}/32]
iptables: {{localhostNodePorts: false}}
conntrack: {{maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}}
""",
    )
    _write(
        NODE_STATE / "Corefile",
        f"""{CLUSTER_DOMAIN}:53 {{
    bind {NODE_IP}
    kubernetes {CLUSTER_DOMAIN} in-addr.arpa {{
        kubeconfig {STATE / "coredns.kubeconfig"} jupyter-k8s-local
        pods insecure
        fallthrough in-addr.arpa
    }}
    cache 10
}}
.:53 {{
    bind {NODE_IP}
    # Nothing is looked up beyond this machine.
    template ANY ANY {{
        rcode NXDOMAIN
    }}
}}
""",
    )
    del service_cidr  # routed in _network(); kube-proxy learns Services from the API


# --- host network ---------------------------------------------------------------------------


# New interfaces of this network namespace get no IPv6 while the node runs (the cluster is IPv4
# only). Otherwise every pod's veth adds and removes a link-local address, which Chromium (and
# any program watching addresses) takes for a network change: it aborts what it is loading
# with ERR_NETWORK_CHANGED. The setting before ours is kept here and put back by down().
IPV6_DEFAULT = Path("/proc/sys/net/ipv6/conf/default/disable_ipv6")
IPV6_SAVED = NODE_STATE / "ipv6-default-disable"


def _quiet_ipv6() -> None:
    if not IPV6_DEFAULT.exists():
        return  # no IPv6 here at all: nothing to quiet
    if not IPV6_SAVED.exists():
        IPV6_SAVED.write_text(IPV6_DEFAULT.read_text())
    IPV6_DEFAULT.write_text("1\n")
    bridge = Path(f"/proc/sys/net/ipv6/conf/{BRIDGE}/disable_ipv6")
    if bridge.exists():  # made before this setting (an older run)
        bridge.write_text("1\n")


def _restore_ipv6() -> None:
    if IPV6_SAVED.exists():
        IPV6_DEFAULT.write_text(IPV6_SAVED.read_text())
        IPV6_SAVED.unlink()


NETNS_DIR = Path("/run/netns")


def _netns_dir() -> None:
    """/run/netns a shared mount point of its own before the first pod, as `ip netns add` makes
    it. Otherwise the first tool to "upgrade" it later (a bind mount of the directory on itself)
    covers the pods' namespaces made before: hidden there, they cannot be unmounted or removed
    by name (EBUSY), and node-down left one behind on a fresh machine."""
    NETNS_DIR.mkdir(parents=True, exist_ok=True)
    if _sh("mountpoint", "-q", str(NETNS_DIR)).returncode != 0:
        _sh("mount", "--rbind", str(NETNS_DIR), str(NETNS_DIR), check=True)
    _sh("mount", "--make-rshared", str(NETNS_DIR), check=True)


def _network(service_cidr: str) -> None:
    _quiet_ipv6()
    _netns_dir()
    if _sh("ip", "link", "show", BRIDGE).returncode != 0:
        _sh("ip", "link", "add", BRIDGE, "type", "bridge", check=True)
    _sh("ip", "addr", "replace", f"{NODE_IP}/24", "dev", BRIDGE, check=True)
    _sh("ip", "link", "set", BRIDGE, "up", check=True)
    # ClusterIPs never leave the machine (kube-proxy DNATs them to pods on the bridge).
    _sh("ip", "route", "replace", service_cidr, "dev", BRIDGE, check=True)
    # Pods may talk to this machine and to each other, nothing beyond.
    if _sh("iptables", "-n", "-L", EGRESS_CHAIN).returncode != 0:
        _sh("iptables", "-N", EGRESS_CHAIN, check=True)
        _sh(
            "iptables",
            "-A",
            EGRESS_CHAIN,
            "-s",
            POD_CIDR,
            "!",
            "-d",
            POD_CIDR,
            "-j",
            "DROP",
            check=True,
        )
    if _sh("iptables", "-C", "FORWARD", "-j", EGRESS_CHAIN).returncode != 0:
        _sh("iptables", "-I", "FORWARD", "-j", EGRESS_CHAIN, check=True)


def _cgroups() -> None:
    for controller in Path("/sys/fs/cgroup").iterdir():
        if controller.is_dir() and not controller.is_symlink():
            (controller / "jk-real").mkdir(exist_ok=True)


# --- images ---------------------------------------------------------------------------------


def _ctr(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    res = _sh(str(_bins()["ctr"]), "-a", str(SOCKET), "-n", "k8s.io", *args)
    if check and res.returncode != 0:
        raise SystemExit(f"ctr {' '.join(args[:2])}: {res.stderr.strip()}")
    return res


def pause_archive(binary: Path, ref: str) -> bytes:
    """An OCI image archive holding just the pause binary (no engine, no registry)."""
    blobs: dict[str, bytes] = {}

    def blob(data: bytes) -> tuple[str, int]:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        blobs[digest] = data
        return digest, len(data)

    layer_buf = io.BytesIO()
    with tarfile.open(fileobj=layer_buf, mode="w") as layer:
        info = tarfile.TarInfo("pause")
        data = binary.read_bytes()
        info.size, info.mode = len(data), 0o755
        layer.addfile(info, io.BytesIO(data))
    layer_digest, layer_size = blob(layer_buf.getvalue())
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Entrypoint": ["/pause"], "User": "65535:65535"},
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
    }
    config_digest, config_size = blob(json.dumps(config).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config_size,
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": layer_digest,
                "size": layer_size,
            }
        ],
    }
    manifest_digest, manifest_size = blob(json.dumps(manifest).encode())
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": manifest_digest,
                "size": manifest_size,
                "annotations": {
                    "io.containerd.image.name": ref,
                    "org.opencontainers.image.ref.name": ref,
                },
            }
        ],
    }
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        files = {
            "oci-layout": json.dumps({"imageLayoutVersion": "1.0.0"}).encode(),
            "index.json": json.dumps(index).encode(),
            **{f"blobs/sha256/{d.split(':')[1]}": b for d, b in blobs.items()},
        }
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def import_images() -> list[str]:
    """Import what is missing or changed; what was imported, by name."""
    stamps_file = CONTAINERD_ROOT / "jk-imported.json"
    stamps: dict[str, str] = json.loads(stamps_file.read_text()) if stamps_file.exists() else {}
    present = set(_ctr("images", "ls", "-q").stdout.split())
    archives: dict[str, tuple[Path, str]] = {}
    pause = NODE_STATE / "pause.tar"
    pause.write_bytes(pause_archive(_bins()["pause"], PAUSE_IMAGE))
    archives["pause"] = (pause, hashlib.sha256(pause.read_bytes()).hexdigest())
    for archive in sorted(IMAGES.glob("*.tar")) if IMAGES.exists() else []:
        stamp = archive.with_suffix(".id")
        archives[archive.stem] = (
            archive,
            stamp.read_text() if stamp.exists() else str(archive.stat().st_mtime),
        )
    done = []
    for name, (archive, stamp) in archives.items():
        if stamps.get(name) == stamp and (name != "pause" or PAUSE_IMAGE in present):
            continue
        _ctr("images", "import", "--snapshotter", "overlayfs", str(archive))
        stamps[name] = stamp
        done.append(name)
    stamps_file.write_text(json.dumps(stamps))
    return done


# --- up / down ------------------------------------------------------------------------------


def _api_endpoints(kubectl: Kubectl, api_port: int) -> None:
    """The `kubernetes` Service's endpoint: the API server, as pods reach it (api-forward).
    (The API server's own endpoint reconciler is off: it would publish 127.0.0.1.)"""
    objs = [
        {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": "kubernetes", "namespace": "default"},
            "subsets": [
                {
                    "addresses": [{"ip": NODE_IP}],
                    "ports": [{"name": "https", "port": api_port, "protocol": "TCP"}],
                }
            ],
        },
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": "kubernetes",
                "namespace": "default",
                "labels": {
                    "kubernetes.io/service-name": "kubernetes",
                    "endpointslice.kubernetes.io/managed-by": "jupyter-k8s-local-cluster",
                },
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": [NODE_IP], "conditions": {"ready": True}}],
            "ports": [{"name": "https", "port": api_port, "protocol": "TCP"}],
        },
    ]
    kubectl(
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager=jupyter-k8s-cluster",
        "-f",
        "-",
        stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": objs}),
    )


def up(kubectl: Kubectl, service_cidr: str, api_port: int = 16443) -> bool:
    """Start the real node; False (with one line why) where this machine cannot."""
    reason = why_not()
    if reason:
        log(f"no real node: {reason}; the cluster has kwok nodes only")
        return False
    started = time.monotonic()
    _write_configs(service_cidr)
    _cgroups()
    _network(service_cidr)
    containerd, kubelet, proxy, coredns, api_forward, entry_forward = components(api_port)
    containerd.start()
    wait("containerd", lambda: _ctr("version", check=False).returncode == 0, 30, containerd)
    imported = import_images()
    if imported:
        log(f"imported into the real node: {', '.join(imported)}")
    for comp in (api_forward, coredns, kubelet, proxy, entry_forward):
        comp.start()
    _api_endpoints(kubectl, api_port)
    since = time.time() - 12  # a kubelet already running renewed its Lease within 10 s
    wait("the real node to register", lambda: _node(kubectl) is not None, 60, kubelet)
    kubectl("uncordon", NAME, check=False)  # `down` cordons it; the Node object outlives it
    wait("the real node Ready", lambda: _ready(kubectl, since), 60, kubelet)
    log(f"real node {NAME} Ready in {time.monotonic() - started:.1f}s")
    return True


def stop_kubelet(api_port: int = 16443) -> None:
    """Fault injection: the kubelet goes away, its pods keep running under containerd (as when
    a kubelet crashes); the node lifecycle controller marks the node Ready=Unknown later."""
    kubelet = next(c for c in components(api_port) if c.name == "kubelet")
    kubelet.stop()


def start_kubelet(kubectl: Kubectl, api_port: int = 16443) -> None:
    """The kubelet back; returns once the node is Ready again with a fresh Lease."""
    kubelet = next(c for c in components(api_port) if c.name == "kubelet")
    since = time.time()
    kubelet.start()
    wait("the real node Ready", lambda: _ready(kubectl, since), 120, kubelet)


def _node(kubectl: Kubectl) -> dict[str, object] | None:
    out = kubectl("get", "node", NAME, "-o", "json", "--ignore-not-found")
    return json.loads(out) if out.strip() else None


def _ready(kubectl: Kubectl, since: float) -> bool:
    """Ready, and alive now: its Lease renewed since `since` (a Node object, Ready condition
    included, outlives its kubelet; the Lease is renewed every 10 seconds)."""
    node = _node(kubectl) or {}
    conditions = node.get("status", {}).get("conditions", [])  # type: ignore[union-attr]
    if not any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
        return False
    lease = kubectl(
        "get",
        "lease",
        NAME,
        "-n",
        "kube-node-lease",
        "-o",
        "jsonpath={.spec.renewTime}",
        check=False,
    )
    if not lease:
        return False
    renewed = calendar.timegm(time.strptime(lease.split(".")[0].rstrip("Z"), "%Y-%m-%dT%H:%M:%S"))
    return renewed >= int(since)


def running() -> bool:
    return bool(_ours())


def down(kubectl: Kubectl | None, service_cidr: str) -> None:
    """Stop the node and undo every host change it made (order matters)."""
    containerd, kubelet, proxy, *forwarders = components()
    for comp in forwarders:
        comp.stop()
    if kubectl is not None and kubelet.pid():
        # Let the kubelet stop the pods: sandboxes go, CNI DEL frees IPs and network namespaces.
        kubectl("cordon", NAME, check=False)
        kubectl(
            "delete",
            "pods",
            "-A",
            "--field-selector",
            f"spec.nodeName={NAME}",
            "--wait=true",
            "--timeout=60s",
            "--grace-period=5",
            check=False,
        )
    proxy.stop()
    if proxy.argv and Path(proxy.argv[0]).exists():
        _sh(proxy.argv[0], "--cleanup")  # kube-proxy's KUBE-* chains
    kubelet.stop()
    if containerd.pid():
        for task in _ctr("tasks", "ls", "-q", check=False).stdout.split():
            _ctr("tasks", "kill", "-s", "SIGKILL", task, check=False)
        time.sleep(0.5)
        for task in _ctr("tasks", "ls", "-q", check=False).stdout.split():
            _ctr("tasks", "rm", "-f", task, check=False)
        for container in _ctr("containers", "ls", "-q", check=False).stdout.split():
            _ctr("containers", "rm", container, check=False)
    containerd.stop()
    _kill_ours()  # whatever the pid files missed, and the shims
    # What the shims held goes once they are gone: mounts, network namespaces, cgroups.
    deadline = time.monotonic() + 15
    while True:
        _kill_cgroup_tasks()
        _unmount()
        _remove_netns()
        _remove_cgroups()
        busy = [x for x in leftovers(service_cidr) if x.startswith(("mount", "netns", "cgroup"))]
        if not busy or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    _iptables_cleanup()
    _sh("ip", "route", "del", service_cidr, "dev", BRIDGE)
    _sh("ip", "link", "del", BRIDGE)
    _restore_ipv6()
    logs = Path("/var/log/containers")
    if logs.is_dir():
        for link in logs.iterdir():
            if link.is_symlink() and str(os.readlink(link)).startswith(str(NODE_STATE)):
                link.unlink()


def _ours() -> list[tuple[int, str]]:
    """Live processes of the real node, found by what their command line names: our state
    directory (kubelet, kube-proxy, containerd) or our socket (shims, which outlive containerd,
    re-parented to init). Zombies hold nothing (and init here may be slow to reap them)."""
    names = ("kubelet", "kube-proxy", "containerd", "containerd-shim-runc-v2", "coredns")
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if Path(argv[0]).name in names and str(NODE_STATE) in " ".join(argv):
            found.append((int(proc.name), Path(argv[0]).name))
    return found


def _kill_ours() -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid, _ in _ours():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + 10
        while _ours() and time.monotonic() < deadline:
            time.sleep(0.2)
        if not _ours():
            return


def _mounts_under(prefixes: tuple[str, ...]) -> list[str]:
    out = _sh("findmnt", "-rn", "-o", "TARGET").stdout.split("\n")
    return sorted({m for m in out if m and m.startswith(prefixes)}, reverse=True)


def _unmount() -> None:
    prefixes = (str(NODE_STATE), str(CONTAINERD_ROOT), "/run/netns/cni-")
    for _ in range(3):
        for target in _mounts_under(prefixes):
            _sh("umount", "-l", target)


def _remove_netns() -> None:
    if not NETNS_DIR.is_dir():
        return
    for ns in NETNS_DIR.glob("cni-*"):
        _sh("ip", "netns", "del", ns.name)
    if any(NETNS_DIR.glob("cni-*")) and _sh("mountpoint", "-q", str(NETNS_DIR)).returncode == 0:
        # Left by a run before _netns_dir(): namespaces covered by a later bind mount of the
        # directory. Uncover them and remove them; the next node-up makes the mount point again.
        _sh("umount", "-l", str(NETNS_DIR))
        for ns in NETNS_DIR.glob("cni-*"):
            _sh("ip", "netns", "del", ns.name)


def _kill_cgroup_tasks() -> None:
    """Container processes outlive a killed shim: whatever still runs in our cgroups goes."""
    for procs in Path("/sys/fs/cgroup").glob("*/jk-real/**/cgroup.procs"):
        try:
            pids = procs.read_text().split()
        except OSError:
            continue
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)


def _remove_cgroups() -> None:
    for controller in Path("/sys/fs/cgroup").iterdir():
        base = controller / "jk-real"
        if not base.is_dir():
            continue
        # Deepest first; cgroup directories go with rmdir once no task is left in them.
        for d in [
            *sorted((p for p in base.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)),
            base,
        ]:
            with contextlib.suppress(OSError):
                d.rmdir()


def _iptables_cleanup() -> None:
    for t in ("iptables", "ip6tables"):
        if not shutil.which(t):
            continue
        _sh(t, "-D", "INPUT", "-j", "KUBE-FIREWALL")
        _sh(t, "-D", "OUTPUT", "-j", "KUBE-FIREWALL")
        for table, chain in (
            ("filter", "KUBE-FIREWALL"),
            ("filter", "KUBE-KUBELET-CANARY"),
            ("nat", "KUBE-KUBELET-CANARY"),
            ("mangle", "KUBE-KUBELET-CANARY"),
            ("mangle", "KUBE-IPTABLES-HINT"),
        ):
            _sh(t, "-t", table, "-F", chain)
            _sh(t, "-t", table, "-X", chain)
    _sh("iptables", "-D", "FORWARD", "-j", EGRESS_CHAIN)
    _sh("iptables", "-F", EGRESS_CHAIN)
    _sh("iptables", "-X", EGRESS_CHAIN)


def leftovers(service_cidr: str) -> list[str]:
    """What of the real node is still on this machine (empty after `down`)."""
    found = [f"process {name} (pid {pid})" for pid, name in _ours()]
    found += [f"mount {m}" for m in _mounts_under((str(NODE_STATE), str(CONTAINERD_ROOT)))]
    if _sh("ip", "link", "show", BRIDGE).returncode == 0:
        found.append(f"bridge {BRIDGE}")
    if service_cidr in _sh("ip", "route", "show").stdout:
        found.append(f"route {service_cidr}")
    netns = Path("/run/netns")
    found += [f"netns {n.name}" for n in netns.glob("cni-*")] if netns.is_dir() else []
    for t in ("iptables", "ip6tables"):
        if shutil.which(t):
            for table in ("filter", "nat", "mangle"):
                rules = _sh(t, "-t", table, "-S").stdout.splitlines()
                found += [f"{t} {table}: {r}" for r in rules if "KUBE-" in r or EGRESS_CHAIN in r]
    found += [
        f"cgroup {c / 'jk-real'}"
        for c in Path("/sys/fs/cgroup").iterdir()
        if (c / "jk-real").exists()
    ]
    return found
