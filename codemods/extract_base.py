"""UB001 (prelude): give an anonymous declarative base a name.

``class BaseModel(declarative_base()):`` makes a base nobody can import: the registry is the
anonymous class ``declarative_base()`` returns, and ``BaseModel`` is an abstract subclass that
usually adds columns. Models moved from another base must join the registry *without*
inheriting those columns, so this step writes::

    Base = declarative_base()


    class BaseModel(Base):

What it does not do: change ``BaseModel`` in any other way, or touch other files.
"""

from __future__ import annotations

import libcst as cst

from unibase.plan import ExtractBase

DESCRIPTION = "Name the anonymous base of `class X(declarative_base())` so other models can share it."


class ExtractBaseCommand:
    DESCRIPTION = DESCRIPTION

    def __init__(self, op: ExtractBase) -> None:
        self.op = op

    def transform(self, module: cst.Module) -> cst.Module:
        body = list(module.body)
        for i, stmt in enumerate(body):
            if not (isinstance(stmt, cst.ClassDef) and stmt.name.value == self.op.class_name):
                continue
            for j, arg in enumerate(stmt.bases):
                if isinstance(arg.value, cst.Call):
                    call_src = module.code_for_node(arg.value)
                    assign = cst.parse_statement(f"{self.op.new_name} = {call_src}\n")
                    assign = assign.with_changes(leading_lines=stmt.leading_lines)
                    bases = list(stmt.bases)
                    bases[j] = arg.with_changes(value=cst.Name(self.op.new_name))
                    new_cls = stmt.with_changes(
                        bases=bases, leading_lines=[cst.EmptyLine(), cst.EmptyLine()]
                    )
                    body[i : i + 1] = [assign, new_cls]
                    return module.with_changes(body=body)
        return module
