"""Team namespaces: who may use them, how much they may use, and who may reach their pods."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi

from jupyter_k8s.api import GROUP
from jupyter_k8s.api.admission import ALLOWED_TEMPLATES_ANNOTATION, DEFAULT_TEMPLATE_ANNOTATION
from jupyter_k8s.api.workspace import WORKSPACE_LABEL
from jupyter_k8s.deploy.settings import NAMESPACE as OPERATOR_NAMESPACE
from jupyter_k8s.ssh_keys import SSH_PORT

from ..config import IdentityConfig, Target, Team
from .auth import AUTHZ_NAME
from .manifests import declare
from .proxy import NAMESPACE as PROXY_NAMESPACE
from .security import restricted_namespace

USER_ROLE = "jupyter-k8s-workspace-user"
CATALOGUE_ROLE = "jupyter-k8s-catalogue-reader"
METADATA_ADDRESSES = ["169.254.169.254/32", "169.254.170.2/32"]  # EC2 IMDS, ECS task metadata


@dataclass(frozen=True)
class TenancyArgs:
    teams: list[Team]
    target: Target
    # The catalogue's templates: what a team may use unless its config narrows it.
    templates: tuple[str, ...] = ()
    identity: IdentityConfig = field(default_factory=IdentityConfig)
    operator_namespace: str = OPERATOR_NAMESPACE  # where the authorization service runs


def shared_roles() -> list[dict[str, Any]]:
    """What team members may do: create workspaces and shares, and read them; the API server's
    admission policies (jupyter_k8s.api.admission) then keep every change, stop, start,
    exposure, share and deletion of a workspace to its owner (or an admin)."""
    rw = ["get", "list", "watch", "create", "update", "patch", "delete"]
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": USER_ROLE, "labels": {"app.kubernetes.io/part-of": "jupyter-k8s"}},
            "rules": [
                {"apiGroups": [GROUP], "resources": ["workspaces", "workspaceshares"], "verbs": rw},
                {
                    "apiGroups": [GROUP],
                    "resources": ["workspaces/status", "workspaceshares/status"],
                    "verbs": ["get"],
                },
                {"apiGroups": [""], "resources": ["events"], "verbs": ["get", "list", "watch"]},
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {
                "name": CATALOGUE_ROLE,
                "labels": {"app.kubernetes.io/part-of": "jupyter-k8s"},
            },
            "rules": [
                {
                    "apiGroups": [GROUP],
                    "resources": [
                        "workspacetemplates",
                        "workspacemanagers",
                        "workspaceexecutionprofiles",
                    ],
                    "verbs": ["get", "list", "watch"],
                }
            ],
        },
    ]


def _subjects(team: Team, identity: IdentityConfig) -> list[dict[str, Any]]:
    """Team members as RBAC sees them: with the API server's OIDC prefixes."""
    rbac = "rbac.authorization.k8s.io"
    return [
        {"apiGroup": rbac, "kind": "User", "name": f"{identity.usernamePrefix}{u}"}
        for u in team.users
    ] + [
        {"apiGroup": rbac, "kind": "Group", "name": f"{identity.groupsPrefix}{g}"}
        for g in team.groups
    ]


def team_namespace(
    team: Team, catalogue: tuple[str, ...], target: Target | None = None
) -> dict[str, Any]:
    """A governed namespace: restricted pods, and the templates its workspaces may use."""
    allowed = list(team.allowedTemplates or catalogue)
    default = team.defaultTemplate or (allowed[0] if allowed else None)
    ns = restricted_namespace(team.name, target, **{"jupyter-k8s/team": team.name})
    annotations = ns["metadata"].setdefault("annotations", {})
    if allowed:
        annotations[ALLOWED_TEMPLATES_ANNOTATION] = ",".join(allowed)
        if default:
            annotations[DEFAULT_TEMPLATE_ANNOTATION] = default
    if not annotations:
        del ns["metadata"]["annotations"]
    return ns


def team_manifests(
    team: Team,
    target: Target,
    catalogue: tuple[str, ...] = (),
    identity: IdentityConfig | None = None,
    operator_namespace: str = OPERATOR_NAMESPACE,
) -> list[dict[str, Any]]:
    ns = team.name
    identity = identity or IdentityConfig()
    meta = {
        "namespace": ns,
        "labels": {"app.kubernetes.io/part-of": "jupyter-k8s", "jupyter-k8s/team": ns},
    }
    q = team.quota
    objs: list[dict[str, Any]] = [
        team_namespace(team, catalogue, target),
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {**meta, "name": "workspace-users"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": USER_ROLE,
            },
            "subjects": _subjects(team, identity),
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": f"{CATALOGUE_ROLE}-{ns}", "labels": meta["labels"]},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": CATALOGUE_ROLE,
            },
            "subjects": _subjects(team, identity),
        },
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {**meta, "name": "team-quota"},
            "spec": {
                "hard": {
                    "requests.cpu": q.cpu,
                    "limits.cpu": q.cpu,
                    "requests.memory": q.memory,
                    "limits.memory": q.memory,
                    "requests.nvidia.com/gpu": q.gpu,
                    "requests.storage": q.storage,
                    # One volume per workspace. (Not count/workspaces: the quota controller
                    # learns new CRDs only at its next full resync, up to 5 minutes, and until
                    # then refuses every workspace with "status unknown for quota".)
                    "persistentvolumeclaims": str(q.workspaces),
                }
            },
        },
        {
            "apiVersion": "v1",
            "kind": "LimitRange",
            "metadata": {**meta, "name": "defaults"},
            "spec": {
                "limits": [
                    {
                        "type": "Container",
                        "defaultRequest": {"cpu": "100m", "memory": "256Mi"},
                        "default": {"cpu": "1", "memory": "2Gi"},
                        "max": {"cpu": q.cpu, "memory": q.memory},
                    },
                    {"type": "PersistentVolumeClaim", "max": {"storage": q.storage}},
                ]
            },
        },
        {
            # Workspace pods accept traffic from the proxy only (not from each other).
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {**meta, "name": "workspaces-from-proxy-only"},
            "spec": {
                "podSelector": {
                    "matchExpressions": [{"key": WORKSPACE_LABEL, "operator": "Exists"}]
                },
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [
                            {
                                "namespaceSelector": {
                                    "matchLabels": {"kubernetes.io/metadata.name": PROXY_NAMESPACE}
                                },
                                "podSelector": {
                                    "matchLabels": {"app.kubernetes.io/name": "traefik"}
                                },
                            }
                        ],
                        "ports": [{"port": "http", "protocol": "TCP"}],
                    },
                    {
                        # The SSH server, only from the authorization service's tunnel.
                        "from": [
                            {
                                "namespaceSelector": {
                                    "matchLabels": {
                                        "kubernetes.io/metadata.name": operator_namespace
                                    }
                                },
                                "podSelector": {
                                    "matchLabels": {"app.kubernetes.io/name": AUTHZ_NAME}
                                },
                            }
                        ],
                        "ports": [{"port": SSH_PORT, "protocol": "TCP"}],
                    },
                ],
            },
        },
    ]
    if target == Target.EKS:
        objs.append(
            {
                # Pods must not borrow the node's cloud identity: IRSA is the way to get one.
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {**meta, "name": "block-cloud-metadata"},
                "spec": {
                    "podSelector": {},
                    "policyTypes": ["Egress"],
                    "egress": [
                        {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": METADATA_ADDRESSES}}]}
                    ],
                },
            }
        )
    return objs


class Tenancy(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: TenancyArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("jupyter-k8s:index:Tenancy", name, None, opts)
        self.resources = [declare(o, pulumi.ResourceOptions(parent=self)) for o in shared_roles()]
        self.namespace_resources: list[pulumi.Resource] = []
        for team in args.teams:
            objs = team_manifests(
                team, args.target, args.templates, args.identity, args.operator_namespace
            )
            ns = declare(objs[0], pulumi.ResourceOptions(parent=self))
            self.namespace_resources.append(ns)
            child = pulumi.ResourceOptions(parent=self, depends_on=[ns])
            self.resources += [ns, *(declare(o, child) for o in objs[1:])]
        self.namespaces = [t.name for t in args.teams]
        self.register_outputs({"namespaces": self.namespaces})
