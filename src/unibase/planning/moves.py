"""What moves with what: for each merged base, its duplicates first (they decide what is
dropped), then either a rebase in place or one UB001 move per file of its models, with the
helpers, imports and renames each move needs."""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from .. import cycles
from ..discovery import BaseInfo, ModelInfo, Symbol
from ..facts import LocalBinding
from ..meaning import module_state
from ..plan import Conflict, MoveModels, Operation, Warning
from ..strategy import Choice, choose as choose_strategy
from .closure import closure
from .context import Merge, Move, Part, PlanContext, moved_statements, same_definition
from .duplicates import DuplicateMigration, plan_duplicates
from .rebase import plan_rebase, rebased_models
from .spelling import free_name, group_imports, spelling_between, without_names


@dataclass(frozen=True)
class Moved(Part):
    """The merge of every base into the canonical one, before :mod:`.ordering` settles it."""

    moves: tuple[Move, ...] = ()
    choices: Mapping[Symbol, Choice] = field(default_factory=dict)  # move or rebase, per merged base
    target_lines: int = 0  # the canonical module's estimated size now (unibase.strategy)
    merged_from: Mapping[tuple[str, str], Symbol] = field(default_factory=dict)  # (file, kept class) -> deleted
    migrations: tuple[DuplicateMigration, ...] = ()


def plan_moves(ctx: PlanContext, merge: Merge) -> Moved:
    ix = ctx.index
    canonical, target = merge.canonical, merge.target
    moves: list[Move] = [Move(b.symbol, canonical.symbol) for b in merge.merging]
    # the canonical registry's models (found under the base's original symbol when an
    # anonymous base was given a name by ExtractBase)
    registry = merge.registry or canonical.symbol
    target_models = {m.symbol.name: m for m in ix.models_of(registry)}
    table_owner = {m.table: m for m in ix.models_of(registry) if m.table and not m.inherits_table}
    names_in_target = set(ix.facts[target].bindings) if target in ix.facts else set()
    # a class name already mapped by the canonical registry clashes too (string lookups)
    names_in_target |= set(target_models)
    registry_bases = {canonical.symbol, registry, *merge.merging_bases}
    choices, target_lines = choose_strategy(ix, target, registry_bases, list(merge.merging), ctx.settings.strategy)
    choices = dict(choices)
    models_of = {b.symbol: _movable_models(ctx, b) for b in merge.merging}
    first_merged: dict[str, ModelInfo] = {}  # table -> its first definition on a base being merged
    for b in merge.merging:
        for m in models_of[b.symbol]:
            if m.table and not m.inherits_table and m.table not in table_owner:
                first_merged.setdefault(m.table, m)

    ops: list[Operation] = []
    conflicts: list[Conflict] = []
    warnings: list[Warning] = []
    relocated: dict[str, frozenset[str]] = {}
    merged_from: dict[tuple[str, str], Symbol] = {}
    migrations: list[DuplicateMigration] = []
    rebased: tuple[ModelInfo, ...] = ()
    for b in merge.merging:
        models = models_of[b.symbol]
        by_file: dict[str, list[ModelInfo]] = defaultdict(list)
        for m in models:
            by_file[m.symbol.file].append(m)
        if b.symbol.file not in by_file:
            by_file[b.symbol.file] = []
        for s, base in ix.abstract_classes.items():
            if base == b.symbol and s != b.symbol:
                by_file.setdefault(s.file, [])
        # duplicate tables first: they decide what is dropped
        dup = plan_duplicates(ctx, merge, models, table_owner, first_merged, tuple(moves))
        ops += dup.ops
        warnings += dup.warnings
        moves += dup.moves
        for file, names in dup.relocated.items():
            relocated[file] = relocated.get(file, frozenset()) | names
        merged_from.update(dup.merged_from)
        migrations += dup.migrations
        drops = dup.drops
        stuck = None if choices[b.symbol].strategy == "rebase" else _unmovable_helpers(ctx, by_file, target)
        if stuck:
            file, names = stuck
            warnings.append(Warning(
                "W021", f"the models of {b.symbol.name} need {', '.join(names)}, defined under `if`/`try` in "
                f"{file}, which a move cannot take along; {b.symbol.name} is rebased in place instead",
                b.symbol.file, b.line))
            choices[b.symbol] = Choice("rebase", f"rebase: its models need {', '.join(names)}, defined "
                                                 f"under `if`/`try` in {file}, which a move cannot take along")
        if choices[b.symbol].strategy == "rebase":
            part = plan_rebase(ctx, merge, b, set(drops), dup.conflicts, rebased)
            rebased += rebased_models(ctx, b, set(drops))
            ops += part.ops
            conflicts += part.conflicts
            continue
        conflicts += dup.conflicts
        for file, file_models in sorted(by_file.items()):
            if file == target:
                continue
            one = _move_file(ctx, merge, b, file, file_models, drops, target_models, frozenset(names_in_target),
                             relocated.get(file, frozenset()))
            ops += one.ops
            conflicts += one.conflicts
            warnings += one.warnings
            moves += one.moves
            # what this file brings into the target can clash with what the next file brings
            names_in_target |= one.placed
    return Moved(tuple(ops), tuple(conflicts), tuple(warnings), tuple(moves), choices, target_lines,
                 merged_from, tuple(migrations))


def _movable_models(ctx: PlanContext, b: BaseInfo) -> list[ModelInfo]:
    """The models of ``b`` in file and line order; a class mapped inside a function goes
    wherever its enclosing definition goes."""
    return sorted((m for m in ctx.index.models_of(b.symbol) if not m.local_to),
                  key=lambda m: (m.symbol.file, m.fact.line))


def _unmovable_helpers(ctx: PlanContext, by_file: dict[str, list[ModelInfo]], target: str
                       ) -> tuple[str, list[str]] | None:
    """A module-level name the models of a file use that is bound only inside an ``if``/``try``
    block there (``try: from sqlalchemy import ...; AVAILABLE = True``): moving the models
    would leave it behind."""
    for file, models in sorted(by_file.items()):
        facts = ctx.index.facts.get(file)
        if file == target or facts is None:
            continue
        top = {n for n, *_ in facts.top_level}
        used = set().union(*(m.fact.body_names for m in models))
        stuck = sorted(n for n in used if isinstance(facts.bindings.get(n), LocalBinding) and n not in top)
        if stuck:
            return file, stuck
    return None


@dataclass(frozen=True)
class _FileMove(Part):
    moves: tuple[Move, ...] = ()
    placed: frozenset[str] = frozenset()  # the names the move places in the target


def _move_file(ctx: PlanContext, merge: Merge, b: BaseInfo, source: str, models: list[ModelInfo],
               drops: Mapping[Symbol, Symbol], target_models: dict[str, ModelInfo],
               names_in_target: frozenset[str], relocated: frozenset[str]) -> _FileMove:
    """UB001 for the models of ``b`` in ``source``: what moves, what it needs, what is renamed."""
    ix = ctx.index
    table_owner_names = {m.table for m in target_models.values() if m.table}
    canonical, target = merge.canonical, merge.target
    facts = ix.facts[source]
    moving = [m for m in models if m.symbol not in drops]
    class_names = {m.symbol.name for m in moving}
    # abstract classes on this base defined in this file move too (BaseModel(ChatBase) ...)
    for s, base in ix.abstract_classes.items():
        if base == b.symbol and s.file == source and s != b.symbol:
            class_names.add(s.name)
    if b.symbol.file == source and b.symbol.name in {c.name for c in facts.classes}:
        # the base itself is a class here (``class Base(DeclarativeBase)``): it becomes the shim import
        class_names.discard(b.symbol.name)
    conflicts: list[Conflict] = []
    warnings: list[Warning] = []
    renames: list[tuple[str, str]] = []
    need = set()
    secondaries = set()
    for c in facts.classes:
        if c.name in class_names:
            need |= c.body_names
            secondaries |= {r.secondary for r in c.relationships if r.secondary}
    # a Core table named by a ``secondary="..."`` string moves with the classes that name it
    need |= {t.fact.var for t in ix.tables if t.file == source and t.base == b.symbol
             and t.fact.var and t.fact.table in secondaries}
    dropped_here = {m.symbol.name for m in models if m.symbol in drops}  # deleted, not helpers
    found = closure(ctx, merge, source, target, need, class_names | dropped_here | {b.symbol.name})
    warnings += found.warnings
    base_local_names = {b.symbol.name} | found.base_names
    helpers = [h for h in found.helpers if h not in class_names and h not in relocated]
    # ``class X(other_db.Base)``, ``Table(..., other_db.Base.metadata)``: the moved code names
    # the canonical base instead, and the module alias is not imported into the target when
    # that was its only use (the alias's module becomes a shim of the target: a cycle)
    moved_nodes = moved_statements(ctx, source, class_names | set(helpers))
    base_attributes = {(n.value.id, n.attr) for node in moved_nodes for n in ast.walk(node)
                       if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
                       and ctx.resolver.expr(source, n) == b.symbol}
    imports = without_names(list(found.imports), {alias for alias, _ in base_attributes}
                            - _other_uses(moved_nodes, base_attributes))
    # a project import the moved code needs only in function annotations never runs in the
    # target (no new import cycle): it goes under ``if TYPE_CHECKING:``, the annotations quoted
    lazy = cycles.annotation_only_imports(ctx.resolver, source, imports, moved_nodes)
    type_checking = group_imports([t for t in imports if t in found.type_checking or t in lazy])
    imports = group_imports([t for t in imports if t not in found.type_checking and t not in lazy])
    # annotations written under ``from __future__ import annotations`` are never evaluated;
    # moved into a module without it they would be, unless quoted
    target_future = target in ix.facts and _future_annotations(ix.facts[target])
    quote = (_future_annotations(facts) or bool(lazy)) and not target_future
    # names that clash with what the target already defines
    duplicate_tables = {m.symbol.name for m in models if m.table in table_owner_names}
    for name in list(class_names) + helpers:
        if name in duplicate_tables or name not in names_in_target:
            continue
        kept = target_models.get(name)
        resolved = ctx.resolver.name(target, name)
        if isinstance(resolved, Symbol) and resolved.file == source:
            continue  # the target imports it from the source today: it becomes local
        if name in helpers and same_definition(ctx, source, target, name):
            helpers.remove(name)
            continue
        new = free_name(source, name, names_in_target.__contains__)
        renames.append((name, new))
        moving_model = ix.models.get(Symbol(source, name))
        if moving_model is not None and _table_from_class_name(moving_model):
            conflicts.append(Conflict(
                "class-name-collision", name,
                f"{source} and {target} both define a class {name}, and the table of {source}:{name} "
                "is computed (a declared_attr __tablename__, from the class name, say): renaming the "
                f"class to {new} could rename its table; rename one of the classes by hand first",
                None, (f"{source}", f"{target}"),
            ))
        elif kept is not None or name in class_names:
            table = ix.models[Symbol(source, name)].table if Symbol(source, name) in ix.models else None
            conflicts.append(Conflict(
                "class-name-collision", name,
                f"{source} and {target} both define a class {name}"
                + (f" (tables {table} and {kept.table})" if kept else ""),
                f"rename {source}:{name} to {new} in {target}; the shim keeps the name {name}",
                (f"{source}", f"{target}"),
            ))
        else:
            warnings.append(Warning("W012", f"helper {name} also exists in {target}; it moves as {new}", source))
    rename_map = dict(renames)
    moves = tuple(Move(Symbol(source, name), Symbol(target, rename_map.get(name, name)))
                  for name in sorted(class_names | set(helpers)))
    level, module = spelling_between(ctx, source, target)
    op = MoveModels(
        source=source, target=target, base_name=b.symbol.name if b.symbol.file == source else
        _local_base_name(ctx, source, b) or b.symbol.name,
        target_base=canonical.symbol.name,
        classes=tuple(c.name for c in facts.classes if c.name in class_names),
        helpers=tuple(helpers), imports=tuple(imports), renames=tuple(renames),
        drop=tuple((m.symbol.name, drops[m.symbol].name, *reversed(spelling_between(ctx, source, drops[m.symbol].file)))
                   for m in models if m.symbol in drops),
        string_renames=tuple((old, new) for old, new in renames if old in class_names),
        base_aliases=tuple(sorted(base_local_names - {b.symbol.name})),
        base_attributes=tuple(sorted(base_attributes)),
        type_checking_imports=tuple(type_checking),
        quote_annotations=quote,
        import_from=module, import_level=level,
        imported_elsewhere=tuple(sorted(_names_imported_from(ctx, source))),
        relocated=tuple(sorted(relocated)),
        copied=tuple(h for h in helpers if any(a.name == h and module_state(a.value) for a in facts.assigns)),
    )
    placed = frozenset(rename_map.get(n, n) for n in class_names | set(helpers))
    return _FileMove((op,), tuple(conflicts), tuple(warnings), moves, placed)


def _other_uses(moved: list[ast.stmt], spelled: set[tuple[str, str]]) -> set[str]:
    """The module aliases of ``spelled`` pairs that the moved statements also use in another way."""
    aliases = {a for a, _ in spelled}
    used: set[str] = set()
    for node in moved:
        as_base = {id(n.value) for n in ast.walk(node) if isinstance(n, ast.Attribute)
                   and isinstance(n.value, ast.Name) and (n.value.id, n.attr) in spelled}
        used |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and n.id in aliases and id(n) not in as_base}
    return used


def _future_annotations(facts) -> bool:
    return any(i.is_from and i.module == "__future__" and any(n.name == "annotations" for n in i.names)
               for i in facts.imports)


def _table_from_class_name(m: ModelInfo) -> bool:
    """The model's table name is not a literal of its own: a computed ``__tablename__``, or none
    found (a ``declared_attr`` on a parent) while it is not single-table inheritance."""
    return m.fact.tablename_computed or (m.table is None and not m.inherits_table and m.fact.table_call is None)


def _names_imported_from(ctx: PlanContext, source: str) -> set[str]:
    names = set()
    for rel in ctx.importers.get(source, ()):
        for imp in ctx.index.facts[rel].imports:
            if imp.is_from and ctx.resolver.module_file(rel, imp.level, imp.module) == source:
                names.update(n.name for n in imp.names)
    return names


def _local_base_name(ctx: PlanContext, file: str, b: BaseInfo) -> str | None:
    f = ctx.index.facts.get(file)
    if not f:
        return None
    for name in f.bindings:
        if ctx.resolver.name(file, name) == b.symbol:
            return name
    return None
