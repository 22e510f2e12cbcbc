"""The generated alerting rules, checked and unit-tested by Prometheus' own promtool."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.support.fixtures import ROOT
from tests.support.tools import require_tools, tool_paths

RULES = ROOT / "dist" / "monitoring" / "prometheus-rules.yaml"


def promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    require_tools("promtool")
    binary = Path(tool_paths()["PROMTOOL_BIN"]) / "promtool"
    return subprocess.run([str(binary), *args], capture_output=True, text=True, cwd=cwd)


def annotations(alert: str, **labels: str) -> dict[str, str]:
    """The rule's annotations as Prometheus renders them for these labels."""
    rules = yaml.safe_load(RULES.read_text())["groups"][0]["rules"]
    found = next(r for r in rules if r["alert"] == alert)["annotations"]
    out = {}
    for key, text in found.items():
        for name, value in labels.items():
            text = text.replace(f"{{{{ $labels.{name} }}}}", value)
        out[key] = text
    return out


def test_promtool_accepts_the_rules() -> None:
    res = promtool("check", "rules", str(RULES))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "SUCCESS: 7 rules found" in res.stdout


def test_the_alerts_fire_when_they_should(tmp_path: Path) -> None:
    """promtool's rule unit tests: series in, alerts out (none when healthy)."""
    tests = {
        "rule_files": [str(RULES)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": 'jupyter_k8s_workspaces{phase="Degraded"}', "values": "2x30"},
                    {"series": 'jupyter_k8s_workspaces{phase="Running"}', "values": "5x30"},
                    {"series": "jupyter_k8s_leader", "values": "1x30"},
                    {
                        "series": 'jupyter_k8s_admission_total{webhook="workspace",outcome="error"}',
                        "values": "0+3x30",
                    },
                ],
                "alert_rule_test": [
                    {
                        "eval_time": "20m",
                        "alertname": "JupyterK8sWorkspacesDegraded",
                        "exp_alerts": [
                            {
                                "exp_labels": {"severity": "warning"},
                                "exp_annotations": {
                                    "summary": "Workspaces have been Degraded for 15 minutes",
                                    "description": "2 workspaces are Degraded: kubectl get "
                                    "workspaces -A shows which, and their Degraded condition "
                                    "says why (quota, image pull, node not ready, ...).",
                                },
                            }
                        ],
                    },
                    {
                        "eval_time": "20m",
                        "alertname": "JupyterK8sAdmissionFailures",
                        "exp_alerts": [
                            {
                                "exp_labels": {"severity": "critical", "webhook": "workspace"},
                                "exp_annotations": annotations(
                                    "JupyterK8sAdmissionFailures", webhook="workspace"
                                ),
                            }
                        ],
                    },
                    # A leader holds the Lease: no alert.
                    {
                        "eval_time": "20m",
                        "alertname": "JupyterK8sNoActiveOperator",
                        "exp_alerts": [],
                    },
                ],
            },
            {
                "interval": "1m",
                "input_series": [{"series": "jupyter_k8s_leader", "values": "0x10"}],
                "alert_rule_test": [
                    {
                        "eval_time": "8m",
                        "alertname": "JupyterK8sNoActiveOperator",
                        "exp_alerts": [
                            {
                                "exp_labels": {"severity": "critical"},
                                "exp_annotations": annotations("JupyterK8sNoActiveOperator"),
                            }
                        ],
                    }
                ],
            },
        ],
    }
    spec = tmp_path / "rules_test.yaml"
    spec.write_text(yaml.safe_dump(tests, sort_keys=False))
    res = promtool("test", "rules", str(spec))
    assert res.returncode == 0, res.stdout + res.stderr
