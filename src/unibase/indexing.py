"""From the facts of the files read to the index: which assignments and classes are declarative
bases, which classes are models of which base, Core tables, and the references between them."""

from __future__ import annotations

import ast
from pathlib import Path

from .facts import ClassFact, ColumnFact, FileFacts, ImportBinding, LocalBinding, MetadataUse, alternatives, call_name, unparse
from .index import (
    SQLA_BASE_CLASSES,
    BaseInfo,
    External,
    Index,
    ModelInfo,
    NotUnderstood,
    Reference,
    Resolved,
    Symbol,
    TableInfo,
    Unparsable,
)
from .project import ModuleMap, is_test_path
from .resolver import Resolver, _is_sqla, _named

def build(root: Path, modules: ModuleMap, facts: dict[str, FileFacts], unparsable: dict[str, Unparsable]) -> Index:
    resolver = Resolver(modules, facts)
    bases: dict[Symbol, BaseInfo] = {}
    registries: set[Symbol] = set()
    metadata_vars: dict[Symbol, str] = {}

    # bases made by calls and registries, also conditionally (``declarative_base() if ok else None``)
    # and by a factory of the project (``Base = make_base()``)
    for rel, f in facts.items():
        for a in f.assigns:
            sym = Symbol(rel, a.name)
            for value in alternatives(a.value):
                if not isinstance(value, ast.Call):
                    continue
                callee = resolver.expr(rel, value.func)
                if kind := _base_call_kind(value, callee):
                    bases[sym] = _base_from_call(sym, a.line, value, kind, resolver, metadata_vars)
                elif isinstance(callee, Symbol) and (made := _factory_base(resolver, callee)):
                    kind, call = made
                    bases[sym] = (_base_from_call(sym, a.line, call, kind, resolver, metadata_vars, callee)
                                  if call is not None else BaseInfo(sym, a.line, kind))
                elif _named(value.func, callee, "registry"):
                    registries.add(sym)
                elif _named(value.func, callee, "MetaData"):
                    metadata_vars[sym] = unparse(value)
                elif _is_sqla(callee, "SQLAlchemy") and isinstance(callee, External) and callee.qualname.startswith("flask_sqlalchemy"):
                    bases[sym] = BaseInfo(sym, a.line, "flask_sqlalchemy")
                else:
                    continue
                break

    # bases made by classes
    for rel, f in facts.items():
        for c in f.classes:
            sym = Symbol(rel, c.name)
            kind = None
            for b in c.bases:
                if isinstance(b, ast.Call) and _named(b.func, resolver.expr(rel, b.func), "declarative_base"):
                    kind = "declarative_base() subclass"
                elif _named(b, resolver.expr(rel, b), *SQLA_BASE_CLASSES):
                    kind = call_name(b) or "DeclarativeBase"
            for d in c.decorators:
                target = d.func if isinstance(d, ast.Call) else d
                if _named(target, resolver.expr(rel, target), "as_declarative"):
                    kind = "as_declarative"
            if kind:
                info = BaseInfo(sym, c.line, kind)
                info.metadata = c.metadata_src
                info.type_annotation_map = c.type_annotation_map_src
                if c.metadata_src:
                    _metadata_options(info, c.metadata_src)
                bases[sym] = info

    # ``@reg.mapped`` registries are bases too
    for rel, f in facts.items():
        for c in f.classes:
            for d in c.decorators:
                target = d.func if isinstance(d, ast.Call) else d
                if isinstance(target, ast.Attribute) and target.attr in ("mapped", "mapped_as_dataclass"):
                    reg = resolver.expr(rel, target.value)
                    if isinstance(reg, Symbol) and reg in registries and reg not in bases:
                        f_reg = facts[reg.file]
                        line = next((a.line for a in f_reg.assigns if a.name == reg.name), 1)
                        bases[reg] = BaseInfo(reg, line, "registry")

    not_understood = _ambiguous_bases(resolver, facts, bases)
    for sym, info in bases.items():
        info.test_local = is_test_path(sym.file)

    # classes: which base each one descends from
    class_facts = {Symbol(rel, c.name): c for rel, f in facts.items() for c in f.classes}
    memo: dict[Symbol, Symbol | None] = {}

    def base_of(sym: Symbol, depth: int = 0) -> Symbol | None:
        if sym in memo:
            return memo[sym]
        memo[sym] = None
        if sym in bases or depth > 30:
            memo[sym] = sym if sym in bases else None
            return memo[sym]
        c = class_facts.get(sym)
        if c is None:
            # ``db.Model`` of a Flask-SQLAlchemy object
            owner, _, attr = sym.name.rpartition(".")
            if attr == "Model" and Symbol(sym.file, owner) in bases:
                memo[sym] = Symbol(sym.file, owner)
            return memo[sym]
        found = None
        for d in c.decorators:
            target = d.func if isinstance(d, ast.Call) else d
            if isinstance(target, ast.Attribute) and target.attr in ("mapped", "mapped_as_dataclass"):
                reg = resolver.expr(sym.file, target.value)
                if isinstance(reg, Symbol) and reg in bases:
                    found = reg
        for b in c.bases:
            if found:
                break
            if isinstance(b, ast.Call):
                continue
            r = resolver.expr(sym.file, b)
            if isinstance(r, Symbol):
                found = base_of(r, depth + 1)
        memo[sym] = found
        return found

    models: dict[Symbol, ModelInfo] = {}
    abstract: dict[Symbol, Symbol] = {}
    pending: list[tuple[Symbol, ClassFact, Symbol]] = []
    for sym, c in class_facts.items():
        if sym in bases:
            continue
        b = base_of(sym)
        if b is None:
            continue
        if c.abstract:
            abstract[sym] = b
        else:
            pending.append((sym, c, b))
    for sym in bases:
        c = class_facts.get(sym)
        if c is not None:
            abstract[sym] = sym

    def parents(sym: Symbol) -> list[Symbol]:
        c = class_facts.get(sym)
        out = []
        for b in c.bases if c else ():
            r = resolver.expr(sym.file, b) if not isinstance(b, ast.Call) else None
            if isinstance(r, Symbol) and r in class_facts:
                out.append(r)
        return out

    def inherited_columns(sym: Symbol, seen: set[Symbol]) -> dict[str, ColumnFact]:
        cols: dict[str, ColumnFact] = {}
        for p in reversed(parents(sym)):
            if p in seen:
                continue
            seen.add(p)
            cols.update(inherited_columns(p, seen))
        c = class_facts[sym]
        cols.update({col.attr: col for col in c.columns})
        return cols

    pending_syms = {p[0] for p in pending}
    for sym, c, b in pending:
        table = c.tablename or c.table_call
        inherits = False
        if table is None:
            for p in parents(sym):
                if p in pending_syms:
                    inherits = True
                    break
        models[sym] = ModelInfo(
            symbol=sym,
            fact=c,
            base=b,
            table=table,
            inherits_table=inherits,
            columns=tuple(inherited_columns(sym, set()).values()),
            parents=tuple(parents(sym)),
        )
    # single-table inheritance: the table of the nearest mapped parent
    for m in models.values():
        if m.inherits_table:
            p = next(p for p in m.parents if p in models)
            seen = set()
            while models[p].table is None and p not in seen:
                seen.add(p)
                nxt = [q for q in models[p].parents if q in models]
                if not nxt:
                    break
                p = nxt[0]
            m.table = models[p].table

    for rel, f in facts.items():
        for function, c in f.local_mapped:
            for b in c.bases:
                r = resolver.expr(rel, b, function=function) if not isinstance(b, ast.Call) else None
                found = base_of(r) if isinstance(r, Symbol) else None
                if found is not None:
                    sym = Symbol(rel, f"{function}.{c.name}")
                    models[sym] = ModelInfo(sym, c, found, c.tablename or c.table_call, False, c.columns, (),
                                            local_to=function)
                    break

    # Core tables and metadata-of-base resolution
    def base_of_metadata(file: str, node: ast.expr, function: str | None = None) -> Symbol | None:
        if isinstance(node, ast.Attribute) and node.attr == "metadata":
            owner = resolver.expr(file, node.value, function=function)
            if isinstance(owner, Symbol):
                return base_of(owner) if owner not in bases else owner
            return None
        r = resolver.expr(file, node, function=function)
        if isinstance(r, Symbol):
            for sym, info in bases.items():
                if info.metadata and (info.metadata == r.name and sym.file == r.file or info.metadata == str(r)):
                    return sym
            # ``metadata = Base.metadata`` in some module
            f = facts.get(r.file)
            if f:
                for a in f.assigns:
                    if a.name == r.name and isinstance(a.value, ast.Attribute):
                        return base_of_metadata(r.file, a.value)
        return None

    tables: list[TableInfo] = []
    for rel, f in facts.items():
        for t in f.tables:
            b = base_of_metadata(rel, t.metadata)
            if b is not None:
                tables.append(TableInfo(Symbol(rel, t.var) if t.var else None, t, b, rel))

    # engines the metadata of each base is created on
    for rel, f in facts.items():
        for use in f.metadata_uses:
            if use.attr in ("create_all", "drop_all") and use.bind:
                b = _owner_base(resolver, rel, use, bases, base_of)
                if b is not None:
                    bind_node = _parse_expr(use.bind)
                    r = resolver.expr(rel, bind_node, function=use.function) if bind_node is not None else None
                    bases[b].binds.add(_bind_key(resolver, r, use.bind))

    references = _references(models, tables, class_facts)
    not_understood += _unknown_bases_of_mapped_classes(resolver, class_facts, bases, models, abstract)
    return Index(root, modules, facts, bases, models, abstract, tables, references, unparsable,
                 not_understood=not_understood)


def _ambiguous_bases(resolver: Resolver, facts: dict[str, FileFacts],
                     bases: dict[Symbol, BaseInfo]) -> list[NotUnderstood]:
    """Bases whose name the program may also bind by an import (``try: from .db import Base`` /
    ``except ImportError: Base = declarative_base()``): which one a run gets depends on the
    machine, so they are not bases to merge, and importers of the name are left alone.

    When the import names a module that is not in the project, the project's own code can only
    run with the base made here: it is kept as a base, marked ``fallback_of`` that module."""
    out = []
    for sym, info in list(bases.items()):
        binding = facts[sym.file].bindings.get(sym.name) if sym.file in facts else None
        if not isinstance(binding, ImportBinding):
            continue
        target = resolver.binding_target(sym.file, binding, 0)
        if isinstance(target, External) and not binding.level:
            info.fallback_of = binding.module
            resolver.fallbacks[sym.file, sym.name] = sym  # the project's code runs with this base
            continue
        del bases[sym]
        out.append(NotUnderstood(sym, info.line, f"made at line {info.line}, and also imported at line "
                                                f"{binding.line} depending on how the program runs"))
    return out


def _unknown_bases_of_mapped_classes(resolver: Resolver, class_facts: dict[Symbol, ClassFact],
                                     bases: dict[Symbol, BaseInfo], models: dict, abstract: dict) -> list[NotUnderstood]:
    """Names assigned in the project that classes with a ``__tablename__`` or ``__table__``
    subclass, made in a way discovery does not follow (``Base = getattr(orm, "declarative_base")()``)."""
    found: dict[Symbol, NotUnderstood] = {}
    for sym, c in class_facts.items():
        if sym in models or sym in abstract or sym in bases or not (c.tablename or c.table_call or c.tablename_computed):
            continue
        for b in c.bases:
            r = resolver.expr(sym.file, b) if not isinstance(b, ast.Call) else None
            if not isinstance(r, Symbol) or r in found:
                continue
            owner = Symbol(r.file, r.name.split(".")[0])
            f = resolver.facts.get(owner.file)
            binding = f.bindings.get(owner.name) if f else None
            if isinstance(binding, LocalBinding) and binding.kind == "assign" and owner not in bases:
                value = unparse(binding.value) if binding.value is not None else "?"
                found[r] = NotUnderstood(owner, binding.line, f"{owner.name} = {value}, subclassed by {c.name} "
                                                              f"({c.tablename or c.table_call or 'a mapped class'})")
    return list(found.values())


def _parse_expr(src: str) -> ast.expr | None:
    try:
        return ast.parse(src, mode="eval").body
    except SyntaxError:
        return None


def _bind_key(resolver: Resolver, resolved: Resolved, text: str) -> str:
    """A stable key for an engine: ``create_engine@file:name`` when it is a module-level engine."""
    if isinstance(resolved, Symbol):
        f = resolver.facts.get(resolved.file)
        if f:
            for a in f.assigns:
                if a.name == resolved.name and isinstance(a.value, ast.Call) and call_name(a.value) in (
                    "create_engine", "create_async_engine",
                ):
                    return f"engine:{resolved}"
    return f"expr:{text}"


def _owner_base(resolver: Resolver, file: str, use: MetadataUse, bases: dict, base_of) -> Symbol | None:
    owner = resolver.expr(file, use.owner, function=use.function)
    if isinstance(owner, Symbol):
        return owner if owner in bases else base_of(owner)
    return None


def _base_call_kind(call: ast.Call, callee: Resolved) -> str | None:
    if _named(call.func, callee, "declarative_base"):
        return "declarative_base"
    if isinstance(call.func, ast.Attribute) and call.func.attr == "generate_base":
        return "generate_base"
    return None


def _factory_base(resolver: Resolver, function: Symbol) -> tuple[str, ast.Call | None] | None:
    """A function of the project that returns a new base: ``return declarative_base(...)``, or a
    ``DeclarativeBase`` subclass it defines. The kind, and the base-making call when there is one."""
    f = resolver.facts.get(function.file)
    if f is None:
        return None
    local = f.local_classes.get(function.name, {})
    for returned in f.function_returns.get(function.name, ()):
        for value in alternatives(returned):
            if isinstance(value, ast.Call):
                kind = _base_call_kind(value, resolver.expr(function.file, value.func, function=function.name))
                if kind:
                    return f"{kind} via {function.name}()", value
            elif isinstance(value, ast.Name) and value.id in local and any(
                    _named(b, resolver.expr(function.file, b, function=function.name), *SQLA_BASE_CLASSES)
                    for b in local[value.id]):
                return f"DeclarativeBase via {function.name}()", None
    return None


def _base_from_call(sym: Symbol, line: int, call: ast.Call, kind: str, resolver: Resolver, metadata_vars: dict,
                    factory: Symbol | None = None) -> BaseInfo:
    """A base made by ``call`` (written in ``factory``'s body when a project function makes it)."""
    info = BaseInfo(sym, line, kind)
    file, function = (factory.file, factory.name) if factory else (sym.file, None)
    for kw in call.keywords:
        if kw.arg == "metadata":
            info.metadata = unparse(kw.value)
            r = resolver.expr(file, kw.value, function=function)
            src = metadata_vars.get(r) if isinstance(r, Symbol) else None
            if isinstance(r, Symbol):
                info.metadata = str(r)
            _metadata_options(info, src or unparse(kw.value))
        elif kw.arg == "type_annotation_map":
            info.type_annotation_map = unparse(kw.value)
        elif kw.arg == "bind":
            info.binds.add(f"expr:{unparse(kw.value)}")
    return info


def _metadata_options(info: BaseInfo, src: str) -> None:
    node = _parse_expr(src)
    if isinstance(node, ast.Call):
        for kw in node.keywords:
            if kw.arg == "naming_convention":
                info.naming_convention = unparse(kw.value)
            elif kw.arg == "schema":
                info.schema = unparse(kw.value)


def _references(models: dict[Symbol, ModelInfo], tables: list[TableInfo], class_facts) -> list[Reference]:
    refs: list[Reference] = []
    for m in models.values():
        c = m.fact
        for fk in c.foreign_keys:
            col = next((col.name for col in m.columns if col.attr == fk.attr), fk.attr or "?")
            refs.append(Reference("foreign-key", m.symbol.file, fk.line, m.symbol, f"{m.table}.{col}", fk.target))
        for r in c.relationships:
            if r.target:
                refs.append(Reference("relationship", m.symbol.file, r.line, m.symbol, f"{c.name}.{r.attr}", r.target))
            if r.secondary:
                refs.append(Reference("secondary", m.symbol.file, r.line, m.symbol, f"{c.name}.{r.attr}", r.secondary))
        for attr, target in c.annotation_targets:
            refs.append(Reference("annotation", m.symbol.file, c.line, m.symbol, f"{c.name}.{attr}", target))
    for t in tables:
        owner = t.symbol or Symbol(t.file, t.fact.table)
        for col in t.fact.columns:
            if col.foreign_key:
                refs.append(Reference("foreign-key", t.file, col.line, owner, f"{t.fact.table}.{col.name}", col.foreign_key))
    return refs
