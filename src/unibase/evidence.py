"""Which engine each base's metadata meets, read from the code (never by importing it).

For every ``X.metadata.create_all/drop_all(bind)`` and ``conn.run_sync(X.metadata.create_all)``,
every ``X.metadata.bind = engine``, ``Session(binds={X: engine})`` and ``declarative_base(bind=...)``,
the engine is followed back to the ``create_engine``/``create_async_engine`` call that makes it:
through module and function-local names, ``self.engine`` attributes set in the class, functions
that build or return an engine, and ``with engine.begin() as conn`` blocks. The URL argument of
that call names the database: a setting (``settings.audit_url``), an environment variable, or a
constructor/function argument (a database the caller chooses, one per instance); a literal URL is
one database wherever its engines are made. Bases whose metadata is built on one shared
``MetaData`` object are recorded too.

Weaker evidence, kept apart by ``Meeting.strength``: when nothing names a base's metadata, the
engines made in its own module, or else in a module of its folder that imports it ("nearby"); and
the Alembic environments whose ``target_metadata`` lists it ("alembic": bases one environment
migrates are one database, but an environment's URL usually comes from ``alembic.ini``, so on its
own it proves another database only against another environment).

What this module does not do: decide roles (that is :mod:`unibase.roles`), or trust an owner that
does not resolve: a script importing a name its module does not define says nothing.
"""

from __future__ import annotations

import ast
import bisect
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from .discovery import Index, Symbol
from .engines import ENGINE_CALLS, Engine, EngineFinder
from .facts import call_name, unparse
from .project import is_test_path


@dataclass(frozen=True)
class Meeting:
    """``base``'s metadata meets ``engine`` at ``file:line`` (``how``: create_all, metadata.bind...)."""

    base: Symbol
    engine: Engine
    how: str
    file: str
    line: int
    # "explicit": create_all, bind, binds name the metadata; "nearby": nothing names it, the engine
    # is made in its module or package; "alembic": an Alembic environment targets it (groups
    # bases, proves another database only against another Alembic environment)
    strength: str = "explicit"


@dataclass
class Evidence:
    meetings: dict[Symbol, list[Meeting]] = field(default_factory=dict)
    shared_metadata: dict[Symbol, tuple[str, str]] = field(default_factory=dict)  # base -> (key, "file:line")

    def engines(self, base: Symbol) -> list[Meeting]:
        return self.meetings.get(base, [])

    def proof(self, base: Symbol) -> list[Meeting]:
        """The meetings that say which database the base lives on (not only whom it goes with)."""
        return [m for m in self.engines(base) if m.strength != "alembic"]


class Gatherer(EngineFinder):
    """The evidence of databases of a whole project."""

    def owner_base(self, file: str, owner: ast.expr, qual: str | None) -> Symbol | None:
        r = self.resolver.expr(file, owner, function=qual)
        if not isinstance(r, Symbol):
            return None
        if r in self.ix.bases:
            return r
        if r in self.ix.models:
            return self.ix.models[r].base
        return self.ix.abstract_classes.get(r)

    def gather(self) -> Evidence:
        ev = Evidence()

        def meet(base: Symbol | None, engine: Engine | None, how: str, file: str, line: int,
                 strength: str = "explicit") -> None:
            # tests build throwaway engines (SQLite in memory): they say nothing about the databases
            if base is not None and engine is not None and not is_test_path(file) and not is_test_path(engine.file):
                ev.meetings.setdefault(base, []).append(Meeting(base, engine, how, file, line, strength))

        for rel, f in sorted(self.ix.facts.items()):
            for use in f.metadata_uses:
                if use.attr not in ("create_all", "drop_all"):
                    continue
                base = self.owner_base(rel, use.owner, use.function)
                if base is None:
                    continue  # evidence that cannot hold (an owner that resolves to nothing)
                bind = _parse(use.bind, use.line) if use.bind else None
                if bind is None:
                    bind = self._connection_at(rel, use.function, use.line)
                if bind is None:
                    bind = self._bound_metadata(rel, use.function, use.owner)
                meet(base, self.engine_of(rel, use.function, bind) if bind is not None else None,
                     use.attr, rel, use.line)
        for rel in sorted(self.ix.facts):
            # ``X.metadata.bind = ...`` and ``Session(binds=...)`` both say "bind"
            tree = self.trees.get(rel) if _mentions(self.ix, rel) and self.ix.may_mention(rel, b"bind") else None
            if tree is None:
                continue
            binds_lines = self.trees.lines_with(rel, b"binds")
            for qual, node, stmt in _statements(tree):
                if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
                    t = stmt.targets[0]
                    if isinstance(t, ast.Attribute) and t.attr == "bind" and isinstance(t.value, ast.Attribute) \
                            and t.value.attr == "metadata":
                        meet(self.owner_base(rel, t.value.value, qual), self.engine_of(rel, qual, stmt.value),
                             "metadata.bind", rel, stmt.lineno)
                # only a statement whose lines say "binds" can hold ``Session(binds=...)``: the others
                # are not walked (nested statements are walked again on their own, so this saves most)
                first = bisect.bisect_left(binds_lines, stmt.lineno)
                if first == len(binds_lines) or binds_lines[first] > (stmt.end_lineno or stmt.lineno):
                    continue
                for sub in ast.walk(stmt):
                    if isinstance(sub, ast.Call) and call_name(sub) in ("Session", "sessionmaker", "AsyncSession",
                                                                        "async_sessionmaker", "scoped_session"):
                        for kw in sub.keywords:
                            if kw.arg == "binds" and isinstance(kw.value, ast.Dict):
                                for k, v in zip(kw.value.keys, kw.value.values):
                                    if k is not None:
                                        meet(self.owner_base(rel, k, qual), self.engine_of(rel, qual, v),
                                             "session binds", rel, sub.lineno)
        for sym, info in self.ix.bases.items():
            for b in info.binds:
                if b.startswith("expr:"):
                    meet(sym, self.engine_of(sym.file, None, _parse(b[5:])), "declarative_base(bind=...)",
                         sym.file, info.line)
            shared = self._shared_metadata(sym)
            if shared:
                ev.shared_metadata[sym] = shared
        for sym, info in self.ix.bases.items():
            if not ev.engines(sym) and not info.test_local:
                for how, qual, call, file in self._nearby_engines(sym):
                    meet(sym, self._engine_from_call(file, qual, call), how, file, call.lineno, "nearby")
        for rel, line, owners in self._alembic_targets():
            for owner, qual, name in owners:
                engine = Engine(f"alembic:{rel}{name}", f"the Alembic environment {rel}{name}", rel, line)
                meet(self.owner_base(rel, owner, qual), engine, "target_metadata", rel, line, "alembic")
        return ev

    # -- engines nothing binds explicitly ------------------------------------------------------

    def engine_calls(self, file: str) -> list[tuple[str | None, ast.Call]]:
        """Every ``create_engine``-like call in the file, with its enclosing function or class."""
        tree = self.trees.get(file) if self.ix.may_mention(file, b"engine") else None
        out: list[tuple[str | None, ast.Call]] = []

        def walk(node: ast.AST, qual: str | None) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    walk(child, f"{qual}.{child.name}" if qual else child.name)
                    continue
                if isinstance(child, ast.Call) and call_name(child) in ENGINE_CALLS:
                    out.append((qual, child))
                walk(child, qual)

        if tree is not None:
            walk(tree, None)
        return out

    def _nearby_engines(self, sym: Symbol) -> list[tuple[str, str | None, ast.Call, str]]:
        """Engines made where nothing binds them to a metadata: in the base's own module, or else in
        a module of its package (its folder) that imports the base's module or its models' modules."""
        own = [("made in its own module", qual, call, sym.file) for qual, call in self.engine_calls(sym.file)]
        if own:
            return own
        homes = {sym.file} | {m.symbol.file for m in self.ix.models_of(sym)}
        folder = PurePosixPath(sym.file).parent
        out = []
        for rel in sorted(self.ix.modules.files):
            if rel in homes or PurePosixPath(rel).parent != folder or is_test_path(rel):
                continue
            if self.edges.get(rel, set()) & homes:
                out.extend((f"made in its package by {rel}, which imports it", qual, call, rel)
                           for qual, call in self.engine_calls(rel))
        return out

    def _alembic_targets(self) -> list[tuple[str, int, list[tuple[ast.expr, str | None, str]]]]:
        """(env file, line, [(X, scope, database name) of every X.metadata]) for each Alembic
        ``target_metadata`` (the name is empty unless the environment migrates several databases)."""
        out = []
        for rel in sorted(self.ix.facts):
            if PurePosixPath(rel).name != "env.py" or is_test_path(rel) or not self.ix.may_mention(rel, b"target_metadata"):
                continue
            tree = self.trees.get(rel)
            if tree is None:
                continue
            for qual, _node, stmt in _statements(tree):
                values = []
                if isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "target_metadata"
                                                        for t in stmt.targets):
                    values.append(stmt.value)
                if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
                    values += [k.value for k in stmt.value.keywords if k.arg == "target_metadata"
                               and not (isinstance(k.value, ast.Name) and k.value.id == "target_metadata")]
                owners = []
                for v in values:
                    # the multidb template: {"engine name": X.metadata, ...}, one database per key
                    parts = zip(v.keys, v.values) if isinstance(v, ast.Dict) else [(None, v)]
                    for k, part in parts:
                        name = f":{unparse(k)}" if k is not None else ""
                        owners += [(sub.value, qual, name) for sub in ast.walk(part)
                                   if isinstance(sub, ast.Attribute) and sub.attr == "metadata"]
                if owners:
                    out.append((rel, stmt.lineno, owners))
        return out

    def _connection_at(self, file: str, qual: str | None, line: int) -> ast.expr | None:
        """``async with engine.begin() as conn: await conn.run_sync(X.metadata.create_all)``."""
        fn = self.scope(file, qual) if qual else self.trees.get(file)
        if fn is None:
            return None
        best = None
        for sub in ast.walk(fn):
            if isinstance(sub, (ast.With, ast.AsyncWith)) and sub.lineno <= line <= (sub.end_lineno or sub.lineno):
                for item in sub.items:
                    if isinstance(item.context_expr, ast.Call) and isinstance(item.context_expr.func, ast.Attribute) \
                            and item.context_expr.func.attr in ("begin", "connect"):
                        if best is None or sub.lineno > best[0]:
                            best = (sub.lineno, item.context_expr.func.value)
        return best[1] if best else None

    def _bound_metadata(self, file: str, qual: str | None, owner: ast.expr) -> ast.expr | None:
        """``X.metadata.bind = engine`` earlier in the same function (or module)."""
        fn = self.scope(file, qual) if qual else self.trees.get(file)
        for sub in ast.walk(fn) if fn is not None else ():
            if isinstance(sub, ast.Assign) and len(sub.targets) == 1:
                t = sub.targets[0]
                if isinstance(t, ast.Attribute) and t.attr == "bind" and unparse(t.value) == f"{unparse(owner)}.metadata":
                    return sub.value
        return None

    def _shared_metadata(self, sym: Symbol) -> tuple[str, str] | None:
        """The MetaData object a base is built on, when it is a named object (not its own call)."""
        info = self.ix.bases[sym]
        tree = self.trees.get(sym.file) if self.ix.may_mention(sym.file, b"metadata") else None
        value: ast.expr | None = None
        line = info.line
        if tree is not None:
            for stmt in tree.body:
                if isinstance(stmt, ast.ClassDef) and stmt.name == sym.name:
                    for s in stmt.body:
                        if isinstance(s, (ast.Assign, ast.AnnAssign)):
                            targets = s.targets if isinstance(s, ast.Assign) else [s.target]
                            if any(isinstance(t, ast.Name) and t.id == "metadata" for t in targets):
                                value, line = s.value, s.lineno
                elif isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == sym.name
                                                          for t in stmt.targets) and isinstance(stmt.value, ast.Call):
                    value = next((k.value for k in stmt.value.keywords if k.arg == "metadata"), None)
                    line = stmt.lineno
        if not isinstance(value, (ast.Name, ast.Attribute)):
            return None
        r = self.resolver.expr(sym.file, value)
        if isinstance(r, Symbol):
            return (str(r), f"{sym.file}:{line}")
        return None


def _statements(tree: ast.Module):
    """(enclosing function or class qualname, node, statement) for every statement."""

    def walk(body, qual):
        for stmt in body:
            yield qual, stmt, stmt
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                yield from walk(stmt.body, f"{qual}.{stmt.name}" if qual else stmt.name)
            else:
                for field_name in ("body", "orelse", "finalbody", "handlers"):
                    inner = getattr(stmt, field_name, None)
                    if isinstance(inner, list):
                        yield from walk([s for s in inner if isinstance(s, ast.stmt)] +
                                        [s for h in inner if isinstance(h, ast.ExceptHandler) for s in h.body], qual)

    seen = set()
    for qual, node, stmt in walk(tree.body, None):
        if id(stmt) not in seen:
            seen.add(id(stmt))
            yield qual, node, stmt


def _mentions(ix: Index, rel: str) -> bool:
    f = ix.facts.get(rel)
    return f is not None and any(
        (imp.module or "").startswith("sqlalchemy") or any(n.name.startswith("sqlalchemy") for n in imp.names)
        for imp in f.imports
    )


def _parse(src: str | None, line: int = 1) -> ast.expr | None:
    """An expression kept as source, placed back on its line (names bound before it resolve)."""
    if not src:
        return None
    try:
        node = ast.parse(src, mode="eval").body
    except SyntaxError:
        return None
    return ast.increment_lineno(node, line - 1)


def gather(ix: Index, edges: dict[str, set[str]] | None = None) -> Evidence:
    return Gatherer(ix, edges).gather()
