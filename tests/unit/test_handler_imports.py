"""The handler modules form no import circle (issue 18): whoever wants an object reconciled
names its key to the work queue instead of importing another module's reconciler."""

from __future__ import annotations

import ast
from pathlib import Path

import jupyter_k8s.handlers as handlers

PACKAGE = Path(handlers.__file__).parent


def _imports(path: Path) -> set[str]:
    """Sibling modules `path` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
    return found


def test_no_handler_module_imports_itself_back() -> None:
    graph = {p.stem: _imports(p) for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    assert "workspaces" in graph and "workqueue" in graph

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, set()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    circles = sorted(m for m in graph if reaches(m, m, {m}))
    assert not circles, f"handler modules in an import circle: {circles}"
