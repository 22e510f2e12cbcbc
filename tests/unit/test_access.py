"""Access wiring: routes, grants, shares, execution-profile identity, authz decisions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jupyter_k8s.api import WorkspaceExecutionProfileSpec, WorkspaceManagerSpec, WorkspaceShareSpec
from jupyter_k8s.authz.decide import Identity, Manager, TTLCache, decision_key, target
from jupyter_k8s.reconcile.access import access_objects, share_binding
from jupyter_k8s.reconcile.children import WorkspaceRef
from jupyter_k8s.reconcile.identity import identity_objects
from jupyter_k8s.reconcile.manager import readiness, references
from jupyter_k8s.reconcile.routes import build_ingress
from jupyter_k8s.reconcile.share import plan_share

WS = WorkspaceRef("lab", "team-a", "uid-1")
MANAGERS = [Manager("ws.example.com", "subdomain"), Manager("nb.example.com", "path")]


def test_ingress_per_routing_mode() -> None:
    sub = WorkspaceManagerSpec.model_validate(
        {
            "domain": "ws.example.com",
            "routing": {"ingressClassName": "traefik", "tlsSecretName": "wild"},
            "authentication": {"middlewares": ["jupyter-auth@file"]},
        }
    )
    ing = build_ingress(WS, sub)
    rule = ing["spec"]["rules"][0]
    assert rule["host"] == "lab--team-a.ws.example.com" and rule["http"]["paths"][0]["path"] == "/"
    assert ing["spec"]["tls"] == [{"hosts": ["lab--team-a.ws.example.com"], "secretName": "wild"}]
    assert (
        ing["metadata"]["annotations"]["traefik.ingress.kubernetes.io/router.middlewares"]
        == "jupyter-auth@file"
    )
    path = WorkspaceManagerSpec.model_validate(
        {
            "domain": "nb.example.com",
            "routing": {"mode": "path", "ingressClassName": "nginx"},
            "authentication": {"signInUrl": "https://sso.example.com/start"},
            "authorization": {"url": "http://authz/authorize"},
        }
    )
    ing = build_ingress(WS, path)
    assert ing["spec"]["rules"][0]["http"]["paths"][0]["path"] == "/workspaces/team-a/lab/"
    assert (
        ing["metadata"]["annotations"]["nginx.ingress.kubernetes.io/auth-url"]
        == "http://authz/authorize"
    )


def test_owner_and_public_grants() -> None:
    private = access_objects(WS, "alice", "Private")
    # Nobody but the owner: no connect Role (one write fewer per workspace, most are never shared).
    assert [(o["kind"], o["metadata"]["name"]) for o in private] == [
        ("Role", "ws-lab-owner"),
        ("RoleBinding", "ws-lab-owner"),
    ]
    # The owner may connect and share (the verb the share admission policy asks for).
    assert private[0]["rules"] == [
        {
            "apiGroups": ["workspace.jupyter.org"],
            "resources": ["workspaces"],
            "resourceNames": ["lab"],
            "verbs": ["connect", "share"],
        }
    ]
    assert private[1]["roleRef"]["name"] == "ws-lab-owner"
    assert private[1]["subjects"] == [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}
    ]
    public = access_objects(WS, "alice", "Public")
    assert public[0]["metadata"]["name"] == "ws-lab-connect"
    assert public[0]["rules"][0]["verbs"] == ["connect"]
    assert public[-1]["roleRef"]["name"] == "ws-lab-connect"
    assert public[-1]["subjects"][0]["name"] == "system:authenticated"
    # A share binds the connect Role: the workspace keeps it while shared.
    shared = access_objects(WS, "alice", "Private", shared=True)
    assert [o["metadata"]["name"] for o in shared] == [
        "ws-lab-connect",
        "ws-lab-owner",
        "ws-lab-owner",
    ]


def test_share_binding_is_owned_by_the_share_only() -> None:
    spec = WorkspaceShareSpec.model_validate(
        {
            "workspaceName": "lab",
            "subjects": [
                {"kind": "Group", "name": "data"},
                {"kind": "ServiceAccount", "name": "ci", "namespace": "team-a"},
            ],
        }
    )
    binding = share_binding(WS, "data", "share-uid", spec)
    assert [o["kind"] for o in binding["metadata"]["ownerReferences"]] == ["WorkspaceShare"]
    assert binding["roleRef"]["name"] == "ws-lab-connect"
    assert binding["subjects"][1] == {"kind": "ServiceAccount", "name": "ci", "namespace": "team-a"}


def test_share_expiry() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    spec = WorkspaceShareSpec.model_validate(
        {
            "workspaceName": "lab",
            "subjects": [{"kind": "User", "name": "bob"}],
            "expiresAt": (now + timedelta(minutes=5)).isoformat(),
        }
    )
    live = plan_share("s", "u", spec, WS, now, bound_uid=WS.uid)
    assert live.binding is not None and live.active.status is True and live.recheck_in == 300
    # The grant brings the Role it binds (the workspace makes it only once shared), owned by
    # the workspace: it outlives one share, for the next.
    assert live.role is not None
    assert live.role["metadata"]["name"] == live.binding["roleRef"]["name"] == "ws-lab-connect"
    assert [o["kind"] for o in live.role["metadata"]["ownerReferences"]] == ["Workspace"]
    gone = plan_share("s", "u", spec, WS, now + timedelta(minutes=6), bound_uid=WS.uid)
    assert gone.binding is None and gone.active.reason == "Expired"
    orphan = plan_share("s", "u", spec, None, now, bound_uid=WS.uid)
    assert orphan.binding is None and orphan.active.reason == "WorkspaceNotFound"


def test_a_share_grants_only_the_workspace_it_was_admitted_for() -> None:
    spec = WorkspaceShareSpec.model_validate(
        {"workspaceName": "lab", "subjects": [{"kind": "User", "name": "bob"}]}
    )
    replaced = plan_share("s", "u", spec, WS, bound_uid="uid-of-an-older-lab")
    assert replaced.binding is None and replaced.active.reason == "WorkspaceReplaced"
    unbound = plan_share("s", "u", spec, WS, bound_uid=None)
    assert unbound.binding is None and unbound.active.reason == "NotBound"


def test_profile_identity_stays_in_the_namespace() -> None:
    profile = WorkspaceExecutionProfileSpec.model_validate(
        {
            "serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": "arn:x"}},
            "rules": [{"resources": ["configmaps"], "verbs": ["get"]}],
            "clusterRoles": ["view"],
            "imagePullSecrets": ["regcred"],
        }
    )
    objs = identity_objects(WS, profile)
    assert [o["kind"] for o in objs] == ["ServiceAccount", "Role", "RoleBinding", "RoleBinding"]
    sa = objs[0]
    assert sa["automountServiceAccountToken"] is False and sa["imagePullSecrets"] == [
        {"name": "regcred"}
    ]
    assert all(o["kind"] != "ClusterRoleBinding" for o in objs)
    assert objs[3]["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "view",
    }


def test_manager_readiness_lists_what_is_missing() -> None:
    spec = WorkspaceManagerSpec.model_validate(
        {
            "domain": "ws.example.com",
            "routing": {"ingressClassName": "traefik"},
            "authentication": {"authUrl": "http://oauth2-proxy.auth.svc.cluster.local/oauth2/auth"},
            "authorization": {"url": "http://authz.system.svc:8080/authorize"},
        }
    )
    refs = references(spec)
    assert refs.services == [("auth", "oauth2-proxy"), ("system", "authz")]
    ok, message = readiness(
        refs, False, {("auth", "oauth2-proxy"): True, ("system", "authz"): False}
    )
    assert not ok and 'IngressClass "traefik"' in message and "Service system/authz" in message
    assert readiness(refs, True, dict.fromkeys(refs.services, True))[0]


def test_request_to_workspace_mapping() -> None:
    assert target("lab--team-a.ws.example.com", "/lab", MANAGERS) == ("team-a", "lab")
    assert target("LAB--team-a.ws.example.com:443", "/", MANAGERS) == ("team-a", "lab")
    assert target("nb.example.com", "/workspaces/team-a/lab/api?x=1", MANAGERS) == ("team-a", "lab")
    for host, uri in (
        ("evil.example.com", "/"),
        ("lab.ws.example.com", "/"),
        ("a.b--c.ws.example.com", "/"),
        ("nb.example.com", "/other/x/y"),
        ("ws.example.com.evil.org", "/"),
    ):
        assert target(host, uri, MANAGERS) is None, host


def test_decision_cache_expires_and_never_crosses_users() -> None:
    now = [0.0]
    cache: TTLCache[bool] = TTLCache(5, size=2, clock=lambda: now[0])
    alice, bob = (
        decision_key(Identity("alice"), "ns", "lab"),
        decision_key(Identity("bob"), "ns", "lab"),
    )
    cache.put(alice, True)
    assert cache.get(alice) is True and cache.get(bob) is None
    assert decision_key(Identity("alice", ("g",)), "ns", "lab") != alice  # groups are part of it
    now[0] = 6
    assert cache.get(alice) is None
    for i in range(5):
        cache.put(("k", i), True)
    assert len(cache) == 2


def test_proxy_secret_is_derived_per_workspace_and_reaches_the_pod() -> None:
    from jupyter_k8s.proxy_secret import workspace_secret
    from jupyter_k8s.reconcile.children import build_proxy_secret

    key = b"k"
    first = workspace_secret(key, "team-a", "lab", "uid-1")
    assert first == workspace_secret(key, "team-a", "lab", "uid-1")
    assert first != workspace_secret(key, "team-a", "lab", "uid-2")  # recreated: new secret
    assert first != workspace_secret(b"other", "team-a", "lab", "uid-1")
    secret = build_proxy_secret(WS, first)
    assert secret["metadata"]["name"] == "ws-lab-proxy" and "stringData" not in secret
