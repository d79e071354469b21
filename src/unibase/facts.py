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


COLUMN_CALLS = frozenset({"Column", "mapped_column", "column_property"})


def _column_fact(attr: str, call: ast.Call, line: int, annotation: ast.expr | None = None) -> ColumnFact:
    args = list(call.args)
    name = attr
    if args and _const_str(args[0]) is not None:
        name = _const_str(args[0]) or attr
        args = args[1:]
    type_src = ""
    fk: str | None = None
    for a in args:
        if isinstance(a, ast.Call) and call_name(a) == "ForeignKey":
            fk = _const_str(a.args[0]) if a.args else None
            if fk is None and a.args:
                fk = unparse(a.args[0])
        elif not type_src:
            type_src = unparse(a)
    for kw in ("type_",):
        if not type_src and _kw(call, kw) is not None:
            type_src = unparse(_kw(call, kw))
    nullable = _kw(call, "nullable")
    primary = _truthy(_kw(call, "primary_key"))
    default = _kw(call, "default") or _kw(call, "server_default")
    return ColumnFact(
        attr=attr,
        name=name,
        source=unparse(call),
        type=type_src,
        nullable=unparse(nullable) if nullable is not None else ("False" if primary else "True"),
        primary_key=primary,
        foreign_key=fk,
        default=unparse(default) if default is not None else None,
        index=_truthy(_kw(call, "index")),
        unique=_truthy(_kw(call, "unique")),
        line=line,
        annotation=unparse(annotation) if annotation is not None else None,
    )


def _foreign_keys_in(node: ast.AST, attr: str | None) -> list[ForeignKeyFact]:
    found = []
    for sub in walk(node):
        if isinstance(sub, ast.Call) and call_name(sub) == "ForeignKey" and sub.args:
            s = _const_str(sub.args[0])
            found.append(
                ForeignKeyFact(
                    attr=attr,
                    target=s if s is not None else unparse(sub.args[0]),
                    is_string=s is not None,
                    line=sub.lineno,
                )
            )
    return found


def _string_annotation_targets(annotation: ast.expr) -> list[str]:
    """Class names quoted inside ``Mapped["X"]`` / ``Mapped[list["X"]]`` / ``"Mapped[X]"``."""
    out = []
    for sub in walk(annotation):
        s = _const_str(sub) if isinstance(sub, ast.expr) else None
        if s is None:
            continue
        try:
            inner = ast.parse(s, mode="eval").body
        except SyntaxError:
            continue
        if isinstance(inner, ast.Name):
            out.append(inner.id)
        elif isinstance(inner, ast.Attribute):
            out.append(unparse(inner))
        else:
            out.extend(_string_annotation_targets(inner))
    return out


def _relationship_fact(attr: str, call: ast.Call) -> RelationshipFact:
    target_node = call.args[0] if call.args else _kw(call, "argument")
    target: str | None = None
    is_string = False
    if target_node is not None:
        s = _const_str(target_node)
        if s is not None:
            target, is_string = s, True
        elif isinstance(target_node, (ast.Name, ast.Attribute)):
            target = unparse(target_node)
        elif isinstance(target_node, ast.Lambda) and isinstance(target_node.body, (ast.Name, ast.Attribute)):
            target = unparse(target_node.body)
    secondary = _const_str(_kw(call, "secondary"))
    strings = tuple(
        (kw.arg, kw.value.value)
        for kw in call.keywords
        if kw.arg and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str)
    )
    return RelationshipFact(attr, target, is_string, secondary, strings, call.lineno)


def _class_fact(node: ast.ClassDef) -> ClassFact:
    tablename: str | None = None
    computed = False
    table_call: str | None = None
    abstract = False
    extend_existing = False
    table_args: str | None = None
    columns: list[ColumnFact] = []
    fks: list[ForeignKeyFact] = []
    rels: list[RelationshipFact] = []
    ann_targets: list[tuple[str, str]] = []
    methods: list[str] = []
    metadata_src = tam_src = mapper_args = None

    for stmt in _flat_body(node.body):
        target: str | None = None
        value: ast.expr | None = None
        annotation: ast.expr | None = None
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            target, value = stmt.targets[0].id, stmt.value
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            target, value, annotation = stmt.target.id, stmt.value, stmt.annotation
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            decos = {call_name(d) or "" for d in stmt.decorator_list}
            if stmt.name == "__tablename__" and decos & {"declared_attr", "directive"}:
                computed = True
            elif "declared_attr" in decos:
                fks.extend(_foreign_keys_in(stmt, stmt.name))
                for sub in walk(stmt):
                    if isinstance(sub, ast.Call) and call_name(sub) in COLUMN_CALLS:
                        columns.append(_column_fact(stmt.name, sub, sub.lineno, stmt.returns))
                        break
            else:
                methods.append(stmt.name)
            continue
        if target is None:
            continue
        if target == "__tablename__":
            tablename = _const_str(value)
            computed = tablename is None
        elif target == "__table__" and isinstance(value, ast.Call) and value.args:
            table_call = _const_str(value.args[0])
            fks.extend(_foreign_keys_in(value, None))
        elif target == "__abstract__":
            abstract = _truthy(value)
        elif target == "__table_args__" and value is not None:
            table_args = unparse(value)
            for sub in walk(value):
                if isinstance(sub, ast.Dict):
                    for k, v in zip(sub.keys, sub.values):
                        if _const_str(k) == "extend_existing" and _truthy(v):
                            extend_existing = True
            fks.extend(_foreign_keys_in(value, None))
        elif target == "__mapper_args__" and value is not None:
            mapper_args = unparse(value)
        elif target == "metadata" and isinstance(value, ast.Call):
            metadata_src = unparse(value)
        elif target == "type_annotation_map" and value is not None:
            tam_src = unparse(value)
        else:
            if isinstance(value, ast.Call) and call_name(value) in COLUMN_CALLS:
                columns.append(_column_fact(target, value, stmt.lineno, annotation))
            elif isinstance(value, ast.Call) and call_name(value) == "relationship":
                rels.append(_relationship_fact(target, value))
            elif value is None and annotation is not None and "Mapped" in unparse(annotation):
                if not any(_string_annotation_targets(annotation)) and "relationship" not in unparse(annotation):
                    columns.append(
                        ColumnFact(target, target, unparse(annotation), unparse(annotation),
                                   "Optional" in unparse(annotation) and "True" or "False",
                                   False, None, None, False, False, stmt.lineno, unparse(annotation))
                    )
            if value is not None:
                fks.extend(_foreign_keys_in(value, target))
            if annotation is not None:
                for t in _string_annotation_targets(annotation):
                    ann_targets.append((target, t))

    body_names = frozenset(
        n.id for n in walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    ) | frozenset(
        n.id for b in list(node.bases) + list(node.decorator_list) for n in walk(b) if isinstance(n, ast.Name)
    )
    return ClassFact(
        name=node.name,
        line=node.lineno if not node.decorator_list else node.decorator_list[0].lineno,
        end_line=node.end_lineno or node.lineno,
        bases=tuple(alt for b in node.bases for alt in alternatives(b)),
        decorators=tuple(node.decorator_list),
        tablename=tablename,
        tablename_computed=computed,
        table_call=table_call,
        abstract=abstract,
        extend_existing=extend_existing,
        table_args=table_args,
        columns=tuple(columns),
        foreign_keys=tuple(fks),
        relationships=tuple(rels),
        annotation_targets=tuple(ann_targets),
        methods=tuple(methods),
        body_names=body_names,
        metadata_src=metadata_src,
        type_annotation_map_src=tam_src,
        mapper_args=mapper_args,
    )


def _table_fact(var: str | None, call: ast.Call) -> TableFact | None:
    if call_name(call) != "Table" or len(call.args) < 2:
        return None
    name = _const_str(call.args[0])
    if name is None:
        return None
    columns = []
    for a in call.args[2:]:
        if isinstance(a, ast.Call) and call_name(a) == "Column" and a.args:
            col_name = _const_str(a.args[0]) or unparse(a.args[0])
            columns.append(_column_fact(col_name, a, a.lineno))
    return TableFact(var, name, call.args[1], tuple(columns), tuple(_foreign_keys_in(call, None)), call.lineno)


def _is_type_checking(test: ast.expr) -> bool:
    return unparse(test).endswith("TYPE_CHECKING")


def _type_checking_branches(node: ast.If) -> tuple[list[ast.stmt], list[ast.stmt]] | None:
    """(type-checking only, run time) statements of ``if TYPE_CHECKING:`` / ``if not TYPE_CHECKING:``."""
    if isinstance(node.test, ast.UnaryOp) and isinstance(node.test.op, ast.Not) and _is_type_checking(node.test.operand):
        return node.orelse, node.body
    if _is_type_checking(node.test):
        return node.body, node.orelse
    return None


# --- the reader -----------------------------------------------------------------------------


class _Reader(ast.NodeVisitor):
    def __init__(self, facts: FileFacts, statements_only: bool = False) -> None:
        self.facts = facts
        self.statements_only = statements_only
        self.function_stack: list[str] = []
        self.scope_stack: list[str] = []
        self.statement_line = 0
        self.type_checking_only: set[str] = set()  # names bound so far only for type checkers
        # inside a module-level ``if``/``try``: names bound there are not top-level statements
        # (a move cannot take them), though they bind module names like ``try`` bodies do
        self.blocks = 0

    # scopes
    def _scope(self) -> str:
        if self.function_stack:
            return "function"
        return self.scope_stack[-1] if self.scope_stack else "module"

    def _bind(self, name: str, binding: Binding) -> None:
        if self.function_stack:
            self.facts.function_bindings.setdefault(self.function_stack[-1], {})[name] = binding
        elif (scope := self._scope()) in ("module", "type-checking", "conditional"):
            # the first binding wins for names bound twice in try/except import fallbacks; one the
            # program runs beats one only type checkers see (``if TYPE_CHECKING: ... else: ...``)
            if scope == "module" or name not in self.facts.bindings or (
                    scope == "conditional" and name in self.type_checking_only):
                self.facts.bindings[name] = binding
                if scope == "type-checking":
                    self.type_checking_only.add(name)
                else:
                    self.type_checking_only.discard(name)

    def visit(self, node: ast.AST) -> None:
        if isinstance(node, ast.stmt):
            prev = self.statement_line
            self.statement_line = node.lineno
            super().visit(node)
            self.statement_line = prev
        elif not self.statements_only:
            super().visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.facts.imports.append(import_stmt(node, self._scope()))
        for a in node.names:
            if a.asname:
                self._bind(a.asname, ImportBinding(0, a.name, None, node.lineno))
            else:
                top = a.name.split(".")[0]
                self._bind(top, ImportBinding(0, top, None, node.lineno))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        self.facts.imports.append(import_stmt(node, self._scope()))
        for a in node.names:
            if a.name != "*":
                self._bind(a.asname or a.name, ImportBinding(node.level, node.module, a.name, node.lineno))

    def visit_If(self, node: ast.If) -> None:
        self._in_block(self._visit_if, node)

    def _visit_if(self, node: ast.If) -> None:
        if self.function_stack:
            self.generic_visit(node)
            return
        branches = _type_checking_branches(node)
        if branches is None:
            branches = ([], node.body + node.orelse)
        self.scope_stack.append("type-checking")
        for stmt in branches[0]:
            self.visit(stmt)
        self.scope_stack[-1] = "conditional"
        for stmt in branches[1]:
            self.visit(stmt)
        self.scope_stack.pop()

    def _in_block(self, visit, node) -> None:
        self.blocks += 1
        try:
            visit(node)
        finally:
            self.blocks -= 1

    def visit_Try(self, node: ast.Try) -> None:
        self._in_block(self._visit_try, node)

    def _visit_try(self, node: ast.Try) -> None:
        if self.function_stack:
            self.generic_visit(node)
            return
        for stmt in node.body:
            self.visit(stmt)
        self.scope_stack.append("conditional")
        for handler in node.handlers:
            for stmt in handler.body:
                self.visit(stmt)
        for stmt in node.orelse + node.finalbody:
            self.visit(stmt)
        self.scope_stack.pop()

    visit_TryStar = visit_Try

    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        qual = ".".join(self.function_stack + [node.name]) if self.function_stack else node.name
        if not self.function_stack and not self.scope_stack:
            self._bind(node.name, LocalBinding("def", node.lineno))
        if not self.function_stack and not self.scope_stack and not self.blocks:
            self.facts.top_level.append((node.name, _first_line(node), node.end_lineno or node.lineno, "def"))
        self.function_stack.append(qual)
        for stmt in node.body:
            self.visit(stmt)
        self.function_stack.pop()

    visit_FunctionDef = _visit_function
    visit_AsyncFunctionDef = _visit_function

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        if self.function_stack:
            # classes inside functions are local helpers (or what a base factory returns);
            # their bodies still use metadata
            self.facts.local_classes.setdefault(self.function_stack[-1], {})[node.name] = tuple(node.bases)
            fact = _class_fact(node)
            if fact.tablename or fact.table_call:
                self.facts.local_mapped.append((self.function_stack[-1], fact))
            self.generic_visit(node)
            return
        fact = _class_fact(node)
        self.facts.classes.append(fact)
        self._bind(node.name, LocalBinding("class", node.lineno))
        if not self.scope_stack and not self.blocks:
            self.facts.top_level.append((node.name, _first_line(node), node.end_lineno or node.lineno, "class"))
        # methods may use metadata, imports...
        self.scope_stack.append("class")
        for stmt in node.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.function_stack.append(f"{node.name}.{stmt.name}")
                for s in stmt.body:
                    self.visit(s)
                self.function_stack.pop()
            elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
                self.visit(stmt)
        self.scope_stack.pop()

    def visit_For(self, node: ast.For) -> None:
        if isinstance(node.target, ast.Name) and isinstance(node.iter, (ast.List, ast.Tuple)) and any(
                _loop_metadata_call(node.target.id, n) for stmt in node.body for n in ast.walk(stmt)):
            function = self.function_stack[-1] if self.function_stack else None
            self.facts.metadata_loops.append(MetadataLoop(node.lineno, tuple(node.iter.elts), function))
        self.generic_visit(node)

    def visit_Return(self, node: ast.Return) -> None:
        if self.function_stack and node.value is not None:
            self.facts.function_returns.setdefault(self.function_stack[-1], []).append(node.value)
        self.generic_visit(node)

    def _assign(self, node: ast.stmt, targets: list[ast.expr], value: ast.expr | None) -> None:
        at_top = not self.function_stack and self._scope() != "class"
        module = import_module_call(value)
        for t in targets:
            if isinstance(t, ast.Name):
                # ``orm = importlib.import_module("sqlalchemy.orm")`` binds ``orm`` as
                # ``import sqlalchemy.orm as orm`` would (the statement stays an assignment)
                binding = ImportBinding(0, module, None, node.lineno) if module else LocalBinding("assign", node.lineno, value)
                if at_top or module is not None:
                    self._bind(t.id, binding)
                if at_top:
                    if not self.scope_stack and not self.blocks:
                        self.facts.top_level.append((t.id, node.lineno, node.end_lineno or node.lineno, "assign"))
                    if value is not None:
                        self.facts.assigns.append(AssignFact(t.id, node.lineno, node.end_lineno or node.lineno, value))
                    if t.id == "__all__" and isinstance(value, (ast.List, ast.Tuple)):
                        self.facts.all_names = tuple(
                            e.value for e in value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)
                        )
                if t.id == "target_metadata" and value is not None:
                    self.facts.target_metadata.append(TargetMetadataFact(node.lineno, value))
            if isinstance(value, ast.Call):
                table = _table_fact(t.id if isinstance(t, ast.Name) else None, value)
                if table is not None:
                    self.facts.tables.append(table)
        if value is not None:
            self.visit(value)

    def visit_Assign(self, node: ast.Assign) -> None:
        self._assign(node, node.targets, node.value)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._assign(node, [node.target], node.value)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Attribute) and func.value.attr == "metadata":
            bind = node.args[0] if node.args else _kw(node, "bind")
            self._metadata_use(func.value.value, func.attr, unparse(bind) if bind is not None else None, node)
        else:
            # ``run_sync(Base.metadata.create_all)``: a method passed as a value
            for arg in node.args:
                if isinstance(arg, ast.Attribute) and isinstance(arg.value, ast.Attribute) and arg.value.attr == "metadata":
                    self._metadata_use(arg.value.value, arg.attr, None, arg)
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if (
            isinstance(node.value, ast.Attribute)
            and node.value.attr == "metadata"
            and node.attr in ("tables", "sorted_tables")
        ):
            self._metadata_use(node.value.value, node.attr, None, node)
        self.generic_visit(node)

    def _metadata_use(self, owner: ast.expr, attr: str, bind: str | None, node: ast.expr) -> None:
        self.facts.metadata_uses.append(
            MetadataUse(owner, attr, bind, node.lineno, node.end_lineno or node.lineno, node.col_offset,
                        self.function_stack[-1] if self.function_stack else None, self.statement_line)
        )

    def visit_Expr(self, node: ast.Expr) -> None:
        if not self.function_stack and not self.scope_stack and isinstance(node.value, ast.Call):
            table = _table_fact(None, node.value)
            if table is not None:
                self.facts.tables.append(table)
        self.generic_visit(node)


def _first_line(node: ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    return node.decorator_list[0].lineno if node.decorator_list else node.lineno


def read_facts(path: str, tree: ast.Module, statements_only: bool = False) -> FileFacts:
    """The facts of one parsed file. ``statements_only`` skips looking inside expressions (for
    metadata uses): right for files the pre-filter found no SQLAlchemy words in."""
    facts = FileFacts(path=path)
    reader = _Reader(facts, statements_only)
    for stmt in tree.body:
        reader.visit(stmt)
    return facts


def _loop_metadata_call(var: str, node: ast.AST) -> bool:
    """``var.metadata.create_all`` / ``var.create_all`` (and ``drop_all``)."""
    if not isinstance(node, ast.Attribute) or node.attr not in ("create_all", "drop_all"):
        return False
    owner = node.value
    if isinstance(owner, ast.Attribute) and owner.attr == "metadata":
        owner = owner.value
    return isinstance(owner, ast.Name) and owner.id == var
