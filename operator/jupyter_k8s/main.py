"""`jupyter-k8s-operator run`: the operator process (Kopf, standalone, one replica)."""

from __future__ import annotations

import argparse
import gc
import os
import socket
import sys

# Kopf imports the official client, when it is installed, only to offer a login through it (at
# the cost of ~20 MiB per process: every generated model). The operator logs in itself
# (kube/connection.py); in the image the client is not installed, in a dev environment it is.
sys.modules.setdefault("kubernetes", None)  # type: ignore[arg-type]

import kopf  # noqa: E402

from .config import ConfigError, Settings  # noqa: E402

PROG = "jupyter-k8s-operator"


def _cluster_or_exit() -> None:
    """One clear line instead of retrying forever (or a traceback) without a cluster."""
    from .kube.connection import KubeconfigError, load_connection

    try:
        load_connection().ssl_context()  # reads every file it names (certificates too)
    except (KubeconfigError, OSError, ValueError) as err:
        print(
            f"{PROG}: no Kubernetes cluster to talk to ({err}); run it in a cluster (its "
            "ServiceAccount) or point KUBECONFIG / --kubeconfig at one",
            file=sys.stderr,
        )
        raise SystemExit(2) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the operator")
    run.add_argument(
        "--kubeconfig", help="kubeconfig to use (default: in-cluster, then KUBECONFIG)"
    )
    run.add_argument("--verbose", action="store_true", help="debug logging")
    authz = sub.add_parser("authz", help="run the authorization service (forward-auth)")
    authz.add_argument(
        "--kubeconfig", help="kubeconfig to use (default: in-cluster, then KUBECONFIG)"
    )
    args = parser.parse_args(argv)

    if args.kubeconfig:
        os.environ["KUBECONFIG"] = args.kubeconfig
    _cluster_or_exit()
    if args.command == "authz":
        from .authz.server import run as run_authz

        run_authz()
        return 0
    try:
        settings = Settings.from_env()
    except ConfigError as err:
        print(f"{PROG}: configuration error: {err}", file=sys.stderr)
        return 2

    from . import handlers  # registers the handlers with Kopf

    if settings.webhook_mode != "off":
        handlers.register_webhooks()

    try:
        _run_kopf(args.verbose, settings)
    except kopf.PermanentError as err:
        # Start-up that cannot succeed by retrying (e.g. a webhook configuration owned by
        # another install): one line saying what to do, not a traceback.
        print(f"{PROG}: {err}", file=sys.stderr)
        return 1
    return 0


def _few_malloc_arenas() -> None:
    """glibc gives each thread that allocates its own malloc arena (up to 8 per core), and the
    API calls run in a thread pool: memory freed in one arena is not reused by another, which
    showed as resident memory that only grew. Two arenas are plenty for one event loop and a
    pool of short blocking calls. (MALLOC_ARENA_MAX=2 in the environment, set from inside;
    nothing happens where the C library is not glibc.)"""
    import ctypes
    import ctypes.util

    m_arena_max = -8  # from glibc's malloc.h
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(m_arena_max, int(os.environ.get("JK_MALLOC_ARENAS", "2")))
    except (OSError, AttributeError, ValueError):
        pass


def _run_kopf(verbose: bool, settings: Settings) -> None:
    _few_malloc_arenas()  # before any thread starts
    kopf.configure(
        verbose=verbose,
        log_format=kopf.LogFormat.JSON if settings.log_format == "json" else kopf.LogFormat.PLAIN,
    )
    from .handlers.kopf_tuning import quiet_handler_logs, watches_survive_errors

    watches_survive_errors()
    if not verbose:
        quiet_handler_logs()
    import uvloop

    from .metrics import time_gc

    time_gc()
    # What start-up made (modules, classes, Kopf's and pydantic's tables: ~70,000 objects)
    # lives as long as the process: out of the collector's sight, so that a full collection
    # walks only what the workspaces brought (it took 40-90 ms each time with them).
    gc.collect()
    gc.freeze()
    kopf.run(
        # uvloop, as Kopf's own CLI picks when installed: less CPU per watch event and API call.
        loop=uvloop.new_event_loop(),
        standalone=True,  # one replica by design: no peering objects needed
        # Its name for itself: Kopf would ask the password database, which has no entry for
        # the image's numeric user (65532).
        identity=socket.gethostname(),  # type: ignore[arg-type]  # Kopf does not export its NewType
        clusterwide=not settings.namespaces,
        namespaces=list(settings.namespaces),
        liveness_endpoint=f"http://{settings.health_addr}:{settings.health_port}/healthz",
    )


if __name__ == "__main__":
    sys.exit(main())
