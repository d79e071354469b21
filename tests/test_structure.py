"""The shape of unibase's own code: no import cycle among its modules (lazy imports inside
functions included, since a cycle there is still two modules that cannot be read apart)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = {"unibase": REPO / "src" / "unibase", "unibase.codemods": REPO / "codemods"}


def modules() -> dict[str, Path]:
    out = {}
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            parts = path.relative_to(folder).with_suffix("").parts
            name = ".".join((package, *parts)).removesuffix(".__init__")
            out[name] = path
    return out


def import_graph() -> dict[str, set[str]]:
    mods = modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = package
                for _ in range(max(node.level - 1, 0)):
                    base = base.rpartition(".")[0]
                target = f"{base}.{node.module}" if node.level and node.module else base if node.level else node.module
                for alias in node.names:
                    for candidate in (f"{target}.{alias.name}", target):
                        if candidate in mods and candidate != name:
                            graph[name].add(candidate)
                            break
            elif isinstance(node, ast.Import):
                graph[name].update(a.name for a in node.names if a.name in mods and a.name != name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
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
        for w in sorted(graph[v]):
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

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_graph_is_read():
    graph = import_graph()
    assert "unibase.planning" in graph["unibase.api"] and "unibase.codemods.move_models" in graph


def test_no_import_cycle_among_unibase_modules():
    assert cycles(import_graph()) == []


def test_a_cycle_is_found():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_verify_child_needs_only_the_standard_library_sqlalchemy_and_alembic():
    """The child runs by path in the project's interpreter, where unibase is not installed."""
    import sys

    for name in ("child.py", "scratch.py"):  # the child, and the module it loads from beside itself
        path = PACKAGES["unibase"] / "verify" / name
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert not any(isinstance(n, ast.ImportFrom) and n.level for n in ast.walk(tree))
        assert "sqlalchemy" in imported
        assert imported - set(sys.stdlib_module_names) <= {"sqlalchemy", "alembic"}


MAX_MODULE_LINES = 600
MAX_CLASS_LINES = 300


def _sources() -> list[Path]:
    return sorted(p for folder in PACKAGES.values() for p in folder.rglob("*.py"))


def test_no_module_or_class_is_longer_than_a_few_screens():
    long_modules = [f"{p.relative_to(REPO)}: {n} lines" for p in _sources()
                    if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES]
    long_classes = [f"{p.relative_to(REPO)}:{c.lineno} {c.name}: {c.end_lineno - c.lineno + 1} lines"
                    for p in _sources() for c in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
                    if isinstance(c, ast.ClassDef) and c.end_lineno - c.lineno + 1 > MAX_CLASS_LINES]
    assert not long_modules, f"modules over {MAX_MODULE_LINES} lines: {long_modules}"
    assert not long_classes, f"classes over {MAX_CLASS_LINES} lines: {long_classes}"

