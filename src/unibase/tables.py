"""Whether two mapped classes define their table alike: by meaning, not by spelling.

``id = Column(Integer, primary_key=True)`` and ``id: Mapped[int] = mapped_column(primary_key=True)``
are one column. Each column is read as SQLAlchemy would build it: its SQL name, its type (the
``Mapped[...]`` annotation's type through the base's ``type_annotation_map`` and SQLAlchemy's
default annotation map when ``mapped_column`` names none), its nullability (explicit, else from
``Optional``/``X | None`` for ``mapped_column``, else nullable unless a primary key), primary key,
foreign keys, defaults and every other argument. Names are resolved as the project binds them,
SQLAlchemy types are normalised through their constructors' signatures (``String(50)`` is
``String(length=50)``), and the table and mapper arguments are compared too.

It does not prove two differently spelled expressions equal beyond that: a type unibase cannot
normalise, a name it cannot resolve or a ``__table__`` it cannot read makes the definitions
differ, since keeping one of two tables that might differ loses the other.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from .discovery import Index, ModelInfo, Resolver, Symbol, WholeFacts, parse_source
from .facts import ClassFact, unparse
from .table_columns import ColumnMeaning, ColumnReader
from .table_names import UNKNOWN, last_name


@dataclass(frozen=True)
class TableMeaning:
    """What a mapped class says about its table."""

    columns: dict[str, ColumnMeaning]  # by SQL name
    table_args: tuple[str, str] | None  # (key, as written)
    mapper_args: tuple[str, str] | None
    parents: frozenset[str]  # ancestors outside the project (a library mixin adds columns unibase cannot see)
    unreadable: str | None  # why the columns cannot be known


def table_differences(ix: Index, a: ModelInfo, b: ModelInfo) -> list[str]:
    """How ``a`` and ``b`` define their table differently, one readable line each; empty when alike."""
    reader = _Reader(ix)
    ta, tb = reader.table(a), reader.table(b)
    out = []
    for m, t in ((a, ta), (b, tb)):
        if t.unreadable:
            out.append(f"{m.symbol.file}:{m.symbol.name} {t.unreadable}, which unibase cannot compare")
    for name in sorted(set(ta.columns) | set(tb.columns)):
        ca, cb = ta.columns.get(name), tb.columns.get(name)
        if ca is None:
            out.append(f"{name}: only in {b.symbol.file}")
        elif cb is None:
            out.append(f"{name}: only in {a.symbol.file}")
        elif aspects := _column_differences(ca, cb):
            out.append(f"{name}: {ca.shown} vs {cb.shown} ({'; '.join(aspects)})")
    for label, x, y in (("__table_args__", ta.table_args, tb.table_args),
                        ("__mapper_args__", ta.mapper_args, tb.mapper_args)):
        if _differ(x and x[0], y and y[0]):
            out.append(f"{label}: {x[1] if x else 'none'} vs {y[1] if y else 'none'}")
    if ta.parents != tb.parents or any(UNKNOWN in p for p in ta.parents | tb.parents):
        out.append(f"inherits {', '.join(sorted(ta.parents)) or 'no other class'} vs "
                   f"{', '.join(sorted(tb.parents)) or 'no other class'}")
    return out


def _column_differences(a: ColumnMeaning, b: ColumnMeaning) -> list[str]:
    out = []
    if a.attr != b.attr:
        out.append(f"attribute {a.attr} vs {b.attr}")
    if _differ(a.type, b.type):
        if a.type_label != b.type_label:
            out.append(f"type {a.type_label} vs {b.type_label}")
        elif UNKNOWN in a.type + b.type:
            out.append(f"type {a.type_label}, which unibase cannot resolve")
        else:
            out.append(f"type {a.type_label}, a different {a.type_label} on each side")
    if _differ(a.nullable, b.nullable):
        out.append(f"{_null_label(a.nullable)} vs {_null_label(b.nullable)}")
    if a.primary_key != b.primary_key:
        out.append("primary key vs not" if a.primary_key else "not a primary key vs primary key")
    if _differ(a.foreign_keys, b.foreign_keys):
        out.append(f"foreign key {_fk_label(a.foreign_keys)} vs {_fk_label(b.foreign_keys)}")
    oa = {k: (key, shown) for k, key, shown in a.options}
    ob = {k: (key, shown) for k, key, shown in b.options}
    for k in sorted(set(oa) | set(ob)):
        x, y = oa.get(k), ob.get(k)
        if _differ(x and x[0], y and y[0]):
            out.append(f"{k} {x[1] if x else 'not set'} vs {y[1] if y else 'not set'}")
    return out


def _differ(x: object, y: object) -> bool:
    return x != y or UNKNOWN in str(x)


def _null_label(key: str) -> str:
    return key if key in ("NULL", "NOT NULL") else f"nullable={_unmarked(key)}"


def _fk_label(keys: tuple[str, ...]) -> str:
    return ", ".join(_unmarked(k) for k in keys) or "none"


def _unmarked(key: str) -> str:
    return key.replace(UNKNOWN + " ", "").replace(" ?>", "")


class _Reader(ColumnReader):
    def __init__(self, ix: Index) -> None:
        self.ix = ix
        # a type class or a constant may live in a file discovery read by its import lines alone
        self.facts = WholeFacts(ix)
        self.resolver = Resolver(ix.modules, self.facts)
        self.trees: dict[str, ast.Module | None] = {}
        self.objects: dict[str, object | None] = {}  # qualified name -> the SQLAlchemy object

    # -- the class and its ancestors ------------------------------------------------------------

    def table(self, m: ModelInfo) -> TableMeaning:
        chain, parents = self._chain(m.symbol)
        file_of = {id(col): sym.file for sym, fact in chain for col in fact.columns}
        unreadable = "defines __table__ itself" if m.fact.table_call else None
        base = self.ix.bases.get(m.base)
        columns = {}
        for col in m.columns:
            c = self._column(file_of.get(id(col), m.symbol.file), col, base)
            columns[c.name] = c
        found: dict[str, tuple[str, str] | None] = {"__table_args__": None, "__mapper_args__": None}
        for label, attr in (("__table_args__", "table_args"), ("__mapper_args__", "mapper_args")):
            for sym, fact in chain:
                if self._declared_attr(sym, label):
                    unreadable = unreadable or f"computes {label} in a function"
                    break
                src = getattr(fact, attr)
                if src is not None:
                    key = self._args_key(sym.file, src) if attr == "table_args" else self._canon_src(sym.file, src)
                    found[label] = (key, src) if key is not None else None
                    break
        opaque = [name for sym, _ in chain for name in self._opaque_members(sym)]
        if opaque:
            unreadable = unreadable or f"builds {', '.join(opaque)} inside another call"
        return TableMeaning(columns, found["__table_args__"], found["__mapper_args__"], frozenset(parents), unreadable)

    def _chain(self, sym: Symbol) -> tuple[list[tuple[Symbol, ClassFact]], set[str]]:
        """The class and its project ancestors down to the declarative base (when it is a
        class), nearest first, and the keys of its ancestors outside the project."""
        chain: list[tuple[Symbol, ClassFact]] = []
        outside: set[str] = set()
        seen: set[Symbol] = set()

        def visit(s: Symbol) -> None:
            if s in seen:
                return
            seen.add(s)
            fact = self._class_fact(s)
            if s in self.ix.bases:
                chain.extend([(s, fact)] if fact else [])  # its own ancestors are SQLAlchemy's
                return
            if fact is None:
                outside.add(f"{UNKNOWN} {s} ?>")
                return
            chain.append((s, fact))
            for node in fact.bases:
                if isinstance(node, ast.Call):
                    continue  # ``class X(declarative_base())``: the base itself
                r = self.resolver.expr(s.file, node)
                if isinstance(r, Symbol):
                    visit(r)
                else:
                    outside.add(self._canon(s.file, node))

        visit(sym)
        return chain, outside

    def _class_fact(self, sym: Symbol) -> ClassFact | None:
        if sym in self.ix.models:
            return self.ix.models[sym].fact
        facts = self.facts.get(sym.file)
        return next((c for c in facts.classes if c.name == sym.name), None) if facts else None

    def _class_node(self, sym: Symbol) -> ast.ClassDef | None:
        tree = self._tree(sym.file)
        return next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == sym.name), None) if tree else None

    def _declared_attr(self, sym: Symbol, name: str) -> bool:
        node = self._class_node(sym)
        return any(isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef)) and s.name == name
                   for s in (node.body if node else ()))

    def _opaque_members(self, sym: Symbol) -> list[str]:
        """Class attributes that build a column inside another call (``deferred(Column(...))``)."""
        node = self._class_node(sym)
        out = []
        for stmt in node.body if node else ():
            if not isinstance(stmt, (ast.Assign, ast.AnnAssign)) or stmt.value is None:
                continue
            value = stmt.value
            if isinstance(value, ast.Call) and last_name(value.func) in ("Column", "mapped_column", "column_property"):
                continue
            target = stmt.targets[0] if isinstance(stmt, ast.Assign) else stmt.target
            if any(isinstance(n, ast.Call) and last_name(n.func) in ("Column", "mapped_column") for n in ast.walk(value)):
                out.append(unparse(target))
        return out

    def _tree(self, file: str) -> ast.Module | None:
        if file not in self.trees:
            try:
                self.trees[file] = parse_source((Path(self.ix.root) / file).read_bytes(), file)
            except (SyntaxError, ValueError, OSError):
                self.trees[file] = None
        return self.trees[file]
