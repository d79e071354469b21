"""UB002: every import of a module whose classes moved names the target instead (the moved
names renamed where the move renamed them); the importers of a base rebased in place stay."""

from __future__ import annotations

from collections import defaultdict

from ..plan import ModuleSpelling, Operation, Rename, RewriteImports
from ..shims import only_the_base
from .context import Merge, Move, Part, PlanContext, follow
from .spelling import respell


def plan_imports(ctx: PlanContext, merge: Merge, moves: tuple[Move, ...], rebased: frozenset) -> Part:
    """UB002 for every module importing one whose classes moved (``rebased``: bases rebased in place)."""
    ix = ctx.index
    canonical, merging = merge.canonical, merge.merging
    ops: list[Operation] = []
    by_file: dict[str, list[Move]] = defaultdict(list)
    kept_elsewhere: dict[str, list[Move]] = defaultdict(list)
    moved_to = {mv.old: mv.new for mv in moves}
    for mv in [Move(mv.old, follow(moved_to, mv.old)) for mv in moves]:  # a kept class may move too
        # a dropped duplicate whose kept class lives outside the target stays importable
        # through the shim; only names now in the target module are re-pointed. A base
        # rebased in place keeps its module and its models: importing that module may be
        # what maps them (``import audit.db as audit_mod``), so its importers stay as they are,
        # unless the base is all it holds (it becomes a shim)
        if mv.old in rebased and not only_the_base(ctx.sources.tree(mv.old.file), mv.old.name):
            continue
        if mv.old != mv.new and mv.new.file == canonical.symbol.file:
            by_file[mv.old.file].append(mv)
        elif mv.old != mv.new and mv.old in ix.models and mv.new in ix.models:
            kept_elsewhere[mv.old.file].append(mv)
    # re-exports: a module that imports a moved name and is itself imported for it
    base_names = sorted({canonical.symbol.name} | {b.symbol.name for b in merging})
    source_files = set(by_file)
    unresolved = {(n.symbol.file, n.symbol.name) for n in ix.not_understood}
    for rel, f in sorted(ix.facts.items()):
        spellings: list[ModuleSpelling] = []
        renames: list[Rename] = []
        for imp in f.imports:
            if imp.is_from:
                mod = ctx.resolver.module_file(rel, imp.level, imp.module)
                if any((mod, n.name) in unresolved for n in imp.names):
                    continue  # a name unibase cannot resolve: its importers stay as they are
                files = []
                if mod in source_files:
                    files.append((imp.level, imp.module or "", mod))
                for n in imp.names:
                    sub = ctx.resolver.imported_submodule(rel, imp.level, imp.module, n.name)
                    if sub in source_files and sub not in {x[2] for x in files}:
                        files.append((imp.level, f"{imp.module or ''}.{n.name}".lstrip(".") if imp.module else n.name, sub))
                for level, module, file in files:
                    spellings.append(respell(ctx, rel, level, module, file, merge.target))
            else:
                for n in imp.names:
                    mod = ctx.resolver.module_file(rel, 0, n.name)
                    if mod in source_files:
                        spellings.append(respell(ctx, rel, 0, n.name, mod, merge.target))
        if not spellings:
            continue
        seen = set()
        uniq = []
        for s in spellings:
            if (s.level, s.module) not in seen:
                seen.add((s.level, s.module))
                uniq.append(s)
        # an ``if TYPE_CHECKING:`` import of a dropped duplicate kept outside the target is
        # re-pointed at the kept class as well: what it serves (``Mapped[X]`` under postponed
        # annotations) SQLAlchemy resolves by the class's own name, which the merge removes
        hidden = {(imp.level, imp.module or "", n.name) for imp in f.imports
                  if imp.scope == "type-checking" and imp.is_from for n in imp.names if n.asname is None}
        sources: dict[str, ModuleSpelling] = {}
        for s in uniq:
            for mv in by_file[s.file]:
                renames.append(Rename(mv.old.file, mv.old.name, mv.new.file, mv.new.name))
            for mv in kept_elsewhere[s.file]:
                if (s.level, s.module, mv.old.name) in hidden:
                    renames.append(Rename(mv.old.file, mv.old.name, mv.new.file, mv.new.name))
                    sources.setdefault(mv.new.file, respell(ctx, rel, s.level, s.module, mv.new.file, mv.new.file))
        if rel in source_files and all(s.file == rel for s in uniq):
            continue
        ops.append(RewriteImports(
            file=rel, spellings=tuple(uniq), renames=tuple(dict.fromkeys(renames)),
            base_names=tuple(base_names), canonical_name=canonical.symbol.name, sources=tuple(sources.values()),
        ))
    return Part(tuple(ops))
