"""Column types as migration code: ``String(50)`` -> ``sa.String(50)``, dialect types imported."""

from __future__ import annotations

import ast


_TYPE_PREFIXES = {"sa", "sqlalchemy", "db", "types", "sqltypes", "sqlalchemy.types", "sqlalchemy.sql.sqltypes"}
DIALECTS = ("postgresql", "mysql", "sqlite", "mssql", "oracle")


def render_type(source: str) -> tuple[str, frozenset[str]]:
    """Type source -> (code using ``sa.``/dialect modules, dialect modules to import).

    ``Integer`` becomes ``sa.Integer()``, ``String(50)`` ``sa.String(50)``,
    ``MutableDict.as_mutable(JSON)`` the database type ``sa.JSON()``, ``postgresql.JSONB``
    ``postgresql.JSONB()``. A name that is not a SQLAlchemy type (a project's own
    ``TypeDecorator``, ``Enum(SomeEnum)``) is a :class:`ValueError`: the script must not import
    the project.
    """
    try:
        node = ast.parse(source.strip(), mode="eval").body
    except SyntaxError as exc:
        raise ValueError(f"cannot read the column type {source!r}: {exc.msg}") from None
    while (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "as_mutable"
           and len(node.args) == 1 and not node.keywords):
        node = node.args[0]  # MutableDict.as_mutable(JSON): the mutation tracking is ORM-only
    if isinstance(node, (ast.Name, ast.Attribute)):
        node = ast.Call(func=node, args=[], keywords=[])
    if not isinstance(node, ast.Call):
        raise ValueError(f"cannot render the column type {source!r}")
    imports: set[str] = set()
    rendered = _TypeRewriter(source, imports).visit(node)
    return ast.unparse(ast.fix_missing_locations(rendered)), frozenset(imports)


class _TypeRewriter(ast.NodeTransformer):
    def __init__(self, source: str, imports: set[str]):
        self.source = source
        self.imports = imports

    def visit_Name(self, node: ast.Name) -> ast.expr:
        return self._resolve(node.id, "", node.id)

    def visit_Attribute(self, node: ast.Attribute) -> ast.expr:
        dotted = _dotted(node)
        if dotted is None:
            raise ValueError(f"cannot render the column type {self.source!r}")
        prefix, _, attr = dotted.rpartition(".")
        return self._resolve(attr, prefix, dotted)

    def visit_Call(self, node: ast.Call) -> ast.expr:
        self.generic_visit(node)
        return node

    def _resolve(self, attr: str, prefix: str, shown: str) -> ast.expr:
        import importlib

        import sqlalchemy
        from sqlalchemy.types import TypeEngine

        dialect = prefix.rpartition(".")[2]
        if dialect in DIALECTS and prefix in (dialect, f"sqlalchemy.dialects.{dialect}"):
            module = importlib.import_module(f"sqlalchemy.dialects.{dialect}")
            obj = getattr(module, attr, None)
            if isinstance(obj, type) and issubclass(obj, TypeEngine):
                self.imports.add(dialect)
                return ast.Attribute(value=ast.Name(id=dialect, ctx=ast.Load()), attr=attr, ctx=ast.Load())
        elif prefix == "" or prefix in _TYPE_PREFIXES:
            obj = getattr(sqlalchemy, attr, None)
            if isinstance(obj, type) and issubclass(obj, TypeEngine):
                return ast.Attribute(value=ast.Name(id="sa", ctx=ast.Load()), attr=attr, ctx=ast.Load())
        raise ValueError(
            f"cannot render the column type {self.source!r}: {shown!r} is not a SQLAlchemy type "
            "(pass the database type, e.g. the TypeDecorator's impl or Enum('a', 'b', name='...'))")


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return None if inner is None else f"{inner}.{node.attr}"
    return None
