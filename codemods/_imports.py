"""Adding imports to a module the way its own imports are written.

An import unibase adds joins the module's leading block of imports: names go into an existing
``from m import ...`` line of the same module (in that line's order when its names are sorted),
and a new statement goes into its section (``__future__``, the standard library, outside
packages, the project) at its sorted place when that section is sorted, else after the
section's last import; a section the module does not have yet is made, a blank line apart,
after the sections that come before it.

What it does not do: reorder or regroup imports the module already has, or read any isort or
ruff settings (the module's own order is the only guide).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import libcst as cst

from unibase.codemods._nodes import walk
from unibase.codemods._statements import alias_bound, import_keys, is_import, is_type_checking_block

_CODE = cst.Module([]).code_for_node


def _module_of(stmt: cst.SimpleStatementLine) -> tuple[bool, int, str]:
    """(is a ``from`` import, relative level, dotted module) of the statement's first import."""
    small = stmt.body[0]
    if isinstance(small, cst.ImportFrom):
        return True, len(small.relative), _CODE(small.module) if small.module is not None else ""
    assert isinstance(small, cst.Import)
    return False, 0, _CODE(small.names[0].name)


def section(stmt: cst.SimpleStatementLine, first_party: str | None) -> int:
    """0 ``__future__``, 1 the standard library, 2 outside packages, 3 the project."""
    _, level, module = _module_of(stmt)
    top = module.partition(".")[0]
    if level or (first_party and top == first_party):
        return 3
    if top == "__future__":
        return 0
    return 1 if top in sys.stdlib_module_names else 2


def _sort_keys(stmt: cst.SimpleStatementLine) -> tuple[tuple, tuple]:
    """isort's two usual orders: ``import x`` lines first, or both kinds by module."""
    is_from, level, module = _module_of(stmt)
    spelled = "." * level + module.lower()
    return (is_from, spelled), (spelled, is_from)


def place_import(body: list[cst.CSTNode], end: int, stmt: cst.SimpleStatementLine, first_party: str | None) -> None:
    """Insert ``stmt`` into the imports of ``body[:end]`` (the module's leading block) where the
    module's own order puts it; at ``end`` when there are none."""
    imports = [k for k in range(end) if is_import(body[k])]
    if not imports:
        body.insert(end, stmt)
        return
    mine = section(stmt, first_party)
    same = [k for k in imports if section(body[k], first_party) == mine]  # type: ignore[arg-type]
    if same:
        run = same
        for which in (0, 1):
            keys = [_sort_keys(body[k])[which] for k in run]  # type: ignore[arg-type]
            if keys == sorted(keys):
                new = _sort_keys(stmt)[which]
                at = next((k for k, key in zip(run, keys) if key > new), run[-1] + 1)
                break
        else:
            at = run[-1] + 1
        if at == run[0]:  # first of its section: it takes the section's leading lines
            first = body[at]
            body[at] = first.with_changes(leading_lines=[])  # type: ignore[attr-defined]
            stmt = stmt.with_changes(leading_lines=first.leading_lines)  # type: ignore[attr-defined]
        else:
            stmt = stmt.with_changes(leading_lines=[])
        body.insert(at, stmt)
        return
    # a section of its own, a blank line apart when the module keeps its sections apart
    joined = any(b == a + 1 and not body[b].leading_lines  # type: ignore[attr-defined]
                 and section(body[a], first_party) != section(body[b], first_party)  # type: ignore[arg-type]
                 for a, b in zip(imports, imports[1:]))
    gap = [] if joined else [cst.EmptyLine()]
    before = [k for k in imports if section(body[k], first_party) < mine]  # type: ignore[arg-type]
    if before:
        at = before[-1] + 1
        stmt = stmt.with_changes(leading_lines=gap)
        if at < end and is_import(body[at]) and not body[at].leading_lines:  # type: ignore[attr-defined]
            body[at] = body[at].with_changes(leading_lines=gap)  # type: ignore[attr-defined]
    else:  # before every other section: it takes their leading lines
        at = imports[0]
        first = body[at]
        stmt = stmt.with_changes(leading_lines=first.leading_lines)  # type: ignore[attr-defined]
        body[at] = first.with_changes(leading_lines=gap)  # type: ignore[attr-defined]
    body.insert(at, stmt)


def _name_key(name: str) -> tuple[int, str]:
    """isort's ``order_by_type``: CONSTANTS, then Classes, then the rest."""
    kind = 0 if name.isupper() and len(name) > 1 else 1 if name[:1].isupper() else 2
    return kind, name.lower()


def ordered_names(old: Sequence[str], extra: Sequence[str]) -> list[str]:
    """``old`` names of an import line with ``extra`` ones added: at their sorted place when
    ``old`` is sorted (by type, as isort does, or plainly), else after them."""
    for key in (_name_key, str.lower):
        if [key(n) for n in old] == sorted(key(n) for n in old):
            return sorted([*old, *extra], key=lambda n: (key(n), n in extra))
    return [*old, *extra]


def first_party(path: str) -> str | None:
    """The top-level package of a project file's path (``app/models.py`` -> ``app``; a ``src/``
    layout's ``src`` is skipped)."""
    parts = [p for p in path.split("/") if p]
    if parts and parts[0] == "src":
        parts = parts[1:]
    return parts[0] if len(parts) > 1 else None


def _type_checking_block(stmt: cst.CSTNode) -> bool:
    return is_type_checking_block(stmt) and stmt.orelse is None and isinstance(stmt.body, cst.IndentedBlock)  # type: ignore[attr-defined]


def _only_pass(block: cst.If) -> bool:
    body = block.body.body  # type: ignore[attr-defined]
    return all(isinstance(s, cst.SimpleStatementLine) and all(isinstance(x, cst.Pass) for x in s.body) for s in body)


def drop_emptied_type_checking(before: cst.Module, after: cst.Module, *, used_elsewhere: bool = False) -> cst.Module:
    """``after`` without the top-level ``if TYPE_CHECKING:`` blocks that an edit emptied (only
    ``pass`` left where ``before`` had imports), and without the ``TYPE_CHECKING`` import once
    nothing uses it (``used_elsewhere``: a part of the file not in the tree uses it)."""
    emptied = [s for s in after.body if _type_checking_block(s) and _only_pass(s)]  # type: ignore[arg-type]
    if not emptied or any(_type_checking_block(s) and _only_pass(s) for s in before.body):  # type: ignore[arg-type]
        return after  # none emptied, or the module wrote such a block itself: left as it is
    body: list[cst.CSTNode] = []
    carry: list[cst.EmptyLine] = []
    for stmt in after.body:
        if any(stmt is e for e in emptied):
            carry = [line for line in stmt.leading_lines if line.comment is not None]  # type: ignore[attr-defined]
            continue
        if carry:
            stmt = stmt.with_changes(leading_lines=[*stmt.leading_lines, *carry])  # type: ignore[attr-defined]
            carry = []
        body.append(stmt)
    module = after.with_changes(body=body)
    still = any(type(n) is cst.Name and n.value == "TYPE_CHECKING"
                for s in body if not is_import(s) for n in _names(s))
    if still or used_elsewhere:
        return module
    out = []
    for stmt in body:
        if is_import(stmt) and isinstance(small := stmt.body[0], cst.ImportFrom) and len(stmt.body) == 1 \
                and not isinstance(small.names, cst.ImportStar) and _CODE(small.module) == "typing":  # type: ignore[union-attr,arg-type]
            kept = [a for a in small.names if not (_CODE(a.name) == "TYPE_CHECKING" and a.asname is None)]
            if not kept:
                continue
            if len(kept) < len(small.names):
                kept[-1] = kept[-1].with_changes(comma=small.names[-1].comma)
                stmt = stmt.with_changes(body=[small.with_changes(names=kept)])
        out.append(stmt)
    return module.with_changes(body=out)


def _names(root: cst.CSTNode):
    return (node for node, _ in walk(root))


def add_type_checking_imports(body: list[cst.CSTNode], at: int, texts: Sequence[str],
                               present: set[tuple[int, str, str, str]], project: str | None) -> None:
    """Put ``texts`` under the module's first top-level ``if TYPE_CHECKING:`` (made after the
    header imports, with its own import, when there is none)."""
    stmts = [cst.parse_statement(t.strip() + "\n") for t in texts]
    stmts = [x for x in stmts if not import_keys(x) <= present]  # type: ignore[arg-type]  # imported where it runs
    if not stmts:
        return
    for k, stmt in enumerate(body):
        if is_type_checking_block(stmt) and isinstance(stmt.body, cst.IndentedBlock):
            known = set().union(*(import_keys(x) for x in stmt.body.body if is_import(x)))  # type: ignore[arg-type]
            new = [x for x in stmts if not import_keys(x) <= known]  # type: ignore[arg-type]
            if new:
                body[k] = stmt.with_changes(body=stmt.body.with_changes(body=[*stmt.body.body, *new]))
            return
    bound = {key[3] for x in body if is_import(x) for key in import_keys(x)} | {key[3] for key in present}  # type: ignore[arg-type]
    block = cst.parse_statement("if TYPE_CHECKING:\n" + "".join(f"    {cst.Module([]).code_for_node(x)}" for x in stmts))
    block = block.with_changes(leading_lines=[cst.EmptyLine()])
    if "TYPE_CHECKING" not in bound:
        name = cst.parse_statement("from typing import TYPE_CHECKING\n")
        if not merge_into_header(body, at, name, present):
            place_import(body, at, name, project)  # type: ignore[arg-type]
            at += 1
    body.insert(at, block)


def merge_into_header(body: list[cst.CSTNode], end: int, stmt: cst.CSTNode,
                       present: set[tuple[int, str, str, str]]) -> bool:
    """Add the names of ``from m import a`` to a ``from m import ...`` line of the header
    (``body[:end]``), in that line's style; False when there is none to add them to."""
    if not (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1
            and isinstance(new := stmt.body[0], cst.ImportFrom) and not isinstance(new.names, cst.ImportStar)):
        return False
    key = (len(new.relative), cst.Module([]).code_for_node(new.module) if new.module is not None else "")
    for k in range(end):
        line = body[k]
        if not (isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1
                and isinstance(old := line.body[0], cst.ImportFrom) and not isinstance(old.names, cst.ImportStar)
                and line.trailing_whitespace.comment is None):  # ``# noqa`` and the like speak of that line
            continue
        if (len(old.relative), cst.Module([]).code_for_node(old.module) if old.module is not None else "") != key:
            continue
        extra = [a for a in new.names if (*key, *import_key_names(a)) not in present]
        items = [*((a, i) for i, a in enumerate(old.names)), *((a, None) for a in extra)]
        order = ordered_names([_CODE(a.name) for a in old.names], [_CODE(a.name) for a in extra])
        items.sort(key=lambda item: order.index(_CODE(item[0].name)))
        body[k] = line.with_changes(body=[with_aliases(old, items)])
        return True
    return False


def import_key_names(alias: cst.ImportAlias) -> tuple[str, str]:
    return cst.Module([]).code_for_node(alias.name), alias_bound(alias)


def with_aliases(stmt: cst.ImportFrom, items: Sequence[tuple[cst.ImportAlias, int | None]]) -> cst.ImportFrom:
    """``stmt`` importing ``items`` (alias, index in ``stmt.names`` or None), commas in its style."""
    names: Sequence[cst.ImportAlias] = stmt.names  # type: ignore[assignment]
    last = len(names) - 1
    between = names[0].comma if last else cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    out = []
    for k, (alias, i) in enumerate(items):
        if k == len(items) - 1:
            comma = names[-1].comma
        elif i is not None and i != last:
            comma = alias.comma
        else:
            comma = between
        out.append(alias.with_changes(comma=comma))
    return stmt.with_changes(names=out)
