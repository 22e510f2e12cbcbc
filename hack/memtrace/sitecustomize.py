"""`make bench BENCH_ARGS="--memory FILE"` only: what the operator holds in memory, by package
and by line, written to $JK_MEMTRACE_OUT when the process gets SIGUSR2 (tracemalloc runs from
start-up: `python -X tracemalloc=N`). Never loaded by the product."""

from __future__ import annotations

import os
import signal
import tracemalloc
from collections import Counter
from types import FrameType


def _package(filename: str) -> str:
    for marker in ("site-packages/", "lib/python3.11/", "/operator/"):
        if marker in filename:
            rest = filename.split(marker, 1)[1]
            return rest.split("/", 1)[0].removesuffix(".py")
    return filename


def _report(signum: int, frame: FrameType | None) -> None:
    snapshot = tracemalloc.take_snapshot()
    by_package: Counter[str] = Counter()
    for stat in snapshot.statistics("filename"):
        by_package[_package(stat.traceback[0].filename)] += stat.size
    now, peak = tracemalloc.get_traced_memory()
    lines = [f"traced now {now / 2**20:.1f} MiB (peak {peak / 2**20:.1f} MiB)"]
    lines += [f"  {size / 2**20:7.1f} MiB  {pkg}" for pkg, size in by_package.most_common(12)]
    lines.append("by line (where the memory was allocated):")
    for stat in snapshot.statistics("lineno")[:25]:
        where = stat.traceback[0]
        lines.append(
            f"  {stat.size / 2**20:7.1f} MiB  {stat.count:8d} blocks  "
            f"{where.filename.split('site-packages/')[-1]}:{where.lineno}"
        )
    with open(os.environ["JK_MEMTRACE_OUT"], "w") as out:
        out.write("\n".join(lines) + "\n")


if os.environ.get("JK_MEMTRACE_OUT"):
    signal.signal(signal.SIGUSR2, _report)
