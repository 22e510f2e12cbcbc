"""The tools `make tools` built (hack/tools.py): tests use them and never build them."""

from __future__ import annotations

import subprocess
import sys
from functools import cache

import pytest

from .kube import ROOT

TOOLS = [sys.executable, str(ROOT / "hack" / "tools.py")]


@cache
def tool_paths() -> dict[str, str]:
    out = subprocess.run([*TOOLS, "paths"], check=True, capture_output=True, text=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines())


def require_tools(*names: str) -> None:
    """Fail (never skip, never build) when a tool is missing: `make test` builds them first."""
    res = subprocess.run([*TOOLS, "check", *names], capture_output=True, text=True)
    if res.returncode != 0:
        pytest.fail(
            f"{res.stdout.strip()}: run `make tools` first (make test does); tests never build",
            pytrace=False,
        )
