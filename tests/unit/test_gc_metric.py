"""The operator's metrics say how long Python's garbage collector paused it."""

from __future__ import annotations

import gc

from jupyter_k8s.metrics import GC_SECONDS, time_gc


def _total() -> float:
    return sum(
        sample.value
        for metric in GC_SECONDS.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    )


def test_a_full_collection_is_counted() -> None:
    before = len(gc.callbacks)
    time_gc()
    try:
        counted = _total()
        gc.collect()
        assert _total() > counted
    finally:
        del gc.callbacks[before:]
