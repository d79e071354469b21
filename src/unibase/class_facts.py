"""The facts of one class definition or ``Table(...)`` call: columns, foreign keys, relationships,
``__tablename__``, ``__table_args__``... read from its syntax tree (see :mod:`unibase.facts`)."""

from __future__ import annotations

import ast

from .facts import (
    ClassFact,
    ColumnFact,
    ForeignKeyFact,
    RelationshipFact,
    TableFact,
    _const_str,
    _flat_body,
    _kw,
    _truthy,
    alternatives,
    call_name,
    unparse,
    walk,
)

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
