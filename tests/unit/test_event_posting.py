"""A pass's events are posted beside it: the pass does not wait for them, they arrive in
order, and one that fails does not stop the next."""

from __future__ import annotations

import threading
from typing import Any

from jupyter_k8s.core.runtime import Runtime
from jupyter_k8s.kube import KubeError


class SlowKube:
    def __init__(self) -> None:
        self.go = threading.Event()
        self.posted: list[str] = []
        self.done = threading.Event()

    def event(self, involved: dict[str, Any], type_: str, reason: str, message: str) -> None:
        self.go.wait(5)
        if reason == "Broken":
            raise KubeError(500, "InternalError", "no")
        self.posted.append(reason)
        if reason == "Available":
            self.done.set()


def test_events_are_posted_in_order_without_holding_the_caller() -> None:
    kube = SlowKube()
    rt = Runtime(settings=None, kube=kube)  # type: ignore[arg-type]
    ws = {"metadata": {"name": "lab", "namespace": "team"}}
    rt.post_events(
        ws, [("Normal", "Starting", ""), ("Warning", "Broken", ""), ("Normal", "Available", "")]
    )
    assert kube.posted == [], "returned before anything was posted"
    kube.go.set()
    assert kube.done.wait(5)
    assert kube.posted == ["Starting", "Available"]
