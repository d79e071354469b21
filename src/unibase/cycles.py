"""Import cycles a plan would create, found statically, and imports that need not run.

``import_graph`` is the project's module-level import graph (imports in functions and under
``if TYPE_CHECKING:`` do not run when a module is imported; an import of ``a.b.c`` also runs
the packages ``a`` and ``a.b``). ``planned_edges`` adds what a plan writes: each moved file
becomes a shim importing the target, the target imports what the moved code needs, rewritten
importers import the target. ``new_cycle`` finds an added edge that closes a cycle the
project did not have. ``annotation_only`` tells which names moved code uses only in the
annotations of functions (never evaluated when those are quoted), so their imports can go
under ``if TYPE_CHECKING:``.

What it does not do: prove that a cycle that existed before still works, nor follow imports
made by ``importlib`` or ``__import__``.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterable

from .discovery import External, ModuleRef, Resolver, Symbol

_RUNS = {"module", "conditional", "class"}  # scopes whose imports run when the module is imported


def _with_packages(file: str, facts: dict) -> set[str]:
    """``file`` and the ``__init__.py`` of each package above it that the index knows."""
    out = {file}
    parent, _, name = file.rpartition("/")
    if name == "__init__.py":
        parent = parent.rpartition("/")[0]
    while parent:
        init = f"{parent}/__init__.py"
        if init in facts:
            out.add(init)
        parent = parent.rpartition("/")[0]
    return out


def _targets(resolver: Resolver, rel: str, level: int, module: str | None, names: Iterable[str]) -> set[str]:
    out = set()
    mod = resolver.module_file(rel, level, module)
    if mod:
        out |= _with_packages(mod, resolver.facts)
    for name in names:
        sub = resolver.imported_submodule(rel, level, module, name)
        if sub:
            out |= _with_packages(sub, resolver.facts)
    return out


def import_graph(resolver: Resolver) -> dict[str, set[str]]:
    """file -> the project files importing it runs (module-level imports only)."""
    memo: dict[tuple, frozenset[str]] = {}
    return {rel: file_edges(resolver, rel, memo=memo) for rel in resolver.facts}


def runtime_imports(resolver: Resolver, rel: str, memo: dict[tuple, frozenset[str]] | None = None):
    """(import statement, imported name, the project files that name's import runs) for every
    name of every import of ``rel`` that runs when ``rel`` is imported. ``memo`` keeps what each
    import runs across the files of one folder (where an import is looked up depends on nothing
    else: :meth:`~unibase.project.ModuleMap.resolve`, :meth:`~unibase.project.ModuleMap.resolve_relative`)."""
    memo = {} if memo is None else memo
    folder = rel.rpartition("/")[0]
    for imp in resolver.facts[rel].imports:
        if imp.scope not in _RUNS:
            continue
        for n in imp.names:
            key = (folder, imp.level, imp.module, n.name) if imp.is_from else (folder, 0, n.name, None)
            targets = memo.get(key)
            if targets is None:
                targets = memo[key] = frozenset(
                    _targets(resolver, rel, imp.level, imp.module, [n.name]) if imp.is_from
                    else _targets(resolver, rel, 0, n.name, []))
            yield imp, n, targets - {rel}


def file_edges(resolver: Resolver, rel: str, skip: frozenset[tuple[int, str]] = frozenset(),
               memo: dict[tuple, frozenset[str]] | None = None) -> set[str]:
    """The project files importing ``rel`` runs, but for the (line, local name) imports in ``skip``."""
    return {t for imp, n, targets in runtime_imports(resolver, rel, memo) if (imp.line, local_name(imp, n)) not in skip
            for t in targets}


def local_name(imp, n) -> str:
    """The name an imported name binds (``import a.b`` binds ``a``)."""
    return n.asname or (n.name if imp.is_from else n.name.partition(".")[0])


def text_targets(resolver: Resolver, rel: str, text: str) -> set[str]:
    """The project files an import statement written in ``rel`` runs."""
    m = re.match(r"\s*from (\.*)(\S*) import (.*)", text)
    if m:
        names = [p.strip().split(" as ")[0] for p in m.group(3).strip("() ").split(",")]
        return _targets(resolver, rel, len(m.group(1)), m.group(2) or None, names) - {rel}
    m = re.match(r"\s*import (.*)", text)
    if not m:
        return set()
    out: set[str] = set()
    for part in m.group(1).split(","):
        out |= _targets(resolver, rel, 0, part.strip().split(" as ")[0], [])
    return out - {rel}


def _path(graph: dict[str, set[str]], start: str, goal: str) -> list[str] | None:
    """A shortest path of imports from ``start`` to ``goal``."""
    prev: dict[str, str | None] = {start: None}
    queue = [start]
    for node in queue:
        if node == goal:
            out = []
            cur: str | None = node
            while cur is not None:
                out.append(cur)
                cur = prev[cur]
            return out[::-1]
        for nxt in sorted(graph.get(node, ())):
            if nxt not in prev:
                prev[nxt] = node
                queue.append(nxt)
    return None


def new_cycle(before: dict[str, set[str]], added: Iterable[tuple[str, str]]) -> list[str] | None:
    """The files of an import cycle the added edges close that ``before`` did not have
    (first file repeated at the end), or None."""
    after = {k: set(v) for k, v in before.items()}
    added = sorted(set(added))
    for a, b in added:
        after.setdefault(a, set()).add(b)
    for a, b in added:
        if a == b or b in before.get(a, ()):
            continue
        back = _path(after, b, a)
        if back is None:
            continue
        if _path(before, a, b) is not None and _path(before, b, a) is not None:
            continue  # a and b were already on one cycle
        return [a, *back]
    return None


def annotation_only(nodes: Iterable[ast.stmt]) -> set[str]:
    """Names the statements use only in function annotations and annotations of local variables
    (never evaluated once quoted), not in any expression that runs."""
    in_annotations: set[str] = set()
    elsewhere: set[str] = set()

    def names(node: ast.AST | None) -> set[str]:
        return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} if node is not None else set()

    skip: set[int] = set()
    for top in nodes:
        for node in ast.walk(top):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                a = node.args
                for arg in [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg]:
                    if arg is not None and arg.annotation is not None:
                        in_annotations |= names(arg.annotation)
                        skip.add(id(arg.annotation))
                if node.returns is not None:
                    in_annotations |= names(node.returns)
                    skip.add(id(node.returns))
                for inner in ast.walk(node):
                    if isinstance(inner, ast.AnnAssign) and inner.annotation is not None:
                        in_annotations |= names(inner.annotation)
                        skip.add(id(inner.annotation))
    for top in nodes:
        stack: list[ast.AST] = [top]
        while stack:
            node = stack.pop()
            if id(node) in skip:
                continue
            if isinstance(node, ast.Name):
                elsewhere.add(node.id)
            stack.extend(ast.iter_child_nodes(node))
    return in_annotations - elsewhere


def annotation_only_imports(resolver: Resolver, source: str, imports: Iterable[str], moved: list[ast.stmt]) -> set[str]:
    """The import texts (moved from ``source``) that bind only names the ``moved`` statements use
    only in function annotations: names of project modules, and of outside packages other than
    the standard library (importing one costs time and may import the project back). They can go
    under ``if TYPE_CHECKING:`` where the code lands."""
    only = annotation_only(moved)
    out = set()
    for text in imports:
        stmt = ast.parse(text).body[0]
        local = [a.asname or a.name.partition(".")[0] for a in stmt.names]  # type: ignore[attr-defined]
        if local and all(n in only and _lazy(resolver.name(source, n)) for n in local):
            out.add(text)
    return out


def _lazy(resolved: object) -> bool:
    if isinstance(resolved, External):
        return resolved.qualname.partition(".")[0] not in sys.stdlib_module_names
    return isinstance(resolved, (Symbol, ModuleRef))


def signature_only(nodes: Iterable[ast.stmt], exposed: frozenset[str] = frozenset()) -> set[str]:
    """Names the statements use only where nothing reads them at run time: the parameter and
    return annotations of functions that no decorator wraps (nor any function or class around
    them), and annotations of local variables. Class-level annotations (mapped classes,
    dataclasses, models of frameworks that read them), everything in a decorated function
    or class, and the annotations of the top-level functions named in ``exposed`` (handed to
    code that may read their signature) count as uses that run."""
    only: set[str] = set()
    runs: set[str] = set()

    def names(node: ast.AST | None) -> set[str]:
        return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} if node is not None else set()

    def visit(node: ast.AST, wrapped: bool, in_function: bool) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            wrapped = wrapped or bool(node.decorator_list)
            a = node.args
            annotations = [x.annotation for x in [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg]
                           if x is not None and x.annotation is not None] + [node.returns]
            for ann in annotations:
                (runs if wrapped else only).update(names(ann))
            for part in [*node.decorator_list, *a.defaults, *(d for d in a.kw_defaults if d is not None)]:
                visit(part, wrapped, in_function)
            for stmt in node.body:
                visit(stmt, wrapped, True)
        elif isinstance(node, ast.ClassDef):
            for part in [*node.decorator_list, *node.bases, *node.keywords]:
                visit(part, wrapped, in_function)
            for stmt in node.body:
                visit(stmt, wrapped or bool(node.decorator_list), False)
        elif isinstance(node, ast.AnnAssign) and in_function:
            only.update(names(node.annotation))  # a local variable's annotation is never evaluated
            for part in (node.target, node.value):
                if part is not None:
                    visit(part, wrapped, in_function)
        elif isinstance(node, ast.Name):
            runs.add(node.id)
        else:
            for child in ast.iter_child_nodes(node):
                visit(child, wrapped, in_function)

    for top in nodes:
        visit(top, isinstance(top, (ast.FunctionDef, ast.AsyncFunctionDef)) and top.name in exposed, False)
    return only - runs


def passed_around(tree: ast.Module) -> set[str]:
    """The top-level functions of ``tree`` that it uses other than by calling them (handed to a
    framework, stored, returned)."""
    defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id in defined
            and isinstance(n.ctx, ast.Load) and id(n) not in called}


def signature_annotations(nodes: Iterable[ast.stmt], name: str) -> list[ast.expr]:
    """The parameter and return annotations in the statements that use ``name`` (what has to
    be quoted once ``name`` is imported only for type checkers)."""
    out = []
    for top in nodes:
        for node in ast.walk(top):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                a = node.args
                for ann in [x.annotation for x in [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg]
                            if x is not None] + [node.returns]:
                    if ann is not None and any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(ann)):
                        out.append(ann)
    return out
