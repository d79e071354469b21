"""What every part of planning reads: the frozen :class:`PlanContext` (the index, the settings,
the resolver, who imports whom and the one source cache), what a part returns (:class:`Part`)
and what the merge parts hand on to each other (:class:`Merge`, :class:`Move`).

Planning reads a file's text or tree only through :class:`Sources`: each file is read and parsed
at most once per plan, however many parts ask."""

from __future__ import annotations

import ast
import textwrap
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..discovery import BaseInfo, Index, ModelInfo, Resolver, Symbol
from ..plan import Conflict, Operation, Warning
from ..settings import Settings

NOT_UNDERSTOOD = "W020"  # a possible declarative base discovery cannot follow (``check`` reports it)


class PlanError(ValueError):
    """Bad input for planning (exit 2)."""


@dataclass
class Sources:
    """The project's files as planning sees them, each read (and parsed) once, on first use."""

    root: Path
    _data: dict[str, bytes | None] = field(default_factory=dict)
    _trees: dict[str, ast.Module | None] = field(default_factory=dict)
    _lines: dict[str, list[str]] = field(default_factory=dict)

    def data(self, rel: str) -> bytes | None:
        """The file's bytes, or None when it cannot be read."""
        if rel not in self._data:
            try:
                self._data[rel] = (self.root / rel).read_bytes()
            except OSError:
                self._data[rel] = None
        return self._data[rel]

    def text(self, rel: str) -> str | None:
        """The file as ``read_text`` gives it (UTF-8, undecodable bytes replaced, newlines
        translated), or None when it cannot be read."""
        data = self.data(rel)
        if data is None:
            return None
        return data.decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n")

    def lines(self, rel: str) -> list[str]:
        if rel not in self._lines:
            self._lines[rel] = (self.text(rel) or "").splitlines()
        return self._lines[rel]

    def tree(self, rel: str) -> ast.Module | None:
        """The module's tree, or None when it cannot be read or parsed."""
        if rel not in self._trees:
            data = self.data(rel)
            try:
                self._trees[rel] = None if data is None else ast.parse(data)
            except (SyntaxError, ValueError):
                self._trees[rel] = None
        return self._trees[rel]


@dataclass(frozen=True)
class PlanContext:
    """What every part of planning reads, and nothing it writes."""

    index: Index
    settings: Settings
    resolver: Resolver
    importers: Mapping[str, set[str]]  # file -> files that import it (any form, any scope)
    sources: Sources

    @classmethod
    def build(cls, index: Index, settings: Settings) -> PlanContext:
        resolver = Resolver(index.modules, index.facts)
        return cls(index, settings, resolver, _importers(index, resolver), Sources(Path(index.root)))


@dataclass(frozen=True)
class Part:
    """What one part of planning adds to the plan, in order."""

    ops: tuple[Operation, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    warnings: tuple[Warning, ...] = ()


@dataclass(frozen=True)
class Move:
    """A class, helper or base that ends up as ``new`` (a dropped duplicate: its kept class)."""

    old: Symbol
    new: Symbol


@dataclass(frozen=True)
class Merge:
    """What the roles decided: the canonical base (named, when :mod:`.roles` extracted an
    anonymous one) and the bases merged into it."""

    canonical: BaseInfo
    merging: tuple[BaseInfo, ...]
    registry: Symbol | None = None  # the anonymous base's original symbol, when it was extracted

    @property
    def target(self) -> str:
        return self.canonical.symbol.file

    @property
    def merging_bases(self) -> frozenset[Symbol]:
        return frozenset(b.symbol for b in self.merging)

    def merged_models(self, index: Index) -> list[ModelInfo]:
        """The mapped classes of the one registry after the merge (before drops)."""
        merged = {self.canonical.symbol, *self.merging_bases}
        if self.registry is not None:
            merged.add(self.registry)
        return [m for m in index.models.values() if m.base in merged]


def _importers(index: Index, resolver: Resolver) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for rel, f in index.facts.items():
        for imp in f.imports:
            if imp.is_from:
                mod = resolver.module_file(rel, imp.level, imp.module)
                if mod:
                    out[mod].add(rel)
                for n in imp.names:
                    sub = resolver.imported_submodule(rel, imp.level, imp.module, n.name)
                    if sub:
                        out[sub].add(rel)
            else:
                for n in imp.names:
                    mod = resolver.module_file(rel, 0, n.name)
                    if mod:
                        out[mod].add(rel)
    for k in out:
        out[k].discard(k)
    return out


# -- reading definitions out of the cached sources ---------------------------------------------------


def statement_source(lines: list[str], node: ast.stmt) -> str:
    first = node.decorator_list[0].lineno if getattr(node, "decorator_list", None) else node.lineno
    return textwrap.dedent("\n".join(lines[first - 1 : node.end_lineno])) + "\n"


def top_level_source(ctx: PlanContext, file: str, name: str) -> str:
    """The source of the top-level definition of ``name`` in ``file`` ("" when there is none)."""
    tree = ctx.sources.tree(file)
    lines = ctx.sources.lines(file)
    for node in tree.body if tree else ():
        names = set()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names = {node.name}
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = {t.id for t in targets if isinstance(t, ast.Name)}
        if name in names:
            return statement_source(lines, node)
    return ""


def function_names(ctx: PlanContext, file: str, name: str) -> list[str]:
    """The names a top-level function or class ``name`` of ``file`` uses."""
    tree = ctx.sources.tree(file)
    for node in tree.body if tree else ():
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
            return [n.id for n in ast.walk(node) if isinstance(n, ast.Name)]
    return []


def same_definition(ctx: PlanContext, a: str, b: str, name: str) -> bool:
    """Whether ``name`` is defined the same way in ``a`` and ``b``, so that one definition can
    stand for both. Never for a class: two classes are two objects (two enums do not share members)."""
    def src(file: str) -> str | None:
        tree = ctx.sources.tree(file)
        for node in tree.body if tree else ():
            if isinstance(node, ast.ClassDef) and node.name == name:
                return None
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
                return ast.dump(node, include_attributes=False)
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
                return ast.dump(node, include_attributes=False)
        return None

    sa, sb = src(a), src(b)
    return sa is not None and sa == sb


def defines(node: ast.stmt) -> set[str]:
    """The top-level names a statement binds (a class, a function, an assignment)."""
    if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
        return {node.name}
    targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
    return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}


def moved_statements(ctx: PlanContext, file: str, names: set[str]) -> list[ast.stmt]:
    """The top-level statements of ``file`` that define one of ``names``."""
    tree = ctx.sources.tree(file)
    return [n for n in (tree.body if tree else ()) if defines(n) & names]


def follow(moved_to: Mapping[Symbol, Symbol], symbol: Symbol) -> Symbol:
    """Where ``symbol`` ends up: a dropped class's kept class may itself move."""
    seen = {symbol}
    while symbol in moved_to and moved_to[symbol] not in seen:
        symbol = moved_to[symbol]
        seen.add(symbol)
    return symbol
