"""The operator image installs the package's declared dependencies and nothing else: every
third-party module the operator imports must be one of them, pinned (a module that came only
through another package, as urllib3 once did through the official client, vanishes with it)."""

from __future__ import annotations

import ast
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Import name -> distribution name, where they differ.
DISTRIBUTIONS = {"yaml": "pyyaml", "prometheus_client": "prometheus-client"}


def _imported_top_level(folder: Path) -> set[str]:
    found: set[str] = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found


def test_every_third_party_import_of_the_operator_is_a_pinned_dependency() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pinned = {d.split("==")[0].lower(): d for d in project["dependencies"]}
    assert all("==" in d for d in pinned.values()), pinned
    third_party = {
        name
        for name in _imported_top_level(REPO / "operator" / "jupyter_k8s")
        if name not in sys.stdlib_module_names and name not in ("jupyter_k8s", "__future__")
    }
    assert "kopf" in third_party and "urllib3" in third_party  # the scan sees imports
    missing = sorted(n for n in third_party if DISTRIBUTIONS.get(n, n) not in pinned)
    assert not missing, f"imported by the operator but not in [project] dependencies: {missing}"
