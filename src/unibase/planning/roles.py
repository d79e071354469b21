"""Which bases merge, into which: the roles (:mod:`unibase.roles` weighs the evidence), the bases
listed but left out, the canonical base (named first when it is anonymous), what each merged
base's metadata options change, and the plan's entry for every base."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from ..decisions import MetadataOptionChange
from ..discovery import BaseInfo, Symbol
from ..plan import BaseEntry, Conflict, CrossReference, ExtractBase, ModelEntry, MoveModels, Operation, Warning
from ..project import is_importable
from ..roles import decide as decide_roles
from ..strategy import Choice, lines_of, span
from .context import NOT_UNDERSTOOD, Merge, Part, PlanContext, PlanError


@dataclass(frozen=True)
class Roles(Part):
    """What the roles decided; ``merge`` is None when nothing is merged."""

    merge: Merge | None = None
    chosen: BaseInfo | None = None  # the canonical base as discovery found it (before ExtractBase)
    merging: tuple[BaseInfo, ...] = ()  # every base whose role is merge (``merge`` has them when it is set)
    roles: Mapping[Symbol, str] = field(default_factory=dict)
    evidence: Mapping[Symbol, list[str]] = field(default_factory=dict)
    engines: Mapping[Symbol, tuple] = field(default_factory=dict)
    cross_references: tuple[CrossReference, ...] = ()


def decide(ctx: PlanContext) -> Roles:
    ix = ctx.index
    warnings = [Warning(NOT_UNDERSTOOD, f"possible declarative base not understood: {n.reason}; its classes are left "
                        f"as they are and importers of {n.symbol.name} are not rewritten", n.symbol.file, n.line)
                for n in ix.not_understood]
    in_scope = [b for b in ix.bases.values() if not b.test_local and b.kind != "flask_sqlalchemy"]
    decision = decide_roles(ix, ctx.settings, ctx.importers)
    conflicts = list(decision.conflicts)
    left_out = _left_out(ctx, in_scope, warnings)
    candidates = [b for b in in_scope if decision.roles.get(b.symbol) == "merge" and b.symbol not in left_out]
    canonical = chosen = _choose_canonical(ctx, candidates) if candidates else None
    roles = {}
    for b in ix.bases.values():
        roles[b.symbol] = "canonical" if canonical and b.symbol == canonical.symbol else (
            decision.roles.get(b.symbol) or _default_role(b))
    for sym in left_out:
        if roles[sym] != "separate":  # a standalone script keeps its role and evidence
            roles[sym] = "excluded"
    evidence = defaultdict(list, {s: list(e) for s, e in decision.evidence.items()})
    if canonical is not None and len(candidates) > 1:
        evidence[canonical.symbol].insert(0, (
            f"canonical: {len(ix.models_of(canonical.symbol))} models and "
            f"{len(ctx.importers.get(canonical.symbol.file, ()))} importing modules, the most of the bases merged"))
    merging = tuple(b for b in ix.bases.values() if roles[b.symbol] == "merge")
    cross = _cross_references(ctx)
    ops: list[Operation] = []
    merge = None
    if canonical is not None and merging:
        registry = None
        if canonical.kind == "declarative_base() subclass":
            registry = canonical.symbol
            canonical, op, warning = _extract_base(ctx, canonical)
            ops.append(op)
            warnings.append(warning)
        merge = Merge(canonical, merging, registry)
        conflicts += _metadata_hazards(ctx, merge)
    return Roles(tuple(ops), tuple(conflicts), tuple(warnings), merge, chosen, merging, roles, evidence,
                 decision.engines, tuple(cross))


def _default_role(info: BaseInfo) -> str:
    if info.test_local:
        return "test-local"
    if info.kind == "flask_sqlalchemy":
        return "excluded"
    return "merge"


def _extract_base(ctx: PlanContext, canonical: BaseInfo) -> tuple[BaseInfo, ExtractBase, Warning]:
    """``class BaseModel(declarative_base())``: models joining it must not inherit its
    columns, so the anonymous base gets a name first; later operations target that name."""
    file = canonical.symbol.file
    taken = set(ctx.index.facts[file].bindings) if file in ctx.index.facts else set()
    name = next(n for n in ("Base", "DeclarativeBase_", "UnibaseBase") if n not in taken)
    warning = Warning(
        "W015", f"the base of {canonical.symbol.name} is anonymous (`{canonical.symbol.name}(declarative_base())`); "
        f"it is named {name} so moved models share the registry without inheriting {canonical.symbol.name}'s columns",
        file, canonical.line)
    return (replace(canonical, symbol=Symbol(file, name)),
            ExtractBase(file=file, class_name=canonical.symbol.name, new_name=name), warning)


def _left_out(ctx: PlanContext, in_scope: list[BaseInfo], warnings: list[Warning]) -> set[Symbol]:
    """Bases listed but never merged: those in a file that cannot be imported (a script),
    and those outside the narrower path the command was given (it limits what changes)."""
    out = set()
    scope = ctx.settings.scope
    for b in in_scope:
        file = b.symbol.file
        if not is_importable(file):
            out.add(b.symbol)
            warnings.append(Warning(
                "W025", f"base {b.symbol.name} is in a file the project cannot import (a script, or the "
                "code of a folder whose name is not a module name): listed, never merged", file, b.line))
        elif b.fallback_of:
            out.add(b.symbol)
            warnings.append(Warning(
                "W027", f"base {b.symbol.name} is made only when `from {b.fallback_of} import "
                f"{b.symbol.name}` fails, and {b.fallback_of} is not in the project: listed, never merged",
                file, b.line))
        elif scope and not (file == scope or file.startswith(scope + "/")):
            out.add(b.symbol)
            warnings.append(Warning(
                "W026", f"base {b.symbol.name} is outside {scope}, the path given: left as it is "
                "(run unibase on the project root to merge it too)", file, b.line))
    return out


def _choose_canonical(ctx: PlanContext, candidates: list[BaseInfo]) -> BaseInfo:
    target = ctx.settings.target
    if target:
        file, _, name = target.partition(":")
        file = file.strip("/")
        chosen = [b for b in candidates if b.symbol.file == file and (not name or b.symbol.name == name)]
        if not chosen:
            known = ", ".join(f"{b.symbol.file}:{b.symbol.name}" for b in candidates) or "none"
            raise PlanError(f"--target {target} names no declarative base in scope (bases: {known})")
        return chosen[0]

    def score(b: BaseInfo) -> tuple[int, int, str, int]:
        models = len(ctx.index.models_of(b.symbol))
        importers = len(ctx.importers.get(b.symbol.file, ()))
        return (-models, -importers, b.symbol.file, b.line)

    return sorted(candidates, key=score)[0]


def _cross_references(ctx: PlanContext) -> list[CrossReference]:
    ix = ctx.index
    table_base = {t: [b for b, _ in owners] for t, owners in ix.base_of_table().items()}
    class_base: dict[str, list[Symbol]] = defaultdict(list)
    for m in ix.models.values():
        class_base[m.symbol.name].append(m.base)
    out = []
    for ref in ix.references:
        owner_base = ix.models[ref.owner].base if ref.owner in ix.models else next(
            (t.base for t in ix.tables if (t.symbol or Symbol(t.file, t.fact.table)) == ref.owner), None)
        if owner_base is None:
            continue
        if ref.kind == "foreign-key":
            targets = table_base.get(ref.target.rsplit(".", 1)[0], []) if "." in ref.target else []
        elif ref.kind == "secondary":
            targets = table_base.get(ref.target, [])
        else:
            targets = class_base.get(ref.target.rsplit(".", 1)[-1], [])
        if targets and owner_base not in targets:
            to = targets[0]
            out.append(CrossReference(ref.kind, ref.source, ref.target, ref.file, ref.line,
                                      f"{owner_base.file}:{owner_base.name}", f"{to.file}:{to.name}"))
    return out


def _metadata_hazards(ctx: PlanContext, merge: Merge) -> list[Conflict]:
    out = []
    canonical = merge.canonical
    for b in merge.merging:
        for attr in ("naming_convention", "schema", "type_annotation_map"):
            mine, theirs = getattr(b, attr), getattr(canonical, attr)
            if mine != theirs:
                # mapped classes and Core tables (association tables) alike
                tables = sorted({m.table for m in ctx.index.models_of(b.symbol) if m.table}
                                | {t.fact.table for t in ctx.index.tables if t.base == b.symbol and t.fact.table})
                out.append(Conflict(
                    "metadata-options", b.symbol.name,
                    f"{b.symbol.file}:{b.line}: {attr} {mine or 'default'} differs from the canonical "
                    f"base's {theirs or 'default'}; tables {', '.join(tables) or '(none)'} take the canonical "
                    f"{attr}, so constraint names (or schema/types) of those tables change",
                    f"declared change: {', '.join(tables) or 'no tables'} adopt the canonical metadata's {attr}",
                    (f"{b.symbol.file}:{b.line}",),
                    MetadataOptionChange(attr, tuple(tables), mine, theirs),
                ))
    return out


def base_entries(ctx: PlanContext, roles: Mapping[Symbol, str], evidence: Mapping[Symbol, list[str]],
                 model_class: Mapping[Symbol, str], strategy: Mapping[Symbol, dict[str, str]]
                 ) -> tuple[BaseEntry, ...]:
    """The plan's entry for every base, in file and line order."""
    ix = ctx.index
    return tuple(
        BaseEntry(
            module=ix.modules.module_name(b.symbol.file),
            file=b.symbol.file,
            line=b.line,
            name=b.symbol.name,
            kind=b.kind,
            role=roles[b.symbol],
            models=tuple(
                ModelEntry(m.symbol.name, m.table, m.symbol.file, m.fact.line)
                for m in sorted(ix.models_of(b.symbol), key=lambda m: (m.symbol.file, m.fact.line))
            ),
            importers=len(ctx.importers.get(b.symbol.file, ())),
            metadata={k: v for k, v in (("naming_convention", b.naming_convention), ("schema", b.schema),
                                        ("type_annotation_map", b.type_annotation_map),
                                        ("model_class", model_class.get(b.symbol))) if v},
            evidence=tuple(evidence.get(b.symbol, ())),
            **strategy.get(b.symbol, {}),
        )
        for b in sorted(ix.bases.values(), key=lambda b: (b.symbol.file, b.line))
    )


def strategy_entries(ctx: PlanContext, roles: Mapping[Symbol, str], choices: Mapping[Symbol, Choice],
                     target_lines: int, target: str | None, ops: tuple[Operation, ...]) -> dict[Symbol, dict[str, str]]:
    """The plan's ``strategy`` and ``strategy_reason`` of each base: move or rebase for a merged
    one, the canonical module's size (now, and after the moves) for the canonical one."""
    out = {}
    for sym, role in roles.items():
        if sym in choices:
            out[sym] = {"strategy": choices[sym].strategy, "strategy_reason": choices[sym].reason}
        elif role == "canonical" and choices:
            file = target or sym.file
            moves = [op for op in ops if isinstance(op, MoveModels) and op.target == file]
            after = target_lines + sum(span(ctx.index, op.source, set(op.helpers)) for op in moves)
            out[sym] = {"strategy_reason": f"{file}: {lines_of(ctx.index, file)} lines now, about {after} after the moves"}
    return out
