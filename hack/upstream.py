"""The Go original (jupyter-infra/jupyter-k8s) as a subject of `make bench`: the side by side.

`make bench BENCH_ARGS="--upstream DIR"` runs the same benchmark against the upstream Go
controller built from DIR, a git checkout of it, on the same local cluster: its own CRDs instead
of ours, the same Workspace spelled in its API (10m CPU, 32Mi, a 1 Gi claim of the default
class, the same image), its webhooks off (they need a certificate the local cluster does not
provision for it; this operator's owner webhook stays on the path of its creates unless
`--webhook-off`), timed by the same watches. It is built here into the tool cache, keyed by its commit, with the project's Go
settings (hack/tools.py): a cold build fetches its modules from the Go module proxy.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tools  # hack/tools.py


@dataclass(frozen=True)
class Upstream:
    binary: Path
    crds: Path
    commit: str


def build(src: Path) -> Upstream:
    """The controller of the checkout `src`, built once per commit into the tool cache."""
    if not (src / "cmd" / "main.go").is_file() or not (src / "config" / "crd" / "bases").is_dir():
        raise SystemExit(
            f"--upstream {src}: not a checkout of jupyter-infra/jupyter-k8s "
            "(cmd/main.go and config/crd/bases/ are missing)"
        )
    out = subprocess.run(
        ["git", "-C", str(src), "describe", "--always", "--dirty"], capture_output=True, text=True
    )
    commit = out.stdout.strip()
    if out.returncode != 0 or not commit or commit.endswith("-dirty"):
        # A cache keyed by something that does not name the code would serve stale binaries.
        raise SystemExit(
            f"--upstream {src}: needs a clean git checkout (its commit keys the build); "
            f"git said: {out.stderr.strip() or commit}"
        )
    home = tools.CACHE / f"upstream-{commit}"
    binary = home / "manager"
    if not binary.is_file():
        tools.log(f"building the Go original at {commit} (cold: a few minutes) ...")
        t0 = time.monotonic()
        tools.CACHE.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f"upstream-{commit}.", dir=tools.CACHE))
        try:
            subprocess.run(
                ["go", "build", "-o", str(work / "manager"), "./cmd"],
                cwd=src,
                env={**os.environ, **tools.go_env()},
                check=True,
            )
            work.rename(home)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        tools.log(f"upstream-{commit} built in {tools.duration(time.monotonic() - t0)}")
    return Upstream(binary, src / "config" / "crd" / "bases", commit)


def workspace(name: str, image: str, storage_class: str | None) -> dict[str, Any]:
    """The bench's Workspace in the Go original's API (no template: it has none to default)."""
    storage: dict[str, Any] = {"size": "1Gi"}
    if storage_class:
        storage["storageClassName"] = storage_class
    return {
        "apiVersion": "workspace.jupyter.org/v1alpha1",
        "kind": "Workspace",
        "metadata": {"name": name},
        "spec": {
            "displayName": name,
            "image": image,
            "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}},
            "storage": storage,
        },
    }


def command(up: Upstream, metrics_port: int, health_port: int) -> list[str]:
    return [
        str(up.binary),
        f"--metrics-bind-address=127.0.0.1:{metrics_port}",
        "--metrics-secure=false",
        f"--health-probe-bind-address=127.0.0.1:{health_port}",
        "--leader-elect=false",
    ]


# Its webhooks need a serving certificate and a webhook configuration that only its kustomize
# deployment makes; off, as its own code allows.
ENV = {"ENABLE_WORKSPACE_WEBHOOK": "false", "ENABLE_WORKSPACE_TEMPLATE_WEBHOOK": "false"}
