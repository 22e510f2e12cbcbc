"""Two teammates in a guided-mode team namespace (the exact objects the Pulumi stack creates):
only a workspace's owner, or an admin, may change, stop, start, expose, share or delete it, and
that is the API server's own rule, holding while the operator is stopped too."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from infra.components.tenancy import shared_roles, team_manifests
from infra.config import Target, Team
from jupyter_k8s.api import GROUP
from jupyter_k8s.api.admission import SHARE_WORKSPACE_UID_ANNOTATION
from jupyter_k8s.deploy.rbac import cluster_rules
from jupyter_k8s.deploy.settings import WEBHOOK_CONFIGURATION
from tests.support.fixtures import Operator, workspace_manifest
from tests.support.kube import Kubectl, condition, eventually

pytestmark = pytest.mark.integration
API = "workspace.jupyter.org/v1alpha1"
OWNER = "workspace.jupyter.org/created-by"


@pytest.fixture
def team(kubectl: Kubectl, crds: Kubectl, template: str, unique: str) -> Iterator[str]:
    """Team namespace with alice and bob as members, governed by `template` (its default)."""
    name = f"team-{unique}"
    for obj in [
        *shared_roles(),
        *team_manifests(Team(name=name, users=["alice", "bob"]), Target.LOCAL, (template,)),
    ]:
        kubectl.apply(obj)
    eventually(lambda: kubectl.get("serviceaccount", "default", name), what="default SA")
    yield name
    kubectl.run("delete", "namespace", name, "--wait=false")


@pytest.fixture
def operator_down(kubectl: Kubectl) -> Iterator[None]:
    """The API server's view of a stopped operator (what `make run` leaves behind on exit):
    its webhook configuration is gone. Restored afterwards for the rest of the session."""
    saved = kubectl.get("mutatingwebhookconfiguration", WEBHOOK_CONFIGURATION)
    kubectl.run(
        "delete", "mutatingwebhookconfiguration", WEBHOOK_CONFIGURATION, "--ignore-not-found"
    )
    hooks = kubectl.run("get", "mutatingwebhookconfigurations", "-o", "json").stdout
    assert "workspace.jupyter.org" not in hooks, "another webhook still serves workspaces"
    yield
    if saved is not None:
        for key in ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields"):
            saved["metadata"].pop(key, None)
        kubectl.apply(saved)


def share(name: str, workspace: str, user: str, uid: str | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": API,
        "kind": "WorkspaceShare",
        "metadata": {"name": name},
        "spec": {"workspaceName": workspace, "subjects": [{"kind": "User", "name": user}]},
    }
    if uid:
        obj["metadata"]["annotations"] = {SHARE_WORKSPACE_UID_ANNOTATION: uid}
    return obj


def patch(kubectl: Kubectl, ns: str, name: str, spec: dict[str, Any], user: str | None) -> Any:
    return kubectl.run(
        "patch",
        "workspace",
        name,
        "-n",
        ns,
        "--type=merge",
        "-p",
        json.dumps({"spec": spec}),
        user=user,
        check=False,
    )


def refused(res: Any, *words: str) -> bool:
    return res.returncode != 0 and all(w in res.stderr for w in words)


def alices_workspace(kubectl: Kubectl, team: str) -> dict[str, Any]:
    """alice's workspace, named without a template: the namespace's default fills it in."""
    kubectl.create(workspace_manifest("alices"), team, user="alice")
    ws = kubectl.get("workspace", "alices", team)
    assert ws is not None
    # Her owner grant (connect + share) comes from the operator.
    eventually(lambda: kubectl.get("rolebinding", "ws-alices-owner", team), what="owner grant")
    return ws


def assert_bob_can_do_nothing_to_it(kubectl: Kubectl, team: str, uid: str) -> None:
    for change in (
        {"accessType": "Public"},
        {"image": "registry.invalid/bob:1"},
        {"env": [{"name": "X", "value": "y"}]},
        {"desiredStatus": "Stopped"},
        {"executionProfileRef": "default"},
    ):
        res = patch(kubectl, team, "alices", change, "bob")
        assert refused(res, "only the owner of workspace alices (alice)", "you are bob"), change
    res = kubectl.run(
        "annotate",
        "workspace",
        "alices",
        "-n",
        team,
        f"{OWNER}=bob",
        "--overwrite",
        user="bob",
        check=False,
    )
    assert res.returncode != 0
    res = kubectl.run("delete", "workspace", "alices", "-n", team, user="bob", check=False)
    assert refused(res, "only the owner of workspace alices")
    # Sharing is the owner's act, also with the right workspace UID in hand.
    res = kubectl.create(share("bob-in", "alices", "bob", uid), team, user="bob", check=False)
    assert refused(res, "only the owner of workspace alices or an admin may share it")
    # And a share for a workspace that does not exist yet cannot be parked for later.
    res = kubectl.create(share("bob-later", "future", "bob", uid), team, user="bob", check=False)
    assert res.returncode != 0
    assert kubectl.get("workspace", "alices", team)["spec"].get("accessType") != "Public"  # type: ignore[index]


def test_a_teammate_cannot_change_share_or_delete_the_owners_workspace(
    kubectl: Kubectl, operator: Operator, team: str, template: str
) -> None:
    ws = alices_workspace(kubectl, team)
    assert ws["metadata"]["annotations"][OWNER] == "alice"
    assert ws["spec"]["templateRef"] == template  # the governed namespace's default
    assert_bob_can_do_nothing_to_it(kubectl, team, ws["metadata"]["uid"])

    # The owner can: stop, start, expose, share (the operator binds it to this workspace).
    assert patch(kubectl, team, "alices", {"desiredStatus": "Stopped"}, "alice").returncode == 0
    assert patch(kubectl, team, "alices", {"desiredStatus": "Running"}, "alice").returncode == 0
    assert patch(kubectl, team, "alices", {"accessType": "Public"}, "alice").returncode == 0
    kubectl.create(share("for-bob", "alices", "bob"), team, user="alice")
    stored = kubectl.get("workspaceshare", "for-bob", team)
    assert (
        stored["metadata"]["annotations"][SHARE_WORKSPACE_UID_ANNOTATION] == ws["metadata"]["uid"]
    )  # type: ignore[index]
    eventually(
        lambda: (
            (c := condition(kubectl.get("workspaceshare", "for-bob", team), "Active"))
            and c["status"] == "True"
        ),
        what="the share granted",
    )
    # An admin can too; the owner can delete.
    assert patch(kubectl, team, "alices", {"accessType": "Private"}, None).returncode == 0
    assert kubectl.run("delete", "workspace", "alices", "-n", team, user="alice").returncode == 0


def test_a_share_for_a_missing_workspace_is_refused_and_never_grants_a_namesake(
    kubectl: Kubectl, operator: Operator, team: str
) -> None:
    res = kubectl.create(share("early", "not-yet", "bob"), team, check=False)  # even an admin
    assert refused(res, "workspace 'not-yet' does not exist")

    ws = alices_workspace(kubectl, team)
    kubectl.create(share("for-bob", "alices", "bob"), team, user="alice")
    eventually(lambda: kubectl.get("rolebinding", "wss-for-bob", team), what="share binding")
    # The workspace is deleted and a namesake created: the old share grants nothing.
    kubectl.run("delete", "workspace", "alices", "-n", team, "--wait=true", user="alice")
    kubectl.create(workspace_manifest("alices"), team, user="alice")
    assert kubectl.get("workspace", "alices", team)["metadata"]["uid"] != ws["metadata"]["uid"]  # type: ignore[index]

    def replaced() -> bool:
        cond = condition(kubectl.get("workspaceshare", "for-bob", team), "Active")
        return bool(cond and cond["reason"] == "WorkspaceReplaced")

    eventually(replaced, what="the share to report WorkspaceReplaced")
    assert kubectl.get("rolebinding", "wss-for-bob", team) is None
    can = kubectl.run(
        "auth", "can-i", "connect", "workspaces/alices", "-n", team, "--as", "bob", check=False
    )
    assert can.stdout.strip() == "no"


def test_deleting_a_share_ends_access_at_once(
    kubectl: Kubectl, operator: Operator, team: str
) -> None:
    alices_workspace(kubectl, team)
    kubectl.create(share("for-bob", "alices", "bob"), team, user="alice")
    eventually(lambda: kubectl.get("rolebinding", "wss-for-bob", team), what="share binding")
    kubectl.run("delete", "workspaceshare", "for-bob", "-n", team, "--wait=false", user="alice")
    eventually(
        lambda: kubectl.get("rolebinding", "wss-for-bob", team) is None,
        timeout=5,
        what="the grant removed within seconds",
    )


def test_ownership_holds_while_the_operator_is_stopped(
    kubectl: Kubectl, operator: Operator, team: str, template: str, operator_down: None
) -> None:
    manifest = workspace_manifest("alices", template)
    res = kubectl.create(manifest, team, user="alice", check=False)
    assert refused(res, "annotation is missing", "set it to your own user name, alice")
    manifest["metadata"]["annotations"] = {OWNER: "bob"}
    assert refused(
        kubectl.create(manifest, team, user="alice", check=False),
        "only an admin may create a workspace on behalf of bob",
    )
    manifest["metadata"]["annotations"] = {OWNER: "alice"}
    kubectl.create(manifest, team, user="alice")
    # Its owner grant only comes once the operator is back; an admin grants it meanwhile, as
    # the operator would.
    kubectl.apply(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "ws-alices-owner", "namespace": team},
            "rules": [
                {
                    "apiGroups": ["workspace.jupyter.org"],
                    "resources": ["workspaces"],
                    "resourceNames": ["alices"],
                    "verbs": ["connect", "share"],
                }
            ],
        }
    )
    kubectl.apply(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "ws-alices-owner", "namespace": team},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "ws-alices-owner",
            },
            "subjects": [
                {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}
            ],
        }
    )
    uid = kubectl.get("workspace", "alices", team)["metadata"]["uid"]  # type: ignore[index]
    assert_bob_can_do_nothing_to_it(kubectl, team, uid)
    # The owner still can (a share needs the workspace's UID, which the webhook would stamp).
    assert patch(kubectl, team, "alices", {"desiredStatus": "Stopped"}, "alice").returncode == 0
    res = kubectl.create(share("for-bob", "alices", "bob"), team, user="alice", check=False)
    assert refused(res, "annotation is missing")
    kubectl.create(share("for-bob", "alices", "bob", uid), team, user="alice")
    assert kubectl.run("delete", "workspace", "alices", "-n", team, user="alice").returncode == 0


def test_governed_namespace_templates(
    kubectl: Kubectl, operator: Operator, team: str, template: str, operator_down: None
) -> None:
    # Without the webhook nothing fills in the default: the refusal says what to write.
    res = kubectl.create(
        {
            **workspace_manifest("plain"),
            "metadata": {"name": "plain", "annotations": {OWNER: "alice"}},
        },
        team,
        user="alice",
        check=False,
    )
    assert refused(
        res, f"spec.templateRef is required in namespace {team}", f"use one of: {template}"
    )
    other = workspace_manifest("other", "some-other-template")
    other["metadata"]["annotations"] = {OWNER: "alice"}
    res = kubectl.create(other, team, user="alice", check=False)
    assert refused(res, "template some-other-template is not allowed")


def test_without_a_template_only_an_admin_picks_an_execution_profile(
    kubectl: Kubectl, operator: Operator, alice_can_edit: str
) -> None:
    ns = alice_can_edit
    res = kubectl.create(
        workspace_manifest("free", image="registry.invalid/x:1", executionProfileRef="powerful"),
        ns,
        user="alice",
        check=False,
    )
    assert refused(res, "without a template only an admin may choose an execution profile")
    kubectl.create(workspace_manifest("free", image="registry.invalid/x:1"), ns, user="alice")
    res = patch(kubectl, ns, "free", {"executionProfileRef": "powerful"}, "alice")
    assert refused(res, "only an admin may choose an execution profile")
    # An admin may.
    assert patch(kubectl, ns, "free", {"executionProfileRef": "powerful"}, None).returncode == 0


def test_the_policies_are_part_of_the_api(kubectl: Kubectl, crds: Kubectl) -> None:
    from tests.support.fixtures import ROOT

    names = {
        d["metadata"]["name"]
        for d in yaml.safe_load_all(
            (ROOT / "crds" / "workspace.jupyter.org_admissionpolicies.yaml").read_text()
        )
    }
    for name in names:
        assert kubectl.get("validatingadmissionpolicy", name) is not None


def test_deleting_a_team_namespace_deletes_its_workspaces(
    kubectl: Kubectl, operator: Operator, crds: Kubectl, template: str, unique: str
) -> None:
    """The namespace controller empties a namespace with DeleteCollection (no name in the
    request): the policies must let Kubernetes' own controllers through."""
    name = f"gone-{unique}"
    for obj in team_manifests(Team(name=name, users=["alice"]), Target.LOCAL, (template,)):
        kubectl.apply(obj)
    eventually(lambda: kubectl.get("serviceaccount", "default", name), what="default SA")
    kubectl.create(workspace_manifest("doomed"), name, user="alice")
    kubectl.run("delete", "namespace", name, "--wait=true", "--timeout=90s")
    assert kubectl.get("namespace", name) is None


def test_the_idle_culler_may_stop_a_workspace_and_change_nothing_else(
    kubectl: Kubectl, team: str, unique: str
) -> None:
    """What the operator's RBAC grants for culling (workspaces/idle-stop), given to a plain
    user here: the API server's policy admits exactly the stop of a running workspace."""
    alices_workspace(kubectl, team)
    role = f"culler-{unique}"
    rules = next(r for r in cluster_rules() if "workspaces/idle-stop" in r["resources"])
    kubectl.apply(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": role, "namespace": team},
            "rules": [
                {"apiGroups": [GROUP], "resources": ["workspaces"], "verbs": ["get", "patch"]},
                rules,
            ],
        }
    )
    kubectl.apply(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": role, "namespace": team},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
            "subjects": [{"kind": "User", "name": "culler"}],
        }
    )
    for change in (
        {"image": "registry.invalid/x:1"},
        {"desiredStatus": "Stopped", "accessType": "Public"},
        {"desiredStatus": "Stopped", "env": [{"name": "X", "value": "y"}]},
    ):
        # Refused by the policy (not RBAC, which lets it patch): retried while RBAC settles.
        eventually(
            lambda c=change: refused(
                patch(kubectl, team, "alices", c, "culler"), "only the owner of workspace alices"
            ),
            timeout=30,
            what=f"{change} refused",
        )
    res = patch(kubectl, team, "alices", {"desiredStatus": "Stopped"}, "culler")
    assert res.returncode == 0, res.stderr
    # Stopped already: starting it (or stopping again) is the owner's.
    res = patch(kubectl, team, "alices", {"desiredStatus": "Running"}, "culler")
    assert refused(res, "only the owner of workspace alices"), res.stderr
