"""UB007: give a Flask-SQLAlchemy object the canonical base as its model class.

What it does, in the one module that defines ``db = SQLAlchemy(...)`` (or ``db: SQLAlchemy =
SQLAlchemy(...)``, ``flask_sqlalchemy.SQLAlchemy(...)``; a call spelt otherwise is left): adds the keyword ``model_class=Base`` to the call, keeping every other
argument (``app``, ``session_options``...), and removes the arguments the plan lists as made
redundant by it (``metadata=Base.metadata``). When the plan says so it adds
``from <module> import Base`` after the module's header imports, and when the base is defined
below the object in the same module it moves the statement (with its comments) to just below
the base's definition, since the call now needs it.

What it does not do: decide whether the object and the base are one database (the planner
does), touch a call that already has a ``model_class``, rewrite other modules, or change
``db.Model`` subclasses: they keep subclassing ``db.Model``, which now shares the base's
registry and metadata.
"""

from __future__ import annotations

import libcst as cst

from unibase.codemods._imports import first_party, place_import
from unibase.codemods._statements import header_end, import_bound_names, is_import, stmt_names
from unibase.plan import UnifyFlaskModel


DESCRIPTION = "Pass the canonical base to SQLAlchemy(model_class=...) so db.Model shares its registry."


def _call_of(stmt: cst.CSTNode, name: str) -> cst.Call | None:
    if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
        return None
    small = stmt.body[0]
    if isinstance(small, cst.Assign) and len(small.targets) == 1:
        target = small.targets[0].target
    elif isinstance(small, cst.AnnAssign):
        target = small.target
    else:
        return None
    call = small.value
    if isinstance(target, cst.Name) and target.value == name and isinstance(call, cst.Call):
        func = call.func
        spelt = func.value if isinstance(func, cst.Name) else func.attr.value if isinstance(func, cst.Attribute) else ""
        return call if spelt == "SQLAlchemy" else None
    return None


def _with_model_class(call: cst.Call, model_class: str, drop: tuple[str, ...]) -> cst.Call:
    """The call with ``model_class=...`` last (the trailing comma and line breaks kept) and the
    ``drop`` keywords gone."""
    kept = [a for a in call.args if a.keyword is None or a.keyword.value not in drop]
    new = cst.Arg(value=cst.Name(model_class), keyword=cst.Name("model_class"),
                  equal=cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""),
                                        whitespace_after=cst.SimpleWhitespace("")))
    if not kept:
        return call.with_changes(args=[new])
    trailing = kept[-1].comma
    if len(kept) > 1 and isinstance(kept[-2].comma, cst.Comma):
        sep = kept[-2].comma  # the separator the call already uses
    elif isinstance(trailing, cst.Comma) and isinstance(trailing.whitespace_after, cst.ParenthesizedWhitespace):
        sep = trailing.with_changes(whitespace_after=call.whitespace_before_args)  # one argument a line
    else:
        sep = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    return call.with_changes(args=[*kept[:-1], kept[-1].with_changes(comma=sep), new.with_changes(comma=trailing)])


class UnifyFlaskModelCommand:
    DESCRIPTION = DESCRIPTION

    def __init__(self, op: UnifyFlaskModel) -> None:
        self.op = op

    def transform(self, module: cst.Module) -> cst.Module:
        op = self.op
        body = list(module.body)
        at = next((i for i, s in enumerate(body) if _call_of(s, op.name) is not None), None)
        if at is None:
            return module
        call = _call_of(body[at], op.name)
        assert call is not None
        if any(a.keyword is not None and a.keyword.value == "model_class" for a in call.args):
            return module  # already given one: a second run changes nothing
        stmt = body[at].deep_replace(call, _with_model_class(call, op.model_class, op.drop_keywords))
        body[at] = stmt
        if op.after:
            definition = next((i for i, s in enumerate(body) if i > at and stmt_names(s) == {op.after}
                               and not is_import(s)), None)
            if definition is None:
                return module  # the base is not below the object: leave the module as it is
            body.pop(at)
            blanks = [line for line in stmt.leading_lines if line.comment is None][:2]  # type: ignore[attr-defined]
            if at < definition:  # the next statement keeps the blank lines above the moved one
                body[at] = body[at].with_changes(leading_lines=[*blanks, *body[at].leading_lines])
            # below a class, after two blank lines, with the comments that described it
            comments = [line for line in stmt.leading_lines if line.comment is not None]  # type: ignore[attr-defined]
            body.insert(definition, stmt.with_changes(leading_lines=[cst.EmptyLine(), cst.EmptyLine(), *comments]))
        if op.import_name:
            bound = set().union(*(import_bound_names(s) for s in body if is_import(s)))  # type: ignore[arg-type]
            if op.model_class not in bound:
                alias = f" as {op.model_class}" if op.model_class != op.import_name else ""
                text = f"from {'.' * op.import_level}{op.import_from} import {op.import_name}{alias}\n"
                end = min(header_end(body), body.index(stmt) if stmt in body else len(body))
                place_import(body, end, cst.parse_statement(text), first_party(op.file))  # type: ignore[arg-type]
        return module.with_changes(body=body)
