"""What one Python file says, read statically with the standard ``ast`` parser.

``FileFacts`` holds the per-file raw material discovery needs: name bindings (module level and
function level), imports, class definitions with their columns and references, base-making
assignments, Core ``Table`` calls and metadata uses. Nothing here resolves across files; that
is :mod:`unibase.discovery`'s job. User code is never imported or executed.
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

# --- bindings -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportBinding:
    """``name`` is bound by an import: ``module`` (absolute or relative) and the ``attr`` taken."""

    level: int
    module: str | None
    attr: str | None  # None: the binding is the module itself (``import a.b as c``)
    line: int


@dataclass(frozen=True)
class LocalBinding:
    """``name`` is bound in this file by a class, a function or an assignment."""

    kind: str  # "class" | "def" | "assign"
    line: int
    value: ast.expr | None = None  # for assignments


Binding = ImportBinding | LocalBinding


@dataclass(frozen=True)
class ImportedName:
    name: str
    asname: str | None


@dataclass(frozen=True)
class ImportStmt:
    line: int
    end_line: int
    is_from: bool
    level: int
    module: str | None
    names: tuple[ImportedName, ...]
    scope: str  # "module" | "function" | "class" | "type-checking" | "conditional"


def import_stmt(node: ast.stmt, scope: str) -> ImportStmt | None:
    """The import statement ``node`` is (None when it is another statement)."""
    if isinstance(node, ast.Import):
        return ImportStmt(node.lineno, node.end_lineno or node.lineno, False, 0, None,
                          tuple(ImportedName(a.name, a.asname) for a in node.names), scope)
    if isinstance(node, ast.ImportFrom):
        return ImportStmt(node.lineno, node.end_lineno or node.lineno, True, node.level, node.module,
                          tuple(ImportedName(a.name, a.asname) for a in node.names), scope)
    return None


def import_bindings(imp: ImportStmt) -> list[tuple[str, ImportBinding]]:
    """The names an import statement binds, and how: ``import a.b`` binds ``a``, ``import a.b as
    c`` binds ``c`` to the module ``a.b``, ``from m import x as y`` binds ``y`` to ``m.x``."""
    if not imp.is_from:
        return [(n.asname, ImportBinding(0, n.name, None, imp.line)) if n.asname
                else (n.name.split(".")[0], ImportBinding(0, n.name.split(".")[0], None, imp.line))
                for n in imp.names]
    return [(n.asname or n.name, ImportBinding(imp.level, imp.module, n.name, imp.line))
            for n in imp.names if n.name != "*"]


# --- classes --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnFact:
    attr: str
    name: str  # the database column name
    source: str  # normalised source of the definition, used to compare duplicates
    type: str
    nullable: str
    primary_key: bool
    foreign_key: str | None
    default: str | None
    index: bool
    unique: bool
    line: int
    annotation: str | None = None  # ``Mapped[...]`` (or a declared_attr's return annotation), as written


@dataclass(frozen=True)
class ForeignKeyFact:
    attr: str | None  # the class attribute holding it (None in __table_args__ or Core tables)
    target: str  # "table.column" as written, or the expression's source
    is_string: bool
    line: int


@dataclass(frozen=True)
class RelationshipFact:
    attr: str
    target: str | None  # the class named by the first argument, when a string or a name
    target_is_string: bool
    secondary: str | None  # ``secondary="table"``
    strings: tuple[tuple[str, str], ...]  # (keyword, string) for every string keyword argument
    line: int


@dataclass(frozen=True)
class ClassFact:
    name: str
    line: int
    end_line: int
    bases: tuple[ast.expr, ...]
    decorators: tuple[ast.expr, ...]
    tablename: str | None
    tablename_computed: bool
    table_call: str | None  # ``__table__ = Table("name", ...)``: the table name
    abstract: bool
    extend_existing: bool
    table_args: str | None
    columns: tuple[ColumnFact, ...]
    foreign_keys: tuple[ForeignKeyFact, ...]
    relationships: tuple[RelationshipFact, ...]
    annotation_targets: tuple[tuple[str, str], ...]  # (attr, class name in Mapped["..."])
    methods: tuple[str, ...]
    body_names: frozenset[str]  # every Name loaded anywhere in the class (for dependencies)
    metadata_src: str | None  # ``metadata = MetaData(...)`` in the class body
    type_annotation_map_src: str | None
    mapper_args: str | None


@dataclass(frozen=True)
class AssignFact:
    """A module-level ``name = call(...)`` (candidate base, registry, engine, metadata...)."""

    name: str
    line: int
    end_line: int
    value: ast.expr


@dataclass(frozen=True)
class TableFact:
    var: str | None
    table: str
    metadata: ast.expr
    columns: tuple[ColumnFact, ...]
    foreign_keys: tuple[ForeignKeyFact, ...]
    line: int


@dataclass(frozen=True)
class MetadataUse:
    """``X.metadata.create_all(bind)``, ``X.metadata.tables``... : ``owner`` is ``X``."""

    owner: ast.expr
    attr: str  # create_all | drop_all | tables | sorted_tables | reflect | ...
    bind: str | None
    line: int
    end_line: int
    col: int
    function: str | None  # enclosing function qualified name
    statement_line: int  # first line of the enclosing statement


@dataclass(frozen=True)
class TargetMetadataFact:
    line: int
    value: ast.expr


@dataclass(frozen=True)
class MetadataLoop:
    """``for b in [A, B]: b.metadata.create_all(e)`` (or ``for m in [A.metadata, ...]: m.create_all(e)``):
    the elements of the literal list the loop creates or drops tables of."""

    line: int
    elements: tuple[ast.expr, ...]
    function: str | None


@dataclass
class FileFacts:
    path: str
    bindings: dict[str, Binding] = field(default_factory=dict)
    function_bindings: dict[str, dict[str, Binding]] = field(default_factory=dict)
    imports: list[ImportStmt] = field(default_factory=list)
    classes: list[ClassFact] = field(default_factory=list)
    assigns: list[AssignFact] = field(default_factory=list)
    tables: list[TableFact] = field(default_factory=list)
    metadata_uses: list[MetadataUse] = field(default_factory=list)
    target_metadata: list[TargetMetadataFact] = field(default_factory=list)
    metadata_loops: list[MetadataLoop] = field(default_factory=list)
    all_names: tuple[str, ...] | None = None  # ``__all__``
    # what each function returns, and the classes defined inside it (their bases): the raw
    # material for bases made by a factory (``Base = make_base()``)
    function_returns: dict[str, list[ast.expr]] = field(default_factory=dict)
    local_classes: dict[str, dict[str, tuple[ast.expr, ...]]] = field(default_factory=dict)
    # mapped classes defined inside a function (mapped when it runs): (function, class)
    local_mapped: list[tuple[str, ClassFact]] = field(default_factory=list)
    top_level: list[tuple[str, int, int, str]] = field(default_factory=list)
    # (name, line, end_line, kind) of every top-level definition, in order
    # only the file's import lines were read (:func:`unibase.discovery.import_facts`): the rest of
    # the file, its classes, assignments and uses, is unknown, and whether it parses at all
    partial: bool = False


# --- helpers --------------------------------------------------------------------------------


def unparse(node: ast.AST | None) -> str:
    return "" if node is None else ast.unparse(node)


def call_name(node: ast.expr) -> str | None:
    """The last name of a call's function: ``sa.Column(...)`` -> ``Column``."""
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def walk(node: ast.AST) -> Iterator[ast.AST]:
    """``ast.walk``: the same nodes in the same order, with the child lookup inlined (twice as fast
    on a file of thousands of classes, where walking is most of the reading)."""
    todo = deque([node])
    pop, push, extend = todo.popleft, todo.append, todo.extend
    while todo:
        node = pop()
        for name in node._fields:
            value = getattr(node, name, None)
            if value.__class__ is list:
                extend([v for v in value if isinstance(v, ast.AST)])
            elif isinstance(value, ast.AST):
                push(value)
        yield node


def alternatives(node: ast.expr) -> list[ast.expr]:
    """The values a conditional expression may take: ``A if ok else B`` -> ``[A, B]``."""
    if isinstance(node, ast.IfExp):
        return alternatives(node.body) + alternatives(node.orelse)
    return [node]


def _flat_body(body: list[ast.stmt]) -> list[ast.stmt]:
    """The statements of a class body, with those inside ``if``/``try`` blocks (``if AVAILABLE:
    __tablename__ = ...``) read as if they were at its top: every branch may define the class."""
    out: list[ast.stmt] = []
    for stmt in body:
        if isinstance(stmt, ast.If):
            out += _flat_body(stmt.body) + _flat_body(stmt.orelse)
        elif isinstance(stmt, (ast.Try, getattr(ast, "TryStar", ast.Try))):
            out += _flat_body(stmt.body) + [s for h in stmt.handlers for s in _flat_body(h.body)]
            out += _flat_body(stmt.orelse) + _flat_body(stmt.finalbody)
        else:
            out.append(stmt)
    return out


def import_module_call(node: ast.expr | None) -> str | None:
    """``importlib.import_module("a.b")`` (or ``__import__``-free ``import_module``): ``"a.b"``."""
    if (isinstance(node, ast.Call) and call_name(node) == "import_module" and len(node.args) == 1
            and not node.keywords and (name := _const_str(node.args[0])) and not name.startswith(".")):
        return name
    return None


def _const_str(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _kw(call: ast.Call, name: str) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    return None


def _truthy(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and bool(node.value)
