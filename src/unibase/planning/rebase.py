"""``--strategy rebase`` (or auto's choice) for one base: every class stays where it is and is
mapped in the canonical registry (UB008 points the base at the canonical one)."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import replace

from ..discovery import BaseInfo, ModelInfo, Symbol
from ..plan import Conflict, RebaseBase
from .context import Merge, Part, PlanContext
from .spelling import spelling_between


def plan_rebase(ctx: PlanContext, merge: Merge, b: BaseInfo, drops: set[Symbol], conflicts: tuple[Conflict, ...],
                rebased: tuple[ModelInfo, ...]) -> Part:
    """Rebase ``b`` in place. ``conflicts`` are those its duplicates raised (returned amended),
    ``rebased`` the models of the bases rebased before it (already in the one registry).

    It cannot delete a duplicate class nor rename a clashing one, so a table mapped on both
    sides ("Table 'x' is already defined") and two classes of one name in one registry
    (relationship("Name") becomes ambiguous) are conflicts that need a decision: the
    resolution is ``--strategy move``, which drops duplicates and renames clashing classes.
    """
    ix = ctx.index
    amended = list(conflicts)
    for sym in drops:
        m = ix.models.get(sym)
        loc = f"{sym.file}:{m.fact.line}" if m else None
        for i, c in enumerate(amended):
            if c.kind in ("identical-duplicate-table", "duplicate-table") and c.locations[:1] == (loc,):
                amended[i] = replace(c, resolution=None, detail=(
                    f"{c.detail}; --strategy rebase keeps both classes and maps them in one registry "
                    f"(\"Table '{c.subject}' is already defined\"): use --strategy move, which deletes the copy"))
    canonical = merge.canonical
    level, module = spelling_between(ctx, b.symbol.file, canonical.symbol.file)
    op = RebaseBase(
        file=b.symbol.file, name=b.symbol.name, target=canonical.symbol.file,
        target_name=canonical.symbol.name, import_from=module, import_level=level,
    )
    return Part((op,), (*amended, *_collisions(ctx, merge, b, drops, rebased)))


def rebased_models(ctx: PlanContext, b: BaseInfo, drops: set[Symbol]) -> tuple[ModelInfo, ...]:
    """The models a rebase of ``b`` adds to the one registry."""
    return tuple(m for m in ctx.index.models_of(b.symbol) if m.symbol not in drops and not m.local_to)


def _collisions(ctx: PlanContext, merge: Merge, b: BaseInfo, dropped: set[Symbol],
                rebased: tuple[ModelInfo, ...]) -> list[Conflict]:
    """Classes of ``b`` whose name a class already in the merged registry has (rebase only)."""
    ix = ctx.index
    canonical = merge.canonical
    registry: dict[str, list[ModelInfo]] = defaultdict(list)
    for m in ix.models.values():
        info = ix.bases.get(m.base)
        # the canonical base, also when it was anonymous and ExtractBase named it
        if m.base == canonical.symbol or (info and m.base.file == canonical.symbol.file and info.line == canonical.line):
            registry[m.symbol.name].append(m)
    for m in rebased:
        registry[m.symbol.name].append(m)
    mine = rebased_models(ctx, b, dropped)
    strings = _registry_strings(ctx)
    out = []
    for m in sorted(mine, key=lambda m: (m.symbol.file, m.fact.line)):
        others = [o for o in registry.get(m.symbol.name, []) if o.symbol != m.symbol]
        if others:
            other = others[0]
            word = re.compile(rf"(?<![\w.]){re.escape(m.symbol.name)}(?!\w)")
            uses = sorted({f"{f}:{line}" for f, line, text in strings if word.search(text)})
            out.append(Conflict(
                "class-name-collision", m.symbol.name,
                f"{m.symbol.file}:{m.fact.line} {m.symbol.name} ({m.table}) and {other.symbol.file}:{other.fact.line} "
                f"{other.symbol.name} ({other.table}) land in one registry with --strategy rebase, which renames "
                f"nothing: relationship(\"{m.symbol.name}\") and other strings naming it become ambiguous "
                f"(\"Multiple classes found for path\")"
                + (f", as at {', '.join(uses[:5])}" if uses else "")
                + "; use --strategy move (it renames the moved class) or rename one of them first",
                None,
                (f"{m.symbol.file}:{m.fact.line}", f"{other.symbol.file}:{other.fact.line}"),
            ))
    return out


def _registry_strings(ctx: PlanContext) -> list[tuple[str, int, str]]:
    """(file, line, text) of every string a mapped class gives the registry to resolve."""
    out = []
    for rel, f in ctx.index.facts.items():
        for c in f.classes:
            for r in c.relationships:
                if r.target and r.target_is_string:
                    out.append((rel, r.line, r.target))
                out.extend((rel, r.line, v) for _, v in r.strings)
            out.extend((rel, c.line, t) for _, t in c.annotation_targets)
    return out
