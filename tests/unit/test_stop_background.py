"""Stopping the operator (Kopf's cleanup handler): what it tidies up is best effort, so that a
stop never waits on an API server that is gone."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest

from jupyter_k8s.core.runtime import Runtime
from jupyter_k8s.handlers.lifecycle import stop_background
from jupyter_k8s.kube import KubeError
from tests.support.aio import run_in_own_loop

CONFIG = "jupyter-k8s-admission"
HERE = "https://127.0.0.1:8443"


class Kube:
    """Answers as an API server with our webhook configuration, or as none at all."""

    def __init__(self, reachable: bool, url: str = HERE) -> None:
        self.reachable = reachable
        self.url = url
        self.deleted: list[str] = []

    def get(self, api_version: str, kind: str, namespace: None, name: str) -> dict[str, Any]:
        if not self.reachable:
            raise KubeError(0, "transport", "[Errno 111] Connection refused")
        return {"webhooks": [{"clientConfig": {"url": f"{self.url}/workspace"}}]}

    def delete(self, api_version: str, kind: str, namespace: None, name: str) -> None:
        self.deleted.append(name)


def stop(kube: Kube) -> None:
    settings = SimpleNamespace(
        leader_election=False, webhook_mode="url", webhook_configuration=CONFIG
    )
    rt = Runtime(settings=settings, kube=kube)  # type: ignore[arg-type]
    rt.webhook_url = HERE

    async def scenario() -> None:
        await stop_background(SimpleNamespace(runtime=rt))

    run_in_own_loop(scenario)
    rt.event_threads.shutdown()


def test_the_webhook_pointing_at_this_process_is_removed() -> None:
    kube = Kube(reachable=True)
    stop(kube)
    assert kube.deleted == [CONFIG]


def test_a_configuration_another_process_published_since_is_left_alone() -> None:
    kube = Kube(reachable=True, url="https://10.0.0.7:8443")
    stop(kube)
    assert kube.deleted == []


def test_an_unreachable_api_server_does_not_hold_the_stop(caplog: pytest.LogCaptureFixture) -> None:
    # Raising here made Kopf retry the cleanup for minutes after SIGTERM.
    with caplog.at_level(logging.WARNING):
        stop(Kube(reachable=False))
    assert f"kubectl delete mutatingwebhookconfiguration {CONFIG}" in caplog.text
    assert "Connection refused" in caplog.text
