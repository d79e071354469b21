"""Settling the moves once every one is known: what each move imports into the target (a name
another move places there is not imported from a module that becomes a shim: a cycle), the
order the moves run in (each after those that place what it needs), and where each dropped
duplicate's kept class ends up."""

from __future__ import annotations

import ast
from collections import Counter, defaultdict
from dataclasses import replace

from ..discovery import Symbol
from ..meaning import alias_imports, meaning_key
from ..plan import Conflict, MoveModels
from .closure import closure
from .context import Merge, Move, PlanContext, follow, moved_statements, same_definition
from .moves import Moved
from .spelling import free_name, group_imports, other_name, spelling_between


def settle(ctx: PlanContext, merge: Merge, moved: Moved) -> Moved:
    """``moved`` with its moves' imports corrected, its moves in a runnable order, its
    dropped duplicates pointed at their kept classes, and its ``TYPE_CHECKING`` imports
    pointed at where what they name ends up."""
    return _follow_lazy_imports(ctx, merge, _settle_drops(ctx, merge, _settle_moves(ctx, merge, moved)))


def _settle_moves(ctx: PlanContext, merge: Merge, moved: Moved) -> Moved:
    """Correct what each move would import into ``target``, now that every move is known.

    A name another move places in ``target`` is not imported (from a module that becomes a
    shim importing ``target``: a cycle). A helper of a module that becomes such a shim moves
    along with that module's operation instead of being imported from it. Two different
    things imported under one name: the later one is imported under another name. Then the
    moves run in an order where every move comes after those that place what it needs.
    """
    target = merge.target
    ops = [op for op in moved.ops if isinstance(op, MoveModels) and op.target == target]
    if not ops:
        return moved
    moves = list(moved.moves)
    warnings = list(moved.warnings)
    by_source = {op.source: i for i, op in enumerate(ops)}
    moved_to = {mv.old: mv.new for mv in moves}
    needs: dict[int, set[int]] = defaultdict(set)
    extra: dict[int, set[str]] = defaultdict(set)
    # what the target's own names mean: an import of another thing under one of them is aliased
    target_facts = ctx.index.facts.get(target)
    meaning_in_target: dict[str, object] = {
        name: meaning_key(ctx.resolver.name(target, name)) for name in (target_facts.bindings if target_facts else ())}
    for op in ops:  # and the names the moves place there
        placed = dict(op.renames)
        for name in (*op.classes, *op.helpers):
            meaning_in_target.setdefault(placed.get(name, name), Symbol(op.source, name))
    alias_of: dict[object, str] = {}  # one other name per imported thing
    placed_as: dict[Symbol, str] = {}  # helpers of shim-to-be modules, moved along: their name in target
    extra_renames: dict[int, list[tuple[str, str]]] = defaultdict(list)
    settled: list[tuple[list[str], list[tuple[str, str]]]] = []
    for i, op in enumerate(ops):
        texts: list[str] = []
        renames = list(op.renames)
        for text in op.imports:
            stmt = ast.parse(text).body[0]
            kept = []
            for alias in stmt.names:  # type: ignore[attr-defined]
                local = alias.asname or alias.name.partition(".")[0]
                meaning = ctx.resolver.name(op.source, local)
                final = follow(moved_to, meaning) if isinstance(meaning, Symbol) else None
                if final is not None and final != meaning and final.file == target:
                    if final.name != local:
                        renames.append((local, final.name))
                    if by_source.get(meaning.file, i) != i:
                        needs[i].add(by_source[meaning.file])
                    continue
                if (isinstance(meaning, Symbol) and by_source.get(meaning.file, i) != i
                        and _movable_helper(ctx, meaning)):
                    # a helper of a module that becomes a shim of the target: importing it
                    # from there would be a cycle, so it moves with that module's operation
                    j = by_source[meaning.file]
                    needs[i].add(j)
                    new = placed_as.get(meaning)
                    if new is None and meaning_in_target.get(meaning.name, meaning) == meaning:
                        new = meaning.name
                    elif new is None and same_definition(ctx, meaning.file, target, meaning.name):
                        new = meaning.name  # the target's own definition stands for it
                        placed_as[meaning] = new
                    elif new is None:
                        new = free_name(meaning.file, meaning.name,
                                        lambda c, m=meaning: meaning_in_target.setdefault(c, m) != m)
                        extra_renames[j].append((meaning.name, new))
                    if meaning not in placed_as:
                        placed_as[meaning] = new
                        meaning_in_target[new] = meaning
                        extra[j].add(meaning.name)
                        moves.append(Move(meaning, Symbol(target, new)))
                    if new != local:
                        renames.append((local, new))
                    continue
                key = meaning_key(meaning) if meaning is not None else text
                if meaning_in_target.setdefault(local, key) != key:
                    new = alias_of.get(key) or other_name(op.source, local)
                    while meaning_in_target.setdefault(new, key) != key:
                        new += "_"
                    alias_of[key] = new
                    renames.append((local, new))
                    alias = ast.alias(alias.name, new)
                kept.append(alias)
            if kept:
                stmt.names = kept  # type: ignore[attr-defined]
                texts.append(ast.unparse(stmt))
        settled.append((texts, renames))
    for i, op in enumerate(ops):
        texts, renames = settled[i]
        renames = renames + extra_renames.get(i, [])
        helpers = list(op.helpers)
        if extra.get(i):
            found = closure(ctx, merge, op.source, target, extra[i], set(op.classes) | {op.base_name})
            warnings += found.warnings
            imports = list(found.imports)
            for h in found.helpers:
                if h in helpers:
                    continue
                here = Symbol(op.source, h)
                if h not in extra[i] and meaning_in_target.setdefault(h, here) != here:
                    if same_definition(ctx, op.source, target, h):
                        continue
                    new = free_name(op.source, h, lambda c, here=here: meaning_in_target.setdefault(c, here) != here)
                    renames.append((h, new))
                helpers.append(h)
            imports, aliases = alias_imports(
                imports, lambda local, op=op: ctx.resolver.name(op.source, local), meaning_in_target,
                lambda local, op=op: other_name(op.source, local))
            texts += imports
            renames += aliases.items()
            order = [n for n, *_ in ctx.index.facts[op.source].top_level]
            helpers.sort(key=lambda h: order.index(h) if h in order else len(order))
        ops[i] = replace(op, imports=tuple(group_imports(texts)), renames=tuple(dict.fromkeys(renames)),
                         helpers=tuple(helpers))
    # a stable topological order: a move after the moves that place what it needs
    order: list[int] = []
    state: dict[int, int] = {}

    def visit(i: int) -> None:
        if state.get(i) == 2:
            return
        if state.get(i) == 1:
            return  # a cycle between moves: keep the planned order for it
        state[i] = 1
        for j in sorted(needs.get(i, ())):
            visit(j)
        state[i] = 2
        order.append(i)

    for i in range(len(ops)):
        visit(i)
    slots = iter(ops[i] for i in order)
    return replace(moved, ops=tuple(next(slots) if isinstance(op, MoveModels) and op.target == target else op
                                    for op in moved.ops), moves=tuple(moves), warnings=tuple(warnings))

def _settle_drops(ctx: PlanContext, merge: Merge, moved: Moved) -> Moved:
    """Point each move's dropped duplicates at where their kept classes end up, now that every
    move is known. Moved code that names a dropped class whose kept class is not in the target
    names the kept class through the registry (``relationship("Kept")``, ``Mapped["Kept"]``):
    importing it could make a cycle. Any other use of the dropped name is a conflict."""
    ix = ctx.index
    target = merge.target
    moved_to = {mv.old: mv.new for mv in moved.moves}
    final_names = Counter(follow(moved_to, m.symbol).name for m in merge.merged_models(ix)
                          if moved_to.get(m.symbol) not in ix.models)  # dropped ones are gone
    ops = list(moved.ops)
    conflicts: list[Conflict] = []
    for i, op in enumerate(ops):
        if not isinstance(op, MoveModels) or op.target != target or not op.drop:
            continue
        drop, registry_names = [], []
        moved_nodes = moved_statements(ctx, op.source, {*op.classes, *op.helpers})
        for name, *_ in op.drop:
            kept = follow(moved_to, Symbol(op.source, name))
            drop.append((name, kept.name, *reversed(spelling_between(ctx, op.source, kept.file))))
            if kept.file == target:
                continue
            unique = final_names[kept.name] == 1
            spelling = kept.name if unique else f"{ix.modules.module_name(kept.file)}.{kept.name}"
            blocked = _unmovable_uses(moved_nodes, name, annotations_ok=unique)
            if blocked:
                conflicts.append(Conflict(
                    "dropped-duplicate-reference", name,
                    f"{op.source}:{blocked[0]} uses {name}, which is deleted as a duplicate of "
                    f"{kept.file}:{kept.name}; that class stays out of {target}, and only relationship({name}) "
                    f"and Mapped[{name}] can name it through the registry: change this use by hand",
                    None, (f"{op.source}:{blocked[0]}", f"{kept.file}")))
            registry_names.append((name, spelling))
        ops[i] = replace(op, drop=tuple(drop), registry_names=tuple(registry_names))
    return replace(moved, ops=tuple(ops), conflicts=(*moved.conflicts, *conflicts))


def _movable_helper(ctx: PlanContext, symbol: Symbol) -> bool:
    """A top-level definition that is not a mapped class."""
    facts = ctx.index.facts.get(symbol.file)
    if facts is None or symbol in ctx.index.models or symbol in ctx.index.bases:
        return False
    return any(n == symbol.name for n, *_ in facts.top_level)


def _unmovable_uses(moved: list[ast.stmt], name: str, annotations_ok: bool) -> list[int]:
    """Lines where the moved statements use ``name`` other than as ``relationship(name, ...)``'s
    class or (with ``annotations_ok``) inside ``Mapped[...]``."""
    allowed: set[int] = set()
    for node in moved:
        for n in ast.walk(node):
            if isinstance(n, ast.Call) and _last_attr(n.func) == "relationship":
                first = n.args[0] if n.args else next((k.value for k in n.keywords if k.arg == "argument"), None)
                if isinstance(first, ast.Name):
                    allowed.add(id(first))
            elif annotations_ok and isinstance(n, ast.Subscript) and _last_attr(n.value) == "Mapped":
                allowed |= {id(x) for x in ast.walk(n.slice) if isinstance(x, ast.Name)}
    return [n.lineno for node in moved for n in ast.walk(node)
            if isinstance(n, ast.Name) and n.id == name and id(n) not in allowed]


def _last_attr(node: ast.expr) -> str | None:
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None


def _follow_lazy_imports(ctx: PlanContext, merge: Merge, moved: Moved) -> Moved:
    """Point the ``if TYPE_CHECKING:`` imports of the code moving into the target at where what
    they name ends up (a class dropped as an identical duplicate, or renamed on a collision).

    Such a name is never bound when the program runs, so SQLAlchemy finds ``Mapped[X]`` through
    the class registry, by the class's own name: the moved code is renamed to the final class's
    name, and the import goes when that class lives in the target, or imports it from its final
    module. A final name that means something else in the target is left as it was.
    """
    target = merge.target
    moved_to = {mv.old: mv.new for mv in moved.moves}
    facts = ctx.index.facts.get(target)
    in_target = {name: ctx.resolver.name(target, name) for name in (facts.bindings if facts else ())}
    in_target.update({new.name: new for new in moved_to.values() if new.file == target})
    ops = list(moved.ops)
    for i, op in enumerate(ops):
        if not isinstance(op, MoveModels) or op.target != target or not op.type_checking_imports:
            continue
        texts, renames = [], list(op.renames)
        for text in op.type_checking_imports:
            stmt = ast.parse(text).body[0]
            if not isinstance(stmt, ast.ImportFrom):
                texts.append(text)
                continue
            kept = []
            for alias in stmt.names:
                local = alias.asname or alias.name
                meaning = ctx.resolver.name(op.source, local)
                end = follow(moved_to, meaning) if isinstance(meaning, Symbol) else meaning
                if end == meaning or in_target.get(end.name, end) != end:
                    kept.append(alias)
                    continue
                if end.name != local:
                    renames.append((local, end.name))
                if end.file != target:
                    level, module = spelling_between(ctx, target, end.file)
                    texts.append(f"from {'.' * level}{module} import {end.name}")
            if kept:
                stmt.names = kept
                texts.append(ast.unparse(stmt))
        ops[i] = replace(op, type_checking_imports=tuple(dict.fromkeys(texts)), renames=tuple(dict.fromkeys(renames)))
    return replace(moved, ops=tuple(ops))
