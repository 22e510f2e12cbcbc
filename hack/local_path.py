#!/usr/bin/env python3
"""The local cluster's volume provisioner: kind's local-path provisioner, re-made small.

Serves the default StorageClass `standard` (provisioner `jupyter-k8s.io/local-path`, binding
`WaitForFirstConsumer`): once the scheduler has chosen a node for a claim's first pod, it
creates a `local` PersistentVolume on that node, backed by a directory under
.cluster/volumes/ that any user may write (0777, as kind's). On the real node the kubelet then
applies the pod's fsGroup to it, so a workspace running as UID 1000 owns its home; on kwok
nodes nothing mounts it and no directory is made. Released volumes (claim deleted) are
removed with their directory. Level-based: every (re)connect lists everything again.

    python3 hack/local_path.py --kubeconfig K --root DIR --real-node jk-real-0

Standard library only, like the rest of the local cluster.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import ssl
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

NAME = "jupyter-k8s.io/local-path"
CLASS = "standard"
SELECTED_NODE = "volume.kubernetes.io/selected-node"
PROVISIONER_ANNOTATION = "volume.kubernetes.io/storage-provisioner"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"


def log(msg: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {msg}", flush=True)


class Api:
    """Just enough of the Kubernetes API over HTTPS with a client certificate."""

    def __init__(self, kubeconfig: Path) -> None:
        # The local cluster's kubeconfigs are written by hack/cluster.py: one cluster, one user,
        # certificate files by path.
        text = kubeconfig.read_text()
        field = {
            k.strip(): v.strip()
            for k, _, v in (line.partition(":") for line in text.splitlines())
            if k.strip() in ("server", "certificate-authority", "client-certificate", "client-key")
        }
        url = urllib.parse.urlsplit(field["server"])
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 443
        self.ctx = ssl.create_default_context(cafile=field["certificate-authority"])
        self.ctx.load_cert_chain(field["client-certificate"], field["client-key"])
        self.local = threading.local()

    def _conn(self, timeout: float) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=timeout)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        # One kept-alive connection per worker thread (as a client-go provisioner keeps its
        # connections): a TLS handshake per request cost the API server more than the request.
        data = json.dumps(body).encode() if body is not None else None
        kept = getattr(self.local, "conn", None)
        if kept is not None:
            try:
                return self._request(kept, method, path, data)
            except (OSError, http.client.HTTPException):
                kept.close()  # closed by the server meanwhile: a new one
        self.local.conn = conn = self._conn(30)
        try:
            return self._request(conn, method, path, data)
        except BaseException:
            conn.close()
            self.local.conn = None
            raise

    @staticmethod
    def _request(
        conn: http.client.HTTPSConnection, method: str, path: str, data: bytes | None
    ) -> tuple[int, Any]:
        conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        raw = resp.read()
        return resp.status, json.loads(raw) if raw else {}

    def watch(self, path: str, resource_version: str) -> Iterator[dict[str, Any]]:
        conn = self._conn(400)
        try:
            query = f"watch=1&resourceVersion={resource_version}&timeoutSeconds=300"
            conn.request("GET", f"{path}?{query}")
            resp = conn.getresponse()
            if resp.status != 200:
                return
            for line in resp:
                if line.strip():
                    yield json.loads(line)
        finally:
            conn.close()


class Provisioner:
    def __init__(self, api: Api, root: Path, real_nodes: set[str]) -> None:
        self.api, self.root, self.real_nodes = api, root, real_nodes
        # Claims (by UID) whose volume this process has created: a claim's later events while
        # it is still Pending (the binder's own writes) would otherwise each POST it again and
        # be refused (409), half a request per claim more for the API server in a benchmark.
        self.provisioned: set[str] = set()
        self.lock = threading.Lock()

    def provision(self, pvc: dict[str, Any]) -> None:
        meta, spec = pvc["metadata"], pvc["spec"]
        annotations = meta.get("annotations") or {}
        if (
            pvc.get("status", {}).get("phase") != "Pending"
            or spec.get("volumeName")
            or annotations.get(PROVISIONER_ANNOTATION) != NAME
            or not annotations.get(SELECTED_NODE)
        ):
            return
        with self.lock:
            if meta["uid"] in self.provisioned:
                return
            self.provisioned.add(meta["uid"])
        made = False
        try:
            made = self._create_volume(meta, spec, annotations[SELECTED_NODE])
        finally:
            if not made:
                with self.lock:
                    self.provisioned.discard(meta["uid"])  # the claim's next event tries again

    def _create_volume(self, meta: dict[str, Any], spec: dict[str, Any], node: str) -> bool:
        """The claim's volume on `node`; False when the API server refused it."""
        name = f"pvc-{meta['uid']}"
        path = (self.root / name).resolve()
        if node in self.real_nodes:
            path.mkdir(parents=True, exist_ok=True)
            path.chmod(0o777)  # kind's choice: any UID writes; the kubelet applies fsGroup
        pv = {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": name, "annotations": {PROVISIONED_BY: NAME}},
            "spec": {
                "capacity": {"storage": spec["resources"]["requests"]["storage"]},
                "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": "Delete",
                "storageClassName": spec.get("storageClassName") or CLASS,
                "volumeMode": spec.get("volumeMode") or "Filesystem",
                "claimRef": {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "namespace": meta["namespace"],
                    "name": meta["name"],
                    "uid": meta["uid"],
                },
                "local": {"path": str(path)},
                "nodeAffinity": {
                    "required": {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {
                                        "key": "kubernetes.io/hostname",
                                        "operator": "In",
                                        "values": [node],
                                    }
                                ]
                            }
                        ]
                    }
                },
            },
        }
        status, body = self.api.call("POST", "/api/v1/persistentvolumes", pv)
        if status in (201, 409):
            return True
        log(f"creating {name} for {meta['namespace']}/{meta['name']} failed: {status} {body}")
        return False

    def reclaim(self, pv: dict[str, Any]) -> None:
        meta = pv["metadata"]
        if (meta.get("annotations") or {}).get(PROVISIONED_BY) != NAME:
            return
        if pv.get("status", {}).get("phase") not in ("Released", "Failed"):
            return
        if pv["spec"].get("persistentVolumeReclaimPolicy") != "Delete":
            return
        with self.lock:
            self.provisioned.discard((pv["spec"].get("claimRef") or {}).get("uid", ""))
        path = Path(pv["spec"].get("local", {}).get("path", ""))
        if path.is_relative_to(self.root.resolve()) and path.exists():
            shutil.rmtree(path, ignore_errors=True)
        self.api.call("DELETE", f"/api/v1/persistentvolumes/{meta['name']}")

    def loop(self, path: str, handle: Any) -> None:
        """List everything, then follow changes; again from the start on any error. Objects
        are handled by a few threads: hundreds of claims arrive at once in a benchmark, and
        each one waits on an API call."""
        pool = ThreadPoolExecutor(8, thread_name_prefix=path.rsplit("/", 1)[-1])
        while True:
            try:
                status, body = self.api.call("GET", path)
                if status != 200:
                    raise RuntimeError(f"list {path}: {status}")
                for item in body.get("items", []):
                    pool.submit(handle, item)
                for event in self.api.watch(path, body["metadata"]["resourceVersion"]):
                    if event.get("type") in ("ADDED", "MODIFIED"):
                        pool.submit(handle, event["object"])
            except Exception as err:
                log(f"{path}: {err}; listing again")
                time.sleep(1)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kubeconfig", type=Path, required=True)
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--real-node", action="append", default=[])
    args = parser.parse_args()
    args.root.mkdir(parents=True, exist_ok=True)
    prov = Provisioner(Api(args.kubeconfig), args.root, set(args.real_node))
    threading.Thread(
        target=prov.loop, args=("/api/v1/persistentvolumes", prov.reclaim), daemon=True
    ).start()
    log(f"provisioning StorageClass {CLASS} ({NAME}) under {args.root}")
    prov.loop("/api/v1/persistentvolumeclaims", prov.provision)
    return 0


if __name__ == "__main__":
    os.umask(0o022)
    sys.exit(main())
