"""What each appType needs from the pod: command, port, environment and probes.

This is the contract with the images in images/ (their entrypoints read the same variables);
a test checks both sides agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..api.common import AppType

APP_PORT = 8888
PORT_NAME = "http"
# Environment the operator sets in every workspace container. Kubernetes expands $(VAR) in
# command/args from the container's env, so commands can refer to these.
ENV_BASE_URL = "JUPYTER_K8S_BASE_URL"  # always starts and ends with "/"
ENV_HOME = "JUPYTER_K8S_HOME"  # the mount path of the workspace volume
ENV_WORKSPACE = "JUPYTER_K8S_WORKSPACE"  # <namespace>/<name>
ENV_OWNER = "JUPYTER_K8S_OWNER"


@dataclass(frozen=True)
class AppSpec:
    command: tuple[str, ...]
    health_path: str  # relative to the base URL; answers 200 without authentication

    def probe(self, base_url: str, *, period: int, failures: int) -> dict[str, Any]:
        return {
            "httpGet": {"path": f"{base_url}{self.health_path}", "port": PORT_NAME},
            "periodSeconds": period,
            "failureThreshold": failures,
            "timeoutSeconds": 5,
        }


APPS: dict[str, AppSpec] = {
    AppType.JUPYTERLAB.value: AppSpec(
        command=(
            "jupyter",
            "lab",
            "--no-browser",
            "--ServerApp.ip=0.0.0.0",
            f"--ServerApp.port={APP_PORT}",
            f"--ServerApp.base_url=$({ENV_BASE_URL})",
            f"--ServerApp.root_dir=$({ENV_HOME})",
            # Requests arrive through the authenticating proxy under the workspace's host.
            "--ServerApp.allow_remote_access=True",
        ),
        health_path="api",
    ),
    AppType.CODE_SERVER.value: AppSpec(
        command=(
            # code-server has no identity hook: jupyter-k8s-guard (in our image) serves the
            # port and lets through only requests carrying the workspace's proxy secret.
            "jupyter-k8s-guard",
            f"--listen=0.0.0.0:{APP_PORT}",
            "--upstream=127.0.0.1:8080",
            "--",
            "code-server",
            "--bind-addr=127.0.0.1:8080",
            "--auth=none",
            "--disable-telemetry",
            "--disable-update-check",
            f"--abs-proxy-base-path=$({ENV_BASE_URL})",
            f"$({ENV_HOME})",
        ),
        health_path="healthz",
    ),
}
