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

from unibase.codemods._imports import first_party, merge_into_header, place_import
from unibase.codemods._statements import header_end, import_keys, is_import, stmt_names
from unibase.plan import MergeDuplicate


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
                    if isinstance(node, cst.FunctionDef) and added:
                        node = node.with_changes(leading_lines=[cst.EmptyLine(indent=False)] + [
                            l for l in node.leading_lines if l.comment is not None])
                    added.append(node)
            if not added:
                return module
            added[0] = added[0].with_changes(leading_lines=[cst.EmptyLine(indent=False)] + [
                l for l in added[0].leading_lines if l.comment is not None])
            suite = stmt.body
            assert isinstance(suite, cst.IndentedBlock)
            body[i] = stmt.with_changes(body=suite.with_changes(body=list(suite.body) + added))
            # helpers the added members need go right before the class (defaults are evaluated
            # when the class is created), unless the module defines them already
            defined = set().union(*(stmt_names(s) for s in body)) if body else set()
            helpers = []
            for text in op.helpers:
                for node in cst.parse_module(text).body:
                    if not (stmt_names(node) and stmt_names(node) <= defined):
                        helpers.append(node)
            if helpers:
                helpers[0] = helpers[0].with_changes(leading_lines=[cst.EmptyLine(indent=False)] * 2 + [
                    l for l in helpers[0].leading_lines if l.comment is not None])
                body[i:i] = helpers
            present = set().union(*(import_keys(s) for s in body if is_import(s)))
            at = header_end(body)
            for text in op.imports:
                imp = cst.parse_statement(text.strip() + "\n")
                keys = import_keys(imp)
                if not keys or not keys <= present:
                    if not merge_into_header(body, at, imp, present):
                        place_import(body, at, imp, first_party(op.file))  # type: ignore[arg-type]
                        at += 1
                    present |= keys
            return module.with_changes(body=body)
        return module
