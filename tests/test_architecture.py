"""The package's shape: no import cycle between pycodex modules (imports inside functions count)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "pycodex"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _typing_only(tree: ast.AST) -> set[int]:
    """ids of the nodes under `if TYPE_CHECKING:` (never executed, so never a cycle at run time)."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", None)) == "TYPE_CHECKING":
            for child in node.body:
                skipped.update(id(n) for n in ast.walk(child))
    return skipped


def import_graph() -> dict[str, set[str]]:
    """module -> the pycodex modules it imports anywhere in its body (functions included)."""
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(), str(path))
        typing_only = _typing_only(tree)
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = name.split(".") if is_package else name.split(".")[:-1]
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
            for target in targets:
                # `from pycodex.x import y` imports pycodex.x, and pycodex.x.y when y is a module.
                if target in files and target != name:
                    graph[name].add(target)
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def _is_package_link(a: str, b: str) -> bool:
    # A package's __init__ re-exporting its own submodules is not a cycle of design.
    return b.startswith(a + ".") or a.startswith(b + ".")


def test_no_import_cycles():
    graph = import_graph()
    pruned = {m: {t for t in targets if not _is_package_link(m, t)} for m, targets in graph.items()}
    assert find_cycles(pruned) == []


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycles(graph) == [["a", "b", "c"]]
    assert import_graph()["pycodex.cli.eval_cmd"] >= {"pycodex.runs.pipeline", "pycodex.runs.request"}


MAX_MODULE_LINES = 450


def test_no_module_is_over_450_lines():
    long = {str(p.relative_to(PACKAGE.parent)): n for p in PACKAGE.rglob("*.py") if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert long == {}


MAX_FUNCTION_LINES = 80


def long_functions() -> dict[str, int]:
    """'path:name' -> lines, for every function (methods and nested ones too) over MAX_FUNCTION_LINES."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    found[f"{path.relative_to(PACKAGE.parent)}:{node.name}"] = lines
    return found


def test_no_function_is_over_80_lines():
    assert long_functions() == {}


def test_the_execution_layer_imports_nothing_of_the_layers_above_it():
    """execution/ runs programs: it knows no run, store, report or front end (its limits are its own)."""
    above = ("pycodex.runs", "pycodex.store", "pycodex.report", "pycodex.cli", "pycodex.tui", "pycodex.repl")
    graph = import_graph()
    wrong = {m: sorted(t for t in targets if t.startswith(above)) for m, targets in graph.items() if m.startswith("pycodex.execution")}
    assert {m: t for m, t in wrong.items() if t} == {}
    assert "pycodex.execution.checks" in graph["pycodex.execution.executor"]  # (the graph sees imports inside functions)
