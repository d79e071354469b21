"""UB001: move the models of a secondary base into the canonical module and leave a shim.

What it does, given a :class:`~unibase.plan.MoveModels` operation and the two modules:

* the classes named by the operation, and the helpers they need (functions, enums,
  constants, custom types, mixins), leave ``source`` and are appended to ``target`` in their
  original order, with their comments, docstrings and methods; each class that subclassed the
  secondary base now subclasses the canonical one;
* classes that clash with a name in ``target`` are renamed there (and in the moved
  relationship strings); classes whose table ``target`` already defines identically are
  dropped;
* the imports the moved code needs are added to ``target`` unless already present;
* ``source`` keeps every other statement (services, pydantic models, functions) and gains one
  import that re-exports the canonical ``Base`` under the old name plus every moved name, so
  old imports keep working; imports that only the moved code used are removed; a module left
  with nothing but imports gets an ``__all__``.

What it does not do: rewrite importers elsewhere (UB002), touch relationship strings outside
the moved classes (UB003), or collapse ``create_all`` calls (UB004). It never reads or writes
files.
"""

from __future__ import annotations

import re

import libcst as cst

from unibase.plan import MoveModels

DESCRIPTION = "Move the models of a secondary base into the canonical module; leave a re-export shim."


def _stmt_names(stmt: cst.CSTNode) -> set[str]:
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


def _used_names(nodes: list[cst.CSTNode]) -> set[str]:
    found: set[str] = set()

    class V(cst.CSTVisitor):
        def visit_Name(self, node: cst.Name) -> None:
            found.add(node.value)

    for n in nodes:
        n.visit(V())
    return found


class _Rename(cst.CSTTransformer):
    """Rename Name nodes, the secondary base, and class names inside strings of moved code."""

    def __init__(self, names: dict[str, str], strings: dict[str, str]) -> None:
        self.names = names
        self.strings = strings
        self.pattern = (
            re.compile(r"(?<![\w.])(" + "|".join(re.escape(k) for k in sorted(strings, key=len, reverse=True)) + r")(?!\w)")
            if strings
            else None
        )

    def leave_Name(self, original: cst.Name, updated: cst.Name) -> cst.Name:
        new = self.names.get(updated.value)
        return updated.with_changes(value=new) if new else updated

    def leave_SimpleString(self, original: cst.SimpleString, updated: cst.SimpleString) -> cst.SimpleString:
        if self.pattern is None:
            return updated
        value = updated.value
        prefix_len = len(updated.prefix)
        quote = updated.quote
        body = value[prefix_len + len(quote) : len(value) - len(quote)]
        new_body = self.pattern.sub(lambda m: self.strings[m.group(1)], body)
        if new_body == body:
            return updated
        return updated.with_changes(value=value[: prefix_len + len(quote)] + new_body + quote)


def _is_import(stmt: cst.CSTNode) -> bool:
    return isinstance(stmt, cst.SimpleStatementLine) and any(
        isinstance(s, (cst.Import, cst.ImportFrom)) for s in stmt.body
    )


def _is_docstring(stmt: cst.CSTNode) -> bool:
    return (
        isinstance(stmt, cst.SimpleStatementLine)
        and len(stmt.body) == 1
        and isinstance(stmt.body[0], cst.Expr)
        and isinstance(stmt.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


def _is_future(stmt: cst.CSTNode) -> bool:
    return (
        isinstance(stmt, cst.SimpleStatementLine)
        and isinstance(stmt.body[0], cst.ImportFrom)
        and isinstance(stmt.body[0].module, cst.Name)
        and stmt.body[0].module.value == "__future__"
    )


def _import_bound_names(stmt: cst.SimpleStatementLine) -> set[str]:
    names = set()
    for small in stmt.body:
        if isinstance(small, (cst.Import, cst.ImportFrom)) and not isinstance(small.names, cst.ImportStar):
            for alias in small.names:
                if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                    names.add(alias.asname.name.value)
                else:
                    names.add(cst.Module([]).code_for_node(alias.name).split(".")[0])
    return names


def _prune_import(stmt: cst.SimpleStatementLine, drop: set[str]) -> cst.SimpleStatementLine | None:
    """Remove the aliases of ``stmt`` that bind a name in ``drop``; None when nothing is left."""
    body = []
    for small in stmt.body:
        if isinstance(small, (cst.Import, cst.ImportFrom)) and not isinstance(small.names, cst.ImportStar):
            kept = []
            for alias in small.names:
                bound = (
                    alias.asname.name.value
                    if alias.asname is not None and isinstance(alias.asname.name, cst.Name)
                    else cst.Module([]).code_for_node(alias.name).split(".")[0]
                )
                if bound not in drop:
                    kept.append(alias)
            if not kept:
                continue
            kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
            if isinstance(small, cst.ImportFrom) and small.rpar is not None and len(kept) < len(small.names):
                small = small.with_changes(names=kept)
            else:
                small = small.with_changes(names=kept)
        body.append(small)
    if not body:
        return None
    return stmt.with_changes(body=body)


class MoveModelsCommand:
    DESCRIPTION = DESCRIPTION

    def __init__(self, op: MoveModels) -> None:
        self.op = op

    def transform_pair(self, source: cst.Module, target: cst.Module) -> tuple[cst.Module, cst.Module]:
        op = self.op
        classes = set(op.classes)
        helpers = set(op.helpers)
        dropped = {d[0] for d in op.drop}
        moving_names = classes | helpers
        base_names = {op.base_name, *op.base_aliases}

        moved: list[cst.CSTNode] = []
        removed: list[cst.CSTNode] = []
        kept: list[cst.CSTNode] = []
        base_index: int | None = None
        for stmt in source.body:
            names = _stmt_names(stmt)
            if names and names <= moving_names and not _is_import(stmt):
                moved.append(stmt)
            elif names and names <= dropped and isinstance(stmt, cst.ClassDef):
                removed.append(stmt)
            elif names and op.base_name in names and len(names) == 1 and not _is_import(stmt):
                removed.append(stmt)
                base_index = len(kept)
            else:
                kept.append(stmt)
        if not moved and not removed:
            return source, target

        # --- target: imports, then the moved code under a header comment
        renames = dict(op.renames)
        name_map = {b: op.target_base for b in base_names if b != op.target_base}
        name_map.update(renames)
        strings = dict(op.string_renames)
        transformer = _Rename(name_map, strings)
        new_code = [stmt.visit(transformer) for stmt in moved]
        target_body = list(target.body)
        existing = {target.code_for_node(s).strip() for s in target_body if _is_import(s)}
        to_add = [cst.parse_statement(text + "\n") for text in op.imports if text.strip() not in existing]
        last_import = max((i for i, s in enumerate(target_body) if _is_import(s)), default=-1)
        if last_import < 0:
            last_import = 0 if target_body and _is_docstring(target_body[0]) else -1
        target_body[last_import + 1 : last_import + 1] = to_add
        if new_code:
            header = cst.EmptyLine(comment=cst.Comment(f"# --- moved from {op.source} by unibase (UB001) ---"))
            first = new_code[0]
            lead = [cst.EmptyLine(), cst.EmptyLine(), header]
            first_leading = [l for l in first.leading_lines if l.comment is not None]  # type: ignore[attr-defined]
            new_code[0] = first.with_changes(leading_lines=lead + first_leading)  # type: ignore[union-attr]
            target_body.extend(new_code)
        new_target = target.with_changes(body=target_body)

        # --- source: the shim
        exported: list[str] = []
        base_alias = op.base_name if op.base_name != op.target_base else None
        exported.append(f"{op.target_base} as {base_alias}" if base_alias else op.target_base)
        for stmt in moved:
            for name in sorted(_stmt_names(stmt)):
                new = renames.get(name, name)
                exported.append(f"{new} as {name}" if new != name else name)
        elsewhere: dict[tuple[int, str], list[str]] = {}
        for name, kept_name, kept_from, kept_level in op.drop:
            alias = f"{kept_name} as {name}" if kept_name != name else name
            if (kept_level, kept_from) == (op.import_level, op.import_from):
                exported.append(alias)
            else:
                elsewhere.setdefault((kept_level, kept_from), []).append(alias)
        exported = list(dict.fromkeys(exported))
        dots = "." * op.import_level
        shim_text = f"from {dots}{op.import_from} import {', '.join(exported)}\n"
        if len(shim_text) > 99:
            inner = "".join(f"    {e},\n" for e in exported)
            shim_text = f"from {dots}{op.import_from} import (\n{inner})\n"
        shim = cst.parse_statement(shim_text)
        note = cst.EmptyLine(comment=cst.Comment(
            f"# These names now live in {op.target}; re-exported so old imports keep working (unibase)."))
        base_stmt = next((s for s in removed if op.base_name in _stmt_names(s)), None)
        lead = list(base_stmt.leading_lines) if base_stmt is not None else [cst.EmptyLine()]  # type: ignore[attr-defined]
        shim = shim.with_changes(leading_lines=lead + [note])
        extra_shims = [
            cst.parse_statement(f"from {'.' * level}{module} import {', '.join(names)}\n")
            for (level, module), names in sorted(elsewhere.items())
        ]
        # drop imports only the moved (or removed) code needed
        still_used = _used_names([s for s in kept if not _is_import(s)])
        all_names = _all_names(source)
        needed_before = _used_names(moved + removed)
        drop_imports = {
            n for n in needed_before
            if n not in still_used and n not in all_names and n not in op.imported_elsewhere
        }
        pruned: list[cst.CSTNode] = []
        for stmt in kept:
            if _is_import(stmt) and isinstance(stmt, cst.SimpleStatementLine):
                bound = _import_bound_names(stmt)
                if bound & drop_imports:
                    new_stmt = _prune_import(stmt, drop_imports)
                    if new_stmt is None:
                        if base_index is not None and len(pruned) < base_index:
                            base_index -= 1
                        continue
                    stmt = new_stmt
            pruned.append(stmt)
        if base_index is None:
            base_index = max((i + 1 for i, s in enumerate(pruned) if _is_import(s) or _is_future(s)), default=0)
            if base_index == 0 and pruned and _is_docstring(pruned[0]):
                base_index = 1
        base_index = min(base_index, len(pruned))
        # a shim import must come after ``from __future__`` imports and the docstring
        floor = max((i + 1 for i, s in enumerate(pruned) if _is_future(s) or (i == 0 and _is_docstring(s))), default=0)
        base_index = max(base_index, floor)
        pruned[base_index:base_index] = [shim, *extra_shims]
        only_imports = all(_is_import(s) or _is_docstring(s) for s in pruned)
        if only_imports and all_names == set():
            names = [e.split(" as ")[-1] for e in exported + [a for v in elsewhere.values() for a in v]]
            all_stmt = cst.parse_statement("__all__ = [" + ", ".join(f'"{n}"' for n in names) + "]\n")
            all_stmt = all_stmt.with_changes(leading_lines=[cst.EmptyLine()])
            pruned.append(all_stmt)
        new_source = source.with_changes(body=pruned)
        return new_source, new_target


def _all_names(module: cst.Module) -> set[str]:
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
