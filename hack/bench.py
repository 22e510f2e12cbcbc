#!/usr/bin/env python3
"""`make bench N=200`: how fast the operator brings N workspaces to Available on the local cluster.

Prints (does not assert): workspaces per second to Available, p50/p95/max latency from the
create call to Available=True as seen by a watch, the operator's peak RSS and CPU seconds, and
the API requests the operator sent per workspace. The operator is started fresh for the run so
its figures are its own; the whole control plane shares this machine's cores with it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import pstats
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import cluster  # hack/cluster.py
import upstream  # hack/upstream.py: the Go original as the subject (--upstream)
from kubernetes import client, config
from prometheus_client.parser import text_string_to_metric_families

import jupyter_k8s
from jupyter_k8s.api.workspace import WORKSPACE_LABEL
from jupyter_k8s.deploy.settings import WEBHOOK_CONFIGURATION
from jupyter_k8s.kube import Kube
from jupyter_k8s.kube.connection import from_kubeconfig
from jupyter_k8s.kube.watch import ListWatch
from jupyter_k8s.names import workspace_child

GROUP, VERSION = "workspace.jupyter.org", "v1alpha1"
IMAGE = "ghcr.io/jupyter-k8s/jupyterlab:0.1.0"  # kwok pods pull nothing
TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def answers(port: int, path: str) -> bool:
    """Whether a process's health endpoint on this loopback port answers 200."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/{path}", timeout=2) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def proc_stats(pid: int) -> tuple[float, float, float]:
    """(peak RSS in MiB, CPU seconds, of which in the kernel) of a live process, from /proc."""
    status = Path(f"/proc/{pid}/status").read_text()
    hwm = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    user, kernel = int(fields[11]) / TICK, int(fields[12]) / TICK  # utime, stime
    return hwm / 1024, user + kernel, kernel


CONTROL_PLANE = (
    "kube-apiserver",
    "etcd",
    "kube-controller-manager",
    "kube-scheduler",
    "kwok",
    "local-path",
)


def control_plane_cpu() -> dict[str, float]:
    """CPU seconds each process of the local cluster's control plane (and its volume
    provisioner) has used so far: the cost the operator's requests and watches impose on the
    cluster shows here, on cores the cluster shares with it."""
    out: dict[str, float] = {}
    for name in CONTROL_PLANE:
        try:
            pid = int((cluster.STATE / "run" / f"{name}.pid").read_text())
            out[name] = proc_stats(pid)[1]
        except (OSError, ValueError, StopIteration):
            continue
    return out


def cluster_requests(kubectl: list[str]) -> dict[str, float]:
    """Requests the API server has served so far, every client's, by "VERB resource[/sub]"
    (apiserver_request_total; watches and their lists, the long-running ones, left out): what
    the cluster's processes did for the workspaces, beside the operator's own requests."""
    out = subprocess.run([*kubectl, "get", "--raw", "/metrics"], capture_output=True, text=True)

    def call(labels: dict[str, str]) -> str | None:
        if labels.get("verb") in ("WATCH", "CONNECT"):
            return None
        sub = labels.get("subresource")
        return f"{labels.get('verb')} {labels.get('resource', '')}{'/' + sub if sub else ''}"

    return samples(out.stdout, "apiserver_request_total", call)


def machine_cpu() -> dict[str, float]:
    """Core-seconds the whole machine has spent so far (/proc/stat): busy (every process, ours
    or not), idle, and stolen by the hypervisor (another guest ran on our cores)."""
    fields = [int(v) / TICK for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0.0] * 8)[:8]
    return {
        "busy": user + nice + system + irq + softirq,
        "idle": idle + iowait,
        "steal": steal,
    }


def samples(text: str, name: str, key: Callable[[dict[str, str]], str | None]) -> dict[str, float]:
    """The samples `name` of a Prometheus exposition, summed by `key` of their labels (None:
    left out). Only its lines are parsed: the API server's whole /metrics is megabytes."""
    lines = "\n".join(line for line in text.splitlines() if line.startswith(name + "{"))
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(lines + "\n"):
        for sample in family.samples:
            k = key(sample.labels)
            if sample.name == name and k is not None:
                out[k] = out.get(k, 0.0) + sample.value
    return out


def grown(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """What each counter grew by between two readings (those that did not grow left out)."""
    return {k: v - before.get(k, 0.0) for k, v in after.items() if v > before.get(k, 0.0)}


def counters(metrics_port: int, name: str, labels: tuple[str, ...]) -> dict[str, float]:
    """A counter of the operator's metrics so far, by the values of `labels` joined by " "
    (summed over the labels not named)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as r:
        text = r.read().decode()
    return samples(text, name, lambda found: " ".join(found[x] for x in labels))


def api_requests(metrics_port: int, go: bool = False) -> dict[str, float]:
    """Requests the operator sent so far, by "VERB resource" (the Go original's client-go
    counts them by method only, its informers' lists and watches included)."""
    if go:
        return counters(metrics_port, "rest_client_requests_total", ("method",))
    return counters(metrics_port, "jupyter_k8s_api_requests_total", ("verb", "resource"))


def reconciles(metrics_port: int, go: bool = False) -> dict[str, float]:
    """Reconciliations so far, by kind (the Go original's: by controller)."""
    if go:
        return counters(metrics_port, "controller_runtime_reconcile_total", ("controller",))
    return counters(metrics_port, "jupyter_k8s_reconciles_total", ("kind",))


def gc_pauses(metrics_port: int) -> float:
    """Seconds the operator has spent in Python's garbage collector so far."""
    return sum(
        counters(metrics_port, "jupyter_k8s_gc_pause_seconds_total", ("generation",)).values()
    )


def commit() -> str:
    """The commit of the operator measured (the package this process imports, as the
    operator's process does: PYTHONPATH=<another checkout>/operator measures that one)."""
    out = subprocess.run(
        ["git", "-C", str(Path(jupyter_k8s.__file__).parent), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
    )
    return out.stdout.strip() or "unknown"


def where_the_cpu_went(path: Path, top: int = 25) -> None:
    """The profile's summary: functions by own time, and this package's by cumulative time."""
    stats = pstats.Stats(str(path))
    total = stats.total_tt  # type: ignore[attr-defined]
    rows = stats.stats  # type: ignore[attr-defined]
    print(f"\n== where the operator's CPU went ({total:.1f} s profiled; cProfile) ==")

    def name(func: tuple[str, int, str]) -> str:
        file, line, fn = func
        short = file.split("site-packages/")[-1].split("/operator/")[-1]
        return f"{short}:{line}({fn})"

    print("own time:")
    for func, (_cc, _nc, tt, _ct, _callers) in sorted(rows.items(), key=lambda r: -r[1][2])[:top]:
        print(f"  {tt:7.2f} s {100 * tt / total:5.1f}%  {name(func)}")
    print("cumulative, jupyter_k8s only:")
    ours = [r for r in rows.items() if "jupyter_k8s" in r[0][0]]
    for func, (_cc, nc, _tt, ct, _callers) in sorted(ours, key=lambda r: -r[1][3])[:top]:
        print(f"  {ct:7.2f} s {100 * ct / total:5.1f}%  {nc:7d} calls  {name(func)}")


# Innermost frames of a thread that waits (the event loop's poll, a watch's socket read, an idle
# worker of the pool): py-spy cannot always tell those threads idle, so they are left out here.
WAITING = (
    "reactor/running.py",
    "ssl.py:1167",
    "futures/thread.py:81",
    "threading.py:3",
    "selectors.py",
    "wait.py:",
)


def where_the_samples_fell(path: Path, top: int = 25) -> None:
    """py-spy's samples of every thread, waiting ones left out: by the innermost module of the
    operator on the stack (else the library running), and by own frame."""
    own: dict[str, int] = {}
    by_area: dict[str, int] = {}
    total = waiting = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")[1:] or ["(no frame) (?)"]  # the first names the thread
        leaf = frames[-1]
        if any(w in leaf for w in WAITING):
            waiting += int(count)
            continue
        n = int(count)
        total += n
        own[leaf] = own.get(leaf, 0) + n
        files = [f.rpartition(" (")[2].rstrip(")") for f in frames]
        ours = [f for f in files if f.startswith("jupyter_k8s/") and "main.py" not in f]
        area = (
            ours[-1].split(":")[0] if ours else "(library) " + files[-1].split("/")[0].split(":")[0]
        )
        by_area[area] = by_area.get(area, 0) + n
    if not total:
        print("(no samples)")
        return
    print(
        f"\n== where the operator's CPU went ({total} samples running, {waiting} waiting "
        "left out; every thread; py-spy) =="
    )
    print("by the operator's innermost module on the stack (else the library running):")
    for area, n in sorted(by_area.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {100 * n / total:5.1f}%  {area}")
    print("own frames:")
    for leaf, n in sorted(own.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {100 * n / total:5.1f}%  {leaf}")


def more_nodes(core: Any, run_id: str, n: int) -> list[str]:
    """kwok nodes beyond the cluster's two, so that N pods fit (N=5000: three more)."""
    plain = [name for name, *_, gpu in cluster.NODES if not gpu]  # the GPU node is kept for GPUs
    extra = max(0, -(-n // cluster.PODS_PER_NODE) - len(plain))
    names = [f"kwok-bench-{run_id}-{i}" for i in range(extra)]
    for name in names:
        core.create_node(cluster.kwok_node(name, "32", "128Gi"))
    return names


def instant_volumes(core: Any, storage: Any, name: str, namespace: str, n: int) -> None:
    """Each workspace's claim made and bound beforehand, under the name the operator gives it
    (its apply then finds it bound: the volume "binds instantly"), to a volume of a storage
    class of its own. Nothing mounts them: the bench's pods run on kwok nodes. Returns once
    all are Bound: binding is the PersistentVolume controller's work, one claim at a time."""
    storage.create_storage_class(
        {
            "metadata": {"name": name},
            "provisioner": "kubernetes.io/no-provisioner",
            "volumeBindingMode": "Immediate",
            "reclaimPolicy": "Delete",
        }
    )

    def make(i: int) -> None:
        claim = workspace_child(f"ws-{i:05d}")
        volume = f"{name}-{i:05d}"
        core.create_persistent_volume(
            {
                "metadata": {"name": volume, "labels": {"bench": name}},
                "spec": {
                    "capacity": {"storage": "1Gi"},
                    "accessModes": ["ReadWriteOnce"],
                    "storageClassName": name,
                    "persistentVolumeReclaimPolicy": "Retain",
                    "hostPath": {"path": f"/nonexistent/{name}/{i}"},
                    "claimRef": {"namespace": namespace, "name": claim},
                },
            }
        )
        core.create_namespaced_persistent_volume_claim(
            namespace,
            {
                "metadata": {"name": claim},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "storageClassName": name,
                    "volumeName": volume,
                    "resources": {"requests": {"storage": "1Gi"}},
                },
            },
        )

    t0 = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(make, range(n)))
    while True:
        claims = core.list_namespaced_persistent_volume_claim(namespace).items
        bound = sum(c.status.phase == "Bound" for c in claims)
        if bound == n:
            break
        if time.monotonic() - t0 > 60 + n:
            raise SystemExit(f"only {bound} of {n} claims bound beforehand")
        time.sleep(1)
    print(f"{n} claims made and bound beforehand in {time.monotonic() - t0:.1f} s")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    # Stopped with SIGTERM (a timeout, a CI job cancelled): clean up as on Ctrl-C, so that the
    # operator started below does not outlive the bench.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # A watch that lists again says so: its stage times are then when the list came, not
    # when the objects did.
    logging.basicConfig(level=logging.WARNING, format="bench: %(message)s")
    logging.getLogger("jupyter_k8s.kube.watch").setLevel(logging.INFO)
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=0, help="seconds (default: 60 + N/4)")
    parser.add_argument(
        "--profile",
        type=Path,
        help="run the operator under cProfile, write its stats here and print where the CPU "
        "went (the CPU figures of such a run include the profiler's own cost)",
    )
    parser.add_argument(
        "--sample",
        type=Path,
        help="sample the operator with py-spy (every thread, 100 Hz, only while running) and "
        "print where its CPU went; the raw stacks are written here",
    )
    parser.add_argument(
        "--memory",
        type=Path,
        help="trace the operator's allocations (tracemalloc) and write what it holds once all "
        "are Available, by package and by line, here (slower: CPU figures include the tracing)",
    )
    parser.add_argument(
        "--idle",
        type=float,
        default=0,
        metavar="SECONDS",
        help="once all are Available, count the operator's API requests for this long and "
        "print them per minute (an idle operator should send none between resyncs)",
    )
    parser.add_argument(
        "--instant-binding",
        action="store_true",
        help="volumes bind at once: each workspace's claim is made and bound beforehand (its "
        "volume too), so that what is measured is the operator and the scheduler, not the "
        "provisioner and the PersistentVolume controller",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=0,
        metavar="PER_SECOND",
        help="create the workspaces at this steady pace instead of all at once: create -> "
        "Available then tells what each user waits while people keep arriving at that rate "
        "(in a burst of N the last ones wait for the cluster to work through all before them)",
    )
    parser.add_argument(
        "--webhook-off",
        action="store_true",
        help="run the operator with JK_WEBHOOK_MODE=off (no owner stamped on create): its cost "
        "apart, and the side by side on equal terms with the Go original, whose webhooks are off",
    )
    parser.add_argument(
        "--upstream",
        type=Path,
        metavar="DIR",
        help="measure the Go original instead (a git checkout of jupyter-infra/jupyter-k8s, "
        "built into the tool cache): the same Workspace, cluster and watches; side by side",
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=cluster.ROOT / "docs" / "bench-results.jsonl",
        help="append this run's figures, with the commit, to this file (- : do not)",
    )
    args = parser.parse_args()
    n = args.count
    if args.rate < 0:
        parser.error(f"--rate {args.rate}: give workspaces per second, more than 0")
    timeout = args.timeout or 60 + n / 4 + (n / args.rate if args.rate else 0)
    go = upstream.build(args.upstream.resolve()) if args.upstream else None
    if go and (args.profile or args.sample or args.memory or args.instant_binding):
        # The profilers are Python's; the instant claims are made under this operator's names.
        parser.error(
            "--upstream measures the Go original as it runs: without --profile, "
            "--sample, --memory and --instant-binding"
        )

    cluster.up()
    kubeconfig = cluster.STATE / "kubeconfig"
    kubectl = json.loads((cluster.STATE / "state.json").read_text())["kubectl"]
    k = [kubectl, f"--kubeconfig={kubeconfig}"]
    # The two share the API group and the Workspace's name: one's CRDs over the other's leave
    # a cluster that is neither's.
    other = "workspacemanagers" if go else "workspaceaccessstrategies"
    if subprocess.run([*k, "get", "crd", f"{other}.{GROUP}"], capture_output=True).returncode == 0:
        raise SystemExit(
            f"this cluster has the {'this operator' if go else 'Go original'}'s CRDs from an "
            "earlier run: `make cluster-down` first (each subject is measured on a fresh cluster)"
        )
    subprocess.run(
        [
            *k,
            "apply",
            "--server-side",
            "--force-conflicts",
            "--field-manager=jupyter-k8s",
            "-f",
            str(go.crds if go else cluster.ROOT / "crds"),
        ],
        check=True,
        capture_output=True,
    )
    demo_operator = cluster.Component("operator", [str(cluster.VENV_PYTHON)])
    if demo_operator.pid():
        print("stopping the demo's operator: the benchmark measures an operator of its own")
        demo_operator.stop()

    run_id = uuid.uuid4().hex[:6]
    ns, template = f"bench-{run_id}", f"bench-{run_id}"
    config.load_kube_config(str(kubeconfig))
    cfg = client.Configuration.get_default_copy()
    cfg.connection_pool_maxsize = 16
    api = client.ApiClient(cfg)
    custom, core = client.CustomObjectsApi(api), client.CoreV1Api(api)
    storage = client.StorageV1Api(api)
    core.create_namespace({"metadata": {"name": ns}})
    extra_nodes = more_nodes(core, run_id, n)
    storage_class = f"bench-instant-{run_id}" if args.instant_binding else None
    if storage_class:
        instant_volumes(core, storage, storage_class, ns, n)
    if not go:
        custom.create_cluster_custom_object(
            GROUP,
            VERSION,
            "workspacetemplates",
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "WorkspaceTemplate",
                "metadata": {"name": template},
                "spec": {
                    "displayName": "bench",
                    "defaultImage": IMAGE,
                    "defaultResources": {"requests": {"cpu": "10m", "memory": "32Mi"}},
                    "primaryStorage": {
                        "defaultSize": "1Gi",
                        **({"storageClassName": storage_class} if storage_class else {}),
                    },
                },
            },
        )

    ports = {
        "JK_HEALTH_PORT": free_port(),
        "JK_METRICS_PORT": free_port(),
        "JK_WEBHOOK_PORT": free_port(),
    }
    log = cluster.STATE / "logs" / f"bench-operator-{run_id}.log"
    env = {
        **os.environ,
        "KUBECONFIG": str(kubeconfig),
        "JK_WEBHOOK_MODE": "off" if args.webhook_off else "url",
        # Loopback whatever the mode (outside "url" the operator listens as a pod would).
        "JK_HEALTH_ADDR": "127.0.0.1",
        "JK_METRICS_ADDR": "127.0.0.1",
        "JK_LOG_FORMAT": "plain",
        "JK_CERT_DIR": str(cluster.STATE / f"webhook-{run_id}"),
        **{key: str(v) for key, v in ports.items()},
    }
    profiler = ["-m", "cProfile", "-o", str(args.profile)] if args.profile else []
    if args.memory:
        profiler = ["-X", "tracemalloc=1", *profiler]
        env["JK_MEMTRACE_OUT"] = str(args.memory.resolve())
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(cluster.ROOT / "hack" / "memtrace"), env.get("PYTHONPATH")) if p
        )
    # Read now: the operator imports its code as it starts, and the checkout may change during
    # a long run (a row once named a commit made while it ran).
    measured_commit = f"upstream-{go.commit}" if go else commit()
    argv = [sys.executable, *profiler, "-m", "jupyter_k8s", "run"]
    if go:
        argv = upstream.command(go, ports["JK_METRICS_PORT"], ports["JK_HEALTH_PORT"])
        env.update(upstream.ENV)
    with open(log, "wb") as out:
        op = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60

        def started() -> bool:
            # The Go original is ready once its caches have synced; this operator, with its
            # webhook, once it has registered it, else once Kopf answers its liveness probe.
            if go or args.webhook_off:
                return answers(ports["JK_HEALTH_PORT"], "readyz" if go else "healthz")
            hook = subprocess.run(
                [*k, "get", "mutatingwebhookconfiguration", WEBHOOK_CONFIGURATION, "-o", "json"],
                capture_output=True,
                text=True,
            )
            return hook.returncode == 0 and f":{ports['JK_WEBHOOK_PORT']}/" in hook.stdout

        while not started():
            if op.poll() is not None or time.monotonic() > deadline:
                who = "the Go original" if go else "the operator"
                raise SystemExit(f"{who} did not start; see {log}")
            time.sleep(0.3)
        rss0, cpu0, sys0 = proc_stats(op.pid)
        plane0 = control_plane_cpu()
        served0 = cluster_requests(k)
        machine0, bench0, wall0 = machine_cpu(), sum(os.times()[:2]), time.monotonic()
        sampler = None
        if args.sample:
            spy = Path(sys.executable).parent / "py-spy"
            sampler = subprocess.Popen(
                [
                    str(spy),
                    "record",
                    "--pid",
                    str(op.pid),
                    "--rate",
                    "100",
                    "--threads",
                    "--format",
                    "raw",
                    "--output",
                    str(args.sample),
                    "--nonblocking",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        requests0 = api_requests(ports["JK_METRICS_PORT"], bool(go))
        passes0 = reconciles(ports["JK_METRICS_PORT"], bool(go))
        gc0 = 0.0 if go else gc_pauses(ports["JK_METRICS_PORT"])

        created: dict[str, float] = {}
        available: dict[str, float] = {}
        done = threading.Event()

        stages: dict[str, dict[str, float]] = {
            "deployment made": {},  # the operator's own: its event -> children applied
            "pvc bound": {},
            "pod created": {},
            "pod ready": {},
            "deployment available": {},  # the controller's status: availableReplicas >= 1
        }

        def seen_workspaces(objs: list[dict[str, Any]]) -> None:
            now = time.monotonic()
            for obj in objs:
                conds = (obj.get("status") or {}).get("conditions") or []
                name = obj["metadata"]["name"]
                if name not in available and any(
                    c["type"] == "Available" and c["status"] == "True" for c in conds
                ):
                    available[name] = now
                    if len(available) == n:
                        done.set()

        def seen_children(kind: str, objs: list[dict[str, Any]]) -> None:
            now = time.monotonic()
            for obj in objs:
                owner = (obj["metadata"].get("labels") or {}).get(WORKSPACE_LABEL)
                if not owner:
                    continue
                status = obj.get("status") or {}
                if kind == "deployments":
                    stages["deployment made"].setdefault(owner, now)
                    if (status.get("availableReplicas") or 0) >= 1:
                        stages["deployment available"].setdefault(owner, now)
                if kind == "persistentvolumeclaims" and status.get("phase") == "Bound":
                    stages["pvc bound"].setdefault(owner, now)
                if kind == "pods":
                    stages["pod created"].setdefault(owner, now)
                    if any(
                        c.get("type") == "Ready" and c.get("status") == "True"
                        for c in status.get("conditions") or []
                    ):
                        stages["pod ready"].setdefault(owner, now)

        # The operator's own list-watch (raw JSON, lists again after an error such as a lagging
        # watch cache's 504): the generated client's models cost this process half a core at
        # N=1000, taken from the machine under test, and its watch died of that 504.
        kube = Kube(from_kubeconfig(str(kubeconfig)), pool_size=16)
        watches = [
            ListWatch(
                kube,
                f"/apis/{GROUP}/{VERSION}/namespaces/{ns}/workspaces",
                "",
                on_listed=seen_workspaces,
                on_events=lambda evs: seen_workspaces([o for _, o in evs]),
            )
        ]
        for prefix, plural in (
            ("api/v1", "persistentvolumeclaims"),
            ("api/v1", "pods"),
            ("apis/apps/v1", "deployments"),
        ):
            watches.append(
                ListWatch(
                    kube,
                    f"/{prefix}/namespaces/{ns}/{plural}",
                    WORKSPACE_LABEL,
                    on_listed=lambda objs, k=plural: seen_children(k, objs),
                    on_events=lambda evs, k=plural: seen_children(k, [o for _, o in evs]),
                )
            )
        for i, w in enumerate(watches):
            w.start(f"bench-watch-{i}")
        time.sleep(0.5)

        def create(i: int) -> None:
            if args.rate:  # the i-th arrives i / rate seconds after the first
                time.sleep(max(0.0, t0 + i / args.rate - time.monotonic()))
            name = f"ws-{i:05d}"
            created[name] = time.monotonic()
            custom.create_namespaced_custom_object(
                GROUP,
                VERSION,
                ns,
                "workspaces",
                upstream.workspace(name, IMAGE, storage_class)
                if go
                else {
                    "apiVersion": f"{GROUP}/{VERSION}",
                    "kind": "Workspace",
                    "metadata": {"name": name},
                    "spec": {"templateRef": template},
                },
            )

        t0 = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(create, range(n)))
        t_created = time.monotonic() - t0
        done.wait(timeout)
        for w in watches:
            w.stop()
        elapsed = (max(available.values()) if available else time.monotonic()) - t0
        rss, cpu, sys1 = proc_stats(op.pid)
        plane = {k: v - plane0[k] for k, v in control_plane_cpu().items() if k in plane0}
        served = grown(served0, cluster_requests(k))
        machine = {k: v - machine0[k] for k, v in machine_cpu().items()}
        wall, bench_cpu = time.monotonic() - wall0, sum(os.times()[:2]) - bench0
        if sampler is not None:
            sampler.send_signal(signal.SIGINT)  # py-spy writes what it has on SIGINT
            sampler.wait(60)
            where_the_samples_fell(args.sample)
        after = api_requests(ports["JK_METRICS_PORT"], bool(go))
        by_kind = grown(requests0, after)
        requests = sum(by_kind.values())
        passes = grown(passes0, reconciles(ports["JK_METRICS_PORT"], bool(go)))
        gc_s = 0.0 if go else gc_pauses(ports["JK_METRICS_PORT"]) - gc0
        latencies = [available[x] - created[x] for x in available]

        print(
            f"\n== make bench: N={n} workspaces on the local cluster (kwok nodes, 2 cores shared) =="
            + ("\n   volumes bind at once (--instant-binding)" if storage_class else "")
            + (f"\n   created at {args.rate:g} per second (--rate)" if args.rate else "")
            + (f"\n   the Go original at {go.commit} (--upstream), not this operator" if go else "")
        )
        print(
            f"created in                 {t_created:8.1f} s   ({n / t_created:.0f}/s through the API{'' if go or args.webhook_off else ' and the owner webhook'})"
        )
        print(
            f"Available                  {len(available):8d} / {n}"
            + ("" if len(available) == n else f"   (timed out after {timeout:.0f} s)")
        )
        print(f"all Available after        {elapsed:8.1f} s   (first create -> last Available)")
        print(
            f"throughput                 {len(available) / elapsed:8.1f} workspaces/s to Available"
        )
        if latencies:
            print(
                f"create -> Available        p50 {pct(latencies, 0.5):.2f} s   p95 {pct(latencies, 0.95):.2f} s   max {max(latencies):.2f} s"
            )
        lag = [available[x] - stages["pod ready"][x] for x in available if x in stages["pod ready"]]
        if lag:
            print(
                f"  pod ready -> Available   p50 {pct(lag, 0.5):.2f} s   p95 {pct(lag, 0.95):.2f} s   (the Deployment controller's and the operator's)"
            )
        own = [
            available[x] - stages["deployment available"][x]
            for x in available
            if x in stages["deployment available"]
        ]
        if own:
            print(
                f"  deployment available -> Available p50 {pct(own, 0.5):.2f} s   p95 {pct(own, 0.95):.2f} s   (the operator's own delay)"
            )
        for stage, seen in stages.items():
            lat = [seen[x] - created[x] for x in seen if x in created]
            if lat:
                print(
                    f"  create -> {stage:<15} p50 {pct(lat, 0.5):.2f} s   p95 {pct(lat, 0.95):.2f} s"
                )
        print(f"operator peak RSS          {rss:8.1f} MiB  (at start-up: {rss0:.1f} MiB)")
        if args.memory:
            args.memory.unlink(missing_ok=True)
            op.send_signal(signal.SIGUSR2)
            deadline = time.monotonic() + 120
            while not args.memory.exists() and time.monotonic() < deadline:
                time.sleep(0.5)
            time.sleep(1)  # written in one go; let it finish
            print("== what the operator holds (tracemalloc) ==")
            print(args.memory.read_text() if args.memory.exists() else "(no report came)")
        print(
            f"operator CPU               {cpu - cpu0:8.1f} s    ({(cpu - cpu0) / n * 1000:.1f} ms per workspace)"
        )
        if not go:
            print(
                f"  of which garbage collector {gc_s:6.1f} s    ({gc_s / n * 1000:.1f} ms per workspace)"
            )
        # The kernel's share: sockets on loopback (TLS records sent, the server's answers and
        # watch events received) and the thread wake-ups of the hand-offs.
        print(
            f"  of which in the kernel     {sys1 - sys0:6.1f} s    ({(sys1 - sys0) / n * 1000:.1f} ms per workspace)"
        )
        print(
            f"operator API requests      {requests:8.0f}      ({requests / n:.1f} per workspace; {'by method, lists and watches counted' if go else 'watches not counted'})"
        )
        top = sorted(by_kind.items(), key=lambda kv: -kv[1])[:8]
        print("  by call: " + ", ".join(f"{k} {v / n:.1f}" for k, v in top))
        print(
            "control plane CPU meanwhile "
            + ", ".join(f"{k} {v / n * 1000:.1f}" for k, v in plane.items())
            + " ms per workspace"
        )
        top_served = sorted(served.items(), key=lambda kv: -kv[1])[:12]
        print(
            f"API server requests served {sum(served.values()):8.0f}      "
            f"({sum(served.values()) / n:.1f} per workspace, every client's; watches not counted)"
        )
        print("  most: " + ", ".join(f"{key} {v / n:.1f}" for key, v in top_served))
        # What the machine was doing meanwhile: a run whose cores were all busy was bound by
        # the machine's CPU, and everything measured above shares it. The floor is the time
        # the measured processes' CPU alone takes on this many cores.
        cores = os.cpu_count() or 1
        measured = (cpu - cpu0) + sum(plane.values()) + bench_cpu
        print(
            f"machine CPU meanwhile      busy {machine['busy'] / wall:.2f} of {cores} cores, "
            f"stolen {machine['steal'] / wall:.2f}, idle {machine['idle'] / wall:.2f}; "
            f"operator + cluster + this bench {measured / n * 1000:.0f} ms per workspace "
            f"= {measured / cores:.0f} s on {cores} cores"
        )
        print(
            "reconciliations            "
            + ", ".join(f"{kind} {v / n:.1f}" for kind, v in sorted(passes.items()))
            + " per workspace"
        )
        idle_per_min = None
        idle_cpu: int | None = None
        idle_by_call: dict[str, float] = {}
        if args.idle > 0:
            before_idle = api_requests(ports["JK_METRICS_PORT"], bool(go))
            cpu_before_idle = proc_stats(op.pid)[1]
            time.sleep(args.idle)
            idle_cpu = round((proc_stats(op.pid)[1] - cpu_before_idle) / args.idle * 60 * 1000)
            after_idle = api_requests(ports["JK_METRICS_PORT"], bool(go))
            idle_by_call = grown(before_idle, after_idle)
            idle_per_min = round(sum(idle_by_call.values()) / args.idle * 60, 1)
            print(
                f"idle API requests          {idle_per_min:8.1f} /min (over {args.idle:.0f} s once "
                f"all were Available; resync every {os.environ.get('JK_RESYNC_SECONDS', 300)} s)"
            )
            # What the operator costs with nothing to do (its watches' bookmarks, Kopf's node
            # watch, metrics): part of every run's CPU per workspace is this rate times the run.
            print(f"idle operator CPU          {idle_cpu:8d} ms/min")
            if idle_by_call:  # an idle operator should send none: say which calls it sent
                print(
                    "  by call: "
                    + ", ".join(f"{k} {v:.0f}" for k, v in sorted(idle_by_call.items()))
                )
        print(f"operator log               {log}")
        bound = [t - created[x] for x, t in stages["pvc bound"].items() if x in created]
        made = [t - created[x] for x, t in stages["deployment made"].items() if x in created]
        figures = {
            "commit": measured_commit,
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "n": n,
            "available": len(available),
            "created_s": round(t_created, 1),
            "all_available_s": round(elapsed, 1),
            "p50_s": round(pct(latencies, 0.5), 2) if latencies else None,
            "p95_s": round(pct(latencies, 0.95), 2) if latencies else None,
            "max_s": round(max(latencies), 2) if latencies else None,
            "ready_to_available_p50_s": round(pct(lag, 0.5), 2) if lag else None,
            "deployment_available_to_available_p50_s": round(pct(own, 0.5), 2) if own else None,
            "deployment_available_to_available_p95_s": round(pct(own, 0.95), 2) if own else None,
            "create_to_pvc_bound_p50_s": round(pct(bound, 0.5), 2) if bound else None,
            "create_to_deployment_p50_s": round(pct(made, 0.5), 2) if made else None,
            "create_to_deployment_p95_s": round(pct(made, 0.95), 2) if made else None,
            "instant_binding": bool(storage_class),
            "rate_per_s": args.rate or None,  # None: all at once
            "idle_requests_per_min": idle_per_min,
            "idle_requests_by_call": idle_by_call or None,
            "idle_cpu_ms_per_min": idle_cpu,
            "cpu_ms_per_ws": round((cpu - cpu0) / n * 1000, 1),
            "gc_ms_per_ws": round(gc_s / n * 1000, 1),
            "kernel_cpu_ms_per_ws": round((sys1 - sys0) / n * 1000, 1),
            "control_plane_cpu_ms_per_ws": {k: round(v / n * 1000, 1) for k, v in plane.items()},
            "machine_busy_cores": round(machine["busy"] / wall, 2),
            "machine_steal_cores": round(machine["steal"] / wall, 2),
            "measured_cpu_ms_per_ws": round(measured / n * 1000, 1),
            "peak_rss_mib": round(rss, 1),
            "requests_per_ws": round(requests / n, 1),
            "requests_by_call": {k: round(v / n, 2) for k, v in sorted(by_kind.items())},
            "cluster_requests_per_ws": round(sum(served.values()) / n, 1),
            "cluster_requests_by_call": {
                key: round(v / n, 2) for key, v in sorted(served.items()) if v / n >= 0.05
            },
            "reconciles_per_ws": {k: round(v / n, 2) for k, v in sorted(passes.items())},
            "profiled": bool(args.profile or args.memory),
            "operator": f"go-original {go.commit}" if go else "jupyter-k8s",
            "webhook": not (go or args.webhook_off),
        }
        if str(args.results) != "-":
            with open(args.results, "a") as out:
                out.write(json.dumps(figures) + "\n")
            print(f"appended to                {args.results}")
        return 0
    finally:
        if args.profile:  # stopped first, so that the profile is of the run, not the clean-up
            op.send_signal(signal.SIGINT)
            op.wait(120)
            where_the_cpu_went(args.profile)
        print("cleaning up (deleting the namespace and the template) ...", flush=True)
        try:  # the operator runs meanwhile: the template's finalizer is its to remove
            subprocess.run(
                [*k, "delete", "namespace", ns, "--wait=true", "--timeout=600s"],
                capture_output=True,
            )
            if not go:
                subprocess.run(
                    [*k, "delete", "workspacetemplate", template, "--wait=true", "--timeout=120s"],
                    capture_output=True,
                )
            for node in extra_nodes:
                subprocess.run([*k, "delete", "node", node, "--wait=false"], capture_output=True)
            if storage_class:
                subprocess.run(
                    [*k, "delete", "pv", "-l", f"bench={storage_class}", "--wait=false"],
                    capture_output=True,
                )
                subprocess.run([*k, "delete", "storageclass", storage_class], capture_output=True)
        finally:  # also when the bench is stopped during the clean-up: no operator left behind
            op.terminate()
            try:
                op.wait(30)
            except subprocess.TimeoutExpired:
                op.kill()


if __name__ == "__main__":
    sys.exit(main())
