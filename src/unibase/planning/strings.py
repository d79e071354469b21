"""UB003: strings the registry resolves (``relationship("Item")``, ``Mapped["Item"]``) that name
a moved class by module, a deleted duplicate by name, or a class renamed for a collision."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import replace

from ..discovery import Symbol
from ..meaning import rename_names
from ..plan import MergeDuplicate, Operation, RewriteStrings
from .context import Merge, Part, PlanContext, follow
from .moves import Moved
from .spelling import absolute_like


def plan_strings(ctx: PlanContext, merge: Merge, moved: Moved) -> tuple[Moved, Part]:
    """Relationship strings that name a moved class by module, or a deleted duplicate by name.

    UB003 runs after the moves: each string is rewritten where its class lives by then. The
    members UB001 appends to a kept class are settled here too (returned in ``moved``).
    """
    ix = ctx.index
    moves = moved.moves
    moved_to = {mv.old: mv.new for mv in moves}
    qualified: dict[str, str] = {}
    for mv in moves:
        new = follow(moved_to, mv.old)  # a dropped class's kept class may move too
        if mv.old.file == new.file and mv.old.name == new.name:
            continue
        for old_mod in ix.modules.dotted_names(mv.old.file):
            new_mod = absolute_like(ctx, old_mod, mv.old.file, new.file)
            qualified[f"{old_mod}.{mv.old.name}"] = f"{new_mod}.{new.name}"
    # a deleted duplicate is gone from the one registry: its bare name now means the kept
    # class, unless another class of the merged registry keeps that name
    in_registry = merge.merged_models(ix)
    dropped = {m.symbol: moved_to[m.symbol] for m in in_registry
               if m.symbol in moved_to and moved_to[m.symbol] in ix.models}
    final_names = {moved_to.get(m.symbol, m.symbol).name for m in in_registry if m.symbol not in dropped}
    bare = {}
    for old, kept in dropped.items():
        new = moved_to.get(kept, kept).name
        if old.name != new and old.name not in final_names:
            bare[old.name] = new
    # a class renamed for a name collision: its old registry's bare strings meant it, but in
    # the target that name means another class, so these are rewritten class by class
    renamed_on: dict[Symbol, dict[str, str]] = defaultdict(dict)
    for mv in moves:
        m = ix.models.get(mv.old)
        if m is not None and mv.old not in dropped and mv.old.name != mv.new.name:
            renamed_on[m.base][mv.old.name] = mv.new.name
    if not qualified and not bare and not renamed_on:
        return moved, Part()
    registry_classes = {m.symbol: m.base for m in in_registry}
    found: dict[str, list[tuple[str, str]]] = defaultdict(list)
    moved = _settle_merged_members(ctx, moved, moved_to, {**qualified, **bare}, renamed_on, found)
    scoped: dict[tuple[str, tuple[tuple[str, str], ...]], list[str]] = defaultdict(list)
    for rel, f in sorted(ix.facts.items()):
        for c in f.classes:
            sym = Symbol(rel, c.name)
            if sym in dropped:
                continue  # deleted: its strings go with it
            home = moved_to.get(sym, sym)
            pairs = dict(qualified)
            if sym in registry_classes:
                pairs.update(bare)
            own = renamed_on.get(registry_classes.get(sym), {}) if sym in registry_classes else {}
            texts = [t for r in c.relationships for t in [r.target, *(v for _, v in r.strings)]
                     if t and (r.target_is_string or t != r.target)]
            texts += [t for _, t in c.annotation_targets]  # Mapped["X"]: resolved like a string
            mentioned = [(old, new) for old, new in pairs.items() for t in texts
                         if re.search(rf"(?<![\w.]){re.escape(old)}(?![\w])", t)]
            found[home.file] += mentioned
            mine = tuple((old, new) for old, new in sorted(own.items()) for t in texts
                         if re.search(rf"(?<![\w.]){re.escape(old)}(?![\w])", t))
            if mine:
                scoped[(home.file, tuple(dict.fromkeys(mine)))].append(home.name)
    ops: list[Operation] = [RewriteStrings(home, tuple(dict.fromkeys(pairs))) for home, pairs in sorted(found.items())
                            if pairs]
    ops += [RewriteStrings(home, pairs, tuple(sorted(set(classes)))) for (home, pairs), classes in sorted(scoped.items())]
    return moved, Part(tuple(ops))


def _settle_merged_members(ctx: PlanContext, moved: Moved, moved_to: Mapping[Symbol, Symbol], pairs: dict[str, str],
                           renamed_on: Mapping[Symbol, dict[str, str]], found: dict[str, list[tuple[str, str]]]
                           ) -> Moved:
    """Members appended to a kept class (UB001 union) name the deleted class's neighbours as
    they were: their strings (``relationship("RequestB")``) are rewritten with the kept
    class's own, and a class named directly that ends up in the same module is renamed."""
    ix = ctx.index
    ops = list(moved.ops)
    for i, op in enumerate(ops):
        loser = moved.merged_from.get((op.file, op.class_name)) if isinstance(op, MergeDuplicate) else None
        if loser is None or loser not in ix.models:
            continue
        own = {**pairs, **renamed_on.get(ix.models[loser].base, {})}
        texts = [n.value for t in op.statements for n in ast.walk(ast.parse(t))
                 if isinstance(n, ast.Constant) and isinstance(n.value, str)]
        home = follow(moved_to, Symbol(op.file, op.class_name))
        found[home.file] += [(old, new) for old, new in own.items() for t in texts
                             if re.search(rf"(?<![\w.]){re.escape(old)}(?![\w])", t)]
        names = {}
        for c in ix.facts[loser.file].classes:
            final = follow(moved_to, Symbol(loser.file, c.name))
            if final.name != c.name and final.file == home.file:
                names[c.name] = final.name
        if names:
            ops[i] = replace(op, statements=tuple(rename_names(op.statements, names)))
    return replace(moved, ops=tuple(ops))
