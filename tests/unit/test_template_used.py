"""A workspace naming a template sets off the template's pass: at once while the template lacks
the operator's finalizer (in use now: it must not be deleted from under the workspace), else
once per burst (the pass walks all of the template's workspaces)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from jupyter_k8s.api.template import TEMPLATE_FINALIZER
from jupyter_k8s.core.runtime import COUNT_DELAY, Runtime
from jupyter_k8s.core.workqueue import Key
from tests.support.aio import run_in_own_loop


def _runtime(finalizers: list[str]) -> tuple[Runtime, list[Key]]:
    rt = Runtime(settings=None, kube=None)  # type: ignore[arg-type]
    template = {"metadata": {"name": "lab", "finalizers": finalizers}}
    rt.indexes = SimpleNamespace(templates={"lab": [template]})  # type: ignore[assignment]
    passes: list[Key] = []

    async def record(key: Key) -> None:
        passes.append(key)

    rt.queue.register("WorkspaceTemplate", record)
    return rt, passes


def test_without_the_finalizer_the_template_pass_runs_at_once() -> None:
    rt, passes = _runtime([])

    async def main() -> None:
        await rt.template_used("lab")
        assert passes == [("WorkspaceTemplate", "lab")]
        assert rt.queue.pending(("WorkspaceTemplate", "lab")) is None

    run_in_own_loop(main)


def test_with_the_finalizer_a_burst_costs_one_pass_soon() -> None:
    rt, passes = _runtime([TEMPLATE_FINALIZER])

    async def main() -> None:
        for _ in range(100):
            await rt.template_used("lab")
        assert passes == []
        due = rt.queue.pending(("WorkspaceTemplate", "lab"))
        assert due is not None and due <= COUNT_DELAY
        await asyncio.sleep(COUNT_DELAY + 0.2)
        assert passes == [("WorkspaceTemplate", "lab")]
        rt.queue.close()

    run_in_own_loop(main)


def test_the_echo_of_its_count_brings_the_template_back_once_soon_its_spec_at_once() -> None:
    from jupyter_k8s.core.runtime import context
    from jupyter_k8s.handlers.templates import template_event

    rt, passes = _runtime([TEMPLATE_FINALIZER])
    memo = SimpleNamespace(runtime=rt)
    indexes = {
        k: {} for k in ("templates", "managers", "profiles", "shares_by_workspace", "node_faults")
    }
    rt.indexes = None
    context({"memo": memo, **indexes})

    def event(generation: int, observed: int) -> dict[str, Any]:
        body = {
            "metadata": {"name": "lab", "generation": generation},
            "status": {"observedGeneration": observed, "workspaceCount": 3},
        }
        return {"memo": memo, "name": "lab", "type": "MODIFIED", "body": body, **indexes}

    async def main() -> None:
        for _ in range(50):
            await template_event(**event(1, 1))
        assert passes == [], "our own count's echo: soon, not at once"
        assert rt.queue.pending(("WorkspaceTemplate", "lab")) is not None
        await template_event(**event(2, 1))
        assert passes == [("WorkspaceTemplate", "lab")], "a new spec: at once"
        await asyncio.sleep(COUNT_DELAY + 0.2)
        assert len(passes) == 2
        rt.queue.close()

    run_in_own_loop(main)
