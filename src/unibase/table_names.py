"""Names and expressions in a table definition read by meaning (:mod:`unibase.tables`): the
SQLAlchemy object a dotted name means, one key per object whatever its spelling, and an
expression with every name replaced by the key of what it means."""

from __future__ import annotations

import ast
import builtins
import copy
import importlib
import inspect

from .discovery import External, ModuleRef, Symbol
from .facts import unparse

UNKNOWN = "<?"  # starts the key of a name unibase could not resolve: such a key equals nothing


class NameReader:
    """The names half of :class:`unibase.tables._Reader` (it provides ``ix``, ``facts``, ``resolver``,
    ``objects``, ``_tree``, ``_class_fact`` and ``_type``)."""

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
        facts = self.facts.get(file)
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
        return f"{UNKNOWN} {file}:{unparse(node)} ?>"

    def _symbol_key(self, sym: Symbol) -> str:
        owner, _, attr = sym.name.partition(".")
        if attr:
            model = self.ix.models.get(Symbol(sym.file, owner))
            col = next((c for c in model.columns if c.attr == attr), None) if model else None
            if model and model.table and col:
                return f"column {model.table}.{col.name}"
            return f"{sym.file}:{sym.name}"
        facts = self.facts.get(sym.file)
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
        node = parse(src)
        return self._canon(file, node) if node is not None else f"{UNKNOWN} {file}:{src} ?>"

    def _args_key(self, file: str, src: str) -> str | None:
        """``__table_args__`` in any order, without ``extend_existing``; None when that leaves nothing."""
        node = parse(src)
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

    def __init__(self, reader: NameReader, file: str) -> None:
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


def sqla_type_key(cls: type, positional: list[str], named: dict[str, str]) -> str | None:
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


def parse(src: str | None) -> ast.expr | None:
    if not src:
        return None
    try:
        return ast.parse(src.strip(), mode="eval").body
    except SyntaxError:
        return None


def unquote(node: ast.expr) -> ast.expr:
    """A string annotation (``"Mapped[int]"``) read as the expression it holds."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return parse(node.value) or node
    return node


def last_name(node: ast.expr) -> str | None:
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None
