"""Desktop access without a cluster: the derived SSH keys and certificates, what the operator
hands the pod, the CLI's ssh config, and the tunnel's refusals."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import ssh

from jupyter_k8s import ssh_keys
from jupyter_k8s.authz.decide import Identity
from jupyter_k8s.authz.tunnel import Tunnels
from jupyter_k8s.cli import ssh as cli_ssh
from jupyter_k8s.cli.profile import CliError, Profile
from jupyter_k8s.reconcile.children import SshKeys, build_deployment, build_proxy_secret

KEY = b"unit-test-proxy-key"


def user_public() -> str:
    return ssh_keys.public_openssh(Ed25519PrivateKey.generate())


def test_keys_are_derived_the_same_everywhere_and_differ_per_workspace() -> None:
    one = ssh_keys.public_openssh(ssh_keys.host_key(KEY, "team-a", "lab", "uid-1"))
    assert one == ssh_keys.public_openssh(ssh_keys.host_key(KEY, "team-a", "lab", "uid-1"))
    # A re-created workspace (new uid), another workspace, another key: another host key.
    assert one != ssh_keys.public_openssh(ssh_keys.host_key(KEY, "team-a", "lab", "uid-2"))
    assert one != ssh_keys.public_openssh(ssh_keys.host_key(KEY, "team-a", "lab2", "uid-1"))
    assert one != ssh_keys.public_openssh(ssh_keys.host_key(b"other", "team-a", "lab", "uid-1"))
    assert ssh_keys.public_openssh(ssh_keys.user_ca(KEY)) != one


def test_a_certificate_is_for_one_workspace_for_minutes_without_agent_forwarding() -> None:
    now = time.time()
    line = ssh_keys.sign_user(
        ssh_keys.user_ca(KEY), user_public(), user="alice@example.com", namespace="n", name="w"
    )
    cert = ssh.load_ssh_public_identity(line.encode())
    assert isinstance(cert, ssh.SSHCertificate)
    assert cert.type == ssh.SSHCertificateType.USER
    assert cert.key_id == b"alice@example.com"
    assert cert.valid_principals == [b"workspace:n/w"]
    assert now + ssh_keys.CERT_SECONDS - 5 <= cert.valid_before <= now + ssh_keys.CERT_SECONDS + 5
    assert set(cert.extensions) == {b"permit-port-forwarding", b"permit-pty", b"permit-user-rc"}
    cert.verify_cert_signature()
    assert cert.signature_key().public_bytes(  # type: ignore[union-attr]
        *_openssh()
    ) == ssh_keys.user_ca(KEY).public_key().public_bytes(*_openssh())


def _openssh() -> tuple[Any, Any]:
    from cryptography.hazmat.primitives import serialization

    return serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH


@pytest.mark.parametrize(
    ("key", "words"),
    [("not a key", "not an OpenSSH public key"), ("", "not an OpenSSH public key")],
)
def test_a_bad_public_key_is_refused_with_the_fix(key: str, words: str) -> None:
    with pytest.raises(ssh_keys.BadPublicKey, match=words):
        ssh_keys.sign_user(ssh_keys.user_ca(KEY), key, user="a", namespace="n", name="w")


def test_the_pod_gets_its_keys_only_when_the_ssh_server_is_on(ws_ref: Any, resolved: Any) -> None:
    keys = SshKeys(host_key="PRIVATE", user_ca="ssh-ed25519 AAAA")
    plain = build_deployment(
        ws_ref, resolved, running=True, base_url="/", owner="a", proxy_secret=True
    )
    with_ssh = build_deployment(
        ws_ref, resolved, running=True, base_url="/", owner="a", proxy_secret=True, ssh=True
    )
    env = lambda d: [e["name"] for e in d["spec"]["template"]["spec"]["containers"][0]["env"]]  # noqa: E731
    assert "JUPYTER_K8S_SSH_HOST_KEY" not in env(plain)  # off: pods as before (no restart)
    assert {"JUPYTER_K8S_SSH_HOST_KEY", "JUPYTER_K8S_SSH_USER_CA"} <= set(env(with_ssh))
    # From the workspace's Secret, never inline in the Deployment.
    assert all(
        "valueFrom" in e
        for e in with_ssh["spec"]["template"]["spec"]["containers"][0]["env"]
        if e["name"].startswith("JUPYTER_K8S_SSH")
    )
    assert set(build_proxy_secret(ws_ref, "s")["data"]) == {"secret"}
    assert set(build_proxy_secret(ws_ref, "s", keys)["data"]) == {
        "secret",
        "ssh-host-key",
        "ssh-user-ca",
    }


@pytest.fixture
def ws_ref() -> Any:
    from jupyter_k8s.reconcile.children import WorkspaceRef

    return WorkspaceRef(name="lab", namespace="team-a", uid="u1")


@pytest.fixture
def resolved() -> Any:
    from jupyter_k8s.api.workspace import WorkspaceSpec
    from jupyter_k8s.reconcile.resolve import resolve

    return resolve(WorkspaceSpec.model_validate({"displayName": "Lab"}), None)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("team-a/lab", ("team-a", "lab")),
        ("lab.team-a.jk", ("team-a", "lab")),
        ("my.lab.team-a.jk", ("team-a", "my.lab")),
    ],
)
def test_a_workspace_is_named_as_namespace_slash_name_or_its_ssh_host(
    target: str, expected: tuple[str, str]
) -> None:
    assert cli_ssh.parse_target(target) == expected


@pytest.mark.parametrize("target", ["lab", "team-a/", "/lab", "lab.jk", "example.com"])
def test_a_bad_workspace_name_says_how_to_write_it(target: str) -> None:
    with pytest.raises(CliError, match="<namespace>/<name>"):
        cli_ssh.parse_target(target)


def test_ssh_config_is_our_own_file_and_install_adds_one_include(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JK_CONFIG_DIR", str(tmp_path / "jk"))
    user_config = tmp_path / "dot-ssh" / "config"
    user_config.parent.mkdir()
    user_config.write_text("Host github.com\n    User git\n")
    hosts = ["lab.team-a.jk", "shared.team-b.jk"]
    path = cli_ssh.write_config(Profile("https://auth.example.org"), user_config, hosts)
    cli_ssh.write_config(Profile("https://auth.example.org"), user_config)  # keeps the hosts
    text = path.read_text()
    # Named for VS Code's host list, before the wildcard block that configures them all.
    assert text.index("Host lab.team-a.jk\nHost shared.team-b.jk\n") < text.index("Host *.jk")
    assert "Host *.jk" in text and "ProxyCommand" in text and " tunnel %h" in text
    assert 'Match host *.jk exec "' in text and ' ssh-cert %h"' in text
    assert "StrictHostKeyChecking yes" in text and "ForwardAgent no" in text
    assert user_config.read_text() == f"Include {path}\nHost github.com\n    User git\n"
    key = tmp_path / "jk" / "ssh" / "id_ed25519"
    assert key.stat().st_mode & 0o777 == 0o600 and path.stat().st_mode & 0o777 == 0o600


def test_a_host_key_pin_is_replaced_not_added(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JK_CONFIG_DIR", str(tmp_path))
    cli_ssh._pin("lab.team-a.jk", "ssh-ed25519 OLD")
    cli_ssh._pin("other.team-a.jk", "ssh-ed25519 KEEP")
    cli_ssh._pin("lab.team-a.jk", "ssh-ed25519 NEW")
    assert cli_ssh.known_hosts().read_text().splitlines() == [
        "other.team-a.jk ssh-ed25519 KEEP",
        "lab.team-a.jk ssh-ed25519 NEW",
    ]


class FakeAuthorizer:
    """What the tunnel asks of the authorization service, with fixed answers."""

    def __init__(self, who: Identity | None, allowed: bool, phase: str = "Running") -> None:
        self.who, self._allowed, self._phase, self.key = who, allowed, phase, KEY
        self.kube = None

    async def identity(self, request: web.Request, cookies: bool = True) -> Identity | None:
        assert cookies is False  # bearer tokens only
        return self.who

    async def allowed(self, who: Identity, namespace: str, name: str) -> bool:
        return self._allowed

    async def phase(self, namespace: str, name: str) -> str:
        return self._phase

    async def workspace_uid(self, namespace: str, name: str) -> str | None:
        return "uid-1"


def ask(authorizer: FakeAuthorizer, body: Any, bearer: bool = True) -> tuple[int, dict[str, Any]]:
    async def go() -> tuple[int, dict[str, Any]]:
        app = web.Application()
        app.router.add_post("/c", Tunnels(authorizer).certificate)
        async with TestClient(TestServer(app)) as client:
            headers = {"Authorization": "Bearer t"} if bearer else {}
            resp = await client.post("/c", json=body, headers=headers)
            return resp.status, await resp.json()

    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(go())
    finally:
        loop.close()


ALICE = Identity("alice@example.com")
BODY = {"namespace": "team-a", "name": "lab"}


def test_a_certificate_comes_with_the_workspace_host_key() -> None:
    status, body = ask(FakeAuthorizer(ALICE, True), {**BODY, "publicKey": user_public()})
    assert status == 200, body
    assert body["hostKey"] == ssh_keys.public_openssh(
        ssh_keys.host_key(KEY, "team-a", "lab", "uid-1")
    )
    assert body["user"] == "jovyan"
    cert = ssh.load_ssh_public_identity(body["certificate"].encode())
    assert isinstance(cert, ssh.SSHCertificate) and cert.key_id == b"alice@example.com"


@pytest.mark.parametrize(
    ("authorizer", "bearer", "status", "code", "words"),
    [
        (FakeAuthorizer(ALICE, True), False, 401, "unauthenticated", "jk login"),
        (FakeAuthorizer(None, True), True, 401, "unauthenticated", "jk login again"),
        (FakeAuthorizer(ALICE, False), True, 403, "forbidden", "no access to workspace team-a/lab"),
        (FakeAuthorizer(ALICE, True, "Stopped"), True, 409, "not-running", "jk start team-a/lab"),
    ],
)
def test_a_refusal_says_why_and_what_to_do(
    authorizer: FakeAuthorizer, bearer: bool, status: int, code: str, words: str
) -> None:
    got, body = ask(authorizer, {**BODY, "publicKey": user_public()}, bearer)
    assert (got, body["error"]) == (status, code)
    assert words in body["message"]


def test_a_malformed_request_or_key_is_a_bad_request() -> None:
    assert ask(FakeAuthorizer(ALICE, True), {"namespace": "x"})[0] == 400
    status, body = ask(FakeAuthorizer(ALICE, True), {**BODY, "publicKey": "ssh-rsa nope"})
    assert (status, body["error"]) == (400, "bad-public-key")
