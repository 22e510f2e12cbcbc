"""Names and ports of the operator's installation (one place for all consumers)."""

from __future__ import annotations

NAMESPACE = "jupyter-k8s-system"
NAME = "jupyter-k8s-operator"
SERVICE_ACCOUNT = NAME
DEFAULT_IMAGE = "ghcr.io/jupyter-k8s/jupyter-k8s:0.1.0"
FIELD_MANAGER = "jupyter-k8s"
# The webhook's serving certificate, shared by the replicas (each would otherwise make its own
# and the caBundle could name only one).
WEBHOOK_TLS_SECRET = "jupyter-k8s-webhook-tls"  # noqa: S105 - a name, not a secret

HEALTH_PORT = 8080
METRICS_PORT = 9090
WEBHOOK_PORT = 9443
WEBHOOK_SERVICE = f"{NAME}-webhook"
WEBHOOK_CONFIGURATION = "jupyter-k8s-admission"
# Webhook paths (Kopf handler ids): workspaces (owner, default template), shares (workspace UID).
WORKSPACE_WEBHOOK = "workspace"
SHARE_WEBHOOK = "share"
# Non-root UID of the operator image (distroless convention).
RUN_AS_USER = 65532

LABELS = {
    "app.kubernetes.io/name": NAME,
    "app.kubernetes.io/part-of": "jupyter-k8s",
    "app.kubernetes.io/component": "operator",
}
# Open SSH tunnels per workspace, written by the authorization service, read by the idle
# culler (in the operator's namespace).
TUNNEL_ACTIVITY = "jupyter-k8s-tunnel-activity"
# When each workspace was last in use, written by the idle culler, read by the "my workspaces"
# page of the authorization service.
LAST_ACTIVITY = "jupyter-k8s-last-activity"
