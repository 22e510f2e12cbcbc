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
from pathlib import Path

from . import ssh, tunnel
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
    path = ssh.write_config(profile, install)
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


def _exec_ssh(namespace: str, name: str, extra: list[str]) -> None:
    profile = Profile.load()
    asyncio.run(ssh.fetch_certificate(profile, namespace, name))
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
    asyncio.run(ssh.fetch_certificate(profile, namespace, name))
    alias = ssh.host_alias(namespace, name)
    os.execv(code, [code, "--remote", f"ssh-remote+{alias}", args.path])  # noqa: S606


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="jk", description="Desktop access to jupyter-k8s workspaces, through the platform."
    )
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("login", help="sign in to a platform")
    c.add_argument("platform", help="https://auth.<domain>")
    c.add_argument("--ca-file", help="the platform's CA bundle (private CAs)")
    c.add_argument(
        "--no-browser", action="store_true", help="print the sign-in address, open nothing"
    )
    c.set_defaults(run=_login)
    c = sub.add_parser("logout", help="forget the tokens")
    c.set_defaults(run=_logout)
    c = sub.add_parser("ssh-config", help="write the ssh config block for the workspaces")
    c.add_argument(
        "--install",
        nargs="?",
        const="~/.ssh/config",
        metavar="SSH_CONFIG",
        help="add an Include line to this ssh config (default ~/.ssh/config)",
    )
    c.set_defaults(run=_ssh_config)
    c = sub.add_parser("ssh", help="ssh into a workspace")
    c.add_argument("workspace", help="<namespace>/<name>")
    c.add_argument("command", nargs=argparse.REMAINDER, help="a command to run there")
    c.set_defaults(run=_ssh)
    c = sub.add_parser("code", help="open a workspace in desktop VS Code (Remote-SSH)")
    c.add_argument("workspace", help="<namespace>/<name>")
    c.add_argument("--path", default="/home/jovyan", help="folder to open (default the home)")
    c.set_defaults(run=_code)
    c = sub.add_parser("tunnel", help="ssh ProxyCommand: stdin/stdout to the workspace")
    c.add_argument("host", help="<name>.<namespace>.jk")
    c.set_defaults(run=_tunnel)
    c = sub.add_parser("ssh-cert", help="fetch a certificate for a workspace (ssh config uses it)")
    c.add_argument("host", help="<name>.<namespace>.jk")
    c.set_defaults(run=_ssh_cert)
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
    return 0
