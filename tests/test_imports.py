"""The package's import rules, read from the source with `ast` (nothing is imported).

Every import counts: at module level and inside functions (a lazy import still
ties two modules together), relative ones resolved. The rules: no import
circles between deepvis modules; Qt only under deepvis/gui/; the shared floor
imports nothing above it; only `python -m deepvis` imports the command line.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

import deepvis

PACKAGE_DIR = Path(deepvis.__file__).resolve().parent
QT_PACKAGES = {"PyQt6", "PyQt5", "PySide6", "PySide2", "PySide", "pyqtgraph"}

# The shared floor, and what each of its modules may reach, directly or through others.
# `deepvis` itself holds DeepvisError and the version. session opens a model (zoo, which reads
# its cards) and reads a first frame (sources): the only modules above the floor it may use.
FLOOR_ALLOWED: dict[str, set[str]] = {
    "deepvis": set(),
    "deepvis.paths": {"deepvis"},
    "deepvis.config": {"deepvis", "deepvis.paths"},
    "deepvis.device": {"deepvis"},
    "deepvis.hooks": {"deepvis"},
    "deepvis.files": {"deepvis"},
    "deepvis.events": set(),
    "deepvis.keytable": set(),
    "deepvis.jobstate": {"deepvis.events"},
    "deepvis.jobs": {"deepvis"},
    "deepvis.session": {"deepvis", "deepvis.paths", "deepvis.config", "deepvis.device", "deepvis.hooks",
                        "deepvis.zoo", "deepvis.cards", "deepvis.sources", "deepvis.decode"},
}


def module_name(path: Path) -> str:
    parts = ("deepvis",) + path.relative_to(PACKAGE_DIR).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@lru_cache(maxsize=1)
def package_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE_DIR.rglob("*.py"))}


def imported_names(name: str, path: Path) -> list[tuple[str, int]]:
    """(absolute module name, line) of every import in the file; `from a import b` gives a.b
    when that is a module, else a."""
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                # Relative: from the module's own package, one package up per extra dot.
                package = name.split(".") if is_package else name.split(".")[:-1]
                base = ".".join(package[: len(package) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module
            found.append((base, node.lineno))
            found += [(f"{base}.{alias.name}", node.lineno) for alias in node.names
                      if f"{base}.{alias.name}" in package_modules()]
    return found


@lru_cache(maxsize=1)
def import_graph() -> dict[str, dict[str, int]]:
    """deepvis module -> {deepvis module it imports: line of the first such import}."""
    modules = package_modules()
    graph: dict[str, dict[str, int]] = {}
    for name, path in modules.items():
        edges: dict[str, int] = {}
        for target, line in imported_names(name, path):
            if target in modules and target != name:
                edges.setdefault(target, line)
        graph[name] = edges
    return graph


def where(source: str, target: str) -> str:
    path = package_modules()[source].relative_to(PACKAGE_DIR.parent)
    return f"{path}:{import_graph()[source][target]} ({source} -> {target})"


def import_cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """One cycle (a -> b -> ... -> a) per strongly connected group of modules (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [shortest_cycle(graph, group) for group in groups]


def shortest_cycle(graph: dict[str, dict[str, int]], group: set[str]) -> list[str]:
    """The shortest cycle through the group's first module (by name), found breadth first."""
    start = min(group)
    parent: dict[str, str | None] = {start: None}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(graph[node]):
                if nxt == start:
                    path = [node]
                    while parent[path[-1]] is not None:
                        path.append(parent[path[-1]])
                    return path[::-1] + [start]
                if nxt in group and nxt not in parent:
                    parent[nxt] = node
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"no cycle in {sorted(group)}")


def test_the_walk_sees_the_package():
    modules = package_modules()
    assert {"deepvis.cli", "deepvis.zoo", "deepvis.gui.app", "deepvis.unitvis.commands"} <= set(modules)
    assert set(FLOOR_ALLOWED) <= set(modules), "a floor module was renamed: update FLOOR_ALLOWED"
    # Lazy imports count: cli imports the precompute commands inside build_parser.
    assert "deepvis.unitvis.commands" in import_graph()["deepvis.cli"]


def test_cycle_finder_reports_a_circle():
    graph = {"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1, "d": 1}, "d": {}}
    assert import_cycles(graph) == [["a", "b", "c", "a"]]
    assert import_cycles({"a": {"b": 1}, "b": {}}) == []


def test_no_import_circles():
    graph = import_graph()
    cycles = import_cycles(graph)
    lines = []
    for cycle in cycles:
        lines.append(" -> ".join(cycle))
        lines += ["    " + where(a, b) for a, b in zip(cycle, cycle[1:])]
    assert not cycles, "import circles between deepvis modules:\n" + "\n".join(lines)


def test_only_the_gui_imports_qt():
    offenders = []
    for name, path in package_modules().items():
        if name == "deepvis.gui" or name.startswith("deepvis.gui."):
            continue
        for target, line in imported_names(name, path):
            if target.split(".")[0] in QT_PACKAGES:
                offenders.append(f"{path.relative_to(PACKAGE_DIR.parent)}:{line} imports {target}")
    assert not offenders, "Qt outside deepvis/gui/:\n" + "\n".join(offenders)


def test_the_shared_floor_imports_nothing_above_it():
    graph = import_graph()
    offenders = []
    for floor_module, allowed in FLOOR_ALLOWED.items():
        # Everything the module reaches, with the first step of the path to it.
        reached: dict[str, str] = {}
        frontier = [floor_module]
        while frontier:
            node = frontier.pop()
            for nxt in graph[node]:
                if nxt not in reached and nxt != floor_module:
                    reached[nxt] = node
                    frontier.append(nxt)
        for target in sorted(set(reached) - allowed):
            offenders.append(f"{floor_module} reaches {target}, via " + where(reached[target], target))
    assert not offenders, "the shared floor imports something above it:\n" + "\n".join(offenders)


def test_only_the_entry_point_imports_the_command_line():
    # The commands sit on top: the GUI and the command modules get what they share from the
    # engine (deepvis.session), so no import of cli can close a circle.
    importers = [where(name, "deepvis.cli") for name, edges in import_graph().items()
                 if "deepvis.cli" in edges and name != "deepvis.__main__"]
    assert not importers, "deepvis.cli imported below the entry point:\n" + "\n".join(importers)
