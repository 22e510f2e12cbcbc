"""What a workspace's children are: the one registry of child kinds.

Everything that treats children kind by kind reads it: the operator's watches and indexes
of them (core/watches.py, core/indexes.py), its drift checks, applies and deletes, the API
client's paths (kube/client.py) and the operator's RBAC (deploy/rbac.py). A new child kind is
one entry here (and its builder in reconcile/children.py).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChildKind:
    kind: str
    api_version: str
    plural: str
    # The operator writes it (server-side apply, drift repaired); False: only read (pods,
    # which the Deployment makes).
    owned: bool = True
    # Comes and goes with the spec (route, grants, identity): removed when no longer planned.
    optional: bool = False
    # Deleted in the foreground: it stays (being deleted) until what it made is gone (a
    # Deployment: its ReplicaSets and pods), so a new one is never started next to an old pod
    # on the same ReadWriteOnce volume.
    foreground_delete: bool = False
    # What Kubernetes' own controllers write on it that no plan sets and no decision reads:
    # left out of what the index keeps, so that those writes (a Deployment's revision, a
    # claim's binding bookkeeping) set off no pass. Annotation keys, and spec fields.
    controller_annotations: tuple[str, ...] = ()
    controller_spec: tuple[str, ...] = ()

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]


PVC = ChildKind(
    "PersistentVolumeClaim",
    "v1",
    "persistentvolumeclaims",
    controller_annotations=(
        "pv.kubernetes.io/bind-completed",
        "pv.kubernetes.io/bound-by-controller",
        "volume.beta.kubernetes.io/storage-provisioner",
        "volume.kubernetes.io/storage-provisioner",
        "volume.kubernetes.io/selected-node",
    ),
    controller_spec=("volumeName",),  # the phase (Bound) is what decisions read
)
DEPLOYMENT = ChildKind(
    "Deployment",
    "apps/v1",
    "deployments",
    foreground_delete=True,
    controller_annotations=("deployment.kubernetes.io/revision",),
)
POD = ChildKind("Pod", "v1", "pods", owned=False)
SERVICE = ChildKind("Service", "v1", "services")
INGRESS = ChildKind("Ingress", "networking.k8s.io/v1", "ingresses", optional=True)
SECRET = ChildKind("Secret", "v1", "secrets", optional=True)
SERVICE_ACCOUNT = ChildKind("ServiceAccount", "v1", "serviceaccounts", optional=True)
ROLE = ChildKind("Role", "rbac.authorization.k8s.io/v1", "roles", optional=True)
ROLE_BINDING = ChildKind(
    "RoleBinding", "rbac.authorization.k8s.io/v1", "rolebindings", optional=True
)

CHILD_KINDS: tuple[ChildKind, ...] = (
    PVC,
    DEPLOYMENT,
    POD,
    SERVICE,
    INGRESS,
    SECRET,
    SERVICE_ACCOUNT,
    ROLE,
    ROLE_BINDING,
)
BY_KIND = {c.kind: c for c in CHILD_KINDS}
OWNED = tuple(c for c in CHILD_KINDS if c.owned)
OPTIONAL_KINDS = frozenset(c.kind for c in CHILD_KINDS if c.optional)
FOREGROUND_DELETE = frozenset(c.kind for c in CHILD_KINDS if c.foreground_delete)
