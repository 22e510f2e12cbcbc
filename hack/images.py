#!/usr/bin/env python3
"""`make images`: the operator, JupyterLab and code-server images, built without a daemon if
need be, exported as OCI archives for the local cluster's real node.

    python hack/images.py build [NAME ...]   # build (engine layer cache) and export to dist/images/
    python hack/images.py base [--local]     # the base image: official, else one built from Debian
    python hack/images.py push [NAME ...]    # push to the registry in each tag
    python hack/images.py engine             # which engine, and how it is invoked

- Engine: $CONTAINER_TOOL, else the first of docker, podman, buildah that answers. None, and
  root with apt: podman/buildah/skopeo/mmdebstrap are installed from Debian. podman/buildah run
  with a project containers.conf ($JK_CACHE/containers/containers.conf) whose ulimits fit this
  host's hard limits and whose runtime is runc (crun refuses hybrid cgroup hosts).
- Base: BASE_IMAGE in the Dockerfiles defaults to the official Python image. When it cannot be
  pulled, `make base-image` builds `localhost/jupyter-k8s/python:3.11-slim-bookworm-local` from
  Debian packages (mmdebstrap) and the build uses it, saying so. $JK_BASE_IMAGE forces a base.
- An extra CA bundle (TLS-intercepting proxies): $JK_BUILD_CA_BUNDLE, else the bundle this
  environment's own tools trust (SSL_CERT_FILE, REQUESTS_CA_BUNDLE, PIP_CERT, CURL_CA_BUNDLE),
  is handed to the build as the secret `build-ca`: network steps trust it, no layer keeps it.
- podman/buildah build with `--format docker`: in OCI format they drop SHELL (and pipefail).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tools  # hack/tools.py: the cache and the timings

ROOT = tools.ROOT
OUT = ROOT / "dist" / "images"
OFFICIAL_BASE = "docker.io/library/python:3.11.13-slim-bookworm"
LOCAL_BASE = "localhost/jupyter-k8s/python:3.11-slim-bookworm-local"
VERSION = "0.1.0"
# name -> (default tag, environment variable overriding it, expected cold build time)
IMAGES = {
    "operator": (f"ghcr.io/jupyter-k8s/jupyter-k8s:{VERSION}", "IMG", "~1.5 min"),
    "jupyterlab": (f"ghcr.io/jupyter-k8s/jupyterlab:{VERSION}", "IMG_JUPYTERLAB", "~2 min"),
    "code-server": (f"ghcr.io/jupyter-k8s/code-server:{VERSION}", "IMG_CODE_SERVER", "~3 min"),
}
# Guided mode's platform, for machines that cannot pull the upstream images: the binary a
# tool built (hack/tools.py) on the project's base; name -> (tag, tool). The stack uses these
# names when its `platformImages` is `local`.
PLATFORM = {
    "traefik": (f"localhost/jupyter-k8s/traefik:v{tools.TRAEFIK_VERSION}", "traefik"),
    "oauth2-proxy": (
        f"localhost/jupyter-k8s/oauth2-proxy:{tools.OAUTH2_PROXY_VERSION}",
        "oauth2-proxy",
    ),
    "dex": (f"localhost/jupyter-k8s/dex:{tools.DEX_VERSION}", "dex"),
}
ALL = [*IMAGES, *PLATFORM]
ENGINE_PACKAGES = (
    "podman",
    "buildah",
    "skopeo",
    "mmdebstrap",
    "uidmap",
    "runc",
    "iptables",
    "containernetworking-plugins",
)
# The local base: what python:3.11-slim-bookworm has that the images use, from Debian.
BASE_PACKAGES = "python3,python3-venv,python3-pip,python-is-python3,ca-certificates,netbase,tzdata"


def log(msg: str) -> None:
    print(f"[images] {msg}", file=sys.stderr, flush=True)


def tag(name: str) -> str:
    if name in PLATFORM:
        return PLATFORM[name][0]
    default, env, _ = IMAGES[name]
    return os.environ.get(env) or default


def _recipe(name: str) -> tuple[Path, Path, str]:
    """(Dockerfile, build context, expected cold time) of an image."""
    if name in PLATFORM:
        tools.require(PLATFORM[name][1])
        context = Path(tools.paths()[f"{PLATFORM[name][1].upper().replace('-', '_')}_BIN"])
        return ROOT / "images" / "platform" / name / "Dockerfile", context, "~20 s"
    return ROOT / "images" / name / "Dockerfile", ROOT, IMAGES[name][2]


@dataclass
class Engine:
    name: str
    env: dict[str, str] = field(default_factory=dict)

    def run(
        self, *args: str, check: bool = True, quiet: bool = False, **kw: object
    ) -> subprocess.CompletedProcess[str]:
        res = subprocess.run(
            [self.name, *args],
            env={**os.environ, **self.env},
            capture_output=quiet,
            text=True,
            **kw,  # type: ignore[call-overload]
        )
        if check and res.returncode != 0:
            detail = f":\n{res.stderr[-3000:]}" if quiet else ""
            raise SystemExit(
                f"{self.name} {' '.join(args[:3])} ... failed ({res.returncode}){detail}"
            )
        return res

    @property
    def daemonless(self) -> bool:
        return self.name in ("podman", "buildah")

    def exists(self, ref: str) -> bool:
        sub = ["image", "inspect"] if self.name != "buildah" else ["inspect", "--type", "image"]
        return self.run(*sub, ref, check=False, quiet=True).returncode == 0

    def inspect(self, ref: str) -> dict[str, object]:
        sub = ["image", "inspect"] if self.name != "buildah" else ["inspect", "--type", "image"]
        out = json.loads(self.run(*sub, ref, quiet=True).stdout)
        return dict(out[0] if isinstance(out, list) else out)


def _containers_conf() -> Path:
    """podman/buildah settings that work on hosts like this one: ulimits within the hard
    limits (root may lack CAP_SYS_RESOURCE) and runc (crun rejects hybrid cgroups)."""
    import resource

    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nproc = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    nofile = 1048576 if nofile == resource.RLIM_INFINITY else min(nofile, 1048576)
    nproc = 32768 if nproc == resource.RLIM_INFINITY else min(nproc, 32768)
    conf = tools.CACHE / "containers" / "containers.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(
        "# Written by hack/images.py for this machine.\n[containers]\n"
        f'default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]\n'
        '[engine]\nruntime = "runc"\n'
    )
    return conf


def _answers(name: str) -> bool:
    if not shutil.which(name):
        return False
    probe = ["info"] if name != "buildah" else ["version"]
    return subprocess.run([name, *probe], capture_output=True).returncode == 0


def _install_engine() -> None:
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise SystemExit(
            "no container engine answers (docker, podman or buildah). Install one (e.g. "
            f"`apt-get install {' '.join(ENGINE_PACKAGES)}` as root), or set CONTAINER_TOOL."
        )
    log(f"no container engine: installing {' '.join(ENGINE_PACKAGES)} from Debian (~1 min)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *ENGINE_PACKAGES],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )


def find_engine(install: bool = True) -> Engine:
    wanted = os.environ.get("CONTAINER_TOOL")
    candidates = [wanted] if wanted else ["docker", "podman", "buildah"]
    found = next((c for c in candidates if _answers(c)), None)
    if found is None and install and not wanted:
        _install_engine()
        found = "podman" if _answers("podman") else None
    if found is None:
        raise SystemExit(f"container engine {wanted or 'docker/podman/buildah'} does not answer")
    engine = Engine(found)
    if engine.daemonless:
        engine.env["CONTAINERS_CONF"] = str(_containers_conf())
    else:
        engine.env["DOCKER_BUILDKIT"] = "1"  # RUN --mount=type=secret
    return engine


def ca_bundle() -> Path:
    """The extra CA bundle handed to builds (an empty file when there is none)."""
    for var in (
        "JK_BUILD_CA_BUNDLE",
        "SSL_CERT_FILE",
        "REQUESTS_CA_BUNDLE",
        "PIP_CERT",
        "CURL_CA_BUNDLE",
    ):
        value = os.environ.get(var)
        if value and Path(value).is_file():
            return Path(value)
    empty = tools.CACHE / "containers" / "no-extra-ca.pem"
    empty.parent.mkdir(parents=True, exist_ok=True)
    empty.write_text("")
    return empty


# --- the base image -----------------------------------------------------------------------

_BASE_RECIPE = (
    f"mmdebstrap minbase bookworm {BASE_PACKAGES}; EXTERNALLY-MANAGED removed; docs, man pages, "
    "apt lists and __pycache__ removed; ENV LANG=C.UTF-8, PATH; CMD python3"
)


def _base_recipe_hash() -> str:
    return hashlib.sha256(_BASE_RECIPE.encode()).hexdigest()[:16]


def build_local_base(engine: Engine) -> str:
    labels = (engine.inspect(LOCAL_BASE).get("Labels") or {}) if engine.exists(LOCAL_BASE) else {}
    if (
        isinstance(labels, dict)
        and labels.get("org.jupyter-k8s.base-recipe") == _base_recipe_hash()
    ):
        return LOCAL_BASE
    if not shutil.which("mmdebstrap"):
        raise SystemExit("the local base needs mmdebstrap: apt-get install mmdebstrap")
    log(f"base {LOCAL_BASE}: building from Debian packages (cold: ~2.5 min on 2 cores)")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="jk-base-") as tmp:
        rootfs = Path(tmp) / "rootfs.tar"
        logfile = tools.CACHE / "logs" / "image-base.log"
        logfile.parent.mkdir(parents=True, exist_ok=True)
        with open(logfile, "w") as out:
            res = subprocess.run(
                [
                    "mmdebstrap",
                    "--variant=minbase",
                    "--format=tar",
                    f"--include={BASE_PACKAGES}",
                    "--dpkgopt=path-exclude=/usr/share/man/*",
                    "--dpkgopt=path-exclude=/usr/share/doc/*",
                    "--dpkgopt=path-include=/usr/share/doc/*/copyright",
                    "--dpkgopt=path-exclude=/usr/share/locale/*",
                    "--dpkgopt=path-exclude=/usr/share/info/*",
                    # Debian marks its Python externally managed; the Dockerfiles pip-install
                    # into it as they do into the official image.
                    '--customize-hook=rm -f "$1"/usr/lib/python3.11/EXTERNALLY-MANAGED',
                    '--customize-hook=rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin',
                    '--customize-hook=find "$1"/usr/lib/python3* -name __pycache__ -prune -exec rm -rf {} +',
                    "bookworm",
                    str(rootfs),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        if res.returncode != 0:
            raise SystemExit(f"mmdebstrap failed; see {logfile}")
        engine.run(
            "import",
            "--change",
            "ENV LANG=C.UTF-8",
            "--change",
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "--change",
            'CMD ["python3"]',
            "--change",
            f"LABEL org.jupyter-k8s.base-recipe={_base_recipe_hash()}",
            str(rootfs),
            LOCAL_BASE,
            quiet=True,
        )
    log(f"base {LOCAL_BASE}: built in {tools.duration(time.monotonic() - started)}")
    return LOCAL_BASE


def base_image(engine: Engine, local: bool = False) -> str:
    forced = os.environ.get("JK_BASE_IMAGE")
    if forced:
        return forced
    if not local:
        if engine.exists(OFFICIAL_BASE):
            return OFFICIAL_BASE
        try:
            pulled = engine.run("pull", OFFICIAL_BASE, check=False, quiet=True, timeout=120)
            if pulled.returncode == 0:
                return OFFICIAL_BASE
        except subprocess.TimeoutExpired:
            pass
        log(
            f"the official base {OFFICIAL_BASE} cannot be pulled (no registry reachable?): "
            f"using {LOCAL_BASE}, built from Debian packages (README: Images)"
        )
    return build_local_base(engine)


# --- the images -----------------------------------------------------------------------------


def build(engine: Engine, name: str, base: str) -> None:
    ref = tag(name)
    dockerfile, context, cold = _recipe(name)
    before = engine.inspect(ref).get("Id") if engine.exists(ref) else None
    log(f"{name} {ref}: building (cold: {cold} on 2 cores; cached layers make it seconds)")
    started = time.monotonic()
    argv = [
        "build",
        "-f",
        str(dockerfile),
        "-t",
        ref,
        "--build-arg",
        f"BASE_IMAGE={base}",
        "--secret",
        f"id=build-ca,src={ca_bundle()}",
        "--network",
        "host",
    ]
    if engine.daemonless:
        argv += ["--format", "docker", "--layers"]
    logfile = tools.CACHE / "logs" / f"image-{name}.log"
    logfile.parent.mkdir(parents=True, exist_ok=True)
    with open(logfile, "w") as out:
        res = subprocess.run(
            [engine.name, *argv, str(context)],
            env={**os.environ, **engine.env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    if res.returncode != 0:
        tail = "\n".join(logfile.read_text(errors="replace").splitlines()[-40:])
        raise SystemExit(f"building {name} failed:\n{tail}\n(full log: {logfile})")
    took = time.monotonic() - started
    info = engine.inspect(ref)
    size = int(info.get("Size") or 0) / 1e6  # type: ignore[call-overload]
    changed = info.get("Id") != before
    log(
        f"{name}: built in {tools.duration(took)}, {size:.0f} MB{'' if changed else ' (unchanged)'}"
    )
    tools.record(f"image {name}", "", took if changed else None)


def export(engine: Engine, name: str) -> Path:
    """An OCI archive the real node's containerd imports (`ctr images import`)."""
    ref = tag(name)
    image_id = str(engine.inspect(ref).get("Id"))
    OUT.mkdir(parents=True, exist_ok=True)
    archive, stamp = OUT / f"{name}.tar", OUT / f"{name}.id"
    if archive.exists() and stamp.exists() and stamp.read_text() == image_id:
        return archive
    partial = archive.with_suffix(".tar.partial")
    partial.unlink(missing_ok=True)
    if engine.daemonless and shutil.which("skopeo"):
        # skopeo records the full name in the archive, which is what containerd names it.
        res = subprocess.run(
            [
                "skopeo",
                "copy",
                "--quiet",
                f"containers-storage:{ref}",
                f"oci-archive:{partial}:{ref}",
            ],
            env={**os.environ, **engine.env},
            capture_output=True,
            text=True,
        )
        if res.returncode != 0:
            raise SystemExit(f"exporting {name} failed: {res.stderr.strip()}")
    elif engine.name == "buildah":
        engine.run("push", "--quiet", ref, f"oci-archive:{partial}:{ref}")
    else:
        engine.run("save", "-o", str(partial), ref)
    partial.rename(archive)
    stamp.write_text(image_id)
    log(f"{name}: exported {archive.relative_to(ROOT)} ({archive.stat().st_size / 1e6:.0f} MB)")
    return archive


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["build", "base", "push", "engine"])
    parser.add_argument("names", nargs="*", help=f"some of {', '.join(ALL)} (default: all)")
    parser.add_argument("--local", action="store_true", help="base: build the Debian base")
    parser.add_argument("--no-export", action="store_true", help="build: skip dist/images/")
    args = parser.parse_args()
    unknown = [n for n in args.names if n not in ALL]
    if unknown:
        parser.error(f"unknown image {unknown[0]!r}; choose from {', '.join(ALL)}")
    engine = find_engine()
    names = args.names or ALL
    if args.command == "engine":
        print(json.dumps({"engine": engine.name, "env": engine.env}))
        return 0
    if args.command == "base":
        print(base_image(engine, local=args.local))
        return 0
    if args.command == "push":
        for name in args.names or list(IMAGES):  # the platform's are local stand-ins
            engine.run("push", tag(name))
        return 0
    base = base_image(engine)
    for name in names:
        build(engine, name, base)
        if not args.no_export:
            export(engine, name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
