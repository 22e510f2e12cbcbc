"""The Pulumi program under mocks: the resource graph per mode and target, its security
properties, and the errors a wrong configuration gives."""

from __future__ import annotations

import re
from typing import Any

import pytest

from infra import images
from infra.config import ConfigError, parse
from jupyter_k8s.deploy.settings import WEBHOOK_CONFIGURATION

from .stack import SECRETS as SECRETS_GIVEN
from .stack import Declared, customized, declare, guided, named, of_kind, pod_specs

SECRET_SIG, SECRET_VALUE = "4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270"
GUIDED_COMPONENTS = ("Operator", "Proxy", "Auth", "Identity", "Tenancy", "Catalogue")


@pytest.fixture(scope="module")
def kind_stack() -> list[Declared]:
    return declare(guided("kind"))


@pytest.fixture(scope="module")
def eks_stack() -> list[Declared]:
    return declare(
        guided("eks", eks={"irsaPolicyArns": ["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"]})
    )


@pytest.fixture(scope="module")
def custom_stack() -> list[Declared]:
    return declare(customized())


def _components(resources: list[Declared]) -> set[str]:
    return {r.typ.rsplit(":", 1)[-1] for r in resources if r.typ.startswith("jupyter-k8s:index:")}


def test_guided_kind_declares_every_component(kind_stack: list[Declared]) -> None:
    assert _components(kind_stack) == set(GUIDED_COMPONENTS)
    # operator: CRDs from the models, RBAC, Deployment, webhook and metrics
    assert len(of_kind(kind_stack, "CustomResourceDefinition")) == 5
    named(kind_stack, "Deployment", "jupyter-k8s-operator", "jupyter-k8s-system")
    named(kind_stack, "Service", "jupyter-k8s-operator-webhook", "jupyter-k8s-system")
    named(kind_stack, "Service", "jupyter-k8s-operator-metrics", "jupyter-k8s-system")
    named(kind_stack, "MutatingWebhookConfiguration", WEBHOOK_CONFIGURATION)
    # proxy, auth, identity
    traefik = named(kind_stack, "Deployment", "traefik", "jupyter-k8s-proxy")
    assert traefik.inputs["spec"]["template"]["spec"]["containers"][0]["image"] == images.TRAEFIK
    assert (
        named(kind_stack, "Service", "traefik", "jupyter-k8s-proxy").inputs["spec"]["type"]
        == "NodePort"
    )
    named(kind_stack, "Deployment", "oauth2-proxy", "jupyter-k8s-auth")
    named(kind_stack, "Deployment", "jupyter-k8s-authz", "jupyter-k8s-system")
    named(kind_stack, "Deployment", "dex", "jupyter-k8s-auth")
    # catalogue
    templates = {r.inputs["metadata"]["name"] for r in of_kind(kind_stack, "WorkspaceTemplate")}
    assert templates == {"jupyterlab-cpu-v1", "jupyterlab-gpu-v1", "code-server-v1"}
    manager = named(kind_stack, "WorkspaceManager", "default")
    assert manager.inputs["spec"]["routing"]["ingressClassName"] == "traefik"
    assert manager.inputs["spec"]["authentication"]["middlewares"] == ["jupyter-auth@file"]
    named(kind_stack, "WorkspaceExecutionProfile", "default")


def test_crds_are_the_generated_ones(kind_stack: list[Declared]) -> None:
    from jupyter_k8s.deploy.installer import crds

    declared = {
        r.inputs["metadata"]["name"]: r.inputs["spec"]
        for r in of_kind(kind_stack, "CustomResourceDefinition")
    }
    assert declared == {c["metadata"]["name"]: c["spec"] for c in crds()}


def test_every_team_namespace_is_fenced(kind_stack: list[Declared]) -> None:
    for team in ("team-a", "team-b"):
        ns = named(kind_stack, "Namespace", team)
        assert ns.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
        quota = named(kind_stack, "ResourceQuota", "team-quota", team).inputs["spec"]["hard"]
        assert {
            "requests.cpu",
            "requests.memory",
            "requests.nvidia.com/gpu",
            "requests.storage",
        } <= set(quota)
        named(kind_stack, "LimitRange", "defaults", team)
        policy = named(kind_stack, "NetworkPolicy", "workspaces-from-proxy-only", team).inputs[
            "spec"
        ]
        peer = policy["ingress"][0]["from"][0]
        assert peer["namespaceSelector"]["matchLabels"] == {
            "kubernetes.io/metadata.name": "jupyter-k8s-proxy"
        }
        binding = named(kind_stack, "RoleBinding", "workspace-users", team)
        assert binding.inputs["roleRef"]["name"] == "jupyter-k8s-workspace-user"
    # metadata blocking is for EKS only
    assert not [
        r
        for r in of_kind(kind_stack, "NetworkPolicy")
        if r.inputs["metadata"]["name"] == "block-cloud-metadata"
    ]


def test_eks_target(eks_stack: list[Declared]) -> None:
    assert _components(eks_stack) == {*GUIDED_COMPONENTS, "Eks"}
    service = named(eks_stack, "Service", "traefik", "jupyter-k8s-proxy").inputs
    assert service["spec"]["type"] == "LoadBalancer"
    assert (
        service["metadata"]["annotations"][
            "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type"
        ]
        == "ip"
    )
    gp3 = named(eks_stack, "StorageClass", "gp3").inputs
    assert gp3["parameters"]["type"] == "gp3" and gp3["provisioner"] == "ebs.csi.aws.com"
    role = next(r for r in eks_stack if r.typ == "aws:iam/role:Role")
    assert "system:serviceaccount:team-a:ws-*" in role.inputs["assumeRolePolicy"]
    assert any(r.typ == "aws:iam/openIdConnectProvider:OpenIdConnectProvider" for r in eks_stack)
    profile = named(eks_stack, "WorkspaceExecutionProfile", "default").inputs
    assert profile["spec"]["serviceAccount"]["annotations"][
        "eks.amazonaws.com/role-arn"
    ].startswith("arn:aws:iam::")
    for team in ("team-a", "team-b"):
        block = named(eks_stack, "NetworkPolicy", "block-cloud-metadata", team).inputs["spec"]
        assert "169.254.169.254/32" in block["egress"][0]["to"][0]["ipBlock"]["except"]


def test_eks_cluster_is_found_by_name_and_region() -> None:
    from infra.components.eks import kubeconfig

    text = kubeconfig("jupyter-k8s-cluster", "https://x", "Q0E=", "us-west-2")
    assert '"--cluster-name", "jupyter-k8s-cluster", "--region", "us-west-2"' in text
    assert "token" not in text.replace("get-token", "")  # no static credential


def test_customized_declares_only_operator_crds_and_manager(custom_stack: list[Declared]) -> None:
    assert _components(custom_stack) == {"Operator", "Catalogue"}
    kinds = {
        r.kind
        for r in custom_stack
        if not r.typ.startswith("jupyter-k8s:") and r.typ != "pulumi:providers:kubernetes"
    }
    assert "WorkspaceTemplate" not in kinds
    for absent in ("traefik", "oauth2-proxy", "dex", "jupyter-k8s-authz"):
        assert not [
            r for r in of_kind(custom_stack, "Deployment") if r.inputs["metadata"]["name"] == absent
        ]
    spec = named(custom_stack, "WorkspaceManager", "default").inputs["spec"]
    assert spec["routing"]["ingressClassName"] == "nginx"
    assert spec["authentication"]["authUrl"] == "https://sso.corp.example/oauth2/auth"
    assert spec["authorization"]["url"] == "https://authz.corp.example/authorize"


def test_operator_runs_on_host_for_the_local_target() -> None:
    resources = declare(guided("local", operator={"runsOnHost": True}))
    assert not [
        r
        for r in of_kind(resources, "Deployment")
        if r.inputs["metadata"]["name"] == "jupyter-k8s-operator"
    ]
    assert not of_kind(resources, "MutatingWebhookConfiguration")
    assert len(of_kind(resources, "CustomResourceDefinition")) == 5


@pytest.mark.parametrize("fixture", ["kind_stack", "eks_stack", "custom_stack"])
def test_no_privileged_or_root_containers(fixture: str, request: pytest.FixtureRequest) -> None:
    resources: list[Declared] = request.getfixturevalue(fixture)
    for name, pod in pod_specs(resources):
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert not pod.get("hostNetwork") and not pod.get("hostPID"), name
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False and not sc.get("privileged"), (
                name,
                c["name"],
            )
            assert sc["capabilities"] == {"drop": ["ALL"]}, (name, c["name"])


@pytest.mark.parametrize("fixture", ["kind_stack", "eks_stack", "custom_stack"])
def test_every_image_is_pinned(fixture: str, request: pytest.FixtureRequest) -> None:
    resources: list[Declared] = request.getfixturevalue(fixture)
    found = [c["image"] for _, pod in pod_specs(resources) for c in pod["containers"]]
    found += [t.inputs["spec"]["defaultImage"] for t in of_kind(resources, "WorkspaceTemplate")]
    assert found
    for image in found:
        assert re.search(r":[\w][\w.-]*$|@sha256:[0-9a-f]{64}$", image.rsplit("/", 1)[-1]), image
        assert not image.endswith(":latest"), image


def test_secrets_are_secret_and_never_in_plain_config(kind_stack: list[Declared]) -> None:
    secrets = of_kind(kind_stack, "Secret")
    assert {s.inputs["metadata"]["name"] for s in secrets} == {
        "traefik-default-cert",
        "oauth2-proxy",
        "dex-config",
        "jupyter-k8s-proxy-key",
    }
    for secret in secrets:
        # Pulumi's secret envelope: encrypted in state, masked in output.
        assert secret.inputs["stringData"].get(SECRET_SIG) == SECRET_VALUE, secret.name
    # ... and no secret value appears in any non-Secret resource (e.g. a ConfigMap or args).
    text = repr([r.inputs for r in kind_stack if r.kind != "Secret"])
    assert (
        "client-secret-value" not in text and "c" * 32 not in text and "proxy-key-value" not in text
    )


def test_rbac_has_no_wildcards(kind_stack: list[Declared]) -> None:
    for role in of_kind(kind_stack, "ClusterRole") + of_kind(kind_stack, "Role"):
        for rule in role.inputs["rules"]:
            for key in ("apiGroups", "resources", "verbs"):
                assert "*" not in rule.get(key, []), role.inputs["metadata"]["name"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"mode": "guided", "target": "kind"},
            "jupyter-k8s:domain: Field required; set it: pulumi config set --path 'jupyter-k8s:domain'",
        ),
        (
            {**guided(), "domian": "x"},
            "jupyter-k8s:domian: Extra inputs are not permitted; remove it or fix its spelling",
        ),
        (
            {**guided(), "target": "gke"},
            "jupyter-k8s:target: Input should be 'local', 'kind' or 'eks'",
        ),
        (
            {**customized(), "customized": None},
            "configuration key jupyter-k8s:customized: customized mode needs the 'customized' "
            "object: ingressClassName, authUrl, signInUrl (your proxy and authentication); set "
            "them: pulumi config set --path 'jupyter-k8s:customized.ingressClassName' <class>",
        ),
        (
            {**guided(), "customized": customized()["customized"]},
            "configuration key jupyter-k8s:customized: 'customized' is only read in customized "
            "mode; remove it: pulumi config rm 'jupyter-k8s:customized'",
        ),
        (
            {**guided(), "dex": {}},
            "configuration key jupyter-k8s:dex: guided mode needs a way to sign in",
        ),
        (
            {**guided(), "teams": [{"name": "Team A", "users": ["x"]}]},
            "configuration key jupyter-k8s:teams[0].name: String should match pattern",
        ),
        (
            {**guided(), "teams": [{"name": "a", "users": ["x"]}, {"name": "a", "groups": ["g"]}]},
            "configuration key jupyter-k8s:teams: team names must be unique: 'a' is used twice",
        ),
        (
            {**guided(), "teams": [{"name": "a"}]},
            "configuration key jupyter-k8s:teams[0].users: team 'a' needs users or groups; add "
            "one: pulumi config set --path 'jupyter-k8s:teams[0].users[0]'",
        ),
        (
            {
                **guided(),
                "teams": [
                    {
                        "name": "a",
                        "users": ["x"],
                        "allowedTemplates": ["t1"],
                        "defaultTemplate": "t2",
                    }
                ],
            },
            "configuration key jupyter-k8s:teams[0].defaultTemplate: team 'a': defaultTemplate "
            "'t2' is not one of its allowedTemplates; pick one of them",
        ),
        (
            {
                **guided("eks"),
                "dex": {
                    "staticUsers": [{"email": "a@b.c", "username": "a", "passwordHash": "$2b$x"}]
                },
            },
            "configuration key jupyter-k8s:dex.staticUsers: static users are for local/kind only;"
            " remove them: pulumi config rm --path 'jupyter-k8s:dex.staticUsers'",
        ),
    ],
)
def test_bad_configuration_names_the_key_and_the_fix(raw: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError) as info:
        parse(raw)
    assert message in str(info.value)


def test_half_a_tls_pair_says_what_is_missing() -> None:
    raw = guided()
    del raw["tlsKey"]
    with pytest.raises(
        ConfigError,
        match=r"jupyter-k8s:tlsKey is missing: a certificate and its key go together",
    ):
        declare(raw)


def test_no_secret_in_the_config_still_declares_the_whole_platform() -> None:
    # What a plain `pulumi up` on a new stack does: the program generates what is not set.
    raw = {k: v for k, v in guided().items() if k not in SECRETS_GIVEN}
    stack = declare(raw)
    assert _components(stack) == set(GUIDED_COMPONENTS)
    generated = [r for r in stack if r.typ == "pulumi-python:dynamic:Resource"]
    assert sorted(r.name for r in generated) == ["platform-keys", "platform-tls"]
    assert named(stack, "Deployment", "jupyter-k8s-authz", "jupyter-k8s-system")
    secrets = {s.inputs["metadata"]["name"]: s for s in of_kind(stack, "Secret")}
    assert set(secrets) == {
        "traefik-default-cert",
        "oauth2-proxy",
        "dex-config",
        "jupyter-k8s-proxy-key",
    }
    for secret in secrets.values():
        assert secret.inputs["stringData"].get(SECRET_SIG) == SECRET_VALUE, secret.name
    # Chosen values win over generated ones; nothing is generated when all are chosen.
    assert not [r for r in declare(guided()) if r.typ == "pulumi-python:dynamic:Resource"]
    only_tls = {k: v for k, v in guided().items() if k not in ("tlsCertificate", "tlsKey")}
    made = [r.name for r in declare(only_tls) if r.typ == "pulumi-python:dynamic:Resource"]
    assert made == ["platform-tls"]


def test_customized_mode_generates_only_the_operators_key() -> None:
    made = [r.name for r in declare(customized()) if r.typ == "pulumi-python:dynamic:Resource"]
    assert made == ["platform-keys"]


def test_dev_stack_file_is_valid() -> None:
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[2]
    config = yaml.safe_load((root / "Pulumi.dev.yaml").read_text())["config"]
    raw = {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith("jupyter-k8s:")}
    cfg, _ = parse(raw)
    # Every piece runs in the local cluster (its real node), from images built here.
    assert cfg.target == "local" and cfg.mode == "guided" and not cfg.operator.runsOnHost
    assert cfg.platformImages == "local" and cfg.domain == "workspaces.localhost"


def test_team_namespaces_are_governed_by_templates(kind_stack: list[Declared]) -> None:
    annotations = named(kind_stack, "Namespace", "team-a").inputs["metadata"]["annotations"]
    assert annotations == {
        "workspace.jupyter.org/allowed-templates": "jupyterlab-cpu-v1,jupyterlab-gpu-v1,code-server-v1",
        "workspace.jupyter.org/default-template": "jupyterlab-cpu-v1",
    }
    narrowed = declare(
        guided(
            teams=[
                {
                    "name": "team-c",
                    "users": ["c@example.com"],
                    "allowedTemplates": ["code-server-v1"],
                }
            ]
        )
    )
    annotations = named(narrowed, "Namespace", "team-c").inputs["metadata"]["annotations"]
    assert annotations["workspace.jupyter.org/default-template"] == "code-server-v1"


def test_idp_identities_reach_rbac_with_the_api_servers_prefixes() -> None:
    stack = declare(
        guided(
            identity={"usernamePrefix": "oidc:", "groupsPrefix": "idp:"},
            teams=[{"name": "team-c", "users": ["c@example.com"], "groups": ["data"]}],
        )
    )
    subjects = named(stack, "RoleBinding", "workspace-users", "team-c").inputs["subjects"]
    assert [s["name"] for s in subjects] == ["oidc:c@example.com", "idp:data"]
    env = {
        e["name"]: e.get("value")
        for e in named(stack, "Deployment", "jupyter-k8s-authz", "jupyter-k8s-system").inputs[
            "spec"
        ]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["JK_AUTHZ_USERNAME_PREFIX"] == "oidc:" and env["JK_AUTHZ_GROUPS_PREFIX"] == "idp:"


def test_guided_operator_writes_only_in_team_namespaces(kind_stack: list[Declared]) -> None:
    cluster_wide = named(kind_stack, "ClusterRole", "jupyter-k8s-operator").inputs["rules"]
    for rule in cluster_wide:
        assert not {"secrets", "deployments", "roles", "rolebindings", "clusterroles"} & set(
            rule["resources"]
        ), rule
        assert "escalate" not in rule["verbs"] and "bind" not in rule["verbs"]
    namespaced = named(kind_stack, "ClusterRole", "jupyter-k8s-operator-namespaced").inputs["rules"]
    # No ClusterRole named in config: no bind at all (empty resourceNames would mean all).
    assert not [r for r in namespaced if r["resources"] == ["clusterroles"]]
    named_roles = declare(guided(operator={"bindableClusterRoles": ["view"]}))
    rules = named(named_roles, "ClusterRole", "jupyter-k8s-operator-namespaced").inputs["rules"]
    bind = next(r for r in rules if r["resources"] == ["clusterroles"])
    assert bind == {
        "apiGroups": ["rbac.authorization.k8s.io"],
        "resources": ["clusterroles"],
        "verbs": ["bind"],
        "resourceNames": ["view"],
    }
    for team in ("team-a", "team-b"):
        binding = named(kind_stack, "RoleBinding", "jupyter-k8s-operator", team).inputs
        assert binding["roleRef"]["name"] == "jupyter-k8s-operator-namespaced"
    env = named(kind_stack, "Deployment", "jupyter-k8s-operator", "jupyter-k8s-system").inputs[
        "spec"
    ]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "JK_NAMESPACES", "value": "team-a,team-b"} in env
    # The authorization service reads no Secrets at all.
    authz = named(kind_stack, "ClusterRole", "jupyter-k8s-authz").inputs["rules"]
    assert not [r for r in authz if "secrets" in r["resources"]]


def test_the_api_servers_admission_policies_are_installed(kind_stack: list[Declared]) -> None:
    policies = {
        r.inputs["metadata"]["name"] for r in of_kind(kind_stack, "ValidatingAdmissionPolicy")
    }
    bindings = {
        r.inputs["spec"]["policyName"]
        for r in of_kind(kind_stack, "ValidatingAdmissionPolicyBinding")
    }
    assert (
        policies
        == bindings
        == {
            "workspace-ownership.workspace.jupyter.org",
            "workspace-governance.workspace.jupyter.org",
            "share-authority.workspace.jupyter.org",
        }
    )


def test_the_idp_session_stays_on_the_authentication_host(kind_stack: list[Declared]) -> None:
    proxy_args = named(kind_stack, "Deployment", "oauth2-proxy", "jupyter-k8s-auth").inputs["spec"][
        "template"
    ]["spec"]["containers"][0]["args"]
    assert not [a for a in proxy_args if a.startswith("--cookie-domain")], "host-only cookie"
    assert "--whitelist-domain=auth.ws.example.com" in proxy_args
    env = {
        e["name"]: e.get("value")
        for e in named(kind_stack, "Deployment", "jupyter-k8s-authz", "jupyter-k8s-system").inputs[
            "spec"
        ]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["JK_AUTHZ_AUTH_HOST"] == "auth.ws.example.com"
    # Two stateless replicas sharing sign-outs through one ConfigMap, touched by name only.
    authz = named(kind_stack, "Deployment", "jupyter-k8s-authz", "jupyter-k8s-system")
    assert authz.inputs["spec"]["replicas"] == 2
    assert env["JK_AUTHZ_SIGNOUTS"] == "jupyter-k8s-system/jupyter-k8s-authz-signouts"
    named(kind_stack, "ConfigMap", "jupyter-k8s-authz-signouts", "jupyter-k8s-system")
    named(kind_stack, "PodDisruptionBudget", "jupyter-k8s-authz", "jupyter-k8s-system")
    rule, read = named(kind_stack, "Role", "jupyter-k8s-authz", "jupyter-k8s-system").inputs[
        "rules"
    ]
    # ... and the open SSH tunnels it records for the idle culler, by name too.
    assert rule["resourceNames"] == ["jupyter-k8s-authz-signouts", "jupyter-k8s-tunnel-activity"]
    assert env["JK_AUTHZ_TUNNEL_ACTIVITY"] == "jupyter-k8s-system/jupyter-k8s-tunnel-activity"
    named(kind_stack, "ConfigMap", "jupyter-k8s-tunnel-activity", "jupyter-k8s-system")
    assert rule["verbs"] == ["get", "patch"]
    # It only reads when the culler last saw each workspace in use (for the users' pages).
    assert (read["resourceNames"], read["verbs"]) == (["jupyter-k8s-last-activity"], ["get"])
    assert env["JK_AUTHZ_LAST_ACTIVITY"] == "jupyter-k8s-system/jupyter-k8s-last-activity"
    route = named(kind_stack, "Ingress", "jupyter-k8s-authz", "jupyter-k8s-system").inputs["spec"]
    assert route["rules"][0]["host"] == "auth.ws.example.com"
    assert route["rules"][0]["http"]["paths"][0]["path"] == "/_jk"


def test_unknown_names_under_the_domain_go_to_the_authorization_service(
    kind_stack: list[Declared],
) -> None:
    import yaml

    dynamic = yaml.safe_load(
        named(kind_stack, "ConfigMap", "traefik-dynamic", "jupyter-k8s-proxy").inputs["data"][
            "jupyter.yaml"
        ]
    )
    router = dynamic["http"]["routers"]["jupyter-unknown"]
    assert router["middlewares"] == ["jupyter-auth"] and router["priority"] == 1
    pattern = re.search(r"HostRegexp\(`(.+)`\)", router["rule"]).group(1)  # type: ignore[union-attr]
    assert re.match(pattern, "anything--team-a.ws.example.com")
    assert re.match(pattern, "ws.example.com") and not re.match(pattern, "ws.example.com.evil.io")


def test_local_platform_images_and_the_real_node(tmp_path: object) -> None:
    """The local target runs every piece on the real node, from the same releases built here."""
    import sys

    from infra.components.security import REAL_NODE_ANNOTATIONS
    from tests.support.fixtures import ROOT

    stack = declare(guided("local", platformImages="local"))
    pods = dict(pod_specs(stack))
    images_used = {c["image"] for spec in pods.values() for c in spec["containers"]}
    assert {
        images.LOCAL[images.TRAEFIK],
        images.LOCAL[images.OAUTH2_PROXY],
        images.LOCAL[images.DEX],
    } <= images_used
    for ns in ("jupyter-k8s-system", "jupyter-k8s-proxy", "jupyter-k8s-auth", "team-a"):
        assert named(stack, "Namespace", ns).inputs["metadata"]["annotations"].items() >= (
            REAL_NODE_ANNOTATIONS.items()
        ), ns
    # One description of the real node: the stack's and the local cluster's agree.
    sys.path.insert(0, str(ROOT / "hack"))
    import node

    import images as hack_images

    assert node.REAL_NODE_NAMESPACE_ANNOTATIONS == REAL_NODE_ANNOTATIONS
    assert {ref for ref, _ in hack_images.PLATFORM.values()} == set(images.LOCAL.values())


def test_every_model_level_error_names_its_key() -> None:
    # A bare ValueError from a model validator has no location: the message would name no key.
    import inspect

    import infra.config

    assert "raise ValueError" not in inspect.getsource(infra.config)


def test_monitoring_where_the_prometheus_operator_is() -> None:
    from jupyter_k8s.monitoring import alerting_rules

    stack = declare(guided(monitoring={"prometheusOperator": True}))
    monitors = of_kind(stack, "ServiceMonitor")
    assert sorted(m.inputs["metadata"]["name"] for m in monitors) == [
        "jupyter-k8s-authz",
        "jupyter-k8s-operator",
    ]
    (rule,) = of_kind(stack, "PrometheusRule")
    assert rule.inputs["spec"] == alerting_rules()
    board = named(stack, "ConfigMap", "jupyter-k8s-dashboard", "jupyter-k8s-system")
    assert board.inputs["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert "jupyter_k8s_workspaces" in board.inputs["data"]["jupyter-k8s.json"]
    # Off, or a cluster without the Prometheus Operator's CRDs (auto): none of it.
    for setting in (False, "auto"):
        plain = declare(guided(monitoring={"prometheusOperator": setting}))
        assert not of_kind(plain, "ServiceMonitor") and not of_kind(plain, "PrometheusRule")


def test_the_operator_starts_only_once_its_proxy_key_exists(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The key reaches the operator's pods as an optional environment variable read at start:
    a pod that started before the Secret existed would run without it (workspaces' apps then
    refuse every request and no SSH server is set up) until restarted."""
    import infra.components.operator as component

    made: dict[str, Any] = {}
    waits: dict[str, list[Any]] = {}
    real = component.declare

    def recording(obj: dict[str, Any], opts: Any) -> Any:
        res = real(obj, opts)
        made[obj["kind"] + "/" + obj["metadata"]["name"]] = res
        waits[obj["kind"] + "/" + obj["metadata"]["name"]] = list(opts.depends_on or [])
        return res

    monkeypatch.setattr(component, "declare", recording)
    declare(guided("kind"))
    secret = made["Secret/jupyter-k8s-proxy-key"]
    assert secret in waits["Deployment/jupyter-k8s-operator"]


@pytest.mark.parametrize("fixture", ["kind_stack", "eks_stack"])
def test_pulumi_does_not_wait_on_a_claim_its_consumer_may_bind_first(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    # Both targets' default classes bind on first use; pulumi-kubernetes waits for such a claim
    # to be Pending, and Dex's pod (made alongside) may have bound it already: `up` then hung
    # 5 minutes and failed (seen in make test's e2e tier). Dex's Deployment still waits for it.
    stack: list[Declared] = request.getfixturevalue(fixture)
    for claim in of_kind(stack, "PersistentVolumeClaim"):
        assert claim.inputs["metadata"]["annotations"]["pulumi.com/skipAwait"] == "true"
    dex = named(stack, "Deployment", "dex", "jupyter-k8s-auth").inputs
    assert "pulumi.com/skipAwait" not in (dex["metadata"].get("annotations") or {})
    volumes = dex["spec"]["template"]["spec"]["volumes"]
    assert {"name": "data", "persistentVolumeClaim": {"claimName": "dex-data"}} in volumes
