"""The package's import graph has no cycles, imports inside functions included: each module can
be read, tested and replaced from the bottom up (``strata.config`` at the top, measures below the
registry, the registries' entries below them)."""

from __future__ import annotations

import ast
from pathlib import Path

from strata.plugins import is_import_path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "strata"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The strata modules a file imports anywhere in it (``from a import b`` names a.b when b
    is a module), or names by import path (``"strata.x:f"``, loaded by a registry when used);
    ``if TYPE_CHECKING:`` blocks are skipped (they never run)."""
    tree = ast.parse(path.read_text())
    skipped = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for stmt in block.body
        for node in ast.walk(stmt)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {f"{node.module}.{alias.name}" for alias in node.names} | {node.module}
        elif isinstance(node, ast.Constant) and is_import_path(str(node.value)):
            found.add(str(node.value).split(":")[0])  # code a registry loads by name, later
    return {name for name in found if name in modules} - {module_name(path)}


def graph() -> dict[str, set[str]]:
    files = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(f) for f in files}
    edges = {module_name(f): imports_of(f, modules) for f in files}
    # A submodule's import runs its package's __init__ first, which is not a cycle of the
    # code's own making; an __init__ that re-exports its submodules is the usual pattern.
    return {m: {t for t in targets if not m.startswith(t + ".")} for m, targets in edges.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
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
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_lazy_imports_and_import_paths_count():
    edges = graph()
    assert "strata.probes.verify" in edges["strata.probes.weighted"]  # imported in a function
    assert "strata.probes.phonemes" in edges["strata.probes.kinds"]  # a kind's fitting, by path


def test_the_package_has_no_import_cycles():
    assert cycles(graph()) == []
