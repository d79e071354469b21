"""Tables mapped twice: an identical copy becomes an alias of the kept class; two different
definitions are a conflict until a decision (``--prefer``, ``[tool.unibase] decisions`` or the
plan JSON) keeps one, and then UB001 merges the deleted class's members into the kept one."""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from ..decisions import (
    ColumnDefinition,
    DuplicateDecision,
    DuplicateTable,
    RelationshipDefinition,
    SuggestedRename,
    TableDefinition,
)
from ..discovery import ModelInfo, Symbol
from ..plan import Conflict, MergeDuplicate, Operation, RenameColumnUses, Warning
from ..settings import TableDecision
from ..tables import table_differences
from .closure import dependencies
from .context import Merge, Move, Part, PlanContext, PlanError, statement_source, top_level_source


@dataclass(frozen=True)
class DuplicateMigration:
    """A table whose kept definition the database must be migrated to."""

    loser: ModelInfo
    winner: ModelInfo
    renames: tuple[tuple[str, str], ...]  # (deleted class's attribute, kept class's attribute)
    added: tuple[str, ...]  # attributes of the deleted class the kept one gains (union)


@dataclass(frozen=True)
class Duplicates(Part):
    """The duplicates of one base's models, and what the moves of its files must know of them."""

    drops: Mapping[Symbol, Symbol] = field(default_factory=dict)  # deleted class -> kept class
    moves: tuple[Move, ...] = ()
    relocated: Mapping[str, frozenset[str]] = field(default_factory=dict)  # file -> helpers UB001 places
    merged_from: Mapping[tuple[str, str], Symbol] = field(default_factory=dict)  # (file, kept class) -> deleted
    migrations: tuple[DuplicateMigration, ...] = ()


def plan_duplicates(ctx: PlanContext, merge: Merge, models: list[ModelInfo], table_owner: Mapping[str, ModelInfo],
                    first_merged: Mapping[str, ModelInfo], moves: tuple[Move, ...]) -> Duplicates:
    """The duplicated tables among ``models`` (one merged base's, in order): ``table_owner`` maps
    the canonical registry's tables, ``first_merged`` each table's first definition on a merged
    base, ``moves`` the moves planned for earlier bases."""
    ix = ctx.index
    ops: list[Operation] = []
    conflicts: list[Conflict] = []
    warnings: list[Warning] = []
    drops: dict[Symbol, Symbol] = {}
    new_moves: list[Move] = []
    relocated: dict[str, frozenset[str]] = {}
    merged_from: dict[tuple[str, str], Symbol] = {}
    migrations: list[DuplicateMigration] = []
    for m in models:
        if not m.table or m.inherits_table:
            continue
        kept = table_owner.get(m.table) or first_merged[m.table]
        if kept is m or kept.base == m.base:
            continue
        differences = table_differences(ix, m, kept)
        where = (f"{m.symbol.file}:{m.fact.line}", f"{kept.symbol.file}:{kept.fact.line}")
        if not differences:
            # the kept class of an earlier merged base has been planned into the target
            kept_at = next((mv.new for mv in moves if mv.old == kept.symbol), kept.symbol)
            drops[m.symbol] = kept_at
            conflicts.append(Conflict(
                "identical-duplicate-table", m.table,
                f"{m.symbol.file}:{m.fact.line} {m.symbol.name} and {kept.symbol.file}:{kept.fact.line} "
                f"{kept.symbol.name} define table {m.table} identically",
                f"keep {kept.symbol.file}:{kept.symbol.name}"
                + (f" (moved to {kept_at.file}:{kept_at.name})" if kept_at != kept.symbol else "")
                + f"; {m.symbol.file}:{m.symbol.name} becomes an alias of it",
                where,
            ))
            new_moves.append(Move(m.symbol, kept.symbol))
        elif m.table in table_owner:
            one = _plan_duplicate(ctx, merge, m, kept)
            ops += one.ops
            conflicts += one.conflicts
            warnings += one.warnings
            drops.update(one.drops)
            new_moves += one.moves
            for file, names in one.relocated.items():
                relocated[file] = relocated.get(file, frozenset()) | names
            merged_from.update(one.merged_from)
            migrations += one.migrations
        else:
            # neither definition can be chosen here
            options = replace(duplicate_options(m, kept, differences), decidable=False)
            conflicts.append(duplicate_conflict(m, kept, options, note=(
                f"both are on bases being merged, {kept.base.file}:{kept.base.name} and "
                f"{m.base.file}:{m.base.name}, so neither is kept on its own: make {kept.symbol.file} or "
                f"{m.symbol.file} canonical with --target (then --prefer chooses between them), or make "
                "the two definitions the same by hand")))
    return Duplicates(tuple(ops), tuple(conflicts), tuple(warnings), drops, tuple(new_moves), relocated,
                      merged_from, tuple(migrations))


def _decision(ctx: PlanContext, loser: ModelInfo, winner: ModelInfo) -> TableDecision | None:
    settings = ctx.settings
    for d in settings.decisions:
        if d.table == loser.table:
            return d
    chosen = [m for m in (winner, loser) if any(_matches(ctx, p, m.symbol.file) for p in settings.prefer)]
    if len(chosen) != 1:
        return None
    # the suggested renames (a column of the deleted class that is the kept one's, renamed)
    renames = tuple((r.old, r.new) for r in _rename_suggestions(loser, winner)) if (
        settings.renames and chosen[0] is winner) else ()
    return TableDecision(loser.table or "", f"{chosen[0].symbol.file}:{chosen[0].symbol.name}",
                         settings.mode, renames)


def _matches(ctx: PlanContext, prefer: str, file: str) -> bool:
    prefer = prefer.strip().strip("/")
    return file == prefer or prefer in ctx.index.modules.dotted_names(file) or file.endswith("/" + prefer)


def _plan_duplicate(ctx: PlanContext, merge: Merge, m: ModelInfo, kept: ModelInfo) -> Duplicates:
    """``m`` (on a base being merged) and ``kept`` (on the canonical base) map one table differently."""
    decision = _decision(ctx, m, kept)
    options = duplicate_options(m, kept, table_differences(ctx.index, m, kept))
    if decision is None:
        return Duplicates(conflicts=(duplicate_conflict(m, kept, options),))
    kept_id, m_id = f"{kept.symbol.file}:{kept.symbol.name}", f"{m.symbol.file}:{m.symbol.name}"
    if decision.winner not in (kept_id, m_id):
        raise PlanError(f"the decision for table {m.table} keeps {decision.winner}, which defines neither side "
                        f"({kept_id} or {m_id}); fix it in the plan JSON")
    if decision.mode not in ("keep", "union"):
        raise PlanError(f"the decision for table {m.table} has mode {decision.mode!r}; use \"keep\" or \"union\"")
    # ``decision`` is for the user to edit; ``planned_with`` records what the operations assume
    options = options.decided(DuplicateDecision.of(decision))
    if decision.winner == m_id:
        return Duplicates(conflicts=(duplicate_conflict(m, kept, options, note=(
            f"the kept definition must be the one on the canonical base ({kept_id}); make {m.symbol.file} "
            "canonical with --target to keep the other one")),))
    drops = {m.symbol: kept.symbol}
    moves = (Move(m.symbol, kept.symbol),)
    loser, winner = m, kept
    renames = dict(decision.renames)
    winner_cols = {c.attr: c for c in winner.columns}
    loser_cols = {c.attr: c for c in loser.columns}
    for old, new in renames.items():
        if old not in loser_cols or new not in winner_cols:
            raise PlanError(f"the rename {old} -> {new} for table {m.table} names a column that is not "
                            f"on {loser.symbol.name} ({old}) or on {winner.symbol.name} ({new})")
    sources = ctx.sources
    loser_class = _find_class(sources.tree(loser.symbol.file), loser.symbol.name)
    winner_class = _find_class(sources.tree(winner.symbol.file), winner.symbol.name)
    text = sources.lines(loser.symbol.file)
    warnings: list[Warning] = []
    statements: list[str] = []
    added_columns: list[str] = []
    added_methods: list[str] = []
    clashes: list[str] = []
    todo: list[tuple[str, str]] = []
    winner_members = _members(winner_class)
    for name, node in _members(loser_class).items():
        is_column = name in loser_cols
        if is_column and name in renames:
            continue
        if name in winner_members:
            other = winner_members[name]
            if ast.dump(node) == ast.dump(other) or isinstance(node, (ast.Assign, ast.AnnAssign)):
                continue  # the winner's column or relationship stands (a declared difference)
            if name.startswith("__") and name.endswith("__"):
                warnings.append(Warning(
                    "W016", f"{name} differs on {loser.symbol.name}; the winner's is kept", loser.symbol.file, node.lineno))
                continue
            # the winner's member wins; uses of it may have meant the deleted class's
            clashes.append(name)
            todo.append((name, f"{name} differs on the deleted {loser.symbol.file}:{loser.symbol.name}; "
                               f"{winner.symbol.name}'s is kept, check that this use means it"))
            continue
        if name.startswith("__") and name.endswith("__") and not is_column:
            continue
        if decision.mode == "union":
            statements.append(statement_source(text, node))
            if is_column:
                added_columns.append(name)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                added_methods.append(f"{name}()")
            else:
                added_methods.append(name)
        else:
            kind = "column" if is_column else "attribute"
            todo.append((name, f"{kind} {name} was only on the deleted {loser.symbol.file}:{loser.symbol.name}"))
    deps = dependencies(ctx, merge, statements, loser.symbol.file, winner.symbol.file)
    warnings += deps.warnings
    if deps.helpers and winner.symbol.file != merge.target:
        # the members would name helpers the winner's module lacks (or defines otherwise)
        return Duplicates(conflicts=(duplicate_conflict(m, kept, options, note=(
            f"union is not possible: the members {winner.symbol.name} would gain use {', '.join(deps.helpers)} of "
            f"{loser.symbol.file}, which unibase does not place in {winner.symbol.file}; choose \"keep\" or "
            "define them there by hand")),), warnings=tuple(warnings), drops=drops, moves=moves)
    # a helper renamed in the winner's module is a copy there: the source keeps its own
    relocated = {loser.symbol.file: frozenset(h for h, t in zip(deps.helpers, deps.helper_texts)
                                              if t == top_level_source(ctx, loser.symbol.file, h))}
    ops: list[Operation] = []
    merged_from = {}
    if deps.statements:
        merged_from[(winner.symbol.file, winner.symbol.name)] = loser.symbol
        ops.append(MergeDuplicate(winner.symbol.file, winner.symbol.name, m.table or "",
                                  deps.statements, deps.imports, deps.helper_texts))
    ops += _column_uses(ctx, loser, winner, tuple(renames.items()), tuple(todo), deps.statements)
    migration = DuplicateMigration(loser, winner, tuple(decision.renames), tuple(added_columns))
    parts = [f"keep {winner.symbol.file}:{winner.symbol.name} ({decision.mode})"]
    if added_columns or added_methods:
        parts.append("it gains " + ", ".join(added_columns + added_methods))
    if renames:
        parts.append("renamed " + ", ".join(f"{a} -> {b}" for a, b in renames.items()))
    if clashes:
        parts.append(f"defined differently on both, {winner.symbol.name}'s kept: " + ", ".join(clashes))
    if todo:
        parts.append("marked for review: " + ", ".join(a for a, _ in todo))
    parts.append(f"{loser.symbol.file}:{loser.symbol.name} is deleted and its uses point at the winner")
    conflict = Conflict(
        "duplicate-table", m.table or "?", _duplicate_detail(m, kept, options), "; ".join(parts),
        (f"{m.symbol.file}:{m.fact.line}", f"{kept.symbol.file}:{kept.fact.line}"), options,
    )
    return Duplicates(tuple(ops), (conflict,), tuple(warnings), drops, moves, relocated, merged_from, (migration,))


def _column_uses(ctx: PlanContext, loser: ModelInfo, winner: ModelInfo, renames, todo,
                 added: tuple[str, ...]) -> list[Operation]:
    """UB007 for each module that may use a renamed column or a member marked for review."""
    if not renames and not todo:
        return []
    ix, resolver = ctx.index, ctx.resolver
    words = [old for old, _ in renames] + [a for a, _ in todo]
    pattern = re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")\b")
    out: list[Operation] = []
    for rel, f in sorted(ix.facts.items()):
        if rel == loser.symbol.file:
            continue
        local = sorted({name for name in list(f.bindings) + [n for b in f.function_bindings.values() for n in b]
                        if resolver.name(rel, name) in (loser.symbol, winner.symbol)
                        or any(resolver.name(rel, name, function=fn) in (loser.symbol, winner.symbol)
                               for fn, b in f.function_bindings.items() if name in b)})
        if not local and rel != winner.symbol.file:
            continue
        data = ctx.sources.text(rel)
        if data is None:
            continue
        if rel == winner.symbol.file:
            data += "".join(added)  # the members UB001 adds to the kept class
        if not pattern.search(data):
            continue
        out.append(RenameColumnUses(rel, tuple(local), tuple(renames), tuple(todo)))
    return out


def _definition(m: ModelInfo) -> TableDefinition:
    return TableDefinition(
        m.symbol.file, m.symbol.name, m.fact.line,
        tuple(ColumnDefinition(c.attr, c.name, c.type, c.nullable, c.primary_key, c.foreign_key, c.default, c.index,
                               c.unique) for c in m.columns),
        m.fact.table_args,
        tuple(RelationshipDefinition(r.attr, r.target, r.secondary) for r in m.fact.relationships),
        tuple(m.fact.methods),
    )


def _rename_suggestions(m: ModelInfo, kept: ModelInfo) -> list[SuggestedRename]:
    """Pairs of columns, one only on each side, that look like one column renamed."""
    mine = {c.attr: c for c in m.columns}
    theirs = {c.attr: c for c in kept.columns}
    only_mine = [c for a, c in mine.items() if a not in theirs]
    only_theirs = [c for a, c in theirs.items() if a not in mine]
    out = []
    for a in only_mine:
        for b in only_theirs:
            family = lambda t: re.sub(r"\(.*", "", t or "").lower()  # noqa: E731
            prefix = 0
            for x, y in zip(a.attr, b.attr):
                if x != y:
                    break
                prefix += 1
            same_suffix = a.attr.rsplit("_", 1)[-1] == b.attr.rsplit("_", 1)[-1]
            if family(a.type) == family(b.type) and (prefix >= 4 or (prefix >= 3 and same_suffix)):
                out.append(SuggestedRename(a.attr, b.attr))
    return out


def duplicate_options(m: ModelInfo, kept: ModelInfo, differences: list[str]) -> DuplicateTable:
    return DuplicateTable(m.table, (_definition(kept), _definition(m)), tuple(differences),
                          tuple(_rename_suggestions(m, kept)))


def _duplicate_detail(m: ModelInfo, kept: ModelInfo, options: DuplicateTable) -> str:
    detail = (f"{m.symbol.file}:{m.fact.line} {m.symbol.name} and {kept.symbol.file}:{kept.fact.line} "
              f"{kept.symbol.name} define table {m.table} differently: " + "; ".join(options.differences))
    if options.suggested_renames:
        detail += "; suggested renames: " + ", ".join(f"{s.old} -> {s.new}" for s in options.suggested_renames)
    return detail


def duplicate_conflict(m: ModelInfo, kept: ModelInfo, options: DuplicateTable, note: str | None = None) -> Conflict:
    detail = _duplicate_detail(m, kept, options)
    if note:
        detail += f" ({note})"
    else:
        detail += (f" (pass --prefer {kept.symbol.file} or --prefer {m.symbol.file}, or set this conflict's "
                   "options.decision in the plan JSON)")
    return Conflict(
        "duplicate-table", m.table or "?", detail, None,
        (f"{m.symbol.file}:{m.fact.line}", f"{kept.symbol.file}:{kept.fact.line}"), options,
    )


def _find_class(tree: ast.Module | None, name: str) -> ast.ClassDef | None:
    for node in tree.body if tree else ():
        if isinstance(node, ast.ClassDef) and node.name == name:
            return node
    return None


def _members(cls: ast.ClassDef | None) -> dict[str, ast.stmt]:
    out: dict[str, ast.stmt] = {}
    for stmt in cls.body if cls else ():
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out[stmt.name] = stmt
        elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            if not stmt.targets[0].id.startswith("__"):
                out[stmt.targets[0].id] = stmt
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            out[stmt.target.id] = stmt
    return out
