"""UB004: ``create_all``/``drop_all`` repeated once per merged base becomes one call (and a
list of their metadata in Alembic's ``target_metadata`` one), with a warning where dropping a
repeated call makes tables earlier than the statements between the two calls expect."""

from __future__ import annotations

import ast
from collections import defaultdict

from ..discovery import Symbol
from ..facts import unparse
from ..plan import CollapseMetadataCalls, Operation, Warning
from .context import Merge, Part, PlanContext


def plan_collapse(ctx: PlanContext, merge: Merge) -> Part:
    ix = ctx.index
    canonical = merge.canonical
    merged = {canonical.symbol} | merge.merging_bases
    ops: list[Operation] = []
    warnings: list[Warning] = []
    for rel, f in sorted(ix.facts.items()):
        per_scope: dict[tuple[str | None, str, str | None], int] = defaultdict(int)
        names: set[str] = set()
        for use in f.metadata_uses:
            if use.attr not in ("create_all", "drop_all"):
                continue
            if _merged_owner(ctx, rel, use.owner, use.function, merged):
                per_scope[(use.function, use.attr, use.bind)] += 1
                names.add(unparse(use.owner))
        extra = sum(n - 1 for n in per_scope.values() if n > 1)
        for loop in f.metadata_loops:
            ours = [e for e in loop.elements if _merged_owner(ctx, rel, e, loop.function, merged)]
            if len(ours) > 1:
                extra += len(ours) - 1
                names.update(unparse(e.value if _is_metadata_attr(e) else e) for e in ours)
        tm = 0
        for t in f.target_metadata:
            if isinstance(t.value, (ast.List, ast.Tuple)):
                owners = set()
                for e in t.value.elts:
                    if _is_metadata_attr(e) and (bb := _merged_owner(ctx, rel, e, None, merged)):
                        owners.add(bb)
                        names.add(unparse(e.value))
                if len(owners) > 1:
                    tm += len(owners) - 1
        if extra or tm:
            # UB002 may have unified the aliases into the canonical name by now, also after a
            # module alias (``audit_mod.AuditBase`` is ``audit_mod.Base`` once ``audit_mod``
            # names the canonical module)
            names.add(canonical.symbol.name)
            names.update(f"{n.rpartition('.')[0]}.{canonical.symbol.name}" for n in list(names) if "." in n)
            ops.append(CollapseMetadataCalls(rel, tuple(sorted(names)), extra + tm))
            warnings += _warn_ddl_order(ctx, rel, f, merged)
    return Part(tuple(ops), (), tuple(warnings))


def _merged_owner(ctx: PlanContext, rel: str, node: ast.expr, function: str | None, merged: set[Symbol]
                  ) -> Symbol | None:
    """The base being merged that ``node`` (``X`` or ``X.metadata``) names, or None."""
    if _is_metadata_attr(node):
        node = node.value
    ix = ctx.index
    owner = ctx.resolver.expr(rel, node, function=function)
    b = owner if owner in ix.bases else ix.abstract_classes.get(owner) if isinstance(owner, Symbol) else None
    return b if b in merged else None


def _warn_ddl_order(ctx: PlanContext, rel: str, f, merged: set[Symbol]) -> list[Warning]:
    """A repeated create_all that UB004 drops, with other statements between it and the call
    that is kept: its tables are now created earlier, before those statements run."""
    calls = {}
    for use in f.metadata_uses:
        if use.attr in ("create_all", "drop_all") and _merged_owner(ctx, rel, use.owner, use.function, merged):
            calls[use.statement_line] = use
    if len(calls) < 2:
        return []
    tree = ctx.sources.tree(rel)
    if tree is None:
        return []
    warnings = []
    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            block = getattr(node, field, None)
            if not isinstance(block, list):
                continue
            kept: dict[tuple, int] = {}  # (method, bind) -> index of the first call in the block
            method = None
            for i, stmt in enumerate(block):
                use = calls.get(getattr(stmt, "lineno", -1))
                if use is None:
                    continue
                if use.attr != method:  # a drop_all between two create_all calls starts afresh
                    method, kept = use.attr, {}
                key = (use.attr, use.bind)
                if key not in kept:
                    kept[key] = i
                    continue
                between = [s for s in block[kept[key] + 1:i] if s.lineno not in calls]
                if between:
                    warnings.append(Warning(
                        "W028", f"{use.attr} here repeats the one at line {block[kept[key]].lineno} and is "
                        f"dropped: the tables it made are now made at line {block[kept[key]].lineno}, before "
                        f"lines {between[0].lineno}-{between[-1].end_lineno or between[-1].lineno} run; check "
                        "code there that alters or fills tables", rel, use.line))
    return warnings


def _is_metadata_attr(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "metadata"
