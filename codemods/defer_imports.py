"""UB002's ``DeferImports``: module-level imports of names used only in function annotations
go under ``if TYPE_CHECKING:``, so importing the module no longer runs them (the plan proved
they would close an import cycle, and that nothing else reads the names at run time).

* each top-level import line loses the aliases binding one of ``op.names`` (the line goes when
  none is left, its blank lines and comments passing to the next statement);
* those aliases, spelt as they were, join the module's first top-level ``if TYPE_CHECKING:``
  (one is made after the header imports, with ``from typing import TYPE_CHECKING``, when there
  is none);
* with ``op.quote`` (no ``from __future__ import annotations``), each parameter and return
  annotation naming one of them becomes a string.

What it does not do: touch imports inside functions, classes or other blocks, or any other
use of the names (the plan refuses a name used another way). Run twice, it changes nothing.
"""

from __future__ import annotations

import libcst as cst

from unibase.codemods._imports import add_type_checking_imports, first_party
from unibase.codemods._nodes import quoted, walk
from unibase.codemods._statements import alias_bound, header_end, import_keys, is_import
from unibase.plan import DeferImports

_CODE = cst.Module([]).code_for_node


class DeferImportsCommand:
    def __init__(self, op: DeferImports) -> None:
        self.op = op
        self.names = set(op.names)

    def transform(self, module: cst.Module) -> cst.Module:
        body: list[cst.CSTNode] = []
        texts: list[str] = []
        carried: list[cst.EmptyLine] = []  # the leading lines of a line that went
        for stmt in module.body:
            if carried:
                # blank lines stay between imports; before other code the new block brings its own
                lines = carried if is_import(stmt) else [x for x in carried if x.comment is not None]
                stmt = stmt.with_changes(leading_lines=[*lines, *stmt.leading_lines])
                carried = []
            if not is_import(stmt):
                body.append(stmt)
                continue
            kept, moved = self._split(stmt)  # type: ignore[arg-type]
            texts += moved
            if kept is not None:
                body.append(kept)
            else:
                carried = list(stmt.leading_lines)
        if not texts:
            return module
        present = set().union(*(import_keys(s) for s in body if is_import(s)))  # type: ignore[arg-type]
        add_type_checking_imports(body, header_end(body), texts, present, first_party(self.op.file))
        out = module.with_changes(body=body)
        return out.visit(_QuoteSignatures(self.names)) if self.op.quote else out

    def _split(self, stmt: cst.SimpleStatementLine) -> tuple[cst.SimpleStatementLine | None, list[str]]:
        """The line without the aliases of ``names`` (None when nothing is left), and those
        aliases as import statements."""
        small_kept: list[cst.BaseSmallStatement] = []
        moved: list[str] = []
        for small in stmt.body:
            if not isinstance(small, (cst.Import, cst.ImportFrom)) or isinstance(small.names, cst.ImportStar):
                small_kept.append(small)
                continue
            names = [a for a in small.names if alias_bound(a) not in self.names]
            gone = [a for a in small.names if alias_bound(a) in self.names]
            if not gone:
                small_kept.append(small)
                continue
            spelt = [_CODE(a.with_changes(comma=cst.MaybeSentinel.DEFAULT)) for a in gone]
            if isinstance(small, cst.ImportFrom):
                module = "." * len(small.relative) + (_CODE(small.module) if small.module is not None else "")
                moved.append(f"from {module} import {', '.join(spelt)}")
            else:
                moved.append(f"import {', '.join(spelt)}")
            if names:
                names[-1] = names[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
                small_kept.append(small.with_changes(names=names))
        if not small_kept:
            return None, moved
        small_kept[-1] = small_kept[-1].with_changes(semicolon=cst.MaybeSentinel.DEFAULT)
        return stmt.with_changes(body=small_kept), moved


class _QuoteSignatures(cst.CSTTransformer):
    """Quote the parameter and return annotations that name one of ``names``."""

    def __init__(self, names: set[str]) -> None:
        super().__init__()
        self.names = names

    def _names_one(self, annotation: cst.Annotation | None) -> bool:
        return annotation is not None and any(
            type(n) is cst.Name and n.value in self.names for n, _ in walk(annotation))

    def leave_Param(self, original_node: cst.Param, updated_node: cst.Param) -> cst.Param:
        if self._names_one(updated_node.annotation):
            return updated_node.with_changes(annotation=quoted(updated_node.annotation))  # type: ignore[arg-type]
        return updated_node

    def leave_FunctionDef(self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef) -> cst.FunctionDef:
        if self._names_one(updated_node.returns):
            return updated_node.with_changes(returns=quoted(updated_node.returns))  # type: ignore[arg-type]
        return updated_node
