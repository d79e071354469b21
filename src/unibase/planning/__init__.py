"""Turn a discovery index into a plan: choose the target, order the operations, name the risks.

Planning is a few parts, each a function of one frozen :class:`~.context.PlanContext` (the
index, the settings, the resolver, who imports whom, and the one cache through which planning
reads a file's source). Each part returns what it adds: operations, conflicts, warnings, and a
frozen value where a later part needs what it decided. :func:`make_plan` composes them in this
order, which is also the order of the plan's operations:

1. :mod:`.refusals` -- an unreadable file that could hold a base, a model or a table stops
   planning first: any plan could be a partial merge.
2. :mod:`.roles` -- which bases merge and which is canonical (an anonymous canonical base is
   named first, UB005, because every later part targets its name); metadata options that differ.
3. :mod:`.moves` -- per merged base, in order: its duplicated tables (:mod:`.duplicates`, they
   decide what is dropped), then a rebase in place (:mod:`.rebase`) or a move per file. A base's
   moves need the moves of the bases before it (a kept class may have moved), so this is one pass.
4. :mod:`.ordering` -- only once every move is known: what each move imports (never from a
   module that becomes a shim), the order the moves run in, where dropped duplicates' kept
   classes end up.
5. :mod:`.imports` (UB002) and :mod:`.strings` (UB003) -- every importer and every registry
   string follows the settled moves; UB003 also settles the members UB001 appends to a kept class.
6. :mod:`.collapse` (UB004) and :mod:`.migration` (UB009) -- repeated ``create_all`` calls, then
   the migration of each table whose definition the duplicates changed.
7. :mod:`unibase.flask` -- Flask-SQLAlchemy objects join the canonical base, or say why not.
8. :mod:`.refusals` again, on the whole plan: a new import cycle is broken where an import only
   annotations need can go under ``if TYPE_CHECKING:`` (:mod:`.deferral`, UB002), else it is a
   conflict, as is a link out of the project; an unreadable file that imports what the plan changes stops planning.
"""

from __future__ import annotations

from dataclasses import replace

from ..discovery import Index
from ..flask import FlaskInput, plan_flask
from ..plan import Conflict, ImportRoot, Operation, Plan, Target, Warning, fingerprint
from ..settings import Settings
from . import refusals, roles
from .collapse import plan_collapse
from .context import NOT_UNDERSTOOD, Part, PlanContext, PlanError
from .imports import plan_imports
from .migration import plan_migration
from .moves import plan_moves
from .ordering import settle
from .spelling import spelling_between
from .strings import plan_strings

__all__ = ["NOT_UNDERSTOOD", "PlanError", "make_plan"]


def make_plan(index: Index, settings: Settings) -> Plan:
    """The plan for ``index``. When the canonical base chosen by default would close an import
    cycle, each other merged base is tried as canonical, in the plan's order, and the first
    whose plan closes none is taken (its evidence says why); with none, the cycle stays a
    conflict. A base named with ``--target`` is never replaced."""
    plan = _plan(index, settings)
    if settings.target or plan.canonical is None or not _closes_a_cycle(plan):
        return plan
    for other in (b for b in plan.bases if b.role == "merge"):
        alternative = _plan(index, replace(settings, target=f"{other.file}:{other.name}"))
        if not _closes_a_cycle(alternative):
            cycle = next(c for c in plan.conflicts if c.kind == "import-cycle")
            why = (f"canonical: making {plan.canonical.name} in {plan.canonical.file} canonical would close an "
                   f"import cycle ({', '.join(cycle.locations)})")
            before = {(b.file, b.name): b.evidence for b in plan.bases}  # not "as asked": nobody asked
            bases = tuple(replace(b, evidence=(why, *before.get((b.file, b.name), ())))
                          if b.role == "canonical" else b for b in alternative.bases)
            return replace(alternative, bases=bases)
    return plan


def _closes_a_cycle(plan: Plan) -> bool:
    return any(c.kind == "import-cycle" and c.resolution is None for c in plan.conflicts)


def _plan(index: Index, settings: Settings) -> Plan:
    ctx = PlanContext.build(index, settings)
    refusals.refuse_unanalysed(ctx, refusals.could_matter(ctx))
    decided = roles.decide(ctx)
    merge = decided.merge
    parts: list[Part] = [decided]
    choices, target_lines = {}, 0
    if merge is not None:
        moved = settle(ctx, merge, plan_moves(ctx, merge))
        rebased = frozenset(s for s, c in moved.choices.items() if c.strategy == "rebase")
        imports = plan_imports(ctx, merge, moved.moves, rebased)
        moved, strings = plan_strings(ctx, merge, moved)
        parts += [moved, imports, strings, plan_collapse(ctx, merge), plan_migration(ctx, moved.migrations)]
        choices, target_lines = moved.choices, moved.target_lines
    canonical = merge.canonical if merge else decided.chosen
    group = {b.symbol for b in decided.merging} | ({decided.chosen.symbol} if decided.chosen else set())
    flask = plan_flask(FlaskInput(index, ctx.resolver, settings, canonical,
                                  [e for s in sorted(group) for e in decided.engines.get(s, ())],
                                  lambda a, b: spelling_between(ctx, a, b)))
    ops: tuple[Operation, ...] = (*(op for p in parts for op in p.ops), *flask.ops)
    conflicts: list[Conflict] = [c for p in parts for c in p.conflicts]
    warnings: list[Warning] = [*(w for p in parts for w in p.warnings), *flask.warnings]
    role_of = {**decided.roles, **flask.roles}
    evidence = {**decided.evidence, **{sym: flask.evidence[sym] for sym in flask.roles}}
    if merge is not None:
        cycle = refusals.new_cycle(ctx, merge.target, ops)
        ops, conflicts = (*ops, *cycle.ops), [*conflicts, *cycle.conflicts]
    strategy = roles.strategy_entries(ctx, role_of, choices, target_lines, merge.target if merge else None, ops)
    bases = roles.base_entries(ctx, role_of, evidence, flask.model_class, strategy)
    refusals.refuse_unanalysed(ctx, refusals.unanalysed_importers(ctx, decided.merging, ops))
    warnings += [Warning("W001", f"not analysed: {u.problem}", rel, u.line) for rel, u in sorted(index.unparsable.items())]
    touched = sorted({f for op in ops for f in op.files()})
    conflicts += refusals.links_out(ctx, touched)
    return Plan(
        root=str(index.root),
        strategy=settings.strategy,
        canonical=Target(index.modules.module_name(canonical.symbol.file), canonical.symbol.file, canonical.symbol.name)
        if canonical else None,
        bases=bases,
        operations=ops,
        conflicts=tuple(conflicts),
        warnings=tuple(warnings),
        cross_references=decided.cross_references,
        fingerprints={f: fingerprint(index.root / f) for f in touched if (index.root / f).exists()},
        roots=tuple(ImportRoot(r or ".", n) for r, n in index.roots),
        scope=settings.scope,
    )
