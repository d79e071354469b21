"""Turn a discovery index into a plan: choose the target, order the operations, name the risks."""

from __future__ import annotations

import ast
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from . import cycles
from .discovery import BaseInfo, Index, ModelInfo, Resolver, Symbol
from .facts import ImportBinding, LocalBinding, unparse
from .meaning import alias_imports, follow_lazy_imports, meaning_key, module_state, rename_names, same_object
from .plan import (
    BaseEntry,
    CollapseMetadataCalls,
    Conflict,
    CrossReference,
    ExtractBase,
    ImportRoot,
    MergeDuplicate,
    RenameColumnUses,
    WriteMigration,
    ModelEntry,
    ModuleSpelling,
    MoveModels,
    Operation,
    Plan,
    RebaseBase,
    Rename,
    RewriteImports,
    RewriteStrings,
    Target,
    Warning,
    fingerprint,
)
from .project import is_importable, link_out_of, module_parts
from .shims import only_the_base
from .flask import FlaskInput, plan_flask
from .roles import decide as decide_roles
from .strategy import Choice, choose as choose_strategy, lines_of, span
from .settings import Settings, TableDecision
from .tables import table_differences


NOT_UNDERSTOOD = "W020"  # a possible declarative base discovery cannot follow (``check`` reports it)


class PlanError(ValueError):
    """Bad input for planning (exit 2)."""


@dataclass(frozen=True)
class _Move:
    old: Symbol
    new: Symbol


def make_plan(index: Index, settings: Settings) -> Plan:
    return _Planner(index, settings).plan()


class _Planner:
    def __init__(self, index: Index, settings: Settings) -> None:
        self.ix = index
        self.settings = settings
        self.resolver = Resolver(index.modules, index.facts)
        self.conflicts: list[Conflict] = []
        self.warnings: list[Warning] = []
        self.ops: list[Operation] = []
        self.migrations: list = []
        self.relocated: dict[str, set[str]] = defaultdict(set)  # file -> helpers placed by MergeDuplicate
        self.merged_from: dict[tuple[str, str], Symbol] = {}  # (file, kept class) -> the deleted class
        self.canonical_file: str | None = None
        self.canonical_registry: Symbol | None = None
        # (source, import text) of imports the moved code needs only for type checking
        self.type_checking_texts: set[tuple[str, str]] = set()
        self.merging_bases: set[Symbol] = set()
        self.choices: dict[Symbol, Choice] = {}  # move or rebase, per secondary base (unibase.strategy)
        self.target_lines = 0  # the canonical module's estimated size after the moves
        self.importers = self._importers()

    # -- helpers -------------------------------------------------------------------------------

    def _importers(self) -> dict[str, set[str]]:
        """file -> files that import it (any form, any scope)."""
        out: dict[str, set[str]] = defaultdict(set)
        for rel, f in self.ix.facts.items():
            for imp in f.imports:
                if imp.is_from:
                    mod = self.resolver.module_file(rel, imp.level, imp.module)
                    if mod:
                        out[mod].add(rel)
                    for n in imp.names:
                        sub = self.resolver.imported_submodule(rel, imp.level, imp.module, n.name)
                        if sub:
                            out[sub].add(rel)
                else:
                    for n in imp.names:
                        mod = self.resolver.module_file(rel, 0, n.name)
                        if mod:
                            out[mod].add(rel)
        for k in out:
            out[k].discard(k)
        return out

    def _role(self, info: BaseInfo) -> str:
        if info.test_local:
            return "test-local"
        if info.kind == "flask_sqlalchemy":
            return "excluded"
        return "merge"

    # -- the plan ------------------------------------------------------------------------------

    def plan(self) -> Plan:
        ix = self.ix
        # a file that could hold a base, a model or a table and was not read: any plan could be
        # a partial merge (or the wrong canonical base), so there is none
        self._refuse_unanalysed({rel: u.could_matter for rel, u in ix.unparsable.items() if u.could_matter})
        for n in ix.not_understood:
            self.warnings.append(Warning(
                NOT_UNDERSTOOD, f"possible declarative base not understood: {n.reason}; its classes are left as "
                f"they are and importers of {n.symbol.name} are not rewritten", n.symbol.file, n.line))
        in_scope = [b for b in ix.bases.values() if not b.test_local and b.kind != "flask_sqlalchemy"]
        decision = decide_roles(ix, self.settings, self.importers)
        self.conflicts.extend(decision.conflicts)
        left_out = self._left_out(in_scope)
        candidates = [b for b in in_scope if decision.roles.get(b.symbol) == "merge" and b.symbol not in left_out]
        canonical = chosen = self._choose_canonical(candidates) if candidates else None

        roles = {}
        for b in ix.bases.values():
            roles[b.symbol] = "canonical" if canonical and b.symbol == canonical.symbol else (
                decision.roles.get(b.symbol) or self._role(b))
        for sym in left_out:
            if roles[sym] != "separate":  # a standalone script keeps its role and evidence
                roles[sym] = "excluded"
        if canonical is not None and len(candidates) > 1:
            decision.evidence[canonical.symbol].insert(0, (
                f"canonical: {len(ix.models_of(canonical.symbol))} models and "
                f"{len(self.importers.get(canonical.symbol.file, ()))} importing modules, the most of the bases merged"))
        merging = [b for b in ix.bases.values() if roles[b.symbol] == "merge"]
        self.merging_bases = {b.symbol for b in merging}

        cross = self._cross_references(roles)
        if canonical is not None and merging and canonical.kind == "declarative_base() subclass":
            canonical = self._extract_base(canonical)
        if canonical is not None and merging:
            self.canonical_file = canonical.symbol.file
            self._metadata_hazards(canonical, merging)
            moves = self._plan_merge(canonical, merging)
            self._settle_moves(canonical.symbol.file, moves)
            self._settle_drops(canonical, merging, moves)
            follow_lazy_imports(self, canonical.symbol.file, moves)
            self._plan_imports(canonical, merging, moves)
            self._plan_strings(canonical, merging, moves)
            self._plan_collapse(canonical, merging)
            self._plan_migration()
        # Flask-SQLAlchemy objects: SQLAlchemy(model_class=Base), or why not (unibase.flask)
        group = {b.symbol for b in merging} | ({chosen.symbol} if chosen else set())
        flask = plan_flask(FlaskInput(ix, self.resolver, self.settings, canonical,
                                      [e for s in sorted(group) for e in decision.engines.get(s, ())],
                                      self._spelling_between))
        self.ops.extend(flask.ops)
        self.warnings.extend(flask.warnings)
        for sym, role in flask.roles.items():
            roles[sym] = role
            decision.evidence[sym] = flask.evidence[sym]
        if canonical is not None and merging:
            self._refuse_new_cycles(canonical.symbol.file)

        bases = tuple(
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
                importers=len(self.importers.get(b.symbol.file, ())),
                metadata={k: v for k, v in (("naming_convention", b.naming_convention), ("schema", b.schema),
                                            ("type_annotation_map", b.type_annotation_map),
                                            ("model_class", flask.model_class.get(b.symbol))) if v},
                evidence=tuple(decision.evidence.get(b.symbol, ())),
                **self._strategy_entry(b.symbol, roles[b.symbol]),
            )
            for b in sorted(ix.bases.values(), key=lambda b: (b.symbol.file, b.line))
        )
        self._refuse_unanalysed(self._unanalysed_importers(merging))
        for rel, u in sorted(ix.unparsable.items()):
            self.warnings.append(Warning("W001", f"not analysed: {u.problem}", rel, u.line))
        touched = sorted({f for op in self.ops for f in op.files()})
        for rel in touched:
            if (target := link_out_of(ix.root, rel)) is not None:
                self.conflicts.append(Conflict(
                    "symlink-out-of-project", rel,
                    f"a symbolic link to {target}: changing it would write outside the project (replace the link "
                    "with a copy of the file, or exclude it in [tool.unibase])", None, (rel,)))
        return Plan(
            root=str(ix.root),
            strategy=self.settings.strategy,
            canonical=Target(ix.modules.module_name(canonical.symbol.file), canonical.symbol.file, canonical.symbol.name)
            if canonical else None,
            bases=bases,
            operations=tuple(self.ops),
            conflicts=tuple(self.conflicts),
            warnings=tuple(self.warnings),
            cross_references=tuple(cross),
            fingerprints={f: fingerprint(ix.root / f) for f in touched if (ix.root / f).exists()},
            roots=tuple(ImportRoot(r or ".", n) for r, n in ix.roots),
            scope=self.settings.scope,
        )

    def _strategy_entry(self, sym: Symbol, role: str) -> dict[str, str]:
        """The plan's ``strategy`` and ``strategy_reason`` of a base: move or rebase for a merged
        one, the canonical module's size (now, and after the moves) for the canonical one."""
        if sym in self.choices:
            return {"strategy": self.choices[sym].strategy, "strategy_reason": self.choices[sym].reason}
        if role != "canonical" or not self.choices:
            return {}
        target = self.canonical_file or sym.file
        moves = [op for op in self.ops if isinstance(op, MoveModels) and op.target == target]
        after = self.target_lines + sum(span(self.ix, op.source, set(op.helpers)) for op in moves)
        return {"strategy_reason": f"{target}: {lines_of(self.ix, target)} lines now, about {after} after the moves"}

    def _refuse_unanalysed(self, why: dict[str, str]) -> None:
        """Stop (exit 2) on the first file that could not be read, decoded or parsed and could matter."""
        if not why:
            return
        rel = min(why)
        u = self.ix.unparsable[rel]
        where = f"{rel} line {u.line}" if u.line else rel
        more = f" ({len(why) - 1} more file(s) too: {', '.join(sorted(why)[1:4])})" if len(why) > 1 else ""
        raise PlanError(
            f"{where} {u.problem}, and it could hold a declarative base, models, tables or a metadata use "
            f"({why[rel]}){more}; fix it, or add it to [tool.unibase] exclude"
        )

    def _unanalysed_importers(self, merging: list[BaseInfo]) -> dict[str, str]:
        """Unparsable files whose import lines name a module or a name the plan changes: their
        imports would need rewriting, and unibase cannot see them."""
        changed_files = {b.symbol.file for b in merging} | {
            op.source for op in self.ops if isinstance(op, MoveModels)}
        names = {b.symbol.name for b in merging} | {
            m.symbol.name for b in merging for m in self.ix.models_of(b.symbol)}
        words = {w.encode() for w in names | {module_parts(f)[-1] for f in changed_files if module_parts(f)}}
        return {
            rel: "it imports from a module the plan changes"
            for rel, u in self.ix.unparsable.items()
            if u.could_matter is None and not words.isdisjoint(u.words)
        }

    def _extract_base(self, canonical: BaseInfo) -> BaseInfo:
        """``class BaseModel(declarative_base())``: models joining it must not inherit its
        columns, so the anonymous base gets a name first; later operations target that name."""
        file = canonical.symbol.file
        taken = set(self.ix.facts[file].bindings) if file in self.ix.facts else set()
        name = next(n for n in ("Base", "DeclarativeBase_", "UnibaseBase") if n not in taken)
        self.ops.append(ExtractBase(file=file, class_name=canonical.symbol.name, new_name=name))
        self.warnings.append(Warning(
            "W015", f"the base of {canonical.symbol.name} is anonymous (`{canonical.symbol.name}(declarative_base())`); "
            f"it is named {name} so moved models share the registry without inheriting {canonical.symbol.name}'s columns",
            file, canonical.line))
        from dataclasses import replace

        self.canonical_registry = canonical.symbol
        return replace(canonical, symbol=Symbol(file, name))

    # -- choosing ------------------------------------------------------------------------------

    def _left_out(self, in_scope: list[BaseInfo]) -> set[Symbol]:
        """Bases listed but never merged: those in a file that cannot be imported (a script),
        and those outside the narrower path the command was given (it limits what changes)."""
        out = set()
        scope = self.settings.scope
        for b in in_scope:
            file = b.symbol.file
            if not is_importable(file):
                out.add(b.symbol)
                self.warnings.append(Warning(
                    "W025", f"base {b.symbol.name} is in a file the project cannot import (a script, or the "
                    "code of a folder whose name is not a module name): listed, never merged", file, b.line))
            elif b.fallback_of:
                out.add(b.symbol)
                self.warnings.append(Warning(
                    "W027", f"base {b.symbol.name} is made only when `from {b.fallback_of} import "
                    f"{b.symbol.name}` fails, and {b.fallback_of} is not in the project: listed, never merged",
                    file, b.line))
            elif scope and not (file == scope or file.startswith(scope + "/")):
                out.add(b.symbol)
                self.warnings.append(Warning(
                    "W026", f"base {b.symbol.name} is outside {scope}, the path given: left as it is "
                    "(run unibase on the project root to merge it too)", file, b.line))
        return out

    def _choose_canonical(self, candidates: list[BaseInfo]) -> BaseInfo:
        target = self.settings.target
        if target:
            file, _, name = target.partition(":")
            file = file.strip("/")
            chosen = [b for b in candidates if b.symbol.file == file and (not name or b.symbol.name == name)]
            if not chosen:
                known = ", ".join(f"{b.symbol.file}:{b.symbol.name}" for b in candidates) or "none"
                raise PlanError(f"--target {target} names no declarative base in scope (bases: {known})")
            return chosen[0]

        def score(b: BaseInfo) -> tuple[int, int, str, int]:
            models = len(self.ix.models_of(b.symbol))
            importers = len(self.importers.get(b.symbol.file, ()))
            return (-models, -importers, b.symbol.file, b.line)

        return sorted(candidates, key=score)[0]

    def _cross_references(self, roles: dict[Symbol, str]) -> list[CrossReference]:
        ix = self.ix
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

    def _metadata_hazards(self, canonical: BaseInfo, merging: list[BaseInfo]) -> None:
        for b in merging:
            for attr, label in (("naming_convention", "naming_convention"), ("schema", "schema"),
                                ("type_annotation_map", "type_annotation_map")):
                mine, theirs = getattr(b, attr), getattr(canonical, attr)
                if mine != theirs:
                    # mapped classes and Core tables (association tables) alike
                    tables = sorted({m.table for m in self.ix.models_of(b.symbol) if m.table}
                                    | {t.fact.table for t in self.ix.tables if t.base == b.symbol and t.fact.table})
                    self.conflicts.append(Conflict(
                        "metadata-options", b.symbol.name,
                        f"{b.symbol.file}:{b.line}: {label} {mine or 'default'} differs from the canonical "
                        f"base's {theirs or 'default'}; tables {', '.join(tables) or '(none)'} take the canonical "
                        f"{label}, so constraint names (or schema/types) of those tables change",
                        f"declared change: {', '.join(tables) or 'no tables'} adopt the canonical metadata's {label}",
                        (f"{b.symbol.file}:{b.line}",),
                        {"option": label, "tables": tables, "from": mine, "to": theirs},
                    ))

    # -- moving --------------------------------------------------------------------------------

    def _plan_merge(self, canonical: BaseInfo, merging: list[BaseInfo]) -> list[_Move]:
        ix = self.ix
        target = canonical.symbol.file
        moves: list[_Move] = [_Move(b.symbol, canonical.symbol) for b in merging]
        # the canonical registry's models (found under the base's original symbol when an
        # anonymous base was given a name by ExtractBase)
        registry = self.canonical_registry or canonical.symbol
        target_models = {m.symbol.name: m for m in ix.models_of(registry)}
        table_owner = {m.table: m for m in ix.models_of(registry) if m.table and not m.inherits_table}
        names_in_target = set(ix.facts[target].bindings) if target in ix.facts else set()
        # a class name already mapped by the canonical registry clashes too (string lookups)
        names_in_target |= set(target_models)
        first_merged: dict[str, ModelInfo] = {}  # table -> its first definition on a base being merged
        registry_bases = {canonical.symbol, registry, *(b.symbol for b in merging)}
        self.choices, self.target_lines = choose_strategy(ix, target, registry_bases, merging, self.settings.strategy)

        for b in merging:
            # a class mapped inside a function goes wherever its enclosing definition goes
            models = sorted((m for m in ix.models_of(b.symbol) if not m.local_to),
                            key=lambda m: (m.symbol.file, m.fact.line))
            by_file: dict[str, list[ModelInfo]] = defaultdict(list)
            for m in models:
                by_file[m.symbol.file].append(m)
            if b.symbol.file not in by_file:
                by_file[b.symbol.file] = []
            abstract_here = [s for s, base in ix.abstract_classes.items() if base == b.symbol and s != b.symbol]
            for s in abstract_here:
                by_file.setdefault(s.file, [])
            # duplicate tables first: they decide what is dropped
            drops: dict[Symbol, Symbol] = {}
            for m in models:
                if not m.table or m.inherits_table:
                    continue
                kept = table_owner.get(m.table) or first_merged.setdefault(m.table, m)
                if kept is m or kept.base == m.base:
                    continue
                differences = table_differences(ix, m, kept)
                where = (f"{m.symbol.file}:{m.fact.line}", f"{kept.symbol.file}:{kept.fact.line}")
                if not differences:
                    # the kept class of an earlier merged base has been planned into the target
                    kept_at = next((mv.new for mv in moves if mv.old == kept.symbol), kept.symbol)
                    drops[m.symbol] = kept_at
                    self.conflicts.append(Conflict(
                        "identical-duplicate-table", m.table,
                        f"{m.symbol.file}:{m.fact.line} {m.symbol.name} and {kept.symbol.file}:{kept.fact.line} "
                        f"{kept.symbol.name} define table {m.table} identically",
                        f"keep {kept.symbol.file}:{kept.symbol.name}"
                        + (f" (moved to {kept_at.file}:{kept_at.name})" if kept_at != kept.symbol else "")
                        + f"; {m.symbol.file}:{m.symbol.name} becomes an alias of it",
                        where,
                    ))
                    moves.append(_Move(m.symbol, kept.symbol))
                elif m.table in table_owner:
                    self._plan_duplicate(m, kept, drops, moves)
                else:
                    options = _duplicate_options(m, kept, differences)
                    del options["decision"], options["planned_with"]  # neither definition can be chosen here
                    self.conflicts.append(_duplicate_conflict(m, kept, options, note=(
                        f"both are on bases being merged, {kept.base.file}:{kept.base.name} and "
                        f"{m.base.file}:{m.base.name}, so neither is kept on its own: make {kept.symbol.file} or "
                        f"{m.symbol.file} canonical with --target (then --prefer chooses between them), or make "
                        "the two definitions the same by hand")))
            if self.choices[b.symbol].strategy == "rebase":
                self._plan_rebase(b, canonical, by_file, moves, drops)
                continue
            if stuck := self._unmovable_helpers(by_file, target):
                file, names = stuck
                self.warnings.append(Warning(
                    "W021", f"the models of {b.symbol.name} need {', '.join(names)}, defined under `if`/`try` in "
                    f"{file}, which a move cannot take along; {b.symbol.name} is rebased in place instead",
                    b.symbol.file, b.line))
                self.choices[b.symbol] = Choice("rebase", f"rebase: its models need {', '.join(names)}, defined "
                                                          f"under `if`/`try` in {file}, which a move cannot take along")
                self._plan_rebase(b, canonical, by_file, moves, drops)
                continue
            for file, file_models in sorted(by_file.items()):
                if file == target:
                    continue
                self._plan_move_file(b, canonical, file, file_models, drops, target_models, names_in_target, moves)
        return moves

    def _unmovable_helpers(self, by_file: dict[str, list[ModelInfo]], target: str) -> tuple[str, list[str]] | None:
        """A module-level name the models of a file use that is bound only inside an ``if``/``try``
        block there (``try: from sqlalchemy import ...; AVAILABLE = True``): moving the models
        would leave it behind."""
        for file, models in sorted(by_file.items()):
            facts = self.ix.facts.get(file)
            if file == target or facts is None:
                continue
            top = {n for n, *_ in facts.top_level}
            used = set().union(*(m.fact.body_names for m in models))
            stuck = sorted(n for n in used if isinstance(facts.bindings.get(n), LocalBinding) and n not in top)
            if stuck:
                return file, stuck
        return None

    # -- duplicate tables with different definitions ----------------------------------------------

    def _decision(self, loser: ModelInfo, winner: ModelInfo) -> TableDecision | None:
        for d in self.settings.decisions:
            if d.table == loser.table:
                return d
        chosen = [m for m in (winner, loser) if any(self._matches(p, m.symbol.file) for p in self.settings.prefer)]
        if len(chosen) != 1:
            return None
        # the suggested renames (a column of the deleted class that is the kept one's, renamed)
        renames = tuple((r["from"], r["to"]) for r in _rename_suggestions(loser, winner)) if (
            self.settings.renames and chosen[0] is winner) else ()
        return TableDecision(loser.table or "", f"{chosen[0].symbol.file}:{chosen[0].symbol.name}",
                             self.settings.mode, renames)

    def _matches(self, prefer: str, file: str) -> bool:
        prefer = prefer.strip().strip("/")
        return (
            file == prefer
            or prefer in self.ix.modules.dotted_names(file)
            or file.endswith("/" + prefer)
        )

    def _plan_duplicate(self, m: ModelInfo, kept: ModelInfo, drops: dict[Symbol, Symbol], moves: list[_Move]) -> None:
        """``m`` (on a base being merged) and ``kept`` (on the canonical base) map one table differently."""
        decision = self._decision(m, kept)
        options = _duplicate_options(m, kept, table_differences(self.ix, m, kept))
        if decision is None:
            self.conflicts.append(_duplicate_conflict(m, kept, options))
            return
        kept_id, m_id = f"{kept.symbol.file}:{kept.symbol.name}", f"{m.symbol.file}:{m.symbol.name}"
        if decision.winner not in (kept_id, m_id):
            raise PlanError(f"the decision for table {m.table} keeps {decision.winner}, which defines neither side "
                            f"({kept_id} or {m_id}); fix it in the plan JSON")
        if decision.mode not in ("keep", "union"):
            raise PlanError(f"the decision for table {m.table} has mode {decision.mode!r}; use \"keep\" or \"union\"")
        chosen = {"winner": decision.winner, "mode": decision.mode, "renames": [list(r) for r in decision.renames]}
        # ``decision`` is for the user to edit; ``planned_with`` records what the operations assume
        options = {**options, "decision": chosen, "planned_with": dict(chosen)}
        for r in options["suggested_renames"]:
            r["confirmed"] = [r["from"], r["to"]] in chosen["renames"]
        if decision.winner == m_id:
            self.conflicts.append(_duplicate_conflict(m, kept, options, note=(
                f"the kept definition must be the one on the canonical base ({kept_id}); make {m.symbol.file} "
                "canonical with --target to keep the other one")))
            return
        drops[m.symbol] = kept.symbol
        moves.append(_Move(m.symbol, kept.symbol))
        loser, winner = m, kept
        renames = dict(decision.renames)
        winner_cols = {c.attr: c for c in winner.columns}
        loser_cols = {c.attr: c for c in loser.columns}
        for old, new in renames.items():
            if old not in loser_cols or new not in winner_cols:
                raise PlanError(f"the rename {old} -> {new} for table {m.table} names a column that is not "
                                f"on {loser.symbol.name} ({old}) or on {winner.symbol.name} ({new})")
        loser_tree = _parse_file(self.ix.root, loser.symbol.file)
        loser_class = _find_class(loser_tree, loser.symbol.name)
        winner_class = _find_class(_parse_file(self.ix.root, winner.symbol.file), winner.symbol.name)
        text = (self.ix.root / loser.symbol.file).read_text(encoding="utf-8", errors="replace").splitlines()
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
                    self.warnings.append(Warning(
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
                statements.append(_statement_source(text, node))
                if is_column:
                    added_columns.append(name)
                elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    added_methods.append(f"{name}()")
                else:
                    added_methods.append(name)
            else:
                kind = "column" if is_column else "attribute"
                todo.append((name, f"{kind} {name} was only on the deleted {loser.symbol.file}:{loser.symbol.name}"))
        helpers, imports, statements, helper_texts = self._dependencies(statements, loser.symbol.file,
                                                                        winner.symbol.file)
        if helpers and winner.symbol.file != self.canonical_file:
            # the members would name helpers the winner's module lacks (or defines otherwise)
            self.conflicts.append(_duplicate_conflict(m, kept, options, note=(
                f"union is not possible: the members {winner.symbol.name} would gain use {', '.join(helpers)} of "
                f"{loser.symbol.file}, which unibase does not place in {winner.symbol.file}; choose \"keep\" or "
                "define them there by hand")))
            return
        # a helper renamed in the winner's module is a copy there: the source keeps its own
        self.relocated[loser.symbol.file] |= {h for h, t in zip(helpers, helper_texts)
                                              if t == self._top_level_source(loser.symbol.file, h)}
        if statements:
            self.merged_from[(winner.symbol.file, winner.symbol.name)] = loser.symbol
            self.ops.append(MergeDuplicate(winner.symbol.file, winner.symbol.name, m.table or "",
                                           tuple(statements), tuple(imports), tuple(helper_texts)))
        self._plan_column_uses(loser, winner, tuple(renames.items()), tuple(todo), statements)
        self.migrations.append((loser, winner, decision, tuple(added_columns)))
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
        self.conflicts.append(Conflict(
            "duplicate-table", m.table or "?", _duplicate_detail(m, kept, options), "; ".join(parts),
            (f"{m.symbol.file}:{m.fact.line}", f"{kept.symbol.file}:{kept.fact.line}"), options,
        ))

    def _closure(self, source: str, target: str, start: set[str], skip: set[str]
                 ) -> tuple[list[str], list[str], set[str]]:
        """What code taken from ``source`` into ``target`` needs, given the names it uses: the
        top-level helpers of ``source`` (transitively, in source order), the import statements
        ``target`` lacks (ungrouped), and the local names that mean a declarative base. A name
        ``target`` binds to another object is imported too: the caller imports it under another
        name, so the moved code keeps its meaning."""
        facts = self.ix.facts[source]
        target_names = set(self.ix.facts[target].bindings) if target in self.ix.facts else set()
        helpers: list[str] = []
        imports: list[str] = []
        base_names: set[str] = set()
        seen: set[str] = set()
        stack = sorted(start)
        while stack:
            name = stack.pop()
            if name in seen or name in skip:
                continue
            seen.add(name)
            binding = facts.bindings.get(name)
            if binding is None:
                continue
            if isinstance(binding, ImportBinding):
                resolved = self.resolver.binding_target(source, binding, 0)
                if isinstance(resolved, Symbol) and resolved.file == target:
                    if resolved.name != name:
                        self.warnings.append(Warning(
                            "W011", f"{name} is imported from the target under another name ({resolved.name}); "
                            "check the moved code", source, binding.line))
                    continue
                if isinstance(resolved, Symbol) and resolved in self.ix.bases:
                    base_names.add(name)
                    continue
                moving = isinstance(resolved, Symbol) and (
                    (m := self.ix.models.get(resolved)) is not None and m.base in self.merging_bases
                    or self.ix.abstract_classes.get(resolved) in self.merging_bases)
                if name in target_names and not moving:  # a class that moves too: _settle_moves decides
                    if same_object(self.resolver.name(target, name), resolved):
                        continue
                    # imported all the same: the caller imports it under another name
                text = self._import_text(source, target, name, binding)
                if text and text not in imports:
                    imports.append(text)
                    if _type_checking_only(facts, binding):
                        self.type_checking_texts.add((source, text))
            elif name not in helpers:
                helpers.append(name)
                stack.extend(self._function_names(source, name))
                for a in facts.assigns:
                    if a.name == name:
                        stack.extend(n.id for n in ast.walk(a.value) if isinstance(n, ast.Name))
        order = [n for n, *_ in facts.top_level]
        return sorted(helpers, key=lambda h: order.index(h) if h in order else len(order)), imports, base_names

    def _dependencies(self, statements: list[str], source: str, target: str
                      ) -> tuple[list[str], list[str], list[str], list[str]]:
        """Helpers and imports for class members taken from ``source`` into a class of ``target``,
        and the members and helpers' texts: a name that means something else in ``target`` is
        imported under another name, a helper defined differently there is renamed."""
        if source not in self.ix.facts:
            return [], [], statements, []
        start: set[str] = set()
        for text in statements:
            try:
                start |= {n.id for n in ast.walk(ast.parse(text)) if isinstance(n, ast.Name)}
            except SyntaxError:
                continue
        models_here = {m.symbol.name for m in self.ix.models.values() if m.symbol.file == source}
        helpers, imports, _ = self._closure(source, target, start, models_here)
        target_facts = self.ix.facts.get(target)
        taken = {n: meaning_key(self.resolver.name(target, n)) for n in (target_facts.bindings if target_facts else ())}
        kept, renames = [], {}
        for name in helpers:
            if name in taken and _same_definition(self.ix, source, target, name):
                continue  # the target's own definition stands for it
            if name in taken:
                new = _other_name(source, name)
                while new in taken:
                    new += "_"
                renames[name] = new
            taken[renames.get(name, name)] = Symbol(source, name)
            kept.append(name)
        imports, aliases = alias_imports(
            imports, lambda local: self.resolver.name(source, local), taken, lambda local: _other_name(source, local))
        renames |= aliases
        texts = [self._top_level_source(source, h) for h in kept]
        return kept, _group_imports(imports), *(rename_names(t, renames) for t in (statements, texts))

    def _top_level_source(self, file: str, name: str) -> str:
        tree = _parse_file(self.ix.root, file)
        lines = (self.ix.root / file).read_text(encoding="utf-8", errors="replace").splitlines()
        for node in tree.body if tree else ():
            names = set()
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names = {node.name}
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names = {t.id for t in targets if isinstance(t, ast.Name)}
            if name in names:
                return _statement_source(lines, node)
        return ""

    def _plan_column_uses(self, loser: ModelInfo, winner: ModelInfo, renames, todo, added: list[str]) -> None:
        if not renames and not todo:
            return
        words = [old for old, _ in renames] + [a for a, _ in todo]
        pattern = re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")\b")
        for rel, f in sorted(self.ix.facts.items()):
            if rel == loser.symbol.file:
                continue
            local = sorted({name for name in list(f.bindings) + [n for b in f.function_bindings.values() for n in b]
                            if self.resolver.name(rel, name) in (loser.symbol, winner.symbol)
                            or any(self.resolver.name(rel, name, function=fn) in (loser.symbol, winner.symbol)
                                   for fn, b in f.function_bindings.items() if name in b)})
            if not local and rel != winner.symbol.file:
                continue
            try:
                data = (self.ix.root / rel).read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            if rel == winner.symbol.file:
                data += "".join(added)  # the members UB001 adds to the kept class
            if not pattern.search(data):
                continue
            self.ops.append(RenameColumnUses(rel, tuple(local), tuple(renames), tuple(todo)))

    def _plan_migration(self) -> None:
        if not self.migrations:
            return
        try:
            from . import migration as mig
        except ImportError:  # pragma: no cover
            return
        specs = []
        for loser, winner, decision, added in self.migrations:
            # the merged definition: the winner's columns, plus (union) the loser's extra ones
            loser_cols = {c.attr: c for c in loser.columns}
            merged = [c for c in winner.columns] + [loser_cols[a] for a in added if a in loser_cols]
            columns = tuple(
                mig.ColumnSpec(c.name, c.type or "String", c.nullable != "False", c.foreign_key)
                for c in merged if not c.primary_key
            )
            winner_cols = {c.attr: c for c in winner.columns}
            renames = tuple((loser_cols[o].name, winner_cols[n].name) for o, n in decision.renames)
            primary_key = tuple(c.name for c in merged if c.primary_key)
            specs.append(mig.TableMigration(winner.table or "", columns, renames, primary_key))
        import hashlib

        digest = hashlib.sha1("".join(repr(sp) for sp in specs).encode()).hexdigest()[:12]
        alembic = mig.find_alembic(self.ix.root)
        slug = "merge_" + "_".join(sorted({sp.table for sp in specs}))[:40]
        message = "unibase: migrate " + ", ".join(sorted({sp.table for sp in specs})) + " to the kept definitions"
        try:
            if alembic is not None:
                content = mig.render_alembic_revision(specs, revision=digest, down_revision=alembic.down_revision,
                                                      message=message)
            else:
                content = mig.render_standalone_script(specs, message=message)
        except ValueError as exc:
            self.warnings.append(Warning("W019", f"no migration written: {exc}; write it by hand"))
            return
        path = mig.migration_path(self.ix.root, alembic, digest, slug)
        self.ops.append(WriteMigration(path, content))

    def _plan_rebase(self, b: BaseInfo, canonical: BaseInfo, by_file, moves: list[_Move], drops) -> None:
        """``--strategy rebase`` keeps every class where it is and maps it in the canonical registry.

        It cannot delete a duplicate class nor rename a clashing one, so a table mapped on both
        sides ("Table 'x' is already defined") and two classes of one name in one registry
        (relationship("Name") becomes ambiguous) are conflicts that need a decision: the
        resolution is ``--strategy move``, which drops duplicates and renames clashing classes.
        """
        from dataclasses import replace

        for sym in drops:
            m = self.ix.models.get(sym)
            loc = f"{sym.file}:{m.fact.line}" if m else None
            for i, c in enumerate(self.conflicts):
                if c.kind in ("identical-duplicate-table", "duplicate-table") and c.locations[:1] == (loc,):
                    self.conflicts[i] = replace(c, resolution=None, detail=(
                        f"{c.detail}; --strategy rebase keeps both classes and maps them in one registry "
                        f"(\"Table '{c.subject}' is already defined\"): use --strategy move, which deletes the copy"))
        self._rebase_collisions(b, canonical, set(drops))
        level, module = self._spelling_between(b.symbol.file, canonical.symbol.file)
        self.ops.append(RebaseBase(
            file=b.symbol.file, name=b.symbol.name, target=canonical.symbol.file,
            target_name=canonical.symbol.name, import_from=module, import_level=level,
        ))

    def _rebase_collisions(self, b: BaseInfo, canonical: BaseInfo, dropped: set[Symbol]) -> None:
        """Classes of ``b`` whose name a class already in the merged registry has (rebase only)."""
        ix = self.ix
        registry: dict[str, list[ModelInfo]] | None = getattr(self, "_rebase_registry", None)
        if registry is None:
            registry = defaultdict(list)
            for m in ix.models.values():
                info = ix.bases.get(m.base)
                # the canonical base, also when it was anonymous and ExtractBase named it
                if m.base == canonical.symbol or (info and m.base.file == canonical.symbol.file and info.line == canonical.line):
                    registry[m.symbol.name].append(m)
            self._rebase_registry = registry
        mine = [m for m in ix.models_of(b.symbol) if m.symbol not in dropped and not m.local_to]
        strings = self._registry_strings()
        for m in sorted(mine, key=lambda m: (m.symbol.file, m.fact.line)):
            others = [o for o in registry.get(m.symbol.name, []) if o.symbol != m.symbol]
            if others:
                other = others[0]
                word = re.compile(rf"(?<![\w.]){re.escape(m.symbol.name)}(?!\w)")
                uses = sorted({f"{f}:{line}" for f, line, text in strings if word.search(text)})
                self.conflicts.append(Conflict(
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
        for m in mine:
            registry[m.symbol.name].append(m)

    def _registry_strings(self) -> list[tuple[str, int, str]]:
        """(file, line, text) of every string a mapped class gives the registry to resolve."""
        out = []
        for rel, f in self.ix.facts.items():
            for c in f.classes:
                for r in c.relationships:
                    if r.target and r.target_is_string:
                        out.append((rel, r.line, r.target))
                    out.extend((rel, r.line, v) for _, v in r.strings)
                out.extend((rel, c.line, t) for _, t in c.annotation_targets)
        return out

    def _plan_move_file(self, b: BaseInfo, canonical: BaseInfo, source: str, models: list[ModelInfo],
                        drops: dict[Symbol, Symbol], target_models: dict[str, ModelInfo],
                        names_in_target: set[str], moves: list[_Move]) -> None:
        ix = self.ix
        table_owner_names = {m.table for m in target_models.values() if m.table}
        target = canonical.symbol.file
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
        helpers, imports, base_aliases = self._closure(source, target, need, class_names | dropped_here | {b.symbol.name})
        base_local_names = {b.symbol.name} | base_aliases
        relocated = self.relocated.get(source, set())
        helpers = [h for h in helpers if h not in class_names and h not in relocated]
        # ``class X(other_db.Base)``, ``Table(..., other_db.Base.metadata)``: the moved code names
        # the canonical base instead, and the module alias is not imported into the target when
        # that was its only use (the alias's module becomes a shim of the target: a cycle)
        tree = _parse_file(ix.root, source)
        moved_nodes = [n for n in (tree.body if tree else ()) if _defines(n) & (class_names | set(helpers))]
        base_attributes = self._base_attributes(source, b, moved_nodes)
        imports = _without_names(imports, {alias for alias, _ in base_attributes}
                                 - _other_uses(moved_nodes, base_attributes))
        # a project import the moved code needs only in function annotations never runs in the
        # target (no new import cycle): it goes under ``if TYPE_CHECKING:``, the annotations quoted
        lazy = cycles.annotation_only_imports(self.resolver, source, imports, moved_nodes)
        type_checking = _group_imports([t for t in imports if (source, t) in self.type_checking_texts or t in lazy])
        imports = _group_imports([t for t in imports if (source, t) not in self.type_checking_texts and t not in lazy])
        # annotations written under ``from __future__ import annotations`` are never evaluated;
        # moved into a module without it they would be, unless quoted
        target_future = target in ix.facts and _future_annotations(ix.facts[target])
        quote = (_future_annotations(facts) or bool(lazy)) and not target_future
        # names that clash with what the target already defines
        duplicate_tables = {m.symbol.name for m in models if m.table in table_owner_names}
        for name in list(class_names) + helpers:
            if name in duplicate_tables:
                continue
            if name in names_in_target:
                kept = target_models.get(name)
                resolved = self.resolver.name(target, name)
                if isinstance(resolved, Symbol) and resolved.file == source:
                    continue  # the target imports it from the source today: it becomes local
                if name in helpers and _same_definition(ix, source, target, name):
                    helpers.remove(name)
                    continue
                new = _other_name(source, name)
                while new in names_in_target:
                    new += "_"
                renames.append((name, new))
                moving_model = ix.models.get(Symbol(source, name))
                if moving_model is not None and _table_from_class_name(moving_model):
                    self.conflicts.append(Conflict(
                        "class-name-collision", name,
                        f"{source} and {target} both define a class {name}, and the table of {source}:{name} "
                        "is computed (a declared_attr __tablename__, from the class name, say): renaming the "
                        f"class to {new} could rename its table; rename one of the classes by hand first",
                        None, (f"{source}", f"{target}"),
                    ))
                elif kept is not None or name in class_names:
                    self.conflicts.append(Conflict(
                        "class-name-collision", name,
                        f"{source} and {target} both define a class {name}"
                        + (f" (tables {self._table_of(source, name)} and {kept.table})" if kept else ""),
                        f"rename {source}:{name} to {new} in {target}; the shim keeps the name {name}",
                        (f"{source}", f"{target}"),
                    ))
                else:
                    self.warnings.append(Warning(
                        "W012", f"helper {name} also exists in {target}; it moves as {new}", source))
        rename_map = dict(renames)
        for name in sorted(class_names | set(helpers)):
            moves.append(_Move(Symbol(source, name), Symbol(target, rename_map.get(name, name))))
        # what this file brings into the target can clash with what the next file brings
        names_in_target |= {rename_map.get(n, n) for n in class_names | set(helpers)}
        level, module = self._spelling_between(source, target)
        self.ops.append(MoveModels(
            source=source, target=target, base_name=b.symbol.name if b.symbol.file == source else
            self._local_base_name(source, b) or b.symbol.name,
            target_base=canonical.symbol.name,
            classes=tuple(c.name for c in facts.classes if c.name in class_names),
            helpers=tuple(helpers), imports=tuple(imports), renames=tuple(renames),
            drop=tuple((m.symbol.name, drops[m.symbol].name, *reversed(self._spelling_between(source, drops[m.symbol].file)))
                       for m in models if m.symbol in drops),
            string_renames=tuple((old, new) for old, new in renames if old in class_names),
            base_aliases=tuple(sorted(base_local_names - {b.symbol.name})),
            base_attributes=tuple(sorted(base_attributes)),
            type_checking_imports=tuple(type_checking),
            quote_annotations=quote,
            import_from=module, import_level=level,
            imported_elsewhere=tuple(sorted(self._names_imported_from(source))),
            relocated=tuple(sorted(relocated)),
            copied=tuple(h for h in helpers if any(a.name == h and module_state(a.value) for a in facts.assigns)),
        ))

    def _settle_moves(self, target: str, moves: list[_Move]) -> None:
        """Correct what each move would import into ``target``, now that every move is known.

        A name another move places in ``target`` is not imported (from a module that becomes a
        shim importing ``target``: a cycle). A helper of a module that becomes such a shim moves
        along with that module's operation instead of being imported from it. Two different
        things imported under one name: the later one is imported under another name. Then the
        moves run in an order where every move comes after those that place what it needs.
        """
        ops = [op for op in self.ops if isinstance(op, MoveModels) and op.target == target]
        if not ops:
            return
        by_source = {op.source: i for i, op in enumerate(ops)}
        moved_to = {mv.old: mv.new for mv in moves}
        needs: dict[int, set[int]] = defaultdict(set)
        extra: dict[int, set[str]] = defaultdict(set)
        # what the target's own names mean: an import of another thing under one of them is aliased
        target_facts = self.ix.facts.get(target)
        meaning_in_target: dict[str, object] = {
            name: meaning_key(self.resolver.name(target, name)) for name in (target_facts.bindings if target_facts else ())}
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
                    meaning = self.resolver.name(op.source, local)
                    final = _follow(moved_to, meaning) if isinstance(meaning, Symbol) else None
                    if final is not None and final != meaning and final.file == target:
                        if final.name != local:
                            renames.append((local, final.name))
                        if by_source.get(meaning.file, i) != i:
                            needs[i].add(by_source[meaning.file])
                        continue
                    if (isinstance(meaning, Symbol) and by_source.get(meaning.file, i) != i
                            and self._movable_helper(meaning, target, ignore_target=True)):
                        # a helper of a module that becomes a shim of the target: importing it
                        # from there would be a cycle, so it moves with that module's operation
                        j = by_source[meaning.file]
                        needs[i].add(j)
                        new = placed_as.get(meaning)
                        if new is None and meaning_in_target.get(meaning.name, meaning) == meaning:
                            new = meaning.name
                        elif new is None and _same_definition(self.ix, meaning.file, target, meaning.name):
                            new = meaning.name  # the target's own definition stands for it
                            placed_as[meaning] = new
                        elif new is None:
                            new = _other_name(meaning.file, meaning.name)
                            while meaning_in_target.setdefault(new, meaning) != meaning:
                                new += "_"
                            extra_renames[j].append((meaning.name, new))
                        if meaning not in placed_as:
                            placed_as[meaning] = new
                            meaning_in_target[new] = meaning
                            extra[j].add(meaning.name)
                            moves.append(_Move(meaning, Symbol(target, new)))
                        if new != local:
                            renames.append((local, new))
                        continue
                    key = meaning_key(meaning) if meaning is not None else text
                    if meaning_in_target.setdefault(local, key) != key:
                        new = alias_of.get(key) or _other_name(op.source, local)
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
                more, imports, _ = self._closure(op.source, target, extra[i], set(op.classes) | {op.base_name})
                for h in more:
                    if h in helpers:
                        continue
                    here = Symbol(op.source, h)
                    if h not in extra[i] and meaning_in_target.setdefault(h, here) != here:
                        if _same_definition(self.ix, op.source, target, h):
                            continue
                        new = _other_name(op.source, h)
                        while meaning_in_target.setdefault(new, here) != here:
                            new += "_"
                        renames.append((h, new))
                    helpers.append(h)
                imports, aliases = alias_imports(
                    imports, lambda local, op=op: self.resolver.name(op.source, local), meaning_in_target,
                    lambda local, op=op: _other_name(op.source, local))
                texts += imports
                renames += aliases.items()
                order = [n for n, *_ in self.ix.facts[op.source].top_level]
                helpers.sort(key=lambda h: order.index(h) if h in order else len(order))
            ops[i] = replace(op, imports=tuple(_group_imports(texts)), renames=tuple(dict.fromkeys(renames)),
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
        self.ops = [next(slots) if isinstance(op, MoveModels) and op.target == target else op for op in self.ops]

    def _settle_drops(self, canonical: BaseInfo, merging: list[BaseInfo], moves: list[_Move]) -> None:
        """Point each move's dropped duplicates at where their kept classes end up, now that every
        move is known. Moved code that names a dropped class whose kept class is not in the target
        names the kept class through the registry (``relationship("Kept")``, ``Mapped["Kept"]``):
        importing it could make a cycle. Any other use of the dropped name is a conflict."""
        target = canonical.symbol.file
        moved_to = {mv.old: mv.new for mv in moves}
        final_names = Counter(_follow(moved_to, m.symbol).name for m in self._merged_models(canonical, merging)
                              if moved_to.get(m.symbol) not in self.ix.models)  # dropped ones are gone
        for i, op in enumerate(self.ops):
            if not isinstance(op, MoveModels) or op.target != target or not op.drop:
                continue
            drop, registry_names = [], []
            tree = _parse_file(self.ix.root, op.source)
            moved_nodes = [n for n in (tree.body if tree else ()) if _defines(n) & {*op.classes, *op.helpers}]
            for name, *_ in op.drop:
                kept = _follow(moved_to, Symbol(op.source, name))
                drop.append((name, kept.name, *reversed(self._spelling_between(op.source, kept.file))))
                if kept.file == target:
                    continue
                unique = final_names[kept.name] == 1
                spelling = kept.name if unique else f"{self.ix.modules.module_name(kept.file)}.{kept.name}"
                blocked = _unmovable_uses(moved_nodes, name, annotations_ok=unique)
                if blocked:
                    self.conflicts.append(Conflict(
                        "dropped-duplicate-reference", name,
                        f"{op.source}:{blocked[0]} uses {name}, which is deleted as a duplicate of "
                        f"{kept.file}:{kept.name}; that class stays out of {target}, and only relationship({name}) "
                        f"and Mapped[{name}] can name it through the registry: change this use by hand",
                        None, (f"{op.source}:{blocked[0]}", f"{kept.file}")))
                registry_names.append((name, spelling))
            self.ops[i] = replace(op, drop=tuple(drop), registry_names=tuple(registry_names))

    def _merged_models(self, canonical: BaseInfo, merging: list[BaseInfo]) -> list[ModelInfo]:
        """The mapped classes of the one registry after the merge (before drops)."""
        merged = {canonical.symbol, *(b.symbol for b in merging)}
        if self.canonical_registry is not None:
            merged.add(self.canonical_registry)
        return [m for m in self.ix.models.values() if m.base in merged]

    def _movable_helper(self, symbol: Symbol, target: str, ignore_target: bool = False) -> bool:
        """A top-level definition that is not a mapped class and (unless ``ignore_target``) that
        ``target`` does not bind."""
        facts = self.ix.facts.get(symbol.file)
        if facts is None or symbol in self.ix.models or symbol in self.ix.bases:
            return False
        target_names = set(self.ix.facts[target].bindings) if target in self.ix.facts and not ignore_target else set()
        return symbol.name not in target_names and any(n == symbol.name for n, *_ in facts.top_level)

    def _base_attributes(self, source: str, b: BaseInfo, moved: list[ast.stmt]) -> set[tuple[str, str]]:
        """``(module alias, attribute)`` pairs spelling base ``b`` in the moved statements."""
        return {(n.value.id, n.attr) for node in moved for n in ast.walk(node)
                if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
                and self.resolver.expr(source, n) == b.symbol}

    def _names_imported_from(self, source: str) -> set[str]:
        names = set()
        for rel in self.importers.get(source, ()):
            for imp in self.ix.facts[rel].imports:
                if imp.is_from and self.resolver.module_file(rel, imp.level, imp.module) == source:
                    names.update(n.name for n in imp.names)
        return names

    def _table_of(self, file: str, name: str) -> str | None:
        m = self.ix.models.get(Symbol(file, name))
        return m.table if m else None

    def _local_base_name(self, file: str, b: BaseInfo) -> str | None:
        f = self.ix.facts.get(file)
        if not f:
            return None
        for name in f.bindings:
            if self.resolver.name(file, name) == b.symbol:
                return name
        return None

    def _function_names(self, file: str, name: str) -> list[str]:
        tree = _parse_file(self.ix.root, file)
        for node in tree.body if tree else ():
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
                return [n.id for n in ast.walk(node) if isinstance(n, ast.Name)]
        return []

    def _import_text(self, source: str, target: str, name: str, binding: ImportBinding) -> str | None:
        """The import statement ``target`` needs to bind ``name`` as ``source`` did."""
        alias = "" if (binding.attr or (binding.module or "").split(".")[0]) == name else f" as {name}"
        if binding.level == 0:
            if binding.attr is None:
                return f"import {binding.module}{alias}" if alias or binding.module == name else f"import {binding.module}"
            return f"from {binding.module} import {binding.attr}{alias}"
        mod_file = self.resolver.module_file(source, binding.level, binding.module)
        if mod_file is None:
            return None
        level, module = self._spelling_between(target, mod_file)
        dots = "." * level
        if binding.attr is None:
            return None
        return f"from {dots}{module} import {binding.attr}{alias}"

    def _spelling_between(self, from_file: str, to_file: str) -> tuple[int, str]:
        """A relative import from ``from_file`` to ``to_file`` when both share a package, else absolute."""
        a = list(PurePosixPath(from_file).parent.parts)
        b_parts = list(module_parts(to_file))
        common = 0
        for x, y in zip(a, b_parts):
            if x != y:
                break
            common += 1
        pkg_ok = common > 0 and all(
            self.ix.modules.has_init("/".join(a[:i])) for i in range(common, len(a) + 1)
        ) and self.ix.modules.has_init("/".join(a[:common]))
        if pkg_ok:
            level = len(a) - common + 1
            return level, ".".join(b_parts[common:])
        return 0, self.ix.modules.module_name(to_file, from_file)

    def _refuse_new_cycles(self, target: str) -> None:
        """A plan whose writes close an import cycle the project did not have is refused."""
        before = cycles.import_graph(self.resolver)
        graph = {k: set(v) for k, v in before.items()}
        added: set[tuple[str, str]] = set()
        here = cycles.text_targets(self.resolver, target, f"import {self.ix.modules.module_name(target)}") | {target}
        for op in self.ops:
            if isinstance(op, MoveModels) and op.target == target:
                added |= {(op.source, t) for t in here - {op.source}}
                added |= {(target, t) for text in op.imports for t in cycles.text_targets(self.resolver, target, text)}
            elif isinstance(op, MergeDuplicate):
                added |= {(op.file, t) for text in op.imports for t in cycles.text_targets(self.resolver, op.file, text)}
            elif isinstance(op, RewriteImports):
                old = {s.file for s in op.spellings} & graph.get(op.file, set())
                if old:
                    graph[op.file] -= old  # the import of the shim-to-be now names the target
                    added |= {(op.file, t) for t in here - {op.file}}
        cycle = cycles.new_cycle(graph, added)
        if cycle is None:
            return
        chain = " -> ".join(self.ix.modules.module_name(f) or f for f in cycle)
        self.conflicts.append(Conflict(
            "import-cycle", target,
            f"the merge would make a new import cycle, {chain}, so importing any of them could fail "
            f"(\"partially initialized module\"); move what {cycle[1]} needs out of the cycle or import it inside "
            "the function that uses it, then plan again", None, tuple(cycle[:-1])))

    # -- imports -------------------------------------------------------------------------------

    def _plan_imports(self, canonical: BaseInfo, merging: list[BaseInfo], moves: list[_Move]) -> None:
        ix = self.ix
        by_file: dict[str, list[_Move]] = defaultdict(list)
        moved_to = {mv.old: mv.new for mv in moves}
        for mv in [_Move(mv.old, _follow(moved_to, mv.old)) for mv in moves]:  # a kept class may move too
            # a dropped duplicate whose kept class lives outside the target stays importable
            # through the shim; only names now in the target module are re-pointed. A base
            # rebased in place keeps its module and its models: importing that module may be
            # what maps them (``import audit.db as audit_mod``), so its importers stay as they are,
            # unless the base is all it holds (it becomes a shim)
            choice = self.choices.get(mv.old)
            if choice is not None and choice.strategy == "rebase" and not only_the_base(
                    _parse_file(ix.root, mv.old.file), mv.old.name):
                continue
            if mv.old != mv.new and mv.new.file == canonical.symbol.file:
                by_file[mv.old.file].append(mv)
        # re-exports: a module that imports a moved name and is itself imported for it
        base_names = sorted({canonical.symbol.name} | {b.symbol.name for b in merging})
        source_files = set(by_file)
        unresolved = {(n.symbol.file, n.symbol.name) for n in ix.not_understood}
        for rel, f in sorted(ix.facts.items()):
            spellings: list[ModuleSpelling] = []
            renames: list[Rename] = []
            for imp in f.imports:
                if imp.is_from:
                    mod = self.resolver.module_file(rel, imp.level, imp.module)
                    if any((mod, n.name) in unresolved for n in imp.names):
                        continue  # a name unibase cannot resolve: its importers stay as they are
                    files = []
                    if mod in source_files:
                        files.append((imp.level, imp.module or "", mod))
                    for n in imp.names:
                        sub = self.resolver.imported_submodule(rel, imp.level, imp.module, n.name)
                        if sub in source_files and sub not in {x[2] for x in files}:
                            files.append((imp.level, f"{imp.module or ''}.{n.name}".lstrip(".") if imp.module else n.name, sub))
                    for level, module, file in files:
                        spellings.append(self._respell(rel, level, module, file, canonical))
                else:
                    for n in imp.names:
                        mod = self.resolver.module_file(rel, 0, n.name)
                        if mod in source_files:
                            spellings.append(self._respell(rel, 0, n.name, mod, canonical))
            if not spellings:
                continue
            seen = set()
            uniq = []
            for s in spellings:
                if (s.level, s.module) not in seen:
                    seen.add((s.level, s.module))
                    uniq.append(s)
            for s in uniq:
                for mv in by_file[s.file]:
                    renames.append(Rename(mv.old.file, mv.old.name, mv.new.file, mv.new.name))
            if rel in source_files and all(s.file == rel for s in uniq):
                continue
            self.ops.append(RewriteImports(
                file=rel, spellings=tuple(uniq), renames=tuple(dict.fromkeys(renames)),
                base_names=tuple(base_names), canonical_name=canonical.symbol.name,
            ))

    def _respell(self, file: str, level: int, module: str, resolved: str, canonical: BaseInfo) -> ModuleSpelling:
        target = canonical.symbol.file
        if file == target:
            return ModuleSpelling(level, module, resolved, 0, "")
        if level:
            new_level, new_module = self._spelling_between(file, target)
            if new_level == 0:
                new_module = self._absolute_like(module, resolved, target, file)
            return ModuleSpelling(level, module, resolved, new_level, new_module)
        return ModuleSpelling(0, module, resolved, 0, self._absolute_like(module, resolved, target, file))

    def _absolute_like(self, spelled: str, resolved: str, target: str, importer: str | None = None) -> str:
        """Spell ``target`` as the project spells it, else from the same root the importer used
        to spell ``resolved``."""
        if self.ix.modules.spellings(target):
            return self.ix.modules.module_name(target, importer)
        parts = module_parts(resolved)
        spelled_parts = tuple(spelled.split(".")) if spelled else ()
        start = len(parts) - len(spelled_parts)
        target_parts = module_parts(target)
        if spelled_parts and parts[start:] == spelled_parts and target_parts[:start] == parts[:start]:
            name = ".".join(target_parts[start:])
            if importer is None or self.ix.modules.resolve(name, importer) == target:
                return name
        return self.ix.modules.module_name(target, importer)

    # -- strings -------------------------------------------------------------------------------

    def _plan_strings(self, canonical: BaseInfo, merging: list[BaseInfo], moves: list[_Move]) -> None:
        """Relationship strings that name a moved class by module, or a deleted duplicate by name.

        UB003 runs after the moves: each string is rewritten where its class lives by then.
        """
        ix = self.ix
        moved_to = {mv.old: mv.new for mv in moves}
        qualified: dict[str, str] = {}
        for mv in moves:
            new = _follow(moved_to, mv.old)  # a dropped class's kept class may move too
            if mv.old.file == new.file and mv.old.name == new.name:
                continue
            for old_mod in ix.modules.dotted_names(mv.old.file):
                new_mod = self._absolute_like(old_mod, mv.old.file, new.file)
                qualified[f"{old_mod}.{mv.old.name}"] = f"{new_mod}.{new.name}"
        # a deleted duplicate is gone from the one registry: its bare name now means the kept
        # class, unless another class of the merged registry keeps that name
        in_registry = self._merged_models(canonical, merging)
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
            return
        registry_classes = {m.symbol: m.base for m in in_registry}
        found: dict[str, list[tuple[str, str]]] = defaultdict(list)
        self._settle_merged_members(moved_to, qualified, bare, renamed_on, found)
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
        for home, pairs in sorted(found.items()):
            if pairs:
                self.ops.append(RewriteStrings(home, tuple(dict.fromkeys(pairs))))
        for (home, pairs), classes in sorted(scoped.items()):
            self.ops.append(RewriteStrings(home, pairs, tuple(sorted(set(classes)))))

    def _settle_merged_members(self, moved_to: dict[Symbol, Symbol], qualified: dict[str, str],
                               bare: dict[str, str], renamed_on: dict[Symbol, dict[str, str]],
                               found: dict[str, list[tuple[str, str]]]) -> None:
        """Members appended to a kept class (UB001 union) name the deleted class's neighbours as
        they were: their strings (``relationship("RequestB")``) are rewritten with the kept
        class's own, and a class named directly that ends up in the same module is renamed."""
        for i, op in enumerate(self.ops):
            loser = self.merged_from.get((op.file, op.class_name)) if isinstance(op, MergeDuplicate) else None
            if loser is None or loser not in self.ix.models:
                continue
            pairs = {**qualified, **bare, **renamed_on.get(self.ix.models[loser].base, {})}
            texts = [n.value for t in op.statements for n in ast.walk(ast.parse(t))
                     if isinstance(n, ast.Constant) and isinstance(n.value, str)]
            home = _follow(moved_to, Symbol(op.file, op.class_name))
            found[home.file] += [(old, new) for old, new in pairs.items() for t in texts
                                 if re.search(rf"(?<![\w.]){re.escape(old)}(?![\w])", t)]
            names = {}
            for c in self.ix.facts[loser.file].classes:
                final = _follow(moved_to, Symbol(loser.file, c.name))
                if final.name != c.name and final.file == home.file:
                    names[c.name] = final.name
            if names:
                self.ops[i] = replace(op, statements=tuple(rename_names(op.statements, names)))

    # -- metadata calls -------------------------------------------------------------------------

    def _plan_collapse(self, canonical: BaseInfo, merging: list[BaseInfo]) -> None:
        ix = self.ix
        merged = {canonical.symbol} | {b.symbol for b in merging}
        for rel, f in sorted(ix.facts.items()):
            per_scope: dict[tuple[str | None, str, str | None], int] = defaultdict(int)
            names: set[str] = set()
            for use in f.metadata_uses:
                if use.attr not in ("create_all", "drop_all"):
                    continue
                if self._merged_owner(rel, use.owner, use.function, merged):
                    per_scope[(use.function, use.attr, use.bind)] += 1
                    names.add(unparse(use.owner))
            extra = sum(n - 1 for n in per_scope.values() if n > 1)
            for loop in f.metadata_loops:
                ours = [e for e in loop.elements if self._merged_owner(rel, e, loop.function, merged)]
                if len(ours) > 1:
                    extra += len(ours) - 1
                    names.update(unparse(e.value if _is_metadata_attr(e) else e) for e in ours)
            tm = 0
            for t in f.target_metadata:
                if isinstance(t.value, (ast.List, ast.Tuple)):
                    owners = set()
                    for e in t.value.elts:
                        if _is_metadata_attr(e) and (bb := self._merged_owner(rel, e, None, merged)):
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
                self.ops.append(CollapseMetadataCalls(rel, tuple(sorted(names)), extra + tm))
                self._warn_ddl_order(rel, f, merged)

    def _merged_owner(self, rel: str, node: ast.expr, function: str | None, merged: set[Symbol]) -> Symbol | None:
        """The base being merged that ``node`` (``X`` or ``X.metadata``) names, or None."""
        if _is_metadata_attr(node):
            node = node.value
        owner = self.resolver.expr(rel, node, function=function)
        b = owner if owner in self.ix.bases else self.ix.abstract_classes.get(owner) if isinstance(owner, Symbol) else None
        return b if b in merged else None

    def _warn_ddl_order(self, rel: str, f, merged: set[Symbol]) -> None:
        """A repeated create_all that UB004 drops, with other statements between it and the call
        that is kept: its tables are now created earlier, before those statements run."""
        calls = {}
        for use in f.metadata_uses:
            if use.attr in ("create_all", "drop_all") and self._merged_owner(rel, use.owner, use.function, merged):
                calls[use.statement_line] = use
        if len(calls) < 2:
            return
        tree = _parse_file(self.ix.root, rel)
        if tree is None:
            return
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
                        self.warnings.append(Warning(
                            "W028", f"{use.attr} here repeats the one at line {block[kept[key]].lineno} and is "
                            f"dropped: the tables it made are now made at line {block[kept[key]].lineno}, before "
                            f"lines {between[0].lineno}-{between[-1].end_lineno or between[-1].lineno} run; check "
                            "code there that alters or fills tables", rel, use.line))


def _other_uses(moved: list[ast.stmt], spelled: set[tuple[str, str]]) -> set[str]:
    """The module aliases of ``spelled`` pairs that the moved statements also use in another way."""
    aliases = {a for a, _ in spelled}
    used: set[str] = set()
    for node in moved:
        as_base = {id(n.value) for n in ast.walk(node) if isinstance(n, ast.Attribute)
                   and isinstance(n.value, ast.Name) and (n.value.id, n.attr) in spelled}
        used |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and n.id in aliases and id(n) not in as_base}
    return used


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


def _defines(node: ast.stmt) -> set[str]:
    """The top-level names a statement binds (a class, a function, an assignment)."""
    if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
        return {node.name}
    targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
    return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}


def _without_names(texts: list[str], names: set[str]) -> list[str]:
    """Import statements with the bindings of ``names`` left out (and a statement left empty, out)."""
    if not names:
        return texts
    out = []
    for text in texts:
        stmt = ast.parse(text).body[0]
        kept = [a for a in stmt.names if (a.asname or a.name.partition(".")[0]) not in names]  # type: ignore[attr-defined]
        if len(kept) == len(stmt.names):  # type: ignore[attr-defined]
            out.append(text)
        elif kept:
            stmt.names = kept  # type: ignore[attr-defined]
            out.append(ast.unparse(stmt))
    return out


def _type_checking_only(facts, binding: ImportBinding) -> bool:
    """The import that made ``binding`` sits under ``if TYPE_CHECKING:``."""
    return any(i.line <= binding.line <= i.end_line and i.scope == "type-checking" for i in facts.imports)


def _future_annotations(facts) -> bool:
    return any(i.is_from and i.module == "__future__" and any(n.name == "annotations" for n in i.names)
               for i in facts.imports)


def _table_from_class_name(m: ModelInfo) -> bool:
    """The model's table name is not a literal of its own: a computed ``__tablename__``, or none
    found (a ``declared_attr`` on a parent) while it is not single-table inheritance."""
    return m.fact.tablename_computed or (m.table is None and not m.inherits_table and m.fact.table_call is None)


def _follow(moved_to: dict[Symbol, Symbol], symbol: Symbol) -> Symbol:
    """Where ``symbol`` ends up: a dropped class's kept class may itself move."""
    seen = {symbol}
    while symbol in moved_to and moved_to[symbol] not in seen:
        symbol = moved_to[symbol]
        seen.add(symbol)
    return symbol


def _group_imports(texts: list[str]) -> list[str]:
    """``from m import a`` + ``from m import b`` -> ``from m import a, b`` (sorted, stable)."""
    grouped: dict[str, list[str]] = {}
    plain: list[str] = []
    for text in texts:
        m = re.match(r"from (\S+) import (.+)$", text)
        if m:
            grouped.setdefault(m.group(1), []).append(m.group(2))
        else:
            plain.append(text)
    out = sorted(set(plain))
    for module in sorted(grouped):
        out.append(f"from {module} import {', '.join(sorted(set(grouped[module]), key=str.lower))}")
    return out


def _other_name(file: str, name: str) -> str:
    """``name`` prefixed with the name of the module ``file``, in the name's own style
    (``ITEM_LEN`` -> ``MODELS_ITEM_LEN``, ``Item`` -> ``ModelsItem``, ``item`` -> ``models_item``).
    A package's ``__init__.py`` lends the package's name; never a leading underscore (a
    ``__name`` inside a class body would be mangled)."""
    path = PurePosixPath(file)
    stem = (path.parent.name if path.stem == "__init__" else path.stem).strip("_") or "module"
    if name.isupper():
        return f"{stem.upper()}_{name}"
    return f"{_camel(stem)}{name}" if name[:1].isupper() else f"{stem}_{name}"


def _camel(stem: str) -> str:
    stem = re.sub(r"_?models?$", "", stem) or stem
    return "".join(p[:1].upper() + p[1:] for p in stem.split("_") if p)


def _column_dict(c) -> dict:
    return {"attr": c.attr, "name": c.name, "type": c.type, "nullable": c.nullable, "primary_key": c.primary_key,
            "foreign_key": c.foreign_key, "default": c.default, "index": c.index, "unique": c.unique}


def _definition(m: ModelInfo) -> dict:
    return {
        "file": m.symbol.file,
        "class": m.symbol.name,
        "line": m.fact.line,
        "columns": [_column_dict(c) for c in m.columns],
        "table_args": m.fact.table_args,
        "relationships": [{"attr": r.attr, "target": r.target, "secondary": r.secondary} for r in m.fact.relationships],
        "methods": list(m.fact.methods),
    }


def _rename_suggestions(m: ModelInfo, kept: ModelInfo) -> list[dict]:
    """Pairs of columns, one only on each side, that look like one column renamed."""
    mine = {c.attr: c for c in m.columns}
    theirs = {c.attr: c for c in kept.columns}
    only_mine = [c for a, c in mine.items() if a not in theirs]
    only_theirs = [c for a, c in theirs.items() if a not in mine]
    out = []
    for a in only_mine:
        for b in only_theirs:
            family = lambda t: re.sub(r"\(.*", "", t or "").lower()
            prefix = 0
            for x, y in zip(a.attr, b.attr):
                if x != y:
                    break
                prefix += 1
            same_suffix = a.attr.rsplit("_", 1)[-1] == b.attr.rsplit("_", 1)[-1]
            if family(a.type) == family(b.type) and (prefix >= 4 or (prefix >= 3 and same_suffix)):
                out.append({"from": a.attr, "to": b.attr, "confirmed": False})
    return out


def _duplicate_options(m: ModelInfo, kept: ModelInfo, differences: list[str]) -> dict:
    return {
        "table": m.table,
        "definitions": [_definition(kept), _definition(m)],
        "differences": differences,
        "suggested_renames": _rename_suggestions(m, kept),
        "decision": None,
        "planned_with": None,
    }


def _duplicate_detail(m: ModelInfo, kept: ModelInfo, options: dict) -> str:
    detail = (f"{m.symbol.file}:{m.fact.line} {m.symbol.name} and {kept.symbol.file}:{kept.fact.line} "
              f"{kept.symbol.name} define table {m.table} differently: " + "; ".join(options["differences"]))
    sugg = options.get("suggested_renames") or []
    if sugg:
        detail += "; suggested renames: " + ", ".join(f"{s['from']} -> {s['to']}" for s in sugg)
    return detail


def _duplicate_conflict(m: ModelInfo, kept: ModelInfo, options: dict, note: str | None = None) -> Conflict:
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


def _statement_source(lines: list[str], node: ast.stmt) -> str:
    import textwrap

    first = node.decorator_list[0].lineno if getattr(node, "decorator_list", None) else node.lineno
    return textwrap.dedent("\n".join(lines[first - 1 : node.end_lineno])) + "\n"


def _same_definition(ix: Index, a: str, b: str, name: str) -> bool:
    """Whether ``name`` is defined the same way in ``a`` and ``b``, so that one definition can
    stand for both. Never for a class: two classes are two objects (two enums do not share members)."""
    def src(file: str) -> str | None:
        tree = _parse_file(ix.root, file)
        for node in tree.body if tree else ():
            if isinstance(node, ast.ClassDef) and node.name == name:
                return None
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
                return ast.dump(node, include_attributes=False)
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
                return ast.dump(node, include_attributes=False)
        return None

    sa, sb = src(a), src(b)
    return sa is not None and sa == sb


def _parse_file(root: Path, rel: str) -> ast.Module | None:
    try:
        return ast.parse((root / rel).read_bytes())
    except (SyntaxError, ValueError, OSError):
        return None


def _is_metadata_attr(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "metadata"
