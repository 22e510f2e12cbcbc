#!/usr/bin/env python3
"""`make bench-authz`: decisions per second and latency of the authorization service.

The service runs as a real process against the local cluster (real SubjectAccessReviews) with
a stand-in oauth2-proxy; a client sends forward-auth requests for a mix of users (owner,
stranger, shared) with 32 in flight. "cold" disables the decision and identity caches (every
request asks oauth2-proxy and the API server); "warm" uses the default 5-second cache.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request

import aiohttp
import cluster  # hack/cluster.py

from jupyter_k8s.api import KINDS

sys.path.insert(0, str(cluster.ROOT))
from tests.support.fake_oauth2_proxy import FakeOAuth2Proxy

NS, WS, DOMAIN = "bench-authz", "lab", "bench-authz.test"


def kubectl(*args: str, stdin: str | None = None) -> None:
    state = json.loads((cluster.STATE / "state.json").read_text())
    subprocess.run(
        [state["kubectl"], f"--kubeconfig={cluster.STATE / 'kubeconfig'}", *args],
        input=stdin,
        check=True,
        capture_output=True,
        text=True,
    )


def setup() -> None:
    kubectl(
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager=jupyter-k8s",
        "-f",
        str(cluster.ROOT / "crds"),
    )
    kubectl("wait", "--for=condition=Established", *(f"crd/{k.crd_name}" for k in KINDS))
    objs = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
        {
            "apiVersion": "workspace.jupyter.org/v1alpha1",
            "kind": "WorkspaceManager",
            "metadata": {"name": "bench-authz"},
            "spec": {"domain": DOMAIN},
        },
        # What the operator creates for an owner and a share, written directly: only the
        # authorization path is measured here.
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "ws-lab-connect", "namespace": NS},
            "rules": [
                {
                    "apiGroups": ["workspace.jupyter.org"],
                    "resources": ["workspaces"],
                    "resourceNames": [WS],
                    "verbs": ["connect"],
                }
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "ws-lab-owner", "namespace": NS},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "ws-lab-connect",
            },
            "subjects": [
                {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "owner"},
                {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "shared"},
            ],
        },
    ]
    kubectl(
        "apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": objs})
    )


async def hammer(
    port: int, cookies: list[dict[str, str]], total: int, concurrency: int
) -> tuple[float, list[float], dict[int, int]]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(total):
        queue.put_nowait(i)
    headers = {"X-Forwarded-Host": f"{WS}--{NS}.{DOMAIN}", "X-Forwarded-Uri": "/lab/api/kernels"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                t0 = time.perf_counter()
                async with session.get(
                    f"http://127.0.0.1:{port}/authorize",
                    headers={**headers, **cookies[i % len(cookies)]},
                ) as r:
                    await r.read()
                    statuses[r.status] = statuses.get(r.status, 0) + 1
                latencies.append(time.perf_counter() - t0)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - t0, latencies, statuses


def run_service(idp: FakeOAuth2Proxy, cache_seconds: str) -> tuple[subprocess.Popen[bytes], int]:
    port = 18000 + os.getpid() % 1000 + int(float(cache_seconds))
    env = {
        **os.environ,
        "KUBECONFIG": str(cluster.STATE / "kubeconfig"),
        "JK_AUTHZ_IDENTITY_URL": idp.url,
        "JK_AUTHZ_PORT": str(port),
        "JK_AUTHZ_ADDR": "127.0.0.1",
        "JK_AUTHZ_CACHE_SECONDS": cache_seconds,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter_k8s", "authz"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return proc, port
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the authorization service did not start")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    cluster.up()
    setup()
    idp = FakeOAuth2Proxy().start()
    users = [("owner", []), ("stranger", []), ("carol", ["shared"])] + [
        (f"user{i}", []) for i in range(7)
    ]
    cookies = [idp.login(f"token-{name}", name, groups) for name, groups in users]
    print(
        f"\n== make bench-authz: {args.requests} forward-auth requests, {args.concurrency} in flight, "
        f"{len(users)} users (local cluster, 2 cores shared with the control plane) =="
    )
    for label, cache in (("cold (no cache)", "0"), ("warm (5 s cache)", "5")):
        proc, port = run_service(idp, cache)
        try:
            asyncio.run(hammer(port, cookies, 200, args.concurrency))  # connections, first SARs
            elapsed, lat, statuses = asyncio.run(
                hammer(port, cookies, args.requests, args.concurrency)
            )
        finally:
            proc.terminate()
            proc.wait(10)
        print(
            f"{label:<18} {args.requests / elapsed:8.0f} decisions/s   p50 {pct(lat, 0.5):6.2f} ms   "
            f"p99 {pct(lat, 0.99):6.2f} ms   answers {dict(sorted(statuses.items()))}"
        )
    kubectl("delete", "namespace", NS, "--wait=false")
    kubectl("delete", "workspacemanager", "bench-authz")
    return 0


if __name__ == "__main__":
    sys.exit(main())
