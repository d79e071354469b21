"""Following an engine back to the call that makes it, and the database its URL names (for
:mod:`unibase.evidence`): through module and function-local names, ``self.engine`` attributes set
in the class, functions that build or return an engine, and ``with engine.begin() as conn``
blocks. The URL names the database: a setting, an environment variable, or a constructor or
function argument (one database per instance); a literal URL is one database wherever its
engines are made."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from .discovery import Index, Resolver, Symbol, parse_source
from .facts import ImportBinding, LocalBinding, call_name, unparse

ENGINE_CALLS = frozenset({"create_engine", "create_async_engine", "engine_from_config", "async_engine_from_config"})
_ENV_CALLS = frozenset({"getenv", "get"})
_DEPTH = 8


@dataclass(frozen=True)
class Engine:
    """One engine-making call and the database it names."""

    key: str  # what identifies the database: "setting:audit_url", "param:file:func:conn", "engine:file:line"
    source: str  # how the plan describes it: "settings.audit_url", "constructor argument conn of Driver"
    file: str
    line: int
    per_instance: bool = False  # the URL is an argument: each caller (instance) picks its database


class _Trees:
    """Parsed files, on demand (discovery keeps facts, not trees)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cache: dict[str, ast.Module | None] = {}

    def lines_with(self, rel: str, word: bytes) -> list[int]:
        """The numbers of the file's lines that contain ``word``, in order."""
        try:
            lines = (self.root / rel).read_bytes().splitlines()
        except OSError:
            return []
        return [i for i, line in enumerate(lines, 1) if word in line]

    def get(self, rel: str) -> ast.Module | None:
        if rel not in self.cache:
            try:
                self.cache[rel] = parse_source((self.root / rel).read_bytes(), rel)
            except (OSError, SyntaxError, ValueError):
                self.cache[rel] = None
        return self.cache[rel]


def _scopes(tree: ast.Module) -> dict[str, ast.AST]:
    """Qualified name -> function or class node (``Class.method``, ``outer.inner``)."""
    out: dict[str, ast.AST] = {}

    def walk(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}.{child.name}" if prefix else child.name
                out[name] = child
                walk(child, name)
            elif not isinstance(child, ast.expr):
                walk(child, prefix)

    walk(tree, "")
    return out


class EngineFinder:
    """What engine an expression of the project is, read from its code."""

    def __init__(self, ix: Index, edges: dict[str, set[str]] | None = None) -> None:
        self.ix = ix
        self.edges = edges or {}  # file -> the project files it imports (liveness.import_edges)
        self.resolver = Resolver(ix.modules, ix.facts)
        self.trees = _Trees(ix.root)
        self.scope_cache: dict[str, dict[str, ast.AST]] = {}
        self._binders: dict[ast.AST, list[ast.AST]] = {}  # function -> its assignments and with blocks

    # -- scopes --------------------------------------------------------------------------------

    def scope(self, file: str, qual: str | None) -> ast.AST | None:
        tree = self.trees.get(file)
        if tree is None:
            return None
        if not qual:
            return tree
        if file not in self.scope_cache:
            self.scope_cache[file] = _scopes(tree)
        return self.scope_cache[file].get(qual)

    # -- engines -------------------------------------------------------------------------------

    def engine_of(self, file: str, qual: str | None, node: ast.expr | None, depth: int = 0) -> Engine | None:
        if node is None or depth > _DEPTH:
            return None
        if isinstance(node, ast.Await):
            return self.engine_of(file, qual, node.value, depth + 1)
        if isinstance(node, ast.Call):
            if call_name(node) in ENGINE_CALLS:
                return self._engine_from_call(file, qual, node)
            if isinstance(node.func, ast.Attribute) and node.func.attr in ("begin", "connect", "get_bind"):
                return self.engine_of(file, qual, node.func.value, depth + 1)
            return self._engine_from_function(file, qual, node.func, depth)
        if isinstance(node, ast.Name):
            local = self._local_value(file, qual, node.id, getattr(node, "lineno", 10**9))
            if local is not None:
                return self.engine_of(file, qual, local, depth + 1)
            return self._engine_of_module_name(file, node.id, depth)
        if isinstance(node, ast.Attribute):
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls") and qual:
                cls = qual.split(".")[0]
                for where, meth_qual, value in self._attribute_assignments(file, cls, node.attr):
                    found = self.engine_of(where, meth_qual, value, depth + 1)
                    if found is not None and found.per_instance:
                        # one database per instance of this class (not of a shared parent class)
                        return Engine(f"{found.key}@{file}:{cls}", f"{found.source} (for {cls})", found.file,
                                      found.line, True)
                    if found is not None:
                        return found
                return None
            target = self.resolver.expr(file, node, function=qual)
            if isinstance(target, Symbol) and "." not in target.name:
                return self._engine_of_module_name(target.file, target.name, depth)
        return None

    def _engine_of_module_name(self, file: str, name: str, depth: int) -> Engine | None:
        f = self.ix.facts.get(file)
        binding = f.bindings.get(name) if f else None
        if isinstance(binding, LocalBinding) and binding.kind == "assign":
            return self.engine_of(file, None, binding.value, depth + 1)
        if isinstance(binding, ImportBinding):
            target = self.resolver.binding_target(file, binding, 0)
            if isinstance(target, Symbol) and "." not in target.name:
                return self._engine_of_module_name(target.file, target.name, depth + 1)
        if binding is None and (f is None or f.partial):
            tree = self.trees.get(file)
            for stmt in tree.body if tree else ():
                if isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in stmt.targets):
                    return self.engine_of(file, None, stmt.value, depth + 1)
        return None

    def _engine_from_function(self, file: str, qual: str | None, func: ast.expr, depth: int) -> Engine | None:
        """``get_engine()``, ``self.get_engine(user)``: the engine the function (or the method of
        the enclosing class) makes or returns."""
        target = self.resolver.expr(file, func, function=qual)
        if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in ("self", "cls")
                and qual and "." in qual):
            target = Symbol(file, f"{qual.split('.')[0]}.{func.attr}")
        if not isinstance(target, Symbol):
            return None
        fn = self.scope(target.file, target.name)
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return None
        for sub in ast.walk(fn):
            if isinstance(sub, ast.Call) and call_name(sub) in ENGINE_CALLS:
                return self._engine_from_call(target.file, target.name, sub)
        for sub in ast.walk(fn):
            if isinstance(sub, ast.Return) and sub.value is not None:
                found = self.engine_of(target.file, target.name, sub.value, depth + 1)
                if found is not None:
                    return found
        return None

    def _local_value(self, file: str, qual: str | None, name: str, before: int) -> ast.expr | None:
        """The last value assigned to ``name`` in the function ``qual`` before line ``before``."""
        fn = self.scope(file, qual) if qual else None
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return None
        found = None
        for sub in self._binding_statements(fn):
            if isinstance(sub, ast.Assign) and sub.lineno <= before:
                if any(isinstance(t, ast.Name) and t.id == name for t in sub.targets):
                    if found is None or sub.lineno >= found.lineno:
                        found = sub
            elif isinstance(sub, (ast.With, ast.AsyncWith)) and sub.lineno <= before:
                for item in sub.items:
                    if isinstance(item.optional_vars, ast.Name) and item.optional_vars.id == name:
                        return item.context_expr
        return found.value if found is not None else None

    def _binding_statements(self, fn: ast.AST) -> list[ast.AST]:
        """The assignments and ``with`` blocks in the function, in ``ast.walk``'s order: walked once
        per function, however many names are looked up in it."""
        found = self._binders.get(fn)
        if found is None:
            found = self._binders[fn] = [sub for sub in ast.walk(fn) if isinstance(sub, (ast.Assign, ast.With, ast.AsyncWith))]
        return found

    def _attribute_assignments(self, file: str, cls: str, attr: str, depth: int = 0) -> list[tuple[str, str, ast.expr]]:
        """(file, method, value) of every ``self.<attr> = value`` in the class and its project parents."""
        node = self.scope(file, cls)
        out: list[tuple[str, str, ast.expr]] = []
        if not isinstance(node, ast.ClassDef) or depth > 5:
            return out
        for meth in node.body:
            if not isinstance(meth, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for sub in ast.walk(meth):
                if isinstance(sub, ast.Assign):
                    for t in sub.targets:
                        if isinstance(t, ast.Attribute) and t.attr == attr and unparse(t.value) in ("self", "cls"):
                            out.append((file, f"{cls}.{meth.name}", sub.value))
        if not out:
            for b in node.bases:
                parent = self.resolver.expr(file, b)
                if isinstance(parent, Symbol) and "." not in parent.name:
                    out.extend(self._attribute_assignments(parent.file, parent.name, attr, depth + 1))
        return out

    def _module_value(self, file: str, qual: str | None, url: ast.expr | None,
                      line: int) -> tuple[Symbol, str | None] | None:
        """The module-level name an URL expression is (``DATABASE_URL``, ``config.DATABASE_URL``),
        with its value when that is a literal string: one name is one database."""
        if not isinstance(url, (ast.Name, ast.Attribute)) or self._local_value(file, qual, unparse(url), line):
            return None
        target = self.resolver.expr(file, url, function=qual)
        if not isinstance(target, Symbol) or "." in target.name:
            return None
        f = self.ix.facts.get(target.file)
        b = f.bindings.get(target.name) if f else None
        value = b.value if isinstance(b, LocalBinding) and b.kind == "assign" else None
        return target, value.value if isinstance(value, ast.Constant) and isinstance(value.value, str) else None

    def _engine_from_call(self, file: str, qual: str | None, call: ast.Call) -> Engine:
        url = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg in ("url", "configuration")), None)
        named = self._module_value(file, qual, url, call.lineno)
        if named is not None and named[1] is not None and not _in_memory(named[1]):
            # one literal URL is one database, wherever its engines are made
            return Engine(f"url:{named[1]}", f"{unparse(url)} ({named[0].file})", file, call.lineno)
        settings = self._settings_in(file, qual, url, 0)
        if settings:
            names = sorted(set(settings))
            return Engine("setting:" + "+".join(n.split(" ")[-1].lower() for n in names), ", ".join(names),
                          file, call.lineno)
        param = self._parameter(file, qual, url)
        if param is not None:
            owner = qual.split(".")[0] if qual and "." in qual else qual
            where = f"constructor argument {param} of {owner}" if qual and qual.endswith("__init__") else (
                f"argument {param} of {qual}")
            # a class's constructor (or method) argument: each instance picks its database
            return Engine(f"param:{file}:{qual}:{param}", where, file, call.lineno, per_instance="." in (qual or ""))
        if isinstance(url, ast.Constant) and isinstance(url.value, str) and not _in_memory(url.value):
            # one literal URL is one database, wherever its engines are made
            return Engine(f"url:{url.value}", repr(url.value), file, call.lineno)
        if named is not None:
            # one module-level name (``DATABASE_URL`` in a config module) is one database too
            return Engine(f"value:{named[0]}", f"{unparse(url)} ({named[0].file})", file, call.lineno)
        return Engine(f"engine:{file}:{call.lineno}", unparse(url) if url is not None else "its default URL",
                      file, call.lineno)

    def _parameter(self, file: str, qual: str | None, url: ast.expr | None) -> str | None:
        fn = self.scope(file, qual) if qual else None
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) or url is None:
            return None
        params = {a.arg for a in fn.args.args + fn.args.kwonlyargs + fn.args.posonlyargs} - {"self", "cls"}
        for sub in ast.walk(url):
            if isinstance(sub, ast.Name) and sub.id in params:
                return sub.id
            if isinstance(sub, ast.Name):
                local = self._local_value(file, qual, sub.id, getattr(url, "lineno", 10**9))
                if local is not None and local is not url:
                    found = self._parameter(file, qual, local)
                    if found:
                        return found
        return None

    def _settings_in(self, file: str, qual: str | None, node: ast.expr | None, depth: int) -> list[str]:
        """Settings and environment variables an URL expression reads (``settings.audit_url``)."""
        if node is None or depth > 4:
            return []
        out: list[str] = []
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call):
                name = call_name(sub)
                text = unparse(sub.func)
                if name in _ENV_CALLS and ("environ" in text or "getenv" in text) and sub.args:
                    if isinstance(sub.args[0], ast.Constant) and isinstance(sub.args[0].value, str):
                        out.append(f"environment {sub.args[0].value}")
                elif isinstance(sub.func, (ast.Name, ast.Attribute)) and name not in ("str", "format", "replace"):
                    target = self.resolver.expr(file, sub.func, function=qual)
                    if isinstance(target, Symbol):
                        fn = self.scope(target.file, target.name)
                        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                            for ret in ast.walk(fn):
                                if isinstance(ret, ast.Return) and ret.value is not None:
                                    out.extend(self._settings_in(target.file, target.name, ret.value, depth + 1))
            elif isinstance(sub, ast.Subscript) and "environ" in unparse(sub.value):
                if isinstance(sub.slice, ast.Constant) and isinstance(sub.slice.value, str):
                    out.append(f"environment {sub.slice.value}")
            elif (isinstance(sub, ast.Attribute) and isinstance(sub.ctx, ast.Load)
                  and _settings_like(sub)):
                out.append(unparse(sub))
            elif isinstance(sub, ast.Name):
                local = self._local_value(file, qual, sub.id, getattr(sub, "lineno", 10**9))
                if local is not None:
                    out.extend(self._settings_in(file, qual, local, depth + 1))
                    continue
                f = self.ix.facts.get(file)
                b = f.bindings.get(sub.id) if f else None
                if isinstance(b, LocalBinding) and b.kind == "assign" and b.value is not None:
                    out.extend(self._settings_in(file, None, b.value, depth + 1))
        return out

    # -- gathering -----------------------------------------------------------------------------


def _in_memory(url: str) -> bool:
    """``sqlite://`` and ``sqlite:///:memory:``: every engine on it is a database of its own."""
    return url.rstrip("/") in ("sqlite:", "sqlite+pysqlite:") or ":memory:" in url


def _settings_like(node: ast.Attribute) -> bool:
    """``settings.audit_url``, ``config.DATABASE_URL``, ``self.settings.db_url``: configuration reads."""
    root, chain = node.value, 1
    while isinstance(root, ast.Attribute):
        root, chain = root.value, chain + 1
    if not isinstance(root, ast.Name) or root.id in ("os", "sys"):
        return False
    if root.id in ("self", "cls") and chain < 2:
        return False
    lowered = node.attr.lower()
    return any(w in lowered for w in ("url", "uri", "dsn", "database", "db", "path", "conn"))
