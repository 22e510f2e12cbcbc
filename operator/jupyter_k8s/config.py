"""Operator settings, read once from the environment (JK_*) at start-up."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Literal

from .deploy.settings import (
    HEALTH_PORT,
    METRICS_PORT,
    NAME,
    NAMESPACE,
    WEBHOOK_CONFIGURATION,
    WEBHOOK_PORT,
    WEBHOOK_SERVICE,
)

WebhookMode = Literal["service", "url", "off"]


class ConfigError(ValueError):
    pass


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None


@dataclass(frozen=True)
class Settings:
    namespaces: tuple[str, ...]  # empty: the whole cluster
    resync_seconds: int
    health_addr: str
    health_port: int
    metrics_addr: str
    metrics_port: int
    webhook_mode: WebhookMode
    webhook_addr: str
    webhook_port: int
    webhook_service: str
    webhook_namespace: str
    webhook_configuration: str
    cert_dir: str
    log_format: Literal["json", "plain"]
    workers: int
    leader_election: bool = False  # two replicas, one reconciling (JK_LEADER_ELECTION=on)
    lease_name: str = NAME
    pod_name: str = ""  # who holds the Lease: JK_POD_NAME, else <host>_<pid>
    lease_seconds: int = 15
    # Each workspace pod gets the keys of its SSH server (the desktop tunnel, JK_SSH_SERVER=on).
    ssh_server: bool = False
    # How often the idle culler asks running workspaces for their activity.
    cull_seconds: int = 60

    @classmethod
    def from_env(cls) -> Settings:
        mode = os.environ.get("JK_WEBHOOK_MODE", "service")
        if mode not in ("service", "url", "off"):
            raise ConfigError(
                f"JK_WEBHOOK_MODE={mode!r}: use service (in a cluster), url (operator outside "
                "the cluster, e.g. make run) or off (no owner stamping: not for production)"
            )
        log_format = os.environ.get("JK_LOG_FORMAT", "json")
        if log_format not in ("json", "plain"):
            raise ConfigError(f"JK_LOG_FORMAT={log_format!r}: use json or plain")
        election = os.environ.get("JK_LEADER_ELECTION", "off")
        if election not in ("on", "off"):
            raise ConfigError(
                f"JK_LEADER_ELECTION={election!r}: use on (several replicas, one reconciling) or off"
            )
        ssh = os.environ.get("JK_SSH_SERVER", "off")
        if ssh not in ("on", "off"):
            raise ConfigError(
                f"JK_SSH_SERVER={ssh!r}: use on (workspace pods run an SSH server reachable only "
                "through the authorization service's tunnel) or off"
            )
        lease_seconds = _int("JK_LEASE_SECONDS", 15)
        cull_seconds = _int("JK_CULL_INTERVAL_SECONDS", 60)
        if cull_seconds < 1:
            raise ConfigError(f"JK_CULL_INTERVAL_SECONDS={cull_seconds}: use 1 or more")
        if lease_seconds < 5:
            raise ConfigError(f"JK_LEASE_SECONDS={lease_seconds}: use 5 or more")
        namespaces = tuple(n for n in os.environ.get("JK_NAMESPACES", "").split(",") if n.strip())
        local = mode == "url"
        default_addr = "127.0.0.1" if local else "0.0.0.0"  # noqa: S104 - pods are scraped/probed
        return cls(
            namespaces=tuple(n.strip() for n in namespaces),
            resync_seconds=_int("JK_RESYNC_SECONDS", 300),
            health_addr=os.environ.get("JK_HEALTH_ADDR", default_addr),
            health_port=_int("JK_HEALTH_PORT", HEALTH_PORT),
            metrics_addr=os.environ.get("JK_METRICS_ADDR", default_addr),
            metrics_port=_int("JK_METRICS_PORT", METRICS_PORT),
            webhook_mode=mode,  # type: ignore[arg-type]
            webhook_addr=os.environ.get("JK_WEBHOOK_ADDR", default_addr),
            webhook_port=_int("JK_WEBHOOK_PORT", WEBHOOK_PORT),
            webhook_service=os.environ.get("JK_WEBHOOK_SERVICE", WEBHOOK_SERVICE),
            webhook_namespace=os.environ.get("JK_POD_NAMESPACE", NAMESPACE),
            webhook_configuration=os.environ.get("JK_WEBHOOK_CONFIGURATION", WEBHOOK_CONFIGURATION),
            cert_dir=os.environ.get("JK_CERT_DIR", "/tmp/jupyter-k8s-webhook"),  # noqa: S108
            log_format=log_format,  # type: ignore[arg-type]
            workers=_int("JK_WORKERS", 16),
            leader_election=election == "on",
            lease_name=os.environ.get("JK_LEASE_NAME", NAME),
            pod_name=os.environ.get("JK_POD_NAME") or f"{socket.gethostname()}_{os.getpid()}",
            lease_seconds=lease_seconds,
            ssh_server=ssh == "on",
            cull_seconds=cull_seconds,
        )
