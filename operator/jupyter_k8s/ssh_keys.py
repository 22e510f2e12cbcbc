"""SSH keys of the desktop tunnel, all derived from the platform's proxy key.

Like the proxy secret (proxy_secret.py) nothing is stored centrally: the operator and the
authorization service hold the same key and derive the same values.
- The user CA signs short-lived user certificates (authorization service, after `connect`);
  each workspace's SSH server trusts it for one principal: its own workspace.
- Each workspace's host key is derived from namespace/name/uid: stable across restarts (no
  "host key changed"), new for a re-created workspace. The CLI learns it with the certificate.
Rotating the proxy key rotates all of them.
"""

from __future__ import annotations

import secrets
import time

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import ssh

HOST_KEY_ENV = "JUPYTER_K8S_SSH_HOST_KEY"  # the pod's host key (OpenSSH private key)
USER_CA_ENV = "JUPYTER_K8S_SSH_USER_CA"  # the user CA's public key the pod trusts
SECRET_HOST_KEY = "ssh-host-key"  # noqa: S105 - a key name in the workspace's Secret
SECRET_USER_CA = "ssh-user-ca"  # noqa: S105 - a key name
SSH_PORT = 2222  # inside the pod; never a Service port
CERT_SECONDS = 300
# Clocks differ a little between the service and the pod.
CLOCK_SKEW_SECONDS = 60
# What a certificate permits: a shell, SFTP and port forwarding (VS Code Remote-SSH needs
# both); agent and X11 forwarding are left out.
EXTENSIONS = ("permit-port-forwarding", "permit-pty", "permit-user-rc")


def _derive(key: bytes, info: str) -> Ed25519PrivateKey:
    seed = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info.encode()).derive(key)
    return Ed25519PrivateKey.from_private_bytes(seed)


def user_ca(key: bytes) -> Ed25519PrivateKey:
    return _derive(key, "jupyter-k8s ssh user ca v1")


def host_key(key: bytes, namespace: str, name: str, uid: str) -> Ed25519PrivateKey:
    return _derive(key, f"jupyter-k8s ssh host key v1 {namespace}/{name}/{uid}")


def private_openssh(k: Ed25519PrivateKey) -> str:
    return k.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()


def public_openssh(k: Ed25519PrivateKey) -> str:
    return (
        k.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )


def principal(namespace: str, name: str) -> str:
    """The one principal a workspace's SSH server accepts: the workspace itself."""
    return f"workspace:{namespace}/{name}"


class BadPublicKey(ValueError):
    pass


def sign_user(
    ca: Ed25519PrivateKey,
    public_key: str,
    *,
    user: str,
    namespace: str,
    name: str,
    seconds: int = CERT_SECONDS,
    now: float | None = None,
) -> str:
    """An OpenSSH user certificate for `public_key` (one authorized_keys line): key ID = the
    user (sshd logs it), valid for this workspace only, for `seconds`."""
    try:
        loaded = ssh.load_ssh_public_identity(public_key.strip().encode())
    except (ValueError, TypeError, UnsupportedAlgorithm) as err:
        raise BadPublicKey(f"not an OpenSSH public key: {err}") from None
    if not isinstance(loaded, Ed25519PublicKey):
        raise BadPublicKey("use an ed25519 key (ssh-keygen -t ed25519)")
    at = int(now if now is not None else time.time())
    builder = (
        ssh.SSHCertificateBuilder()
        .public_key(loaded)
        .serial(secrets.randbits(64))
        .type(ssh.SSHCertificateType.USER)
        .key_id(user.encode())
        .valid_principals([principal(namespace, name).encode()])
        .valid_after(at - CLOCK_SKEW_SECONDS)
        .valid_before(at + seconds)
    )
    for ext in EXTENSIONS:
        builder = builder.add_extension(ext.encode(), b"")
    cert = builder.sign(ca)
    return cert.public_bytes().decode()
