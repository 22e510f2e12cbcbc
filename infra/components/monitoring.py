"""Monitoring, where the cluster has the Prometheus Operator: the operator's (and, in guided
mode, the authorization service's) metrics scraped through ServiceMonitors, the alerting rules
as a PrometheusRule and the Grafana dashboard as a ConfigMap that Grafana's dashboard sidecar
picks up (label grafana_dashboard). Rules and dashboard are jupyter_k8s.monitoring's, generated
from the metrics the code defines."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi

from jupyter_k8s.deploy.installer import SELECTOR
from jupyter_k8s.deploy.settings import LABELS
from jupyter_k8s.monitoring import alerting_rules, dashboard

from .manifests import declare

PROMETHEUS_RULES_CRD = "prometheusrules.monitoring.coreos.com"


def prometheus_operator_installed(kubeconfig: str | None, context: str | None) -> bool:
    """Whether the cluster serves the Prometheus Operator's CRDs (False when it cannot be asked:
    a cluster this program creates, or none reachable)."""
    try:
        from kubernetes import client, config

        api = config.new_client_from_config(config_file=kubeconfig, context=context)  # type: ignore[no-untyped-call]
        client.ApiextensionsV1Api(api).read_custom_resource_definition(
            PROMETHEUS_RULES_CRD, _request_timeout=5
        )
        return True
    except Exception:  # any answer but the CRD means "not there"
        return False


@dataclass(frozen=True)
class MonitoringArgs:
    namespace: str  # the operator's
    authz: tuple[str, str, dict[str, str]] | None = None  # (namespace, port name, selector)


def monitoring_manifests(args: MonitoringArgs) -> list[dict[str, Any]]:
    meta: dict[str, Any] = {"namespace": args.namespace, "labels": dict(LABELS)}
    monitors = [("jupyter-k8s-operator", args.namespace, "metrics", dict(SELECTOR))]
    if args.authz is not None:
        ns, port, selector = args.authz
        monitors.append(("jupyter-k8s-authz", ns, port, selector))
    objs: list[dict[str, Any]] = [
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "ServiceMonitor",
            "metadata": {**meta, "name": name, "namespace": ns},
            "spec": {
                "selector": {"matchLabels": selector},
                "endpoints": [{"port": port, "path": "/metrics", "interval": "30s"}],
            },
        }
        for name, ns, port, selector in monitors
    ]
    objs.append(
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "PrometheusRule",
            "metadata": {**meta, "name": "jupyter-k8s"},
            "spec": alerting_rules(),
        }
    )
    objs.append(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                **meta,
                "name": "jupyter-k8s-dashboard",
                "labels": {**meta["labels"], "grafana_dashboard": "1"},
            },
            "data": {"jupyter-k8s.json": json.dumps(dashboard())},
        }
    )
    return objs


class Monitoring(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("jupyter-k8s:index:Monitoring", name, None, opts)
        for obj in monitoring_manifests(args):
            declare(obj, pulumi.ResourceOptions(parent=self))
        self.register_outputs({})
