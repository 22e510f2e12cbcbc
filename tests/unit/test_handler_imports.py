"""The operator's modules form no import circle (issue 18): whoever wants an object reconciled
names its key to the work queue instead of importing another module's pass. And the core never
imports the handlers: the handlers feed it (Kopf registration happens only in handlers/)."""

from __future__ import annotations

import ast
from pathlib import Path

import jupyter_k8s.core as core
import jupyter_k8s.handlers as handlers

PACKAGES = {"core": Path(core.__file__).parent, "handlers": Path(handlers.__file__).parent}


def _imports(package: str, path: Path) -> set[str]:
    """The core and handler modules `path` imports (as "package.module"), at the top or
    inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.ImportFrom) or node.level not in (1, 2):
            continue
        parts = (node.module or "").split(".") if node.module else []
        if node.level == 1:
            pkg, rest = package, parts
        elif parts and parts[0] in PACKAGES:
            pkg, rest = parts[0], parts[1:]
        else:
            continue
        if rest:
            found.add(f"{pkg}.{rest[0]}")
        else:
            found.update(f"{pkg}.{alias.name}" for alias in node.names)
    return found


def _graph() -> dict[str, set[str]]:
    return {
        f"{package}.{p.stem}": _imports(package, p)
        for package, folder in PACKAGES.items()
        for p in folder.glob("*.py")
        if p.stem != "__init__"
    }


def test_no_module_imports_itself_back() -> None:
    graph = _graph()
    assert "core.workspace" in graph and "handlers.templates" in graph  # the graph is read

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, set()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    circles = sorted(m for m in graph if reaches(m, m, {m}))
    assert not circles, f"modules in an import circle: {circles}"


def test_the_core_neither_imports_the_handlers_nor_registers_with_kopf() -> None:
    for name, imported in _graph().items():
        if name.startswith("core."):
            assert not {i for i in imported if i.startswith("handlers.")}, name
    for path in PACKAGES["core"].glob("*.py"):
        assert "kopf.on." not in path.read_text() and "kopf.index(" not in path.read_text(), path
