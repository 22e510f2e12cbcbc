"""jk (also `kubectl jk`): desktop access to jupyter-k8s workspaces.

jk login https://auth.<domain> [--ca-file CA]   sign in (browser, loopback redirect)
jk ssh-config [--install]                       write the ssh config block (Host *.jk)
jk ssh <namespace>/<name> [-- command]          ssh into a workspace through the tunnel
jk code <namespace>/<name>                      open it in desktop VS Code (Remote-SSH)
jk tunnel <host>                                ssh's ProxyCommand (used by the config)
jk ssh-cert <host>                              a fresh certificate (used by the config)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import webbrowser
from pathlib import Path
from typing import Any

import aiohttp

from . import ssh, tunnel, workspaces
from .login import expires_in, login
from .profile import CliError, Profile, Tokens


def _login(args: argparse.Namespace) -> None:
    platform = args.platform.rstrip("/")
    if not platform.startswith("https://"):
        raise CliError(f"{platform}: give the platform's HTTPS address, e.g. https://auth.<domain>")
    ca = str(Path(args.ca_file).resolve()) if args.ca_file else None
    profile = Profile(platform, ca)
    tokens = asyncio.run(login(profile, open_browser=not args.no_browser))
    profile.save()
    tokens.save()
    print(f"Signed in to {platform} (valid {expires_in(tokens)}, renewed by itself).")


def _logout(_: argparse.Namespace) -> None:
    Tokens.forget()
    print("Signed out here (the platform's browser session is not affected).")


def _ssh_config(args: argparse.Namespace) -> None:
    profile = Profile.load()
    install = Path(args.install).expanduser() if args.install else None
    try:
        found = asyncio.run(workspaces.listing(profile))["items"]
        hosts = [ssh.host_alias(w["namespace"], w["name"]) for w in found]
    except (CliError, OSError, aiohttp.ClientError) as err:
        print(f"jk: not listing your workspaces in it ({err}); any <name>.<namespace>.jk works")
        hosts = []
    path = ssh.write_config(profile, install, hosts)
    if install is not None:
        print(f"Wrote {path}; {install} includes it.")
    else:
        print(f"Wrote {path}. Add this line at the top of ~/.ssh/config (or use --install):")
        print(f"Include {path}")
    print("Then: ssh <workspace>.<namespace>.jk")


def _ssh_cert(args: argparse.Namespace) -> None:
    namespace, name = ssh.parse_target(args.host)
    asyncio.run(ssh.fetch_certificate(Profile.load(), namespace, name))


def _tunnel(args: argparse.Namespace) -> None:
    namespace, name = ssh.parse_target(args.host)
    asyncio.run(tunnel.run(Profile.load(), namespace, name))


def _list(_: argparse.Namespace) -> None:
    found = asyncio.run(workspaces.listing(Profile.load()))
    if not found["items"]:
        print(f"No workspace you may open ({found['user']}).")
        return
    print(workspaces.table(found["items"]))


def _start(args: argparse.Namespace) -> None:
    namespace, name = ssh.parse_target(args.workspace)
    asyncio.run(workspaces.start_and_wait(Profile.load(), namespace, name, wait=not args.no_wait))


def _stop(args: argparse.Namespace) -> None:
    namespace, name = ssh.parse_target(args.workspace)
    ws = asyncio.run(workspaces.set_status(Profile.load(), namespace, name, "stop"))
    print(f"{namespace}/{name}: stopping (its files are kept); phase {ws['phase']}.")


def _open(args: argparse.Namespace) -> None:
    namespace, name = ssh.parse_target(args.workspace)
    ws = asyncio.run(workspaces.one(Profile.load(), namespace, name))
    if not ws.get("url"):
        raise CliError(f"{namespace}/{name} has no URL (no WorkspaceManager routes it)")
    print(ws["url"])
    if not args.no_browser:
        webbrowser.open(ws["url"])


def _ready(profile: Profile, namespace: str, name: str) -> None:
    """A certificate for a running workspace; a stopped one is offered a start (on a terminal)."""
    try:
        asyncio.run(ssh.fetch_certificate(profile, namespace, name))
    except CliError as err:
        if "start it first" not in str(err) or not sys.stdin.isatty():
            raise
        answer = input(f"{err}. Start it now? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            raise
        asyncio.run(workspaces.start_and_wait(profile, namespace, name))
        asyncio.run(ssh.fetch_certificate(profile, namespace, name))


def _exec_ssh(namespace: str, name: str, extra: list[str]) -> None:
    profile = Profile.load()
    _ready(profile, namespace, name)
    config = ssh.write_config(profile, None)
    client = shutil.which("ssh")
    if client is None:
        raise CliError("OpenSSH's ssh is not installed (openssh-client)")
    os.execv(client, [client, "-F", str(config), ssh.host_alias(namespace, name), *extra])  # noqa: S606


def _ssh(args: argparse.Namespace) -> None:
    namespace, name = ssh.parse_target(args.workspace)
    _exec_ssh(namespace, name, [a for a in args.command if a != "--"])


def _code(args: argparse.Namespace) -> None:
    namespace, name = ssh.parse_target(args.workspace)
    code = shutil.which("code")
    if code is None:
        raise CliError(
            "VS Code's `code` command is not on PATH (VS Code: Shell Command: Install 'code'); "
            f"or connect with Remote-SSH to {ssh.host_alias(namespace, name)} after "
            "jk ssh-config --install"
        )
    profile = Profile.load()
    ssh.write_config(profile, Path("~/.ssh/config").expanduser())
    _ready(profile, namespace, name)
    alias = ssh.host_alias(namespace, name)
    os.execv(code, [code, "--remote", f"ssh-remote+{alias}", args.path])  # noqa: S606


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="jk", description="Desktop access to jupyter-k8s workspaces, through the platform."
    )
    sub = p.add_subparsers(dest="command", required=True)

    def command(name: str, help_: str, run: Any, target: str = "") -> argparse.ArgumentParser:
        c = sub.add_parser(name, help=help_)
        if target == "workspace":
            c.add_argument("workspace", help="<namespace>/<name>")
        elif target == "host":
            c.add_argument("host", help="<name>.<namespace>.jk")
        c.set_defaults(run=run)
        return c

    c = command("login", "sign in to a platform", _login)
    c.add_argument("platform", help="https://auth.<domain>")
    c.add_argument("--ca-file", help="the platform's CA bundle (private CAs)")
    c.add_argument(
        "--no-browser", action="store_true", help="print the sign-in address, open nothing"
    )
    command("logout", "forget the tokens", _logout)
    command("list", "your workspaces and those shared with you", _list)
    c = command(
        "start", "start a workspace (owner or admin) and wait until it runs", _start, "workspace"
    )
    c.add_argument("--no-wait", action="store_true", help="do not wait until it runs")
    command("stop", "stop a workspace (owner or admin); its files are kept", _stop, "workspace")
    c = command("open", "open a workspace in the browser", _open, "workspace")
    c.add_argument("--no-browser", action="store_true", help="only print the URL")
    c = command("ssh-config", "write the ssh config block for the workspaces", _ssh_config)
    c.add_argument(
        "--install",
        nargs="?",
        const="~/.ssh/config",
        metavar="SSH_CONFIG",
        help="add an Include line to this ssh config (default ~/.ssh/config)",
    )
    c = command("ssh", "ssh into a workspace", _ssh, "workspace")
    c.add_argument("command", nargs=argparse.REMAINDER, help="a command to run there")
    c = command("code", "open a workspace in desktop VS Code (Remote-SSH)", _code, "workspace")
    c.add_argument("--path", default="/home/jovyan", help="folder to open (default the home)")
    command("tunnel", "ssh ProxyCommand: stdin/stdout to the workspace", _tunnel, "host")
    command(
        "ssh-cert", "fetch a certificate for a workspace (ssh config uses it)", _ssh_cert, "host"
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        args.run(args)
    except CliError as err:
        print(f"jk: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except (OSError, aiohttp.ClientError) as err:  # the network, said plainly
        print(f"jk: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    return 0
