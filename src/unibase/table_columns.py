"""One column of a table definition read as SQLAlchemy would build it (:mod:`unibase.tables`):
its SQL name, type, nullability, keys, defaults and every other argument."""

from __future__ import annotations

import ast
import importlib
from dataclasses import dataclass

from .discovery import BaseInfo
from .facts import ColumnFact, unparse
from .table_names import UNKNOWN, NameReader, parse, sqla_type_key, unquote

_SIMPLE_TYPE_MODULES = ("builtins", "datetime", "decimal", "uuid")
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


class ColumnReader(NameReader):
    """The columns and types half of :class:`unibase.tables._Reader`."""

    def _column(self, file: str, col: ColumnFact, base: BaseInfo | None) -> ColumnMeaning:
        import sqlalchemy
        from sqlalchemy import orm as sa_orm
        from sqlalchemy.schema import SchemaItem

        shown = f"{col.annotation} = {col.source}" if col.annotation and col.annotation != col.source else col.source
        node = parse(col.source)
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
                options["**"] = (f"{UNKNOWN} {file}:{unparse(kw.value)} ?>", unparse(kw.value))
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

        annotation = parse(col.annotation) if orm and col.annotation else None
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
            nullable = f"{UNKNOWN} {col.annotation} ?>" if optional is None else "NULL" if optional else "NOT NULL"
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
            where = f"{UNKNOWN} no target ?>"
        extra = [self._value(file, a) for a in call.args[1:]]
        for kw in call.keywords:
            value = self._value(file, kw.value) if kw.arg else f"{UNKNOWN} {unparse(kw.value)} ?>"
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
                key = sqla_type_key(cls, positional, named)
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
            return f"{UNKNOWN} {file}:{annotation} ?>", label
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
                key = sqla_type_key(type(sa_type), [], {})
                if key is not None:
                    return key, f"{type(sa_type).__name__} ({label})"
        return f"annotation {python}", label

    def _mapped_by_base(self, base: BaseInfo, python: str) -> tuple[str, str] | None:
        """What the base's ``type_annotation_map`` gives ``python``; None when it keeps the default."""
        file = base.symbol.file
        node = parse(base.type_annotation_map)
        if isinstance(node, ast.Dict):
            keys = [self._canon(file, k) if k is not None else f"{UNKNOWN} ** ?>" for k in node.keys]
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

        node = unquote(node)
        if not (isinstance(node, ast.Subscript) and self._object(file, node.value) is Mapped):
            return None, None
        inner = unquote(node.slice)
        optional = False
        while (members := self._union_members(file, inner)) is not None:
            rest = [m for m in members if not (isinstance(m, ast.Constant) and m.value is None)]
            optional = optional or len(rest) < len(members)
            if len(rest) != 1:
                return None, optional
            inner = unquote(rest[0])
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
