"""The top-level statements of a LibCST module: what each binds and uses, which are imports, where
the leading imports end, and pruning names from imports (their blank lines and comments kept).

Shared by the codemods; pure functions of trees, no file access. What it does not do: look
inside function or class bodies, except where a function says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import libcst as cst

from unibase.codemods._nodes import walk

_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")


def stmt_names(stmt: cst.CSTNode) -> set[str]:
    """Top-level names a statement binds (class, def, simple assignment)."""
    if isinstance(stmt, (cst.ClassDef, cst.FunctionDef)):
        return {stmt.name.value}
    if isinstance(stmt, cst.SimpleStatementLine):
        names = set()
        for small in stmt.body:
            if isinstance(small, cst.Assign):
                for t in small.targets:
                    if isinstance(t.target, cst.Name):
                        names.add(t.target.value)
            elif isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name):
                names.add(small.target.value)
        return names
    return set()


class _NestedDefinition(cst.CSTTransformer):
    """Replace the statements that define ``name`` inside a module-level ``if`` block (``if
    TYPE_CHECKING: ... else: Base = declarative_base()``) by ``replacement``. Function and class
    bodies are not entered, nor ``try`` blocks: ``try: from .db import Base`` / ``except
    ImportError: Base = declarative_base()`` is a fallback whose meaning depends on the machine."""

    def __init__(self, name: str, replacement: cst.SimpleStatementLine) -> None:
        self.name = name
        self.replacement = replacement
        self.replaced = 0

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def visit_Try(self, node: cst.Try) -> bool:
        return False

    def _replace(self, updated):
        if stmt_names(updated) == {self.name} and not is_import(updated):
            self.replaced += 1
            return self.replacement.with_changes(leading_lines=updated.leading_lines)
        return updated

    def leave_SimpleStatementLine(self, original, updated):
        return self._replace(updated)

    def leave_ClassDef(self, original, updated):
        return self._replace(updated)


def replace_nested_definition(module: cst.Module, name: str, import_text: str) -> tuple[cst.Module, bool]:
    """When ``name`` is defined only inside module-level ``if`` blocks, replace each of those
    definitions by the import ``import_text``, in place; True when something changed."""
    if any(stmt_names(s) == {name} and not is_import(s) for s in module.body):
        return module, False
    replacer = _NestedDefinition(name, cst.parse_statement(import_text))  # type: ignore[arg-type]
    body = [s.visit(replacer) if isinstance(s, cst.If) else s for s in module.body]
    return (module.with_changes(body=body), True) if replacer.replaced else (module, False)


def used_names(nodes: Iterable[cst.CSTNode], *, strings: bool = False) -> set[str]:
    """Every name the nodes mention; with ``strings``, also every identifier inside a plain
    string (a quoted annotation may be the only use of an import: keeping one too many is safe)."""
    found: set[str] = set()
    for root in nodes:
        for node, parent in walk(root):
            if type(node) is cst.Name:
                if not (type(parent) is cst.Attribute and parent.attr is node):  # ``x.name`` uses x only
                    found.add(node.value)
            elif strings and type(node) is cst.SimpleString and type(parent) is not cst.Expr:
                # a string statement (a docstring) names nothing; an annotation or argument may
                found.update(_IDENTIFIER.findall(node.raw_value))
    return found


def is_import(stmt: cst.CSTNode) -> bool:
    return isinstance(stmt, cst.SimpleStatementLine) and any(
        isinstance(s, (cst.Import, cst.ImportFrom)) for s in stmt.body
    )


def is_docstring(stmt: cst.CSTNode) -> bool:
    return (
        isinstance(stmt, cst.SimpleStatementLine)
        and len(stmt.body) == 1
        and isinstance(stmt.body[0], cst.Expr)
        and isinstance(stmt.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


def is_future(stmt: cst.CSTNode) -> bool:
    return (
        isinstance(stmt, cst.SimpleStatementLine)
        and isinstance(stmt.body[0], cst.ImportFrom)
        and isinstance(stmt.body[0].module, cst.Name)
        and stmt.body[0].module.value == "__future__"
    )


def header_end(body: Sequence[cst.CSTNode]) -> int:
    """The index after the module docstring and the leading block of imports."""
    i = 1 if body and is_docstring(body[0]) else 0
    while i < len(body) and is_import(body[i]):
        i += 1
    return i


def alias_bound(alias: cst.ImportAlias) -> str:
    if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
        return alias.asname.name.value
    return cst.Module([]).code_for_node(alias.name).split(".")[0]


def import_bound_list(stmt: cst.SimpleStatementLine) -> list[str]:
    names = []
    for small in stmt.body:
        if isinstance(small, (cst.Import, cst.ImportFrom)) and not isinstance(small.names, cst.ImportStar):
            names.extend(alias_bound(alias) for alias in small.names)
    return names


def import_bound_names(stmt: cst.SimpleStatementLine) -> set[str]:
    return set(import_bound_list(stmt))


def import_keys(stmt: cst.SimpleStatementLine) -> set[tuple[int, str, str, str]]:
    """(level, module, name, local name) of each alias: what the statement imports, however spelt."""
    code = cst.Module([]).code_for_node
    keys = set()
    for small in stmt.body:
        if isinstance(small, cst.ImportFrom) and not isinstance(small.names, cst.ImportStar):
            module = code(small.module) if small.module is not None else ""
            keys |= {(len(small.relative), module, code(a.name), alias_bound(a)) for a in small.names}
        elif isinstance(small, cst.Import):
            keys |= {(-1, "", code(a.name), alias_bound(a)) for a in small.names}
    return keys


def prune_import(stmt: cst.SimpleStatementLine, drop: set[str]) -> cst.SimpleStatementLine | None:
    """Remove the aliases of ``stmt`` that bind a name in ``drop``; None when nothing is left."""
    body = []
    for small in stmt.body:
        if isinstance(small, (cst.Import, cst.ImportFrom)) and not isinstance(small.names, cst.ImportStar):
            kept = [alias for alias in small.names if alias_bound(alias) not in drop]
            if not kept:
                continue
            if len(kept) < len(small.names):
                # the last alias keeps the original last one's comma: a trailing comma and the
                # line break before ``)`` survive, and an unparenthesized import gets none
                kept[-1] = kept[-1].with_changes(comma=small.names[-1].comma)
                small = small.with_changes(names=kept)
        body.append(small)
    if not body:
        return None
    if len(body) < len(stmt.body):
        body[-1] = body[-1].with_changes(semicolon=cst.MaybeSentinel.DEFAULT)
    return stmt.with_changes(body=body)


def merge_lines(first: Sequence[cst.EmptyLine], then: Sequence[cst.EmptyLine]) -> list[cst.EmptyLine]:
    """``first`` (a removed statement's leading lines) before ``then``, without piling up blank
    lines: a run of blank lines is no longer than the longest run in either part."""

    def longest(lines: Sequence[cst.EmptyLine]) -> int:
        best = run = 0
        for line in lines:
            run = run + 1 if line.comment is None else 0
            best = max(best, run)
        return best

    cap = max(longest(first), longest(then))
    out: list[cst.EmptyLine] = []
    run = 0
    for line in [*first, *then]:
        run = run + 1 if line.comment is None else 0
        if run <= cap:
            out.append(line)
    return out


def prune_imports(body: Sequence[cst.CSTNode], drop: set[str], protect: Sequence[cst.CSTNode] = ()) -> list[cst.CSTNode]:
    """Prune the top-level imports of ``body`` (not the ``protect`` ones) of the names in
    ``drop``; the blank lines and comments above an import that goes move to the next statement."""
    out: list[cst.CSTNode] = []
    carry: list[cst.EmptyLine] = []
    for stmt in body:
        if is_import_block(stmt):  # ``if TYPE_CHECKING:`` imports: pruned alike, gone when empty
            inner = prune_imports(stmt.body.body, drop)  # type: ignore[attr-defined]
            if not inner:
                carry = merge_lines(carry, stmt.leading_lines)  # type: ignore[attr-defined]
                continue
            stmt = stmt.with_changes(body=stmt.body.with_changes(body=inner))  # type: ignore[attr-defined]
        elif (
            isinstance(stmt, cst.SimpleStatementLine)
            and is_import(stmt)
            and not any(stmt is p for p in protect)
            and import_bound_names(stmt) & drop
        ):
            new = prune_import(stmt, drop)
            if new is None:
                carry = merge_lines(carry, stmt.leading_lines)
                continue
            stmt = new
        if carry:
            stmt = stmt.with_changes(leading_lines=merge_lines(carry, stmt.leading_lines))  # type: ignore[attr-defined]
            carry = []
        out.append(stmt)
    return out


def strip_leading_blanks(body: list[cst.CSTNode], original: Sequence[cst.CSTNode]) -> None:
    """A module whose first statement changed should not start with blank lines it never had."""
    if not body or (original and body[0] is original[0]):
        return
    was = original[0].leading_lines if original else ()  # type: ignore[attr-defined]
    if was and was[0].comment is None:
        return
    lines = list(body[0].leading_lines)  # type: ignore[attr-defined]
    while lines and lines[0].comment is None:
        lines.pop(0)
    body[0] = body[0].with_changes(leading_lines=lines)


def is_import_block(stmt: cst.CSTNode) -> bool:
    """A top-level ``if TYPE_CHECKING:`` of imports only, without ``else``."""
    return (is_type_checking_block(stmt) and stmt.orelse is None  # type: ignore[attr-defined]
            and isinstance(stmt.body, cst.IndentedBlock)  # type: ignore[attr-defined]
            and all(is_import(s) for s in stmt.body.body))  # type: ignore[attr-defined]


def is_type_checking_block(stmt: cst.CSTNode) -> bool:
    if not isinstance(stmt, cst.If):
        return False
    test = stmt.test
    return (isinstance(test, cst.Name) and test.value == "TYPE_CHECKING") or (
        isinstance(test, cst.Attribute) and test.attr.value == "TYPE_CHECKING")


def generating_registry(stmt: cst.CSTNode | None) -> str | None:
    """``reg`` when ``stmt`` is ``Base = reg.generate_base(...)``."""
    if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(a := stmt.body[0], cst.Assign):
        call = a.value
        if (isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute) and call.func.attr.value == "generate_base"
                and isinstance(call.func.value, cst.Name)):
            return call.func.value.value
    return None


def assigns_registry(stmt: cst.CSTNode, name: str) -> bool:
    """``stmt`` is ``name = registry(...)`` (or ``orm.registry(...)``)."""
    if not (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(a := stmt.body[0], cst.Assign)):
        return False
    func = a.value.func if isinstance(a.value, cst.Call) else None
    called = func.value if isinstance(func, cst.Name) else func.attr.value if isinstance(func, cst.Attribute) else None
    return called == "registry" and [t.target for t in a.targets if isinstance(t.target, cst.Name) and t.target.value == name] != []


def imports_from(stmt: cst.CSTNode, spelling: tuple[int, str]) -> bool:
    return isinstance(stmt, cst.SimpleStatementLine) and any(
        isinstance(s, cst.ImportFrom)
        and (len(s.relative), cst.Module([]).code_for_node(s.module) if s.module is not None else "") == spelling
        for s in stmt.body
    )


def all_names(module: cst.Module) -> set[str]:
    for stmt in module.body:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if (
                    isinstance(small, cst.Assign)
                    and any(isinstance(t.target, cst.Name) and t.target.value == "__all__" for t in small.targets)
                    and isinstance(small.value, (cst.List, cst.Tuple))
                ):
                    return {
                        e.value.evaluated_value
                        for e in small.value.elements
                        if isinstance(e.value, cst.SimpleString) and isinstance(e.value.evaluated_value, str)
                    }
    return set()
