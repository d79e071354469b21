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
import builtins
import copy
import importlib
import inspect
from dataclasses import dataclass
from pathlib import Path

from .discovery import BaseInfo, External, Index, ModelInfo, ModuleRef, Resolver, Symbol, parse_source
from .facts import ClassFact, ColumnFact, unparse

_SIMPLE_TYPE_MODULES = ("builtins", "datetime", "decimal", "uuid")
_UNKNOWN = "<?"  # starts the key of a name unibase could not resolve: such a key equals nothing
# keywords whose value, when given, is the value SQLAlchemy assumes anyway
_NO_OP = {"autoincrement": "'auto'", "repr": "True", "compare": "True"}
_NO_OP_FALSE = frozenset({"index", "unique", "system", "insert_sentinel", "deferred", "deferred_raiseload",
                          "active_history", "use_existing_column"})


@dataclass(frozen=True)
class ColumnMeaning:
    """One column as SQLAlchemy would build it. ``type``, ``nullable`` and the option keys are
    equal only when the meaning is; a key holding an unresolved name equals nothing."""

    attr: str
    name: str
    type: str
    type_label: str
    nullable: str
    primary_key: bool
    foreign_keys: tuple[str, ...]
    options: tuple[tuple[str, str, str], ...]  # (keyword, key, as written)
    shown: str  # the definition as written


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
    if ta.parents != tb.parents or any(_UNKNOWN in p for p in ta.parents | tb.parents):
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
        elif _UNKNOWN in a.type + b.type:
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
    return x != y or _UNKNOWN in str(x)


def _null_label(key: str) -> str:
    return key if key in ("NULL", "NOT NULL") else f"nullable={_unmarked(key)}"


def _fk_label(keys: tuple[str, ...]) -> str:
    return ", ".join(_unmarked(k) for k in keys) or "none"


def _unmarked(key: str) -> str:
    return key.replace(_UNKNOWN + " ", "").replace(" ?>", "")


class _Reader:
    def __init__(self, ix: Index) -> None:
        self.ix = ix
        self.resolver = Resolver(ix.modules, ix.facts)
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
                outside.add(f"{_UNKNOWN} {s} ?>")
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
        facts = self.ix.facts.get(sym.file)
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
            if isinstance(value, ast.Call) and _last_name(value.func) in ("Column", "mapped_column", "column_property"):
                continue
            target = stmt.targets[0] if isinstance(stmt, ast.Assign) else stmt.target
            if any(isinstance(n, ast.Call) and _last_name(n.func) in ("Column", "mapped_column") for n in ast.walk(value)):
                out.append(unparse(target))
        return out

    def _tree(self, file: str) -> ast.Module | None:
        if file not in self.trees:
            try:
                self.trees[file] = parse_source((Path(self.ix.root) / file).read_bytes(), file)
            except (SyntaxError, ValueError, OSError):
                self.trees[file] = None
        return self.trees[file]

    # -- one column ------------------------------------------------------------------------------

    def _column(self, file: str, col: ColumnFact, base: BaseInfo | None) -> ColumnMeaning:
        import sqlalchemy
        from sqlalchemy import orm as sa_orm
        from sqlalchemy.schema import SchemaItem

        shown = f"{col.annotation} = {col.source}" if col.annotation and col.annotation != col.source else col.source
        node = _parse(col.source)
        orm = False
        if isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute)):
            maker = self._object(file, node.func)
            orm = maker is sa_orm.mapped_column
            if maker is not sqlalchemy.Column and not orm:
                node = None
        elif col.annotation is not None and col.annotation == col.source:
            node, orm = ast.Call(ast.Name("mapped_column"), [], []), True  # a bare ``x: Mapped[int]``
        else:
            node = None
        if node is None:
            key = self._canon_src(file, col.source)
            return ColumnMeaning(col.attr, col.name, f"opaque {key}", col.source, "NULL", False, (), (), shown)

        args = list(node.args)
        name = col.attr
        if args and isinstance(args[0], ast.Constant) and isinstance(args[0].value, str):
            name = args.pop(0).value
        keywords: dict[str, ast.expr] = {}
        options: dict[str, tuple[str, str]] = {}
        for kw in node.keywords:
            if kw.arg is None:
                options["**"] = (f"{_UNKNOWN} {file}:{unparse(kw.value)} ?>", unparse(kw.value))
            else:
                keywords[kw.arg] = kw.value
        given_name = keywords.get("name")
        if isinstance(given_name, ast.Constant) and isinstance(given_name.value, str):
            name = given_name.value
            del keywords["name"]
        type_node = keywords.pop("type_", None)
        foreign_keys: list[str] = []
        items: list[ast.expr] = []
        for a in args:
            maker = self._object(file, a.func if isinstance(a, ast.Call) else a)
            if maker is sqlalchemy.ForeignKey and isinstance(a, ast.Call):
                foreign_keys.append(self._foreign_key(file, a))
            elif (isinstance(maker, type) and issubclass(maker, SchemaItem)) or type_node is not None:
                items.append(a)
            else:
                type_node = a
        if items:
            options["schema items"] = (", ".join(sorted(self._canon(file, i) for i in items)),
                                       ", ".join(unparse(i) for i in items))

        annotation = _parse(col.annotation) if orm and col.annotation else None
        inner, optional = self._unwrap_mapped(file, annotation) if annotation is not None else (None, None)
        if type_node is not None:
            type_key, type_label = self._type(file, type_node)
        elif annotation is not None:
            type_key, type_label = self._annotation_type(file, inner, base, col.annotation or "")
        elif foreign_keys:
            type_key, type_label = "the foreign key's", "the foreign key's"
        else:
            type_key, type_label = "sqlalchemy.sql.sqltypes.NullType()", "none"

        primary_key = False
        if (pk := keywords.pop("primary_key", None)) is not None:
            value = self._value(file, pk)
            if value in ("True", "False"):
                primary_key = value == "True"
            else:
                options["primary_key"] = (value, unparse(pk))
        given = keywords.pop("nullable", None)
        value = self._value(file, given) if given is not None else "None"
        if value in ("True", "False"):
            nullable = "NULL" if value == "True" else "NOT NULL"
        elif value != "None":
            nullable = value
        elif primary_key:
            nullable = "NOT NULL"
        elif annotation is not None:
            nullable = f"{_UNKNOWN} {col.annotation} ?>" if optional is None else "NULL" if optional else "NOT NULL"
        else:
            nullable = "NULL"

        if orm and "insert_default" in keywords:
            if "default" in keywords:
                dataclass_default = keywords.pop("default")
                options["dataclass default"] = (self._value(file, dataclass_default), unparse(dataclass_default))
            keywords["default"] = keywords.pop("insert_default")
        for key, value_node in keywords.items():
            value = self._value(file, value_node)
            if value == "None" and not (orm and key == "default"):
                continue
            if _NO_OP.get(key) == value or (key in _NO_OP_FALSE and value == "False"):
                continue
            options[key] = (value, unparse(value_node))
        return ColumnMeaning(col.attr, name, type_key, type_label, nullable, primary_key, tuple(sorted(foreign_keys)),
                             tuple(sorted((k, *v) for k, v in options.items())), shown)

    def _foreign_key(self, file: str, call: ast.Call) -> str:
        target = call.args[0] if call.args else None
        if isinstance(target, ast.Constant) and isinstance(target.value, str):
            where = target.value
        elif target is not None:
            where = self._canon(file, target).removeprefix("column ")
        else:
            where = f"{_UNKNOWN} no target ?>"
        extra = [self._value(file, a) for a in call.args[1:]]
        for kw in call.keywords:
            value = self._value(file, kw.value) if kw.arg else f"{_UNKNOWN} {unparse(kw.value)} ?>"
            if value not in ("None", "False"):
                extra.append(f"{kw.arg}={value}")
        return where + (f" ({', '.join(sorted(extra))})" if extra else "")

    # -- types -------------------------------------------------------------------------------------

    def _type(self, file: str, node: ast.expr) -> tuple[str, str]:
        """(key, label) of a type expression: ``Integer``, ``sa.String(50)``, ``postgresql.JSONB()``..."""
        from sqlalchemy.types import TypeEngine

        call = node if isinstance(node, ast.Call) else None
        func = call.func if call else node
        if isinstance(func, (ast.Name, ast.Attribute)):
            cls = self._object(file, func)
            if isinstance(cls, type) and issubclass(cls, TypeEngine) and (call is None or all(k.arg for k in call.keywords)):
                positional = [self._value(file, a) for a in call.args] if call else []
                named = {k.arg: self._value(file, k.value) for k in call.keywords if k.arg} if call else {}
                key = _sqla_type_key(cls, positional, named)
                if key is not None:
                    return key, unparse(node)
            if call is None and self._is_class(file, func):
                node = ast.Call(func, [], [])  # SQLAlchemy instantiates a type class without arguments
        return f"expr {self._canon(file, node)}", unparse(node)

    def _annotation_type(self, file: str, inner: ast.expr | None, base: BaseInfo | None,
                         annotation: str) -> tuple[str, str]:
        """The type ``Mapped[inner]`` gives a ``mapped_column`` that names none."""
        label = f"from {annotation}"
        if not isinstance(inner, (ast.Name, ast.Attribute)):
            return f"{_UNKNOWN} {file}:{annotation} ?>", label
        python = self._name_key(file, inner)
        if base is not None and base.type_annotation_map:
            if (found := self._mapped_by_base(base, python)) is not None:
                return found[0], f"{found[1]} ({label} and the base's type_annotation_map)"
        module, _, attr = python.rpartition(".")
        if module in _SIMPLE_TYPE_MODULES:
            try:
                from sqlalchemy.sql.sqltypes import _type_map  # SQLAlchemy's default annotation map

                sa_type = _type_map.get(getattr(importlib.import_module(module), attr))
            except (ImportError, AttributeError):
                sa_type = None
            if sa_type is not None and repr(sa_type) == f"{type(sa_type).__name__}()":
                key = _sqla_type_key(type(sa_type), [], {})
                if key is not None:
                    return key, f"{type(sa_type).__name__} ({label})"
        return f"annotation {python}", label

    def _mapped_by_base(self, base: BaseInfo, python: str) -> tuple[str, str] | None:
        """What the base's ``type_annotation_map`` gives ``python``; None when it keeps the default."""
        file = base.symbol.file
        node = _parse(base.type_annotation_map)
        if isinstance(node, ast.Dict):
            keys = [self._canon(file, k) if k is not None else f"{_UNKNOWN} ** ?>" for k in node.keys]
            for key, value in zip(keys, node.values):
                if key == python:
                    return self._type(file, value)
            if all(k.rpartition(".")[0] in _SIMPLE_TYPE_MODULES for k in keys):
                return None  # only other plain types: ``python`` keeps SQLAlchemy's default
        key = self._canon_src(file, base.type_annotation_map or "")
        return f"annotation {python} mapped by {key}", f"{python} through {base.type_annotation_map}"

    def _unwrap_mapped(self, file: str, node: ast.expr) -> tuple[ast.expr | None, bool | None]:
        """``Mapped[Optional[X]]`` -> (X, True); (None, None) when it is not a ``Mapped[...]``."""
        from sqlalchemy.orm import Mapped

        node = _unquote(node)
        if not (isinstance(node, ast.Subscript) and self._object(file, node.value) is Mapped):
            return None, None
        inner = _unquote(node.slice)
        optional = False
        while (members := self._union_members(file, inner)) is not None:
            rest = [m for m in members if not (isinstance(m, ast.Constant) and m.value is None)]
            optional = optional or len(rest) < len(members)
            if len(rest) != 1:
                return None, optional
            inner = _unquote(rest[0])
        return inner, optional

    def _union_members(self, file: str, node: ast.expr) -> list[ast.expr] | None:
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            return [node.left, node.right]
        if isinstance(node, ast.Subscript) and isinstance(node.value, (ast.Name, ast.Attribute)):
            head = self._name_key(file, node.value)
            inner = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
            if head in ("typing.Optional", "typing_extensions.Optional"):
                return [*inner, ast.Constant(None)]
            if head in ("typing.Union", "typing_extensions.Union"):
                return inner
        return None

    # -- names and expressions ------------------------------------------------------------------

    def _object(self, file: str, node: ast.expr) -> object | None:
        """The SQLAlchemy object a dotted name means, or None."""
        if not isinstance(node, (ast.Name, ast.Attribute)):
            return None
        qualname = self._qualname(file, node)
        if qualname is None:
            return None
        if qualname not in self.objects:
            self.objects[qualname] = _sqla_object(qualname)
        return self.objects[qualname]

    def _qualname(self, file: str, node: ast.expr) -> str | None:
        """The dotted name outside the project that ``node`` means (``builtins.int`` for a builtin)."""
        r = self.resolver.expr(file, node)
        if isinstance(r, External):
            return r.qualname
        if r is not None or not isinstance(node, (ast.Name, ast.Attribute)):
            return None
        dotted = unparse(node)
        root = dotted.partition(".")[0]
        facts = self.ix.facts.get(file)
        if facts is None or root in facts.bindings:
            return None
        stars = [imp.module or "" for imp in facts.imports if imp.level == 0 and any(n.name == "*" for n in imp.names)]
        for module in stars:
            if module.split(".")[0] == "sqlalchemy" and _sqla_object(f"{module}.{root}") is not None:
                return f"{module}.{dotted}"
        if not stars and hasattr(builtins, root):
            return f"builtins.{dotted}"
        return None

    def _name_key(self, file: str, node: ast.expr) -> str:
        """A key for what a dotted name means: equal keys, one object."""
        qualname = self._qualname(file, node)
        if qualname is not None:
            return _canonical_qualname(qualname)
        r = self.resolver.expr(file, node)
        if isinstance(r, Symbol):
            return self._symbol_key(r)
        if isinstance(r, ModuleRef):
            return f"module {r.file}"
        return f"{_UNKNOWN} {file}:{unparse(node)} ?>"

    def _symbol_key(self, sym: Symbol) -> str:
        owner, _, attr = sym.name.partition(".")
        if attr:
            model = self.ix.models.get(Symbol(sym.file, owner))
            col = next((c for c in model.columns if c.attr == attr), None) if model else None
            if model and model.table and col:
                return f"column {model.table}.{col.name}"
            return f"{sym.file}:{sym.name}"
        facts = self.ix.facts.get(sym.file)
        value = getattr(facts.bindings.get(sym.name), "value", None) if facts else None
        if value is not None:
            try:
                return repr(ast.literal_eval(value))
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                pass
        tree = self._tree(sym.file)
        for node in tree.body if tree else ():
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                named = node.name
            elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                named = node.targets[0].id
            else:
                continue
            if named == sym.name:
                # one definition, spelled identically in two modules, is one definition
                return f"definition {ast.dump(node, include_attributes=False)}"
        return f"{sym.file}:{sym.name}"

    def _is_class(self, file: str, node: ast.expr) -> bool:
        r = self.resolver.expr(file, node)
        return isinstance(r, Symbol) and self._class_fact(r) is not None

    def _value(self, file: str, node: ast.expr) -> str:
        """A key for an argument: a literal's repr, a type's key, else the resolved expression."""
        try:
            return repr(ast.literal_eval(node))
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            pass
        from sqlalchemy.types import TypeEngine

        cls = self._object(file, node.func if isinstance(node, ast.Call) else node)
        if isinstance(cls, type) and issubclass(cls, TypeEngine):
            return self._type(file, node)[0]
        return self._canon(file, node)

    def _canon(self, file: str, node: ast.expr) -> str:
        """The expression with every name replaced by the key of what it means."""
        return unparse(_Canonical(self, file).visit(copy.deepcopy(node)))

    def _canon_src(self, file: str, src: str) -> str:
        node = _parse(src)
        return self._canon(file, node) if node is not None else f"{_UNKNOWN} {file}:{src} ?>"

    def _args_key(self, file: str, src: str) -> str | None:
        """``__table_args__`` in any order, without ``extend_existing``; None when that leaves nothing."""
        node = _parse(src)
        if not isinstance(node, (ast.Dict, ast.Tuple)):
            return self._canon_src(file, src)
        items = list(node.elts) if isinstance(node, ast.Tuple) else [node]
        options = items.pop() if items and isinstance(items[-1], ast.Dict) else None
        parts = sorted(self._canon(file, i) for i in items)
        pairs = []
        for k, v in zip(options.keys, options.values) if options else ():
            if k is None:
                pairs.append(f"**{self._canon(file, v)}")
            elif not (isinstance(k, ast.Constant) and k.value == "extend_existing"):
                pairs.append(f"{self._value(file, k)}: {self._value(file, v)}")
        if not parts and not pairs:
            return None
        return f"({', '.join(parts)}) {{{', '.join(sorted(pairs))}}}"


class _Canonical(ast.NodeTransformer):
    """Replaces each name (but a lambda's own parameters) by the key of what it means."""

    def __init__(self, reader: _Reader, file: str) -> None:
        self.reader = reader
        self.file = file
        self.local: set[str] = set()

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        self.local |= {a.arg for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs}
        return self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> ast.AST:
        return node if node.id in self.local else ast.Name(self.reader._name_key(self.file, node))

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        root = node.value
        while isinstance(root, ast.Attribute):
            root = root.value
        if isinstance(root, ast.Name) and root.id not in self.local:
            return ast.Name(self.reader._name_key(self.file, node))
        return self.generic_visit(node)


# -- SQLAlchemy objects --------------------------------------------------------------------------


def _sqla_object(qualname: str) -> object | None:
    """The object a ``sqlalchemy...`` name means (only SQLAlchemy's own modules are imported)."""
    parts = qualname.split(".")
    if parts[0] != "sqlalchemy":
        return None
    obj: object = importlib.import_module("sqlalchemy")
    for i, attr in enumerate(parts[1:], start=2):
        if attr.startswith("__"):
            return None
        try:
            obj = getattr(obj, attr)
        except AttributeError:
            if not inspect.ismodule(obj):
                return None
            try:
                obj = importlib.import_module(".".join(parts[:i]))
            except Exception:  # noqa: BLE001 - no such module, or a dialect that does not import here
                return None
    return obj


def _canonical_qualname(qualname: str) -> str:
    """One spelling per object: ``sqlalchemy.types.Integer`` and ``sqlalchemy.Integer`` are one class."""
    parts = qualname.split(".")
    if parts[0] != "sqlalchemy":
        return qualname
    for i in range(len(parts) - 1, 0, -1):
        module = _sqla_object(".".join(parts[:i]))
        if not inspect.ismodule(module):
            continue
        first = getattr(module, parts[i], None)
        if first is None:
            return qualname
        if (inspect.isclass(first) or inspect.isroutine(first)) and hasattr(first, "__qualname__"):
            start = f"{first.__module__}.{first.__qualname__}"
        else:
            import sqlalchemy

            start = f"sqlalchemy.{parts[i]}" if getattr(sqlalchemy, parts[i], None) is first else ".".join(parts[:i + 1])
        return ".".join([start, *parts[i + 1:]])
    return qualname


def _sqla_type_key(cls: type, positional: list[str], named: dict[str, str]) -> str | None:
    """Every constructor argument, defaults filled in: ``String(50)`` is ``String(length=50)``."""
    try:
        signature = inspect.signature(cls)
        bound = signature.bind(*positional, **named)
    except (TypeError, ValueError):
        return None
    given = set(bound.arguments)
    bound.apply_defaults()
    parts = []
    for name, value in bound.arguments.items():
        kind = signature.parameters[name].kind
        if kind is inspect.Parameter.VAR_POSITIONAL:
            parts.append(f"*{name}=({', '.join(value)})")
        elif kind is inspect.Parameter.VAR_KEYWORD:
            parts.extend(f"{k}={v}" for k, v in sorted(value.items()))
        else:
            parts.append(f"{name}={value if name in given else repr(value)}")
    return f"{cls.__module__}.{cls.__qualname__}({', '.join(parts)})"


# -- small helpers -------------------------------------------------------------------------------


def _parse(src: str | None) -> ast.expr | None:
    if not src:
        return None
    try:
        return ast.parse(src.strip(), mode="eval").body
    except SyntaxError:
        return None


def _unquote(node: ast.expr) -> ast.expr:
    """A string annotation (``"Mapped[int]"``) read as the expression it holds."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return _parse(node.value) or node
    return node


def _last_name(node: ast.expr) -> str | None:
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None
