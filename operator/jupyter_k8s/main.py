"""`jupyter-k8s-operator run`: the operator process (Kopf, standalone, one replica)."""

from __future__ import annotations

import argparse
import os
import sys

import kopf

from .config import ConfigError, Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jupyter-k8s-operator")
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
    if args.command == "authz":
        from .authz.server import run as run_authz

        run_authz()
        return 0
    try:
        settings = Settings.from_env()
    except ConfigError as err:
        print(f"jupyter-k8s-operator: configuration error: {err}", file=sys.stderr)
        return 2

    from . import handlers  # noqa: F401 - registers the handlers with Kopf

    kopf.configure(
        verbose=args.verbose,
        log_format=kopf.LogFormat.JSON if settings.log_format == "json" else kopf.LogFormat.PLAIN,
    )
    kopf.run(
        standalone=True,  # one replica by design: no peering objects needed
        clusterwide=not settings.namespaces,
        namespaces=list(settings.namespaces),
        liveness_endpoint=f"http://{settings.health_addr}:{settings.health_port}/healthz",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
