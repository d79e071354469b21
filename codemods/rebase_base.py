"""UB001 (``--strategy rebase``): point a secondary base at the canonical one, in place.

What it does: the top-level statement that defines the secondary base (``Base =
declarative_base()``, ``class Base(DeclarativeBase): ...``, ``Base = reg.generate_base()``)
becomes an import of the canonical base under the same local name, so every model of the
module is mapped by the one registry while staying where it is. The comments above the
definition stay; imports that only the definition used are removed, imports still used (or
listed in ``__all__``) stay.

What it does not do: move models, rewrite importers or relationship strings, or remove
duplicate tables (a duplicate table cannot share one registry: use ``--strategy move``). A
definition only under module-level ``if`` blocks (the ``else:`` of ``if TYPE_CHECKING:``) is
replaced there, in place; one under ``try`` (an import fallback) or in a statement that binds
other names too is left alone.
"""

from __future__ import annotations

import libcst as cst

from unibase.codemods._statements import (
    all_names,
    assigns_registry,
    generating_registry,
    import_bound_names,
    is_docstring,
    is_import,
    prune_imports,
    replace_nested_definition,
    stmt_names,
    strip_leading_blanks,
    used_names,
)
from unibase.plan import RebaseBase


DESCRIPTION = "Replace a secondary base's definition by an import of the canonical base (rebase strategy)."


class RebaseBaseCommand:
    DESCRIPTION = DESCRIPTION

    def __init__(self, op: RebaseBase) -> None:
        self.op = op

    def transform(self, module: cst.Module) -> cst.Module:
        op = self.op
        body = list(module.body)
        alias = f" as {op.name}" if op.name != op.target_name else ""
        text = f"from {'.' * op.import_level}{op.import_from} import {op.target_name}{alias}\n"
        index = next(
            (i for i, s in enumerate(body) if stmt_names(s) == {op.name} and not is_import(s)),
            None,
        )
        if index is None:
            # a definition only under ``if`` (``else:`` of ``if TYPE_CHECKING:``): in place
            return replace_nested_definition(module, op.name, text)[0]
        removed = body[index]
        stmt = cst.parse_statement(text)
        # keep the comments above the definition, and at most one blank line before them
        leading: list[cst.EmptyLine] = []
        for line in removed.leading_lines:  # type: ignore[attr-defined]
            if line.comment is not None or not leading or leading[-1].comment is not None:
                leading.append(line)
        body[index] = stmt = stmt.with_changes(leading_lines=leading)
        # ``reg = registry()`` + ``Base = reg.generate_base()``: the registry is the canonical one now
        gone = [removed]
        reg = generating_registry(removed)
        at = next((k for k, s in enumerate(body) if reg and assigns_registry(s, reg)), None)
        if at is not None:
            gone.append(body.pop(at))
            comments = [line for line in gone[-1].leading_lines if line.comment is not None]  # type: ignore[attr-defined]
            body.insert(body.index(stmt) + 1,
                        cst.parse_statement(f"{reg} = {op.name}.registry\n").with_changes(leading_lines=comments))
        # an import the new one replaces goes, and so do imports only the definition used
        still_used = used_names([s for s in body if not is_import(s)], strings=True) | all_names(module)
        drop = {n for n in used_names(gone) if n not in still_used} | {op.name}
        out = prune_imports(body, drop, protect=[stmt])
        strip_leading_blanks(out, module.body)
        if not all_names(module) and all(is_import(s) or is_docstring(s) for s in out):
            # nothing but the base lived here: a shim in the form the moves leave
            k = next(i for i, s in enumerate(out) if is_import(s) and op.name in import_bound_names(s))
            out[k] = out[k].with_changes(leading_lines=[*out[k].leading_lines, cst.EmptyLine(comment=cst.Comment(
                f"# These names now live in {op.target}; re-exported so old imports keep working (unibase)."))])
            out.append(cst.parse_statement(f'__all__ = ["{op.name}"]\n').with_changes(leading_lines=[cst.EmptyLine()]))
        return module.with_changes(body=out)
