"""Where `make test`'s time went: tool builds (recorded by hack/tools.py in JK_TIMINGS), then
each test tier (tests/<tier>/), printed at the end of the run."""

from __future__ import annotations

import json
import os
import time
from collections import defaultdict
from pathlib import Path

import pytest

_tiers: dict[str, float] = defaultdict(float)
_started = time.monotonic()


def record(report: pytest.TestReport) -> None:
    parts = Path(report.nodeid.split("::", 1)[0]).parts
    tier = parts[1] if len(parts) > 2 and parts[0] == "tests" else "other"
    _tiers[tier] += report.duration


def _fmt(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes:d}m{secs:02d}s" if minutes else f"{secs:d}s"


def summary() -> list[str]:
    lines = ["where the time went:"]
    tools_total = 0.0
    target = os.environ.get("JK_TIMINGS")
    entries = []
    if target and Path(target).exists():
        entries = [json.loads(line) for line in Path(target).read_text().splitlines() if line]
    built = [e for e in entries if e["built"]]
    for e in built:
        tools_total += e["seconds"]
        lines.append(f"  build  {e['tool']} {e['version']}".rstrip() + f": {_fmt(e['seconds'])}")
    cached = [e["tool"] for e in entries if not e["built"]]
    if cached:
        lines.append(f"  build  cached: {', '.join(cached)}")
    tests_total = 0.0
    for tier, seconds in sorted(_tiers.items(), key=lambda kv: -kv[1]):
        tests_total += seconds
        lines.append(f"  tests  {tier}: {_fmt(seconds)}")
    lines.append(
        f"  total  builds {_fmt(tools_total)}, tests {_fmt(tests_total)} "
        f"(pytest wall {_fmt(time.monotonic() - _started)})"
    )
    return lines
