"""UB002: an import cycle the merge would close is broken where the project lets it be, by
putting an import that only annotations need under ``if TYPE_CHECKING:``.

The cycle is found in the planned import graph (:mod:`unibase.cycles`). An edge of it that the
plan does not write, made in a file that stays a module of its own by imports whose names the
file uses only in the annotations of undecorated functions that nothing hands around
(``cycles.signature_only``), need not run: those imports move under ``if TYPE_CHECKING:`` (:class:`~unibase.plan.DeferImports`,
the annotations quoted where the file has no ``from __future__ import annotations``) and the
edge is gone. Code that moves into the file counts as the file's code. Not taken: an import
the file also needs at run time, re-exports (``__all__``, another module importing the name
from this one), an import in a ``try``/``if`` block, one UB002 re-points at a moved module,
a name bound twice, an annotation that cannot become one string literal. Until no new cycle
is left, or no edge of it can be dropped: then the cycle is a conflict, as before."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable

from .. import cycles
from ..plan import Conflict, DeferImports, MergeDuplicate, MoveModels, Operation, RewriteImports
from .context import PlanContext, moved_statements


def break_cycles(ctx: PlanContext, before: dict[str, set[str]], added: set[tuple[str, str]],
                 ops: tuple[Operation, ...]) -> tuple[tuple[DeferImports, ...], list[str] | None]:
    """The imports to defer, and the files of the cycle left when no edge of it can be dropped."""
    graph = {k: set(v) for k, v in before.items()}
    deferred: dict[str, dict[tuple[int, str], str]] = {}  # file -> (line, local name) -> import text
    cycles_broken: dict[str, list[str]] = {}
    while (cycle := cycles.new_cycle(graph, added)) is not None:
        for a, b in zip(cycle, cycle[1:]):
            if (a, b) in added or b not in graph.get(a, ()):
                continue
            found = _deferrable(ctx, a, b, ops, deferred.get(a, {}))
            if found:
                deferred.setdefault(a, {}).update(found)
                cycles_broken.setdefault(a, cycle)
                graph[a] = cycles.file_edges(ctx.resolver, a, frozenset(deferred[a]))
                break
        else:
            return (), cycle
    name = ctx.index.modules.module_name
    return tuple(
        DeferImports(file=a, names=tuple(sorted({n for _, n in found})), imports=tuple(dict.fromkeys(found.values())),
                     quote=not _future_annotations(ctx, a),
                     cycle=tuple(name(f) or f for f in cycles_broken[a]))
        for a, found in sorted(deferred.items())
    ), None


def _deferrable(ctx: PlanContext, a: str, b: str, ops: tuple[Operation, ...],
                done: dict[tuple[int, str], str]) -> dict[tuple[int, str], str] | None:
    """The (line, local name) -> import text of the imports in ``a`` that make its edge to ``b``,
    when every one of them may go under ``if TYPE_CHECKING:``; else None."""
    tree = ctx.sources.tree(a)
    if tree is None or a not in ctx.index.facts or a in ctx.index.unparsable:
        return None
    if any(isinstance(op, MoveModels) and op.source == a for op in ops):
        return None  # a module whose code moves becomes a shim: its imports are UB001's
    if any(isinstance(op, MergeDuplicate) and op.file == a and op.helpers for op in ops):
        return None
    respelt = {(s.level, s.module) for op in ops if isinstance(op, RewriteImports) and op.file == a
               for s in op.spellings}
    found: dict[tuple[int, str], str] = {}
    for imp, n, targets in cycles.runtime_imports(ctx.resolver, a):
        local = cycles.local_name(imp, n)
        if b not in targets or (imp.line, local) in done:
            continue
        spelt = (imp.level, imp.module or "") if imp.is_from else (0, n.name)
        if imp.scope != "module" or spelt in respelt or n.name == "*":
            return None
        text = (f"from {'.' * imp.level}{imp.module or ''} import {n.name}" if imp.is_from
                else f"import {n.name}") + (f" as {n.asname}" if n.asname else "")
        found[(imp.line, local)] = text
    if not found:
        return None
    code = [*tree.body, *_arriving(ctx, a, ops)]
    exposed = cycles.passed_around(tree) | _imported_elsewhere(ctx, a)
    only = cycles.signature_only(code, frozenset(exposed))
    future = _future_annotations(ctx, a)
    for _, local in found:
        if local not in only or _bound_twice(tree, local) or _reexported(ctx, a, tree, local):
            return None
        if not future and not all(_quotable(ctx, a, ann) for ann in cycles.signature_annotations(tree.body, local)):
            return None
    return found


def _arriving(ctx: PlanContext, a: str, ops: tuple[Operation, ...]) -> list[ast.stmt]:
    """The statements the plan adds to ``a``: moved classes and helpers, merged members."""
    out: list[ast.stmt] = []
    for op in ops:
        if isinstance(op, MoveModels) and op.target == a:
            out += moved_statements(ctx, op.source, set(op.classes) | set(op.helpers))
        elif isinstance(op, MergeDuplicate) and op.file == a:
            for text in op.statements:
                try:
                    out += ast.parse(text).body
                except SyntaxError:
                    out.append(ast.parse("__unreadable__"))  # type: ignore[arg-type]
    return out


def _imported_elsewhere(ctx: PlanContext, a: str) -> set[str]:
    """The names other project files import from ``a`` (a function among them may be handed to
    a framework that reads its annotations)."""
    return {n.name for rel in ctx.importers.get(a, ()) for imp in ctx.index.facts[rel].imports
            if imp.is_from and ctx.resolver.module_file(rel, imp.level, imp.module) == a for n in imp.names}


def _bound_twice(tree: ast.Module, local: str) -> bool:
    """``local`` is bound by more than the one import (or deleted, or declared global)."""
    imports = 0
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imports += sum(1 for x in node.names
                           if (x.asname or (x.name if isinstance(node, ast.ImportFrom) else x.name.partition(".")[0])) == local)
        elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load) and node.id == local:
            return True
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == local:
            return True
        elif isinstance(node, (ast.Global, ast.Nonlocal)) and local in node.names:
            return True
    return imports != 1


def _reexported(ctx: PlanContext, a: str, tree: ast.Module, local: str) -> bool:
    """Another module takes ``local`` from ``a`` (``from a import local``, ``a.local``), or
    ``a`` lists it in ``__all__``."""
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, (ast.AugAssign, ast.AnnAssign)) else []
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            if any(isinstance(c, ast.Constant) and c.value == local for c in ast.walk(node)):
                return True
    attribute = re.compile(rf"\.{re.escape(local)}\b")
    for rel in ctx.importers.get(a, ()):
        for imp in ctx.index.facts[rel].imports:
            if (imp.is_from and ctx.resolver.module_file(rel, imp.level, imp.module) == a
                    and any(n.name in (local, "*") for n in imp.names)):
                return True
        if attribute.search(ctx.sources.text(rel) or ""):
            return True  # maybe ``a.local`` through a module import: kept
    return False


def _quotable(ctx: PlanContext, a: str, ann: ast.expr) -> bool:
    if isinstance(ann, ast.Constant):
        return True
    text = ast.get_source_segment(ctx.sources.text(a) or "", ann)
    return text is not None and "\n" not in text and not ('"' in text and "'" in text)


def _future_annotations(ctx: PlanContext, a: str) -> bool:
    return any(i.is_from and i.module == "__future__" and any(n.name == "annotations" for n in i.names)
               for i in ctx.index.facts[a].imports)


def describe_cycle(ctx: PlanContext, files: Iterable[str]) -> str:
    return " -> ".join(ctx.index.modules.module_name(f) or f for f in files)
