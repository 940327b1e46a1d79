"""The flow packages import one way: no import inside a function, no cycle between modules."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "fullglow"
CORE = ("layers", "conditional", "models")


def _module_name(path: Path) -> str:
    return ".".join(("fullglow", *path.relative_to(PACKAGE).with_suffix("").parts))


def _imports(tree: ast.Module) -> set[str]:
    names = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("fullglow"):
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names |= {a.name for a in node.names if a.name.startswith("fullglow")}
    return names


def _core_modules() -> dict[str, ast.Module]:
    return {
        _module_name(path): ast.parse(path.read_text())
        for package in CORE
        for path in sorted((PACKAGE / package).glob("*.py"))
        if path.name != "__init__.py"
    }


def test_the_flow_packages_import_nothing_inside_functions():
    deferred = [
        f"{name}:{node.lineno}"
        for name, tree in _core_modules().items()
        for function in ast.walk(tree)
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
        for node in ast.walk(function)
        if isinstance(node, (ast.Import, ast.ImportFrom))
    ]
    assert deferred == []


def test_the_flow_modules_import_each_other_without_a_cycle():
    modules = _core_modules()
    graph = {name: _imports(tree) & modules.keys() for name, tree in modules.items()}
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        assert name not in path, " -> ".join([*path[path.index(name) :], name])
        if name in done:
            return
        for imported in sorted(graph[name]):
            visit(imported, [*path, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])
