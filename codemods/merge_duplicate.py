"""UB001 (duplicate tables, ``union``): the kept class gains the deleted class's extra members.

When one table was defined on two bases and the plan keeps one definition with mode
``union``, the columns and methods that only the other definition had are appended to the kept
class's body (in their original order, with their comments), and the imports they need are
added to the module. The deleted class itself is removed by the move step.

What it does not do: reconcile two definitions of the same member (the planner refuses a
``union`` that would need it), change the kept class's existing columns, or write the
migration (UB006).
"""

from __future__ import annotations

import libcst as cst

from unibase.plan import MergeDuplicate

from .move_models import _is_docstring, _is_import

DESCRIPTION = "Give the kept definition of a duplicated table the other definition's extra columns and methods."


def _member_names(body: cst.BaseSuite) -> set[str]:
    names = set()
    for stmt in getattr(body, "body", ()):
        if isinstance(stmt, cst.FunctionDef):
            names.add(stmt.name.value)
        elif isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if isinstance(small, cst.Assign):
                    names |= {t.target.value for t in small.targets if isinstance(t.target, cst.Name)}
                elif isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name):
                    names.add(small.target.value)
    return names


class MergeDuplicateCommand:
    DESCRIPTION = DESCRIPTION

    def __init__(self, op: MergeDuplicate) -> None:
        self.op = op

    def transform(self, module: cst.Module) -> cst.Module:
        op = self.op
        body = list(module.body)
        for i, stmt in enumerate(body):
            if not (isinstance(stmt, cst.ClassDef) and stmt.name.value == op.class_name):
                continue
            present = _member_names(stmt.body)
            added = []
            for text in op.statements:
                new = cst.parse_module(text).body
                for node in new:
                    names = _member_names(cst.IndentedBlock(body=[node]))
                    if names and names <= present:
                        continue  # already there: a second run adds nothing
                    if isinstance(node, cst.FunctionDef) and not added:
                        node = node.with_changes(leading_lines=[cst.EmptyLine()] + list(node.leading_lines))
                    added.append(node)
            if not added:
                return module
            suite = stmt.body
            assert isinstance(suite, cst.IndentedBlock)
            body[i] = stmt.with_changes(body=suite.with_changes(body=list(suite.body) + added))
            existing = {module.code_for_node(s).strip() for s in body if _is_import(s)}
            new_imports = [cst.parse_statement(t + "\n") for t in op.imports if t.strip() not in existing]
            if new_imports:
                last = max((j for j, s in enumerate(body) if _is_import(s)), default=-1)
                if last < 0:
                    last = 0 if body and _is_docstring(body[0]) else -1
                body[last + 1 : last + 1] = new_imports
            return module.with_changes(body=body)
        return module
