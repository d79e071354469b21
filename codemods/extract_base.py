"""UB001 (prelude): give an anonymous declarative base a name.

``class BaseModel(declarative_base()):`` makes a base nobody can import: the registry is the
anonymous class ``declarative_base()`` returns, and ``BaseModel`` is an abstract subclass that
usually adds columns. Models moved from another base must join the registry *without*
inheriting those columns, so this step writes::

    Base = declarative_base()


    class BaseModel(Base):

The call keeps its arguments (``declarative_base(metadata=meta)``); the class keeps its
decorators, comments and other bases.

What it does not do: change ``BaseModel`` in any other way, or touch other files. It leaves
the module alone when the class (at the top level) has no call among its bases, when it has
several and none is ``declarative_base(...)``/``generate_base(...)``, or when the new name is
already bound at the top level.
"""

from __future__ import annotations

import libcst as cst

from unibase.codemods._statements import import_bound_names, is_import, stmt_names
from unibase.plan import ExtractBase


DESCRIPTION = "Name the anonymous base of `class X(declarative_base())` so other models can share it."

_FACTORIES = ("declarative_base", "generate_base")


def _factory_name(call: cst.Call) -> str | None:
    func = call.func
    return func.value if isinstance(func, cst.Name) else func.attr.value if isinstance(func, cst.Attribute) else None


class ExtractBaseCommand:
    DESCRIPTION = DESCRIPTION

    def __init__(self, op: ExtractBase) -> None:
        self.op = op

    def transform(self, module: cst.Module) -> cst.Module:
        new_name = self.op.new_name
        body = list(module.body)
        bound = set().union(*(
            import_bound_names(s) if is_import(s) else stmt_names(s) for s in body  # type: ignore[arg-type]
        ))
        for i, stmt in enumerate(body):
            if not (isinstance(stmt, cst.ClassDef) and stmt.name.value == self.op.class_name):
                continue
            calls = [j for j, arg in enumerate(stmt.bases) if isinstance(arg.value, cst.Call) and not arg.star]
            if len(calls) > 1:
                calls = [j for j in calls if _factory_name(stmt.bases[j].value) in _FACTORIES]  # type: ignore[arg-type]
            if len(calls) != 1 or new_name in bound:
                return module
            j = calls[0]
            arg = stmt.bases[j]
            assign = cst.SimpleStatementLine(
                [cst.Assign([cst.AssignTarget(cst.Name(new_name))], arg.value)],
                # the blank lines above the class go above the assignment; its comments stay
                # with the class they describe
                leading_lines=[line for line in stmt.leading_lines if line.comment is None],
            )
            bases = list(stmt.bases)
            bases[j] = arg.with_changes(value=cst.Name(new_name))
            new_cls = stmt.with_changes(
                bases=bases,
                leading_lines=[cst.EmptyLine(), cst.EmptyLine(), *(l for l in stmt.leading_lines if l.comment is not None)],
            )
            body[i : i + 1] = [assign, new_cls]
            return module.with_changes(body=body)
        return module
