"""Flask-SQLAlchemy beside a declarative base: ``SQLAlchemy(model_class=Base)``, or why not.

A ``db = SQLAlchemy()`` object has a registry and a ``MetaData`` of its own: ``db.Model``
classes and ``Base`` classes then live in two registries (relationships between them do not
resolve, ``db.metadata.create_all`` misses the ``Base`` tables). The fix experts apply is
Flask-SQLAlchemy 3.x's ``SQLAlchemy(model_class=Base)``: with a ``DeclarativeBase`` subclass
(Flask-SQLAlchemy 3.1 or later) ``db.Model`` becomes a subclass sharing ``Base``'s registry and
metadata; with a ``declarative_base()`` class, ``db.Model`` *is* ``Base``.

This module decides, per Flask-SQLAlchemy object, one of:

- ``merge``: an :class:`~unibase.plan.UnifyFlaskModel` operation (the keyword, the import it needs,
  and, when ``Base`` is defined below the object in the same module, the object moved below it);
- ``separate``: the project uses binds (``__bind_key__``, ``SQLALCHEMY_BINDS``), or the canonical
  base's metadata meets an engine of its own (``create_engine``) while the object takes its engine
  from the app's configuration: two databases by the evidence, left alone (``--merge FILE:db``
  unifies all the same; ``--separate FILE:db`` keeps any object apart);
- ``excluded``: already unified, or unified is not safe (duplicate tables, a class name in both,
  ``db.Model`` tables named by Flask's autonaming with a ``declarative_base()`` base, its own
  ``metadata=`` argument, an import cycle, a module-level use of the object between it and the
  base). The evidence and a warning say why.

What it does not do: change a Flask-SQLAlchemy object whose base is not a plain class
(``@reg.mapped`` registries, factories), or pick a base for a project with none.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field

from .discovery import BaseInfo, Index, Resolver, Symbol
from .facts import ImportBinding, call_name, unparse
from .plan import UnifyFlaskModel, Warning
from .roles import matches
from .settings import Settings
from .warning_codes import WarningCode

W_FLASK = WarningCode.FLASK_NOT_UNIFIED  # a Flask-SQLAlchemy object left as it is (the warning says why)
_CLASS_KINDS = ("DeclarativeBase", "DeclarativeBaseNoMeta")  # db.Model subclasses Base (3.1+)
_META_KINDS = ("declarative_base", "generate_base", "as_declarative")  # db.Model is Base itself


@dataclass
class FlaskDecision:
    ops: list[UnifyFlaskModel] = field(default_factory=list)
    warnings: list[Warning] = field(default_factory=list)
    roles: dict[Symbol, str] = field(default_factory=dict)
    evidence: dict[Symbol, list[str]] = field(default_factory=dict)
    # objects whose db.Model already is the canonical base's (``model_class=Base``): verify
    # imports their models' modules with the canonical ones
    model_class: dict[Symbol, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FlaskInput:
    ix: Index
    resolver: Resolver
    settings: Settings
    canonical: BaseInfo | None
    own_engines: list[str]  # how the canonical group meets engines of its own (roles' evidence)
    spelling: Callable[[str, str], tuple[int, str]]  # (level, module) to import one file from another


def plan_flask(inp: FlaskInput) -> FlaskDecision:
    out = FlaskDecision()
    objects = [b for b in inp.ix.bases.values() if b.kind == "flask_sqlalchemy" and not b.test_local]
    binds = _binds(inp) if objects else []
    for db in sorted(objects, key=lambda b: (b.symbol.file, b.line)):
        role, why, op = _decide(inp, db, binds)
        if why.startswith("already unified") and inp.canonical is not None:
            out.model_class[db.symbol] = str(inp.canonical.symbol)
        out.roles[db.symbol] = role
        out.evidence[db.symbol] = [why]
        if op is not None:
            out.ops.append(op)
        elif role != "separate" and not why.startswith("already unified") and inp.canonical is not None:
            out.warnings.append(Warning(W_FLASK, f"Flask-SQLAlchemy object {db.symbol.name} is not unified "
                                                 f"with the declarative base: {why}", db.symbol.file, db.line))
    return out


def _decide(inp: FlaskInput, db: BaseInfo, binds: list[str]) -> tuple[str, str, UnifyFlaskModel | None]:
    ix, canonical, sym = inp.ix, inp.canonical, db.symbol
    call = _call(ix, sym)
    if call is None:
        return "excluded", "it is not made by a plain module-level `name = SQLAlchemy(...)`", None
    if canonical is None:
        return "excluded", "there is no declarative base to give it as model_class", None
    base = canonical.symbol
    given = next((k.value for k in call.keywords if k.arg == "model_class"), None)
    if given is not None:
        if inp.resolver.expr(sym.file, given) == base:
            return "excluded", f"already unified: SQLAlchemy(model_class={unparse(given)}) shares {base}'s registry", None
        return "excluded", f"it already has model_class={unparse(given)}, not the canonical base {base}", None
    forced_merge = any(matches(s, sym) for s in inp.settings.merge)
    if any(matches(s, sym) for s in inp.settings.separate + inp.settings.exclude_bases):
        return "separate", "separate: as asked (--separate / separate in [tool.unibase])", None
    if binds and not forced_merge:
        return ("separate", f"separate: the project binds models to other databases ({'; '.join(binds[:3])}); "
                            f"db.Model and {base.name} are left apart (pass --merge {sym.file}:{sym.name} to unify)", None)
    if inp.own_engines and not forced_merge:
        return ("separate", f"separate: {base} meets an engine of its own ({inp.own_engines[0]}), while "
                            f"{sym.name} takes its engine from the app's configuration: two databases by the "
                            f"evidence (pass --merge {sym.file}:{sym.name} to unify)", None)
    blocker = _blocker(inp, db, call, canonical)
    if blocker:
        return "excluded", blocker, None
    return _operation(inp, db, call, canonical)


def _operation(inp: FlaskInput, db: BaseInfo, call: ast.Call, canonical: BaseInfo
               ) -> tuple[str, str, UnifyFlaskModel | None]:
    ix, sym, base = inp.ix, db.symbol, canonical.symbol
    facts = ix.facts[sym.file]
    after = ""
    local, level, module = base.name, 0, ""
    if base.file == sym.file:
        if canonical.line > db.line:
            if (use := _use_between(ix, sym, canonical)) is not None:
                return "excluded", (f"{base.name} is defined below {sym.name} (line {canonical.line}), and line {use} "
                                    f"uses {sym.name} in between: move {sym.name} below {base.name} by hand"), None
            after = base.name
    else:
        if sym.file in _reachable(inp, base.file):
            return "excluded", (f"{base.file} imports {sym.file} when it loads, so importing {base.name} into "
                                f"{sym.file} would be an import cycle: define {base.name} in a module both can "
                                "import, or pass it by hand"), None
        bound = [n for n, b in facts.bindings.items()
                 if isinstance(b, ImportBinding) and inp.resolver.name(sym.file, n) == base]
        if bound:
            local = sorted(bound)[0]
        else:
            taken = set(facts.bindings)
            local = next(n for n in (base.name, "CanonicalBase", "UnibaseBase") if n not in taken)
            level, module = inp.spelling(sym.file, base.file)
    drop = [k.arg for k in call.keywords if k.arg == "metadata"]
    models = len(ix.models_of(sym))
    why = (f"merge: SQLAlchemy(model_class={local}) makes db.Model share {base}'s registry and metadata "
           f"({models} db.Model class(es) join it"
           + ("; Flask-SQLAlchemy 3.1 or later" if canonical.kind in _CLASS_KINDS else "") + ")"
           + ("; its metadata= argument is the base's own MetaData, so it goes" if drop else "")
           + (f"; {sym.name} moves below {base.name}, which it now needs" if after else ""))
    return "merge", why, UnifyFlaskModel(
        file=sym.file, name=sym.name, model_class=local, import_name=base.name if (level or module) else "",
        import_from=module, import_level=level, drop_keywords=tuple(drop), after=after)


def _blocker(inp: FlaskInput, db: BaseInfo, call: ast.Call, canonical: BaseInfo) -> str | None:
    """Why ``SQLAlchemy(model_class=Base)`` would break something, or None."""
    ix, base = inp.ix, canonical.symbol
    if canonical.kind not in _CLASS_KINDS + _META_KINDS:
        return f"the canonical base {base} is a {canonical.kind}, not a class model_class can take"
    mine = ix.models_of(db.symbol)
    theirs = [m for m in ix.models.values() if m.base == base or ix.abstract_classes.get(m.base) == base]
    tables = sorted({m.table for m in mine if m.table} & {m.table for m in theirs if m.table})
    if tables:
        return (f"db.Model and {base.name} both map table {tables[0]}: one registry cannot hold both "
                "(merge the two definitions by hand first)")
    names = sorted({m.symbol.name for m in mine} & {m.symbol.name for m in theirs})
    if names:
        return (f"db.Model and {base.name} both have a class {names[0]}: in one registry relationship"
                f"(\"{names[0]}\") becomes ambiguous (rename one first)")
    if canonical.kind in _META_KINDS:
        unnamed = sorted(m.symbol.name for m in mine if m.table is None and not m.inherits_table
                         and m.fact.table_call is None)
        if unnamed:
            return (f"{unnamed[0]} relies on Flask-SQLAlchemy's automatic table name, which a "
                    f"declarative_base() class given as model_class does not provide (give it a __tablename__)")
    meta = next((k.value for k in call.keywords if k.arg == "metadata"), None)
    if meta is not None and not _same_metadata(inp, db.symbol.file, meta, canonical):
        return (f"SQLAlchemy(metadata={unparse(meta)}) is not {base.name}'s MetaData: db.Model tables would "
                f"change metadata (and naming convention); build {base.name} on it first")
    if any(k.arg is None for k in call.keywords) or len(call.args) > 1:
        return "its SQLAlchemy(...) call passes arguments unibase cannot read (**kwargs)"
    return None


def _same_metadata(inp: FlaskInput, file: str, meta: ast.expr, canonical: BaseInfo) -> bool:
    """``metadata=`` names the canonical base's own MetaData (``Base.metadata``, or the object
    ``Base`` is built on)."""
    if isinstance(meta, ast.Attribute) and meta.attr == "metadata":
        if inp.resolver.expr(file, meta.value) == canonical.symbol:
            return True
    target = inp.resolver.expr(file, meta)
    if not isinstance(target, Symbol):
        return False
    tree = _tree(inp.ix, canonical.symbol.file)
    for stmt in tree.body if tree else ():
        values: list[ast.expr] = []
        if isinstance(stmt, ast.ClassDef) and stmt.name == canonical.symbol.name:
            values = [s.value for s in stmt.body if isinstance(s, (ast.Assign, ast.AnnAssign)) and s.value is not None
                      and any(isinstance(t, ast.Name) and t.id == "metadata"
                              for t in (s.targets if isinstance(s, ast.Assign) else [s.target]))]
        elif isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call) and any(
                isinstance(t, ast.Name) and t.id == canonical.symbol.name for t in stmt.targets):
            values = [k.value for k in stmt.value.keywords if k.arg == "metadata"]
        if any(inp.resolver.expr(canonical.symbol.file, v) == target for v in values):
            return True
    return False


def _binds(inp: FlaskInput) -> list[str]:
    """Where the project binds models to other databases: ``__bind_key__`` in a class body,
    ``SQLALCHEMY_BINDS`` anywhere in its code."""
    out = []
    for rel in sorted(inp.ix.modules.files):
        try:
            data = (inp.ix.root / rel).read_bytes()
        except OSError:
            continue
        if b"__bind_key__" not in data and b"SQLALCHEMY_BINDS" not in data:
            continue
        tree = _tree(inp.ix, rel)
        for node in ast.walk(tree) if tree else ():
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__bind_key__"
                                                    for t in node.targets):
                out.append(f"__bind_key__ at {rel}:{node.lineno}")
            elif isinstance(node, ast.Constant) and node.value == "SQLALCHEMY_BINDS" or (
                    isinstance(node, ast.Name) and node.id == "SQLALCHEMY_BINDS"):
                out.append(f"SQLALCHEMY_BINDS at {rel}:{node.lineno}")
    return out


def _call(ix: Index, sym: Symbol) -> ast.Call | None:
    """The ``SQLAlchemy(...)`` call of a top-level ``db = ...`` / ``db: SQLAlchemy = ...``."""
    tree = _tree(ix, sym.file)
    for stmt in tree.body if tree else ():
        value = getattr(stmt, "value", None)
        if _binds_name(stmt, sym.name) and isinstance(value, ast.Call) and call_name(value) == "SQLAlchemy":
            return value
    return None


def _binds_name(stmt: ast.stmt, name: str) -> bool:
    if isinstance(stmt, ast.Assign):
        return len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name) and stmt.targets[0].id == name
    return isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.target.id == name


def _use_between(ix: Index, sym: Symbol, canonical: BaseInfo) -> int | None:
    """The first line between the object and the base (below it) that uses the object when the
    module loads (function bodies are not run then)."""
    tree = _tree(ix, sym.file)
    start = next((s.lineno for s in tree.body if _binds_name(s, sym.name)), 0) if tree else 0
    for stmt in tree.body if tree else ():
        if start < stmt.lineno < canonical.line:
            for node in _loaded(stmt):
                if isinstance(node, ast.Name) and node.id == sym.name:
                    return node.lineno
    return None


def _loaded(stmt: ast.AST):
    """The nodes of a statement that run when the module loads (not function bodies)."""
    stack = [stmt]
    while stack:
        node = stack.pop()
        yield node
        skip = node.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else (
            [node.body] if isinstance(node, ast.Lambda) else [])
        stack.extend(c for c in ast.iter_child_nodes(node) if not any(c is s for s in skip))


def _imports_at_load(inp: FlaskInput, rel: str) -> set[str]:
    """The project files ``rel`` imports when it loads (not in functions, not for type checking)."""
    f = inp.ix.facts.get(rel)
    out: set[str] = set()
    for imp in f.imports if f else ():
        if imp.scope in ("function", "type-checking"):
            continue
        if imp.is_from:
            out.add(inp.resolver.module_file(rel, imp.level, imp.module) or "")
            out |= {inp.resolver.imported_submodule(rel, imp.level, imp.module, n.name) or "" for n in imp.names}
        else:
            out |= {inp.resolver.module_file(rel, 0, n.name) or "" for n in imp.names}
    return out - {"", rel}


def _reachable(inp: FlaskInput, start: str) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for nxt in _imports_at_load(inp, todo.pop()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen - {start}


def _tree(ix: Index, rel: str) -> ast.Module | None:
    try:
        return ast.parse((ix.root / rel).read_bytes())
    except (SyntaxError, ValueError, OSError):
        return None
