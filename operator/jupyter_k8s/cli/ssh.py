"""The SSH side of the CLI: the user's key, certificates per workspace, the pinned host keys and
the ssh config block that makes plain `ssh`, `scp` and VS Code Remote-SSH use the tunnel.

Host names are `<workspace>.<namespace>.jk`. Before each connection ssh runs `jk ssh-cert`
(a `Match exec` line): it fetches a certificate (valid minutes, issued after the `connect`
decision) and pins the workspace's host key as the platform reported it.
"""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import ssh

from .http import error_of, session
from .login import current_token
from .profile import CliError, Profile, config_dir, write_private

SUFFIX = ".jk"


def ssh_dir() -> Path:
    return config_dir() / "ssh"


def host_alias(namespace: str, name: str) -> str:
    return f"{name}.{namespace}{SUFFIX}"


def parse_target(target: str) -> tuple[str, str]:
    """<namespace>/<name> or the ssh host name <name>.<namespace>.jk -> (namespace, name)."""
    if "/" in target:
        namespace, _, name = target.partition("/")
    elif target.endswith(SUFFIX) and "." in target[: -len(SUFFIX)]:
        name, _, namespace = target[: -len(SUFFIX)].rpartition(".")
    else:
        namespace, name = "", ""
    if not namespace or not name:
        raise CliError(
            f"{target!r}: name a workspace as <namespace>/<name> (or <name>.<namespace>.jk)"
        )
    return namespace, name


def user_key() -> Path:
    """The user's SSH key for workspaces (made once; only ever used with short certificates)."""
    path = ssh_dir() / "id_ed25519"
    if not path.exists():
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        ).decode()
        public = key.public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        )
        write_private(path, pem)
        write_private(path.with_suffix(".pub"), public.decode() + " jupyter-k8s\n")
    return path


def cert_path(alias: str) -> Path:
    return ssh_dir() / "certs" / f"{alias}-cert.pub"


def known_hosts() -> Path:
    return ssh_dir() / "known_hosts"


def _valid_for(path: Path) -> float:
    try:
        cert = ssh.load_ssh_public_identity(path.read_bytes().strip())
    except (OSError, ValueError):
        return 0
    if not isinstance(cert, ssh.SSHCertificate):
        return 0
    return cert.valid_before - time.time()


def _pin(alias: str, host_key: str) -> None:
    """The workspace's host key, as the platform says it is (a re-created workspace has a new
    one, replaced here; nothing is trusted on first use)."""
    path = known_hosts()
    lines = path.read_text().splitlines() if path.exists() else []
    kept = [line for line in lines if line.split(" ", 1)[0] != alias]
    write_private(path, "\n".join([*kept, f"{alias} {host_key.strip()}"]) + "\n")


async def fetch_certificate(profile: Profile, namespace: str, name: str) -> Path:
    """A certificate for this workspace valid a minute more at least (fetched when not)."""
    alias = host_alias(namespace, name)
    path = cert_path(alias)
    if _valid_for(path) > 60 and known_hosts().exists():
        return path
    public = user_key().with_suffix(".pub").read_text().strip()
    token = await current_token(profile)
    async with (
        session(profile) as s,
        s.post(
            f"{profile.platform}/_jk/ssh/certificate",
            json={"namespace": namespace, "name": name, "publicKey": public},
            headers={"Authorization": f"Bearer {token}"},
        ) as resp,
    ):
        if resp.status != 200:
            raise CliError(f"{namespace}/{name}: {await error_of(resp)}")
        body = await resp.json()
    write_private(path, body["certificate"].strip() + "\n")
    _pin(alias, body["hostKey"])
    return path


def self_command() -> str:
    """How ssh calls this CLI back: this interpreter and module, quoted for ssh_config."""
    return f"{shlex.quote(sys.executable)} -m jupyter_k8s.cli"


def config_block(profile: Profile, hosts: list[str] | None = None) -> str:
    """The wildcard block reaches any workspace; `hosts` (those of `jk list` when written) are
    named too, so VS Code's Remote-SSH host list shows them."""
    me = self_command()
    key = user_key()
    named = [f"Host {h}" for h in sorted(hosts or [])]
    return "\n".join(
        [
            f"# jupyter-k8s workspaces of {profile.platform}: written by `jk ssh-config`;",
            "# run it again rather than editing. Hosts: <workspace>.<namespace>.jk",
            *(
                ["# Your workspaces and those shared with you when this was written:"]
                if named
                else []
            ),
            *named,
            f'Match host *{SUFFIX} exec "{me} ssh-cert %h"',
            f"Host *{SUFFIX}",
            "    User jovyan",
            f"    ProxyCommand {me} tunnel %h",
            f"    IdentityFile {key}",
            f"    CertificateFile {ssh_dir()}/certs/%h-cert.pub",
            "    IdentitiesOnly yes",
            "    IdentityAgent none",
            "    ForwardAgent no",
            "    ForwardX11 no",
            f"    UserKnownHostsFile {known_hosts()}",
            "    StrictHostKeyChecking yes",
            "    ServerAliveInterval 30",
            "",
        ]
    )


def write_config(profile: Profile, install: Path | None, hosts: list[str] | None = None) -> Path:
    """Our own file; with `install`, an Include line at the top of that ssh config (added
    once, nothing else of it touched)."""
    path = ssh_dir() / "config"
    if hosts is None and path.exists():  # keep the named hosts of the last full write
        hosts = [
            line.split(" ", 1)[1]
            for line in path.read_text().splitlines()
            if line.startswith("Host ") and "*" not in line
        ]
    write_private(path, config_block(profile, hosts))
    if install is not None:
        line = f"Include {path}"
        text = install.read_text() if install.exists() else ""
        if line not in text.splitlines():
            install.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            # Include must come before any Host block to apply to every host.
            write_private(install, f"{line}\n{text}")
    return path
