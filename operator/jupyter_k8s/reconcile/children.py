"""Builders of the objects a workspace owns. Pure: they return manifests for server-side apply."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from ..api import API_VERSION, WORKSPACE
from ..api.workspace import WORKSPACE_LABEL
from ..deploy.installer import restricted_container_security
from ..names import workspace_child
from ..proxy_secret import POD_ENV
from ..ssh_keys import HOST_KEY_ENV, SECRET_HOST_KEY, SECRET_USER_CA, USER_CA_ENV
from .apps import (
    APP_PORT,
    APPS,
    ENV_BASE_URL,
    ENV_HOME,
    ENV_OWNER,
    ENV_WORKSPACE,
    PORT_NAME,
)
from .resolve import Resolved

# The UID/GID convention of the Jupyter docker-stacks (jovyan:users), which our images follow.
APP_UID = 1000
APP_GID = 100
COMPONENT_LABEL = "app.kubernetes.io/component"


@dataclass(frozen=True)
class SshKeys:
    """What a workspace's SSH server needs (ssh_keys.py): its host key and the CA it trusts."""

    host_key: str  # OpenSSH private key
    user_ca: str  # OpenSSH public key line


@dataclass(frozen=True)
class WorkspaceRef:
    name: str
    namespace: str
    uid: str

    def owner_reference(self) -> dict[str, Any]:
        return {
            "apiVersion": API_VERSION,
            "kind": WORKSPACE.kind,
            "name": self.name,
            "uid": self.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }

    def labels(self) -> dict[str, str]:
        return {
            WORKSPACE_LABEL: self.name,
            "app.kubernetes.io/name": "workspace",
            "app.kubernetes.io/instance": self.name,
            "app.kubernetes.io/managed-by": "jupyter-k8s",
        }

    def metadata(self, name: str) -> dict[str, Any]:
        return {
            "name": name,
            "namespace": self.namespace,
            "labels": self.labels(),
            "ownerReferences": [self.owner_reference()],
        }


def pvc_name(ws: WorkspaceRef) -> str:
    return workspace_child(ws.name)


def build_pvc(ws: WorkspaceRef, r: Resolved) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": r.storage_size}},
    }
    if r.storage_class:
        spec["storageClassName"] = r.storage_class
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": ws.metadata(pvc_name(ws)),
        "spec": spec,
    }


def _resources(requests: dict[str, str], limits: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if requests:
        out["requests"] = dict(requests)
    if limits:
        out["limits"] = dict(limits)
    return out


def _env_var(name: str, value: str) -> dict[str, str]:
    # An empty value is left out, as the API server stores it: applied as "" it would never
    # match the stored object, and every pass would apply the Deployment again (drift.py).
    return {"name": name, "value": value} if value else {"name": name}


def _sidecar(sc: Any) -> dict[str, Any]:
    c: dict[str, Any] = {
        "name": sc.name,
        "image": sc.image,
        "securityContext": restricted_container_security() | {"readOnlyRootFilesystem": False},
    }
    if sc.command:
        c["command"] = list(sc.command)
    if sc.args:
        c["args"] = list(sc.args)
    if sc.env:
        c["env"] = [_env_var(e.name, e.value) for e in sc.env]
    if sc.ports:
        c["ports"] = [p.model_dump(exclude_none=True) for p in sc.ports]
    if sc.resources:
        c["resources"] = _resources(sc.resources.requests or {}, sc.resources.limits or {})
    return c


def build_deployment(
    ws: WorkspaceRef,
    r: Resolved,
    *,
    running: bool,
    base_url: str,
    owner: str | None,
    service_account: str | None = None,
    automount_token: bool = False,
    proxy_secret: bool = False,
    ssh: bool = False,
) -> dict[str, Any]:
    app = APPS[r.app_type]
    from_secret = [(POD_ENV, "secret")] if proxy_secret else []
    if proxy_secret and ssh:
        # The image's entry (images/workspace/jupyter-k8s-entry) starts sshd when these are set.
        from_secret += [(HOST_KEY_ENV, SECRET_HOST_KEY), (USER_CA_ENV, SECRET_USER_CA)]
    secret_env = [
        {
            "name": env,
            "valueFrom": {"secretKeyRef": {"name": proxy_secret_name(ws.name), "key": key}},
        }
        for env, key in from_secret
    ]
    env = [
        *secret_env,
        _env_var(ENV_BASE_URL, base_url),
        _env_var(ENV_HOME, r.mount_path),
        _env_var(ENV_WORKSPACE, f"{ws.namespace}/{ws.name}"),
        _env_var(ENV_OWNER, owner or ""),
        *(_env_var(e.name, e.value) for e in r.env),
    ]
    container: dict[str, Any] = {
        "name": "workspace",
        "image": r.image,
        "imagePullPolicy": "IfNotPresent",
        # args, not command: the image's ENTRYPOINT (tini) stays PID 1 and reaps children.
        "args": list(app.command),
        "workingDir": r.mount_path,
        "env": env,
        "ports": [{"name": PORT_NAME, "containerPort": APP_PORT, "protocol": "TCP"}],
        "resources": _resources(r.requests, r.limits),
        "readinessProbe": app.probe(base_url, period=5, failures=3),
        "livenessProbe": app.probe(base_url, period=20, failures=6),
        "startupProbe": app.probe(base_url, period=5, failures=60),
        # Read-only image: users install packages into their home (the volume), and runtime
        # files go to /tmp (an emptyDir). Images must not write anywhere else.
        "securityContext": restricted_container_security(),
        "volumeMounts": [
            {"name": "home", "mountPath": r.mount_path},
            {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 - a per-pod emptyDir
        ],
    }
    pod_spec: dict[str, Any] = {
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": APP_UID,
            "runAsGroup": APP_GID,
            "fsGroup": APP_GID,
            "fsGroupChangePolicy": "OnRootMismatch",
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        # No API credentials in the pod unless its execution profile asks for them.
        "automountServiceAccountToken": automount_token,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": 30,
        "containers": [container, *(_sidecar(sc) for sc in r.sidecars)],
        "volumes": [
            {"name": "home", "persistentVolumeClaim": {"claimName": pvc_name(ws)}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
        ],
    }
    if service_account:
        # The deprecated twin too: the server copies serviceAccountName into it, and a field we
        # do not own stays when we stop applying serviceAccountName, so pods would keep asking
        # for a profile's account after the profile (and its account) is gone.
        pod_spec["serviceAccountName"] = service_account
        pod_spec["serviceAccount"] = service_account
    labels = ws.labels() | {COMPONENT_LABEL: "workspace"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": ws.metadata(workspace_child(ws.name)),
        "spec": {
            "replicas": 1 if running else 0,
            # One pod per volume (ReadWriteOnce): never run the old and new pod together.
            "strategy": {"type": "Recreate"},
            "revisionHistoryLimit": 2,
            "selector": {"matchLabels": {WORKSPACE_LABEL: ws.name}},
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        },
    }


def proxy_secret_name(ws_name: str) -> str:
    return workspace_child(ws_name, "proxy")


def build_proxy_secret(ws: WorkspaceRef, value: str, ssh: SshKeys | None = None) -> dict[str, Any]:
    # data (base64), not stringData: the API stores data, so drift checks compare like with like.
    data = {"secret": value}
    if ssh is not None:
        data |= {SECRET_HOST_KEY: ssh.host_key, SECRET_USER_CA: ssh.user_ca}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": ws.metadata(proxy_secret_name(ws.name)),
        "type": "Opaque",
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }


def build_service(ws: WorkspaceRef) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": ws.metadata(workspace_child(ws.name)),
        "spec": {
            "type": "ClusterIP",
            "selector": {WORKSPACE_LABEL: ws.name, COMPONENT_LABEL: "workspace"},
            "ports": [{"name": PORT_NAME, "port": 80, "targetPort": PORT_NAME, "protocol": "TCP"}],
        },
    }
