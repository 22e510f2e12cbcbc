"""The pure workspace reconciliation: inheritance, validation, children, status."""

from __future__ import annotations

from typing import Any

from jupyter_k8s.api import WorkspaceManagerSpec, WorkspaceSpec, WorkspaceTemplateSpec
from jupyter_k8s.api.common import Condition, ConditionType
from jupyter_k8s.reconcile.children import WorkspaceRef
from jupyter_k8s.reconcile.conditions import Cond, merge_conditions
from jupyter_k8s.reconcile.observed import DeploymentView, PodView, PvcView
from jupyter_k8s.reconcile.resolve import resolve
from jupyter_k8s.reconcile.routing import route
from jupyter_k8s.reconcile.validate import violations
from jupyter_k8s.reconcile.workspace import ManagerState, WorkspaceInputs, plan_workspace

REF = WorkspaceRef(name="lab", namespace="team-a", uid="uid-1")
TEMPLATE = WorkspaceTemplateSpec.model_validate(
    {
        "displayName": "T",
        "appType": "jupyterlab",
        "defaultImage": "img:1",
        "allowedImages": ["img:1", "img:2"],
        "defaultResources": {
            "requests": {"cpu": "200m", "memory": "512Mi"},
            "limits": {"memory": "1Gi"},
        },
        "resourceBounds": {"cpu": {"min": "100m", "max": "2"}, "nvidia.com/gpu": {"max": "1"}},
        "primaryStorage": {
            "defaultSize": "5Gi",
            "minSize": "1Gi",
            "maxSize": "20Gi",
            "storageClassName": "gold",
        },
        "env": [{"name": "A", "value": "template"}, {"name": "B", "value": "template"}],
        "defaultManagerRef": "mgr",
    }
)
READY_DEPLOY = DeploymentView(rolled_out=True, failure=None)
READY_POD = PodView(name="p", phase="Running", deleting=False, ready=True, unschedulable=None)
BOUND = PvcView(name="ws-lab", requested="5Gi", phase="Bound")


def _inputs(spec: dict[str, Any], **kw: Any) -> WorkspaceInputs:
    base: dict[str, Any] = {
        "ref": REF,
        "generation": 1,
        "spec": WorkspaceSpec.model_validate({"templateRef": "t", **spec}),
        "annotations": {"workspace.jupyter.org/created-by": "alice"},
        "status": {},
        "template_name": "t",
        "template": TEMPLATE,
    }
    base.update(kw)
    return WorkspaceInputs(**base)


def _by_kind(objs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {o["kind"]: o for o in objs}


def test_empty_fields_are_inherited_from_the_template() -> None:
    r = resolve(WorkspaceSpec.model_validate({"env": [{"name": "B", "value": "mine"}]}), TEMPLATE)
    assert r.image == "img:1" and r.app_type == "jupyterlab"
    assert r.requests == {"cpu": "200m", "memory": "512Mi"} and r.limits == {"memory": "1Gi"}
    assert (r.storage_size, r.storage_class, r.mount_path) == ("5Gi", "gold", "/home/jovyan")
    assert [(e.name, e.value) for e in r.env] == [("A", "template"), ("B", "mine")]
    assert r.manager_ref == "mgr"


def test_explicit_values_override_the_template() -> None:
    spec = WorkspaceSpec.model_validate(
        {"image": "img:2", "resources": {"requests": {"cpu": "1"}}, "storage": {"size": "10Gi"}}
    )
    r = resolve(spec, TEMPLATE)
    assert r.image == "img:2" and r.requests == {"cpu": "1"} and r.storage_size == "10Gi"
    assert r.limits == {"memory": "1Gi"}, "limits still come from the template"


def test_every_violation_is_listed_with_its_field() -> None:
    spec = WorkspaceSpec.model_validate(
        {
            "image": "evil:1",
            "resources": {
                "requests": {"cpu": "50m", "nvidia.com/gpu": "2"},
                "limits": {"nvidia.com/gpu": "2"},
            },
            "storage": {"size": "50Gi"},
        }
    )
    found = violations(spec, resolve(spec, TEMPLATE), TEMPLATE, "t")
    text = "\n".join(found)
    assert 'spec.image: "evil:1" is not allowed' in text and "img:1, img:2" in text
    assert "spec.resources.requests.cpu: 50m is below the template's minimum 100m" in text
    assert "spec.resources.requests.nvidia.com/gpu: 2 is above the template's maximum 1" in text
    assert "spec.resources.limits.nvidia.com/gpu: 2 is above the template's maximum 1" in text
    assert "spec.storage.size: 50Gi is above the template's maximum 20Gi" in text


def test_request_above_limit_and_shrinking_volume_are_invalid() -> None:
    spec = WorkspaceSpec.model_validate(
        {"resources": {"requests": {"memory": "2Gi"}}, "storage": {"size": "2Gi"}}
    )
    found = violations(spec, resolve(spec, TEMPLATE), TEMPLATE, "t", current_volume_size="5Gi")
    assert any("requests.memory: 2Gi is above its limit 1Gi" in v for v in found)
    assert any("volumes cannot shrink" in v for v in found)


def test_valid_running_workspace_children() -> None:
    plan = plan_workspace(_inputs({}, pvc=BOUND, deployment=READY_DEPLOY, pods=[READY_POD]))
    objs = _by_kind(plan.apply)
    assert set(objs) == {"PersistentVolumeClaim", "Deployment", "Service", "Role", "RoleBinding"}
    assert objs["Role"]["metadata"]["name"] == "ws-lab-owner"  # no connect Role: not shared
    for obj in plan.apply:
        meta = obj["metadata"]
        assert meta["labels"]["workspace.jupyter.org/workspace-name"] == "lab"
        assert (
            meta["ownerReferences"][0]["uid"] == "uid-1"
            and meta["ownerReferences"][0]["controller"]
        )
    dep = objs["Deployment"]["spec"]
    assert dep["replicas"] == 1 and dep["strategy"] == {"type": "Recreate"}
    pod = dep["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["seccompProfile"] == {
        "type": "RuntimeDefault"
    }
    assert pod["automountServiceAccountToken"] is False
    # No account named without a profile: the namespace's default.
    assert "serviceAccountName" not in pod and "serviceAccount" not in pod
    c = pod["containers"][0]
    assert c["securityContext"]["allowPrivilegeEscalation"] is False and c["securityContext"][
        "capabilities"
    ] == {"drop": ["ALL"]}
    assert c["args"][:2] == ["jupyter", "lab"]
    assert objs["PersistentVolumeClaim"]["spec"]["storageClassName"] == "gold"
    assert plan.status.wire()["phase"] == "Running"
    assert {c["type"]: c["status"] for c in plan.status.wire()["conditions"]} == {
        "Valid": "True",
        "Available": "True",
        "Progressing": "False",
        "Degraded": "False",
        "Stopped": "False",
    }
    assert plan.status.wire()["owner"] == "alice" and plan.status.wire()["observedGeneration"] == 1


def test_invalid_workspace_gets_no_children_and_loses_no_volume() -> None:
    plan = plan_workspace(_inputs({"image": "evil:1"}, pvc=BOUND, deployment=READY_DEPLOY))
    assert plan.apply == []
    assert plan.delete == [("Deployment", "ws-lab")], "compute goes, the volume stays"
    assert plan.status.wire()["phase"] == "Invalid"
    valid = next(c for c in plan.status.wire()["conditions"] if c["type"] == "Valid")
    assert valid["status"] == "False" and valid["reason"] == "InvalidSpec"
    assert plan.events[0].type == "Warning" and "evil:1" in plan.events[0].message


def test_missing_template_is_its_own_reason() -> None:
    plan = plan_workspace(_inputs({}, template=None))
    valid = next(c for c in plan.status.wire()["conditions"] if c["type"] == "Valid")
    assert (
        valid["reason"] == "TemplateNotFound"
        and 'WorkspaceTemplate "t" does not exist' in valid["message"]
    )


def test_stopped_scales_to_zero_and_reports_stopped_once_pods_are_gone() -> None:
    stopping = plan_workspace(_inputs({"desiredStatus": "Stopped"}, pods=[READY_POD]))
    assert _by_kind(stopping.apply)["Deployment"]["spec"]["replicas"] == 0
    assert "PersistentVolumeClaim" in _by_kind(stopping.apply)
    assert stopping.status.wire()["phase"] == "Stopping"
    stopped = plan_workspace(_inputs({"desiredStatus": "Stopped"}, pods=[]))
    assert stopped.status.wire()["phase"] == "Stopped"


def test_degraded_reasons_name_the_cause() -> None:
    unschedulable = PodView(
        "p", "Pending", False, False, "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."
    )
    plan = plan_workspace(_inputs({}, pvc=BOUND, deployment=READY_DEPLOY, pods=[unschedulable]))
    degraded = next(c for c in plan.status.wire()["conditions"] if c["type"] == "Degraded")
    assert degraded["status"] == "True" and degraded["reason"] == "Unschedulable"
    assert "Insufficient nvidia.com/gpu" in degraded["message"]

    pull = PodView(
        "p", "Pending", False, False, None, (("workspace", "ImagePullBackOff", "no such host"),)
    )
    plan = plan_workspace(_inputs({}, pvc=BOUND, deployment=READY_DEPLOY, pods=[pull]))
    assert plan.status.wire()["phase"] == "Degraded"
    assert (
        next(c for c in plan.status.wire()["conditions"] if c["type"] == "Degraded")["reason"]
        == "ImagePullBackOff"
    )


def test_scheduler_verdict_from_before_the_volume_bound_is_not_a_fault() -> None:
    stale = PodView(
        "p",
        "Pending",
        False,
        False,
        "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims.",
    )
    plan = plan_workspace(_inputs({}, pvc=BOUND, deployment=READY_DEPLOY, pods=[stale]))
    assert plan.status.wire()["phase"] == "Starting"


def test_unbound_volume_is_waiting_not_degraded() -> None:
    waiting = PodView(
        "p", "Pending", False, False, "pod has unbound immediate PersistentVolumeClaims"
    )
    plan = plan_workspace(
        _inputs(
            {}, pvc=PvcView("ws-lab", "5Gi", "Pending"), deployment=READY_DEPLOY, pods=[waiting]
        )
    )
    assert plan.status.wire()["phase"] == "Starting"


def test_status_is_unchanged_on_a_second_pass() -> None:
    first = plan_workspace(
        _inputs({}, pvc=BOUND, deployment=READY_DEPLOY, pods=[READY_POD]),
        now="2026-01-01T00:00:00Z",
    )
    second = plan_workspace(
        _inputs(
            {}, pvc=BOUND, deployment=READY_DEPLOY, pods=[READY_POD], status=first.status.wire()
        ),
        now="2026-01-02T00:00:00Z",
    )
    assert first.status_changed and not second.status_changed
    assert second.events == []


def test_condition_time_moves_only_on_transitions() -> None:
    t1, t2, t3 = "2026-01-01T00:00:01Z", "2026-01-01T00:00:02Z", "2026-01-01T00:00:03Z"
    available = ConditionType.AVAILABLE

    def stored(conditions: list[Condition]) -> list[dict[str, Any]]:
        return [c.model_dump(mode="json") for c in conditions]

    old = merge_conditions([], [Cond(available, False, "Starting", "a")], 1, now=t1)
    same = merge_conditions(stored(old), [Cond(available, False, "Starting", "b")], 2, now=t2)
    assert stored(same)[0]["lastTransitionTime"] == t1 and same[0].message == "b"
    flipped = merge_conditions(stored(same), [Cond(available, True, "Running", "c")], 2, now=t3)
    assert stored(flipped)[0]["lastTransitionTime"] == t3


def test_a_message_longer_than_the_schema_allows_is_cut_not_refused() -> None:
    (cond,) = merge_conditions(
        [], [Cond(ConditionType.VALID, False, "InvalidSpec", "x" * 40000)], 1
    )
    assert len(cond.message) == 32768


def test_routes_per_mode() -> None:
    sub = WorkspaceManagerSpec.model_validate(
        {"domain": "ws.example.com", "routing": {"tlsSecretName": "tls"}}
    )
    r = route("lab", "team-a", sub)
    assert (r.url, r.base_url) == ("https://lab--team-a.ws.example.com/", "/")
    path = WorkspaceManagerSpec.model_validate(
        {"domain": "ws.example.com", "routing": {"mode": "path"}}
    )
    r = route("lab", "team-a", path)
    assert (r.url, r.base_url) == (
        "https://ws.example.com/workspaces/team-a/lab/",
        "/workspaces/team-a/lab/",
    )
    assert route("lab", "team-a", None).url is None


def test_base_url_reaches_the_app() -> None:
    path = WorkspaceManagerSpec.model_validate(
        {"domain": "ws.example.com", "routing": {"mode": "path"}}
    )
    plan = plan_workspace(_inputs({}, manager=ManagerState("mgr", path)))
    c = _by_kind(plan.apply)["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in c["env"]}
    assert env["JUPYTER_K8S_BASE_URL"] == "/workspaces/team-a/lab/"
    assert "--ServerApp.base_url=$(JUPYTER_K8S_BASE_URL)" in c["args"]
    assert c["readinessProbe"]["httpGet"]["path"] == "/workspaces/team-a/lab/api"


def test_reserved_env_names_are_invalid_not_a_broken_pod() -> None:
    """Regression: JUPYTER_K8S_* in env gave Valid=True, then a Deployment with duplicate env
    keys that never applied (Degraded/ApplyFailed forever)."""
    spec = WorkspaceSpec.model_validate(
        {"env": [{"name": "OK", "value": "1"}, {"name": "JUPYTER_K8S_BASE_URL", "value": "/x/"}]}
    )
    found = violations(spec, resolve(spec, TEMPLATE), TEMPLATE, "t")
    assert found == [
        'spec.env[1].name: "JUPYTER_K8S_BASE_URL" is reserved (jupyter-k8s sets JUPYTER_K8S_* '
        "itself); use another name"
    ]
    bad_template = TEMPLATE.model_copy(
        update={
            "env": [
                *(TEMPLATE.env or []),
                type(TEMPLATE.env[0])(name="JUPYTER_K8S_OWNER", value="x"),
            ]
        }  # type: ignore[index]
    )
    plain = WorkspaceSpec.model_validate({})
    assert any(
        'template "t" env: "JUPYTER_K8S_OWNER" is reserved' in v
        for v in violations(plain, resolve(plain, bad_template), bad_template, "t")
    )


def test_storage_sizes_compare_as_the_api_server_stores_them() -> None:
    """Regression: 0.0000001m deployed, then turned Invalid ("cannot shrink") once the PVC
    held the API server's rounded-up value; fractions of a byte compare as whole bytes."""
    tiny = WorkspaceSpec.model_validate({"storage": {"size": "0.0000001m"}})
    assert "spec.storage.size: 0.0000001m is below the minimum 1Mi" in violations(
        tiny, resolve(tiny, None), None, None
    )
    odd = WorkspaceSpec.model_validate({"storage": {"size": "1.0000001Gi"}})
    stored = "1073741932"  # what the API server keeps: rounded up to a whole byte
    assert not [
        v for v in violations(odd, resolve(odd, TEMPLATE), TEMPLATE, "t", stored) if "shrink" in v
    ]


# --- one volume, one pod (issue 19, defect 1) -------------------------------------------


def test_an_invalid_workspace_loses_its_deployment_in_the_foreground_and_only_once() -> None:
    from jupyter_k8s.child_kinds import FOREGROUND_DELETE

    bad = {"image": "not-allowed:1"}
    plan = plan_workspace(_inputs(bad, deployment=READY_DEPLOY, pods=[READY_POD], pvc=BOUND))
    assert ("Deployment", "ws-lab") in plan.delete and "Deployment" in FOREGROUND_DELETE
    going = DeploymentView(**{**READY_DEPLOY.__dict__, "deleting": True})
    again = plan_workspace(_inputs(bad, deployment=going, pods=[READY_POD], pvc=BOUND))
    assert ("Deployment", "ws-lab") not in again.delete, "no second delete while it goes"
    assert "PersistentVolumeClaim" not in {k for k, _ in again.delete}, "the volume stays"


def test_fixed_while_the_old_deployment_still_goes_waits_for_its_pod() -> None:
    going = DeploymentView(**{**READY_DEPLOY.__dict__, "deleting": True})
    plan = plan_workspace(_inputs({}, deployment=going, pods=[READY_POD], pvc=BOUND))
    kinds = _by_kind(plan.apply)
    assert "Deployment" not in kinds, "no new Deployment next to the old pod"
    assert "PersistentVolumeClaim" in kinds and "Service" in kinds
    available = next(c for c in plan.status.wire()["conditions"] if c["type"] == "Available")
    assert available["status"] == "False" and "previous pod to stop" in available["message"]
    # Once it is gone, the new Deployment is applied.
    after = plan_workspace(_inputs({}, deployment=None, pods=[], pvc=BOUND))
    assert "Deployment" in _by_kind(after.apply)


def test_two_live_pods_on_one_volume_are_never_available() -> None:
    other = PodView(name="q", phase="Running", deleting=False, ready=True, unschedulable=None)
    plan = plan_workspace(_inputs({}, deployment=READY_DEPLOY, pods=[READY_POD, other], pvc=BOUND))
    available = next(c for c in plan.status.wire()["conditions"] if c["type"] == "Available")
    assert (
        available["status"] == "False"
        and "2 pods use this workspace's volume" in available["message"]
    )
    # A pod that is terminating does not count.
    leaving = PodView(name="q", phase="Running", deleting=True, ready=True, unschedulable=None)
    plan = plan_workspace(
        _inputs({}, deployment=READY_DEPLOY, pods=[READY_POD, leaving], pvc=BOUND)
    )
    available = next(c for c in plan.status.wire()["conditions"] if c["type"] == "Available")
    assert available["status"] == "True"


def test_a_pod_on_a_node_that_stopped_reporting_is_degraded_in_the_nodes_words() -> None:
    from jupyter_k8s.reconcile.observed import node_fault, pod_view

    gone_quiet = {
        "status": {
            "conditions": [
                {
                    "type": "Ready",
                    "status": "Unknown",
                    "reason": "NodeStatusUnknown",
                    "message": "Kubelet stopped posting node status.",
                }
            ]
        }
    }
    fault = node_fault(gone_quiet)
    assert fault == "Ready=Unknown (NodeStatusUnknown): Kubelet stopped posting node status."
    assert node_fault({"status": {"conditions": [{"type": "Ready", "status": "True"}]}}) is None
    pod = pod_view(
        {
            "metadata": {"name": "p"},
            "spec": {"nodeName": "n1"},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
        }
    )
    assert pod.node == "n1"
    # The pod still says Ready (its kubelet cannot say otherwise): the node decides.
    plan = plan_workspace(
        _inputs({}, deployment=READY_DEPLOY, pods=[pod], pvc=BOUND, node_faults={"n1": fault})
    )
    degraded = next(c for c in plan.status.wire()["conditions"] if c["type"] == "Degraded")
    assert plan.status.wire()["phase"] == "Degraded" and degraded["reason"] == "NodeNotReady"
    assert "node n1" in degraded["message"] and "Kubelet stopped posting" in degraded["message"]
    # Back to Ready: Running again.
    plan = plan_workspace(
        _inputs({}, deployment=READY_DEPLOY, pods=[pod], pvc=BOUND, status=plan.status.wire())
    )
    assert plan.status.wire()["phase"] == "Running"


def test_a_connect_role_once_made_stays() -> None:
    """Made when shared or Public; kept after (it grants nothing without a binding), so an
    upgrade from an operator that made one for every workspace deletes nothing, and a share
    being granted never loses the Role under it."""
    connect = ("Role", "ws-lab-connect")
    made = {"Role", "RoleBinding"}
    plan = plan_workspace(_inputs({}, pvc=BOUND, deployment=READY_DEPLOY, pods=[READY_POD]))
    assert [o["metadata"]["name"] for o in plan.apply if o["kind"] in made] == ["ws-lab-owner"] * 2
    shared = plan_workspace(_inputs({}, pvc=BOUND, deployment=READY_DEPLOY, shared=True))
    assert connect in {(o["kind"], o["metadata"]["name"]) for o in shared.apply}
    public = ("RoleBinding", "ws-lab-public")
    private_again = plan_workspace(
        _inputs({}, pvc=BOUND, deployment=READY_DEPLOY, existing=frozenset({connect, public}))
    )
    assert private_again.delete == [public]


def test_leaving_a_profile_leaves_its_account() -> None:
    # Once pods named a profile's account, they name "default" from then on, in both fields
    # (the server keeps the deprecated one otherwise, and pods would ask for a deleted account).
    named = DeploymentView(**{**READY_DEPLOY.__dict__, "service_account": "ws-lab"})
    plan = plan_workspace(_inputs({}, pvc=BOUND, deployment=named, pods=[READY_POD]))
    pod = _by_kind(plan.apply)["Deployment"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == pod["serviceAccount"] == "default"


def test_no_plan_sets_what_other_controllers_write_on_its_children() -> None:
    """What the index leaves out of a child (so that those writes set off no pass) must be
    nothing a plan asks for, or a drift check could never see it."""
    from jupyter_k8s.child_kinds import BY_KIND

    plan = plan_workspace(_inputs({}, pvc=BOUND, deployment=READY_DEPLOY, pods=[READY_POD]))
    for obj in plan.apply:
        kind = BY_KIND[obj["kind"]]
        annotations = obj["metadata"].get("annotations") or {}
        assert not set(kind.controller_annotations) & set(annotations), obj["kind"]
        assert not set(kind.controller_spec) & set(obj.get("spec") or {}), obj["kind"]
