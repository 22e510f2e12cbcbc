"""Who may open a workspace: the authorization service against real RBAC and SARs."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from jupyter_k8s.reconcile.access import share_binding_name
from tests.support.fake_oauth2_proxy import FakeOAuth2Proxy
from tests.support.fixtures import (
    PROXY_KEY,
    Operator,
    free_port,
    template_manifest,
    workspace_manifest,
)
from tests.support.kube import Kubectl, condition, eventually

pytestmark = pytest.mark.integration
API = "workspace.jupyter.org/v1alpha1"


class Authz:
    def __init__(self, port: int, idp: FakeOAuth2Proxy, domain: str) -> None:
        self.port, self.idp, self.domain = port, idp, domain

    def ask(
        self, ns: str, name: str, headers: dict[str, str] | None = None, path: bool = False
    ) -> tuple[int, dict[str, str], str]:
        host = f"path.{self.domain}" if path else f"{name}--{ns}.{self.domain}"
        uri = f"/workspaces/{ns}/{name}/lab" if path else "/lab"
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/authorize",
            headers={"X-Forwarded-Host": host, "X-Forwarded-Uri": uri, **(headers or {})},
        )
        opener = urllib.request.build_opener(NoRedirect)
        try:
            with opener.open(req, timeout=10) as resp:
                return resp.status, dict(resp.headers), resp.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read().decode()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def start_authz(
    kubectl: Kubectl, idp: FakeOAuth2Proxy, domain: str, log: Any, **extra_env: str
) -> tuple[Authz, subprocess.Popen[bytes]]:
    port = free_port()
    env = {
        **os.environ,
        "KUBECONFIG": str(kubectl.kubeconfig),
        "JK_AUTHZ_IDENTITY_URL": idp.url,
        "JK_AUTHZ_PORT": str(port),
        "JK_AUTHZ_ADDR": "127.0.0.1",
        "JK_AUTHZ_CACHE_SECONDS": "1",
        "JK_AUTHZ_SIGN_IN_URL": f"https://auth.{domain}/oauth2/start",
        "JK_PROXY_SECRET_KEY": PROXY_KEY,
        **extra_env,
    }
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_k8s", "authz"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )

    def healthy() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                return r.status == 200
        except OSError:
            assert proc.poll() is None, log.read_text()
            return False

    eventually(healthy, timeout=30, what="the authorization service")
    return Authz(port, idp, domain), proc


@pytest.fixture(scope="module")
def authz(
    kubectl: Kubectl, operator: Operator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Authz]:
    idp = FakeOAuth2Proxy().start()
    domain = f"authz-{os.getpid()}.test"
    for mode, name in (("subdomain", "authz-sub"), ("path", "authz-path")):
        kubectl.apply(
            {
                "apiVersion": API,
                "kind": "WorkspaceManager",
                "metadata": {"name": f"{name}-{os.getpid()}"},
                "spec": {
                    "domain": domain if mode == "subdomain" else f"path.{domain}",
                    "routing": {"mode": mode},
                },
            }
        )
    service, proc = start_authz(
        kubectl, idp, domain, tmp_path_factory.mktemp("authz") / "authz.log"
    )
    yield service
    proc.terminate()
    proc.wait(10)
    for name in ("authz-sub", "authz-path"):
        kubectl.run("delete", "workspacemanager", f"{name}-{os.getpid()}", "--ignore-not-found")


@pytest.fixture
def owned(kubectl: Kubectl, alice_can_edit: str, template: str) -> str:
    """A workspace created by alice (so alice is its owner)."""
    namespace = alice_can_edit
    kubectl.create(workspace_manifest("lab", template), namespace, user="alice")
    eventually(
        lambda: kubectl.get("rolebinding", "ws-lab-owner", namespace), what="the owner's grant"
    )
    # Running: a starting workspace gets the "starting" page instead of the app.
    eventually(
        lambda: (
            (condition(kubectl.get("workspace", "lab", namespace), "Available") or {}).get("status")
            == "True"
        ),
        what="the workspace Available",
    )
    return namespace


def _share(
    kubectl: Kubectl,
    ns: str,
    name: str,
    subjects: list[dict[str, str]],
    expires: datetime | None = None,
) -> None:
    spec: dict[str, Any] = {"workspaceName": "lab", "subjects": subjects}
    if expires:
        spec["expiresAt"] = expires.strftime("%Y-%m-%dT%H:%M:%SZ")
    kubectl.create(
        {"apiVersion": API, "kind": "WorkspaceShare", "metadata": {"name": name}, "spec": spec}, ns
    )


def test_owner_yes_stranger_no(kubectl: Kubectl, authz: Authz, owned: str) -> None:
    alice, mallory = authz.idp.login("t-alice", "alice"), authz.idp.login("t-mallory", "mallory")
    status, headers, _ = authz.ask(owned, "lab", alice)
    assert status == 200 and headers["X-Jupyter-K8s-User"] == "alice"
    # ... and the proxy gets the workspace's secret for the app, the one in the pod's Secret.
    secret = eventually(
        lambda: kubectl.get("secret", "ws-lab-proxy", owned), what="the proxy secret"
    )
    assert (
        base64.b64decode(secret["data"]["secret"]).decode() == headers["X-Jupyter-K8s-Proxy-Secret"]
    )
    pod = eventually(
        lambda: kubectl.list("pods", owned, "workspace.jupyter.org/workspace-name=lab"), what="pod"
    )[0]
    env = {e["name"]: e for e in pod["spec"]["containers"][0]["env"]}
    assert env["JUPYTER_K8S_PROXY_SECRET"]["valueFrom"]["secretKeyRef"] == {
        "name": "ws-lab-proxy",
        "key": "secret",
    }
    assert "X-Jupyter-K8s-Proxy-Secret" not in authz.ask(owned, "lab", mallory)[1]
    assert authz.ask(owned, "lab", alice, path=True)[0] == 200  # path routing maps the same
    assert authz.ask(owned, "lab", mallory)[0] == 403


def test_unauthenticated_is_401_or_a_redirect_to_sign_in(authz: Authz, owned: str) -> None:
    assert authz.ask(owned, "lab")[0] == 401
    status, headers, _ = authz.ask(owned, "lab", {"Accept": "text/html"})
    assert status == 302 and headers["Location"].startswith(
        f"https://auth.{authz.domain}/oauth2/start?rd="
    )


def test_forged_identity_headers_are_ignored(authz: Authz, owned: str) -> None:
    forged = {
        "X-Auth-Request-Email": "alice",
        "X-Auth-Request-User": "alice",
        "X-Jupyter-K8s-User": "alice",
    }
    assert authz.ask(owned, "lab", forged)[0] == 401  # no session: the headers count for nothing
    mallory = authz.idp.login("t-mallory2", "mallory")
    assert authz.ask(owned, "lab", {**mallory, **forged})[0] == 403


def test_unknown_workspace_looks_like_a_forbidden_one(authz: Authz, owned: str) -> None:
    mallory = authz.idp.login("t-mallory3", "mallory")
    forbidden = authz.ask(owned, "lab", mallory)
    unknown = authz.ask(owned, "no-such-workspace", mallory)
    assert forbidden[0] == unknown[0] == 403
    assert forbidden[2] == unknown[2]


def test_share_grants_until_it_expires(kubectl: Kubectl, authz: Authz, owned: str) -> None:
    bob = authz.idp.login("t-bob", "bob")
    assert authz.ask(owned, "lab", bob)[0] == 403
    _share(
        kubectl,
        owned,
        "bob-briefly",
        [{"kind": "User", "name": "bob"}],
        datetime.now(UTC) + timedelta(seconds=8),
    )
    eventually(
        lambda: authz.ask(owned, "lab", bob)[0] == 200, timeout=20, what="bob allowed by the share"
    )
    # Nobody touches the share: access ends at expiresAt and the share says so.
    eventually(
        lambda: authz.ask(owned, "lab", bob)[0] == 403, timeout=30, what="bob refused after expiry"
    )
    cond = condition(kubectl.get("workspaceshare", "bob-briefly", owned), "Active")
    assert cond and cond["status"] == "False" and cond["reason"] == "Expired"


def test_group_share_and_deleting_it(kubectl: Kubectl, authz: Authz, owned: str) -> None:
    carol = authz.idp.login("t-carol", "carol", ["data-science"])
    # Never shared, not Public: no connect Role yet (the share's pass makes it with its grant).
    assert kubectl.run("get", "role", "ws-lab-connect", "-n", owned, check=False).returncode != 0
    _share(kubectl, owned, "data-team", [{"kind": "Group", "name": "data-science"}])
    eventually(lambda: authz.ask(owned, "lab", carol)[0] == 200, timeout=20, what="the group share")
    assert kubectl.get("role", "ws-lab-connect", owned)["rules"][0]["verbs"] == ["connect"]
    kubectl.run("delete", "workspaceshare", "data-team", "-n", owned)
    eventually(
        lambda: authz.ask(owned, "lab", carol)[0] == 403,
        timeout=30,
        what="access gone with the share",
    )


def test_public_lets_every_authenticated_user_in(
    kubectl: Kubectl, authz: Authz, owned: str
) -> None:
    dave = authz.idp.login("t-dave", "dave")
    assert authz.ask(owned, "lab", dave)[0] == 403
    kubectl.run(
        "patch",
        "workspace",
        "lab",
        "-n",
        owned,
        "--type=merge",
        "-p",
        '{"spec":{"accessType":"Public"}}',
    )
    eventually(lambda: authz.ask(owned, "lab", dave)[0] == 200, timeout=20, what="Public access")
    kubectl.run(
        "patch",
        "workspace",
        "lab",
        "-n",
        owned,
        "--type=merge",
        "-p",
        '{"spec":{"accessType":"Private"}}',
    )
    eventually(lambda: authz.ask(owned, "lab", dave)[0] == 403, timeout=20, what="Private again")


def test_execution_profile_identity_is_confined_to_the_namespace(
    kubectl: Kubectl, operator: Operator, namespace: str, unique: str
) -> None:
    profile = f"read-cm-{unique}"
    kubectl.apply(
        {
            "apiVersion": API,
            "kind": "WorkspaceExecutionProfile",
            "metadata": {"name": profile},
            "spec": {
                "serviceAccount": {
                    "automountToken": True,
                    "annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/x"},
                },
                "rules": [
                    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}
                ],
                "clusterRoles": ["view"],
            },
        }
    )
    tmpl = f"tmpl-prof-{unique}"
    kubectl.create(template_manifest(tmpl, allowedExecutionProfiles=[profile]))
    try:
        kubectl.create(workspace_manifest("runner", tmpl, executionProfileRef=profile), namespace)
        sa = eventually(
            lambda: kubectl.get("serviceaccount", "ws-runner", namespace),
            what="the workspace's ServiceAccount",
        )
        assert (
            sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == "arn:aws:iam::1:role/x"
        )
        assert sa["automountServiceAccountToken"] is True
        me = f"system:serviceaccount:{namespace}:ws-runner"

        def can(verb: str, resource: str, ns: str) -> bool:
            return (
                kubectl.run(
                    "auth", "can-i", verb, resource, "-n", ns, "--as", me, check=False
                ).stdout.strip()
                == "yes"
            )

        eventually(lambda: can("list", "configmaps", namespace), what="the profile's rule")
        assert can("get", "pods", namespace)  # the 'view' ClusterRole, bound in the namespace
        assert not can("list", "configmaps", "default") and not can("get", "pods", "default")
        assert not can("create", "configmaps", namespace)
        pod = eventually(
            lambda: kubectl.list("pods", namespace, "workspace.jupyter.org/workspace-name=runner"),
            what="the pod",
        )[0]
        assert pod["spec"]["serviceAccountName"] == "ws-runner"

        # A profile the template does not allow makes the workspace invalid.
        kubectl.create(
            workspace_manifest("rogue", tmpl, executionProfileRef="some-other-profile"), namespace
        )

        def refused() -> Any:
            cond = condition(kubectl.get("workspace", "rogue", namespace), "Valid")
            return cond if cond and cond["status"] == "False" else None

        assert (
            'executionProfileRef: "some-other-profile" is not allowed'
            in eventually(refused, what="Valid=False")["message"]
        )
    finally:
        kubectl.run("delete", "workspace", "--all", "-n", namespace, "--wait=true", "--timeout=60s")
        kubectl.run("delete", "workspacetemplate", tmpl, "--wait=false")
        kubectl.run("delete", "workspaceexecutionprofile", profile, "--wait=false")
        time.sleep(0.1)


def test_an_idp_cannot_claim_kubernetes_system_groups(authz: Authz, owned: str) -> None:
    mallory = authz.idp.login("t-masters", "mallory", ["system:masters", "system:nodes"])
    assert authz.ask(owned, "lab", mallory)[0] == 403
    root = authz.idp.login("t-system-user", "system:admin")
    assert authz.ask(owned, "lab", root)[0] in (401, 403)


def test_paths_that_normalise_elsewhere_are_refused(authz: Authz, owned: str) -> None:
    alice = authz.idp.login("t-alice-paths", "alice")
    assert authz.ask(owned, "lab", alice, path=True)[0] == 200
    for tail in ("../victim/", "%2e%2e/victim/", "x%2F..%2F..%2Fvictim/", "/lab", "a/./b"):
        req = urllib.request.Request(
            f"http://127.0.0.1:{authz.port}/authorize",
            headers={
                "X-Forwarded-Host": f"path.{authz.domain}",
                "X-Forwarded-Uri": f"/workspaces/{owned}/lab/{tail}",
                **alice,
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                status = resp.status
        except urllib.error.HTTPError as err:
            status = err.code
        assert status == 400, tail


def test_prefixed_identities_and_a_share(
    kubectl: Kubectl, authz: Authz, owned: str, tmp_path: Any
) -> None:
    """With the API server's OIDC prefixes: shares name users and groups as RBAC sees them."""
    prefixed, proc = start_authz(
        kubectl,
        authz.idp,
        authz.domain,
        tmp_path / "authz-prefixed.log",
        JK_AUTHZ_USERNAME_PREFIX="oidc:",
        JK_AUTHZ_GROUPS_PREFIX="oidc:",
    )
    try:
        erin = authz.idp.login("t-erin", "erin")
        frank = authz.idp.login("t-frank", "frank", ["data", "system:masters"])
        assert prefixed.ask(owned, "lab", erin)[0] == 403
        _share(kubectl, owned, "prefixed", [{"kind": "User", "name": "oidc:erin"}])
        _share(kubectl, owned, "prefixed-group", [{"kind": "Group", "name": "oidc:data"}])
        eventually(lambda: prefixed.ask(owned, "lab", erin)[0] == 200, what="oidc:erin allowed")
        eventually(lambda: prefixed.ask(owned, "lab", frank)[0] == 200, what="oidc:data allowed")
        # Unprefixed, the same people are other users: the grant is not theirs.
        assert authz.ask(owned, "lab", erin)[0] == 403
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def confined(
    kubectl: Kubectl, authz: Authz, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Authz]:
    """The authorization service as guided mode runs it: an authentication host of its own."""
    service, proc = start_authz(
        kubectl,
        authz.idp,
        authz.domain,
        tmp_path_factory.mktemp("confined") / "authz.log",
        JK_AUTHZ_AUTH_HOST=f"auth.{authz.domain}",
    )
    yield service
    proc.terminate()
    proc.wait(10)


def _call(port: int, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], str]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read().decode()


def _forward(
    svc: Authz, host: str, uri: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], str]:
    """What Traefik asks on a request to https://<host><uri>."""
    return _call(
        svc.port,
        "/authorize",
        {"X-Forwarded-Host": host, "X-Forwarded-Uri": uri, **(headers or {})},
    )


def _browse_in(svc: Authz, idp_cookie: dict[str, str], host: str) -> dict[str, str]:
    """A browser's way in: workspace -> auth host -> hand-off -> workspace session cookie."""
    html = {"Accept": "text/html"}
    status, headers, _ = _forward(svc, host, "/lab", html)
    assert status == 302, (status, headers)
    auth = urllib.parse.urlsplit(headers["Location"])
    assert auth.netloc == f"auth.{svc.domain}" and auth.path == "/_jk/authorize"
    status, headers, body = _call(svc.port, f"{auth.path}?{auth.query}", {**idp_cookie, **html})
    if status != 302:
        return {"status": str(status), "body": body}
    landing = urllib.parse.urlsplit(headers["Location"])
    assert landing.netloc == host and landing.path == "/_jk/session"
    status, headers, _ = _forward(svc, host, f"{landing.path}?{landing.query}", html)
    assert status == 302 and headers["Location"] == f"https://{host}/lab"
    cookie = headers["Set-Cookie"]
    assert "Domain" not in cookie and "HttpOnly" in cookie and "Secure" in cookie
    return {"Cookie": cookie.split(";", 1)[0]}


def test_the_idp_session_never_reaches_a_workspace(confined: Authz, owned: str) -> None:
    host = f"lab--{owned}.{confined.domain}"
    alice_idp = confined.idp.login("c-alice", "alice")
    # The IdP cookie itself, sent to a workspace host, counts for nothing there.
    assert _forward(confined, host, "/api/contents", alice_idp)[0] == 401
    session = _browse_in(confined, alice_idp, host)
    status, headers, _ = _forward(confined, host, "/api/contents", session)
    assert status == 200 and headers["X-Jupyter-K8s-User"] == "alice"
    # Copied to another workspace's host, the session is not one there.
    kubectl_host = f"other--{owned}.{confined.domain}"
    assert _forward(confined, kubectl_host, "/api/contents", session)[0] == 401


def test_strangers_and_unknown_workspaces_get_the_same_page(confined: Authz, owned: str) -> None:
    bob = confined.idp.login("c-bob", "bob")
    refused = _browse_in(confined, bob, f"lab--{owned}.{confined.domain}")
    unknown = _browse_in(confined, bob, f"nothing--{owned}.{confined.domain}")
    assert refused["status"] == unknown["status"] == "403"
    assert refused["body"] == unknown["body"] and "You do not have access" in refused["body"]


def test_signing_out_ends_the_workspace_sessions(confined: Authz, owned: str) -> None:
    host = f"lab--{owned}.{confined.domain}"
    alice_idp = confined.idp.login("c-alice-2", "alice")
    session = _browse_in(confined, alice_idp, host)
    assert _forward(confined, host, "/api/contents", session)[0] == 200
    status, headers, _ = _call(confined.port, "/_jk/sign_out", alice_idp)
    assert status == 302 and headers["Location"].startswith("/oauth2/sign_out")
    assert _forward(confined, host, "/api/contents", session)[0] == 401


def test_a_sign_out_on_one_replica_ends_the_sessions_on_the_other(
    kubectl: Kubectl, authz: Authz, owned: str, tmp_path: Any
) -> None:
    """Two replicas share sign-outs through a ConfigMap (JK_AUTHZ_SIGNOUTS), read every
    JK_AUTHZ_SIGNOUTS_SECONDS (default 2 s); the sign-out answers after that interval (and a
    second), so when the user sees "You are signed out" it holds on every replica."""
    configmap = f"authz-signouts-{os.getpid()}"
    kubectl.apply(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": configmap}}, "default"
    )
    shared = {
        "JK_AUTHZ_AUTH_HOST": f"auth.{authz.domain}",
        "JK_AUTHZ_SIGNOUTS": f"default/{configmap}",
    }
    a, proc_a = start_authz(kubectl, authz.idp, authz.domain, tmp_path / "a.log", **shared)
    b, proc_b = start_authz(kubectl, authz.idp, authz.domain, tmp_path / "b.log", **shared)
    try:
        host = f"lab--{owned}.{authz.domain}"
        alice_idp = authz.idp.login("c-alice-replicas", "alice")
        session = _browse_in(a, alice_idp, host)
        # Stateless: a session handed out by one replica is good on the other.
        assert _forward(b, host, "/api/contents", session)[0] == 200
        asked = time.monotonic()
        status, _, _ = _call(a.port, "/_jk/sign_out", alice_idp)
        took = time.monotonic() - asked
        assert status == 302
        # The answer comes once every replica has read the sign-out: refused on both at once.
        assert _forward(a, host, "/api/contents", session)[0] == 401
        assert _forward(b, host, "/api/contents", session)[0] == 401
        print(f"\nsign-out answered (every replica knows) in {took:.2f}s")
        assert took <= 5, took
        # The record names the IdP session by a digest only, never the cookie.
        data = (kubectl.get("configmap", configmap, "default") or {}).get("data") or {}
        assert len(data) == 1 and "c-alice-replicas" not in json.dumps(data)
        # A replica started later learns it too.
        c, proc_c = start_authz(kubectl, authz.idp, authz.domain, tmp_path / "c.log", **shared)
        try:
            eventually(
                lambda: _forward(c, host, "/api/contents", session)[0] == 401,
                timeout=10,
                what="a new replica to refuse the signed-out session",
            )
        finally:
            proc_c.terminate()
            proc_c.wait(10)
    finally:
        for proc in (proc_a, proc_b):
            proc.terminate()
            proc.wait(10)
        kubectl.run("delete", "configmap", configmap, "-n", "default", "--ignore-not-found")


def test_a_refusal_is_not_cached_so_a_new_share_works_at_once(
    kubectl: Kubectl, authz: Authz, owned: str, tmp_path: Any
) -> None:
    """Grants are cached (here 60 s), refusals never: otherwise a replica that refused bob a
    moment ago would go on refusing after a share, while another replica lets him in."""
    svc, proc = start_authz(
        kubectl, authz.idp, authz.domain, tmp_path / "authz.log", JK_AUTHZ_CACHE_SECONDS="60"
    )
    try:
        bob = authz.idp.login("t-bob-cache", "bob")
        assert svc.ask(owned, "lab", bob)[0] == 403
        _share(kubectl, owned, "bob-now", [{"kind": "User", "name": "bob"}])
        eventually(
            lambda: kubectl.get("rolebinding", share_binding_name("bob-now"), owned),
            what="the share's grant",
        )
        granted = time.monotonic()
        eventually(lambda: svc.ask(owned, "lab", bob)[0] == 200, timeout=10, what="bob let in")
        assert time.monotonic() - granted < 5  # far below the 60 s a cached refusal would last
    finally:
        proc.terminate()
        proc.wait(10)
        kubectl.run("delete", "workspaceshare", "bob-now", "-n", owned, "--ignore-not-found")
