"""UB001 (``--strategy rebase``): point a secondary base at the canonical one, in place.

What it does: the statement that defines the secondary base (``Base = declarative_base()``,
``class Base(DeclarativeBase): ...``, ``Base = reg.generate_base()``) becomes an import of the
canonical base under the same local name, so every model of the module is mapped by the one
registry while staying where it is. Imports that only that definition used are removed.

What it does not do: move models, rewrite importers or relationship strings, or remove
duplicate tables (a duplicate table cannot share one registry: use ``--strategy move``).
"""

from __future__ import annotations

import libcst as cst

from unibase.plan import RebaseBase

from .move_models import _all_names, _import_bound_names, _is_docstring, _is_future, _is_import, _prune_import, _stmt_names, _used_names

DESCRIPTION = "Replace a secondary base's definition by an import of the canonical base (rebase strategy)."


class RebaseBaseCommand:
    DESCRIPTION = DESCRIPTION

    def __init__(self, op: RebaseBase) -> None:
        self.op = op

    def transform(self, module: cst.Module) -> cst.Module:
        op = self.op
        body = list(module.body)
        index = next(
            (i for i, s in enumerate(body) if _stmt_names(s) == {op.name} and not _is_import(s)),
            None,
        )
        if index is None:
            return module
        removed = body.pop(index)
        alias = f" as {op.name}" if op.name != op.target_name else ""
        stmt = cst.parse_statement(f"from {'.' * op.import_level}{op.import_from} import {op.target_name}{alias}\n")
        leading = [l for l in removed.leading_lines if l.comment is not None]  # type: ignore[attr-defined]
        stmt = stmt.with_changes(leading_lines=leading)
        still_used = _used_names(body) | _all_names(module)
        drop = {n for n in _used_names([removed]) if n not in still_used}
        out = []
        for i, s in enumerate(body):
            if _is_import(s) and isinstance(s, cst.SimpleStatementLine) and _import_bound_names(s) & drop:
                new = _prune_import(s, drop)
                if new is None:
                    if i < index:
                        index -= 1
                    continue
                s = new
            out.append(s)
        floor = max((i + 1 for i, s in enumerate(out) if _is_future(s) or (i == 0 and _is_docstring(s))), default=0)
        out.insert(max(min(index, len(out)), floor), stmt)
        return module.with_changes(body=out)
