"""What stops a plan: a file unibase could not read that could hold a base, models or a
metadata use (exit 2), a write that would close a new import cycle (unless an import only
annotations need can stop running, :mod:`.deferral`), and a write through a
symbolic link that leads out of the project (conflicts)."""

from __future__ import annotations

from collections.abc import Mapping

from .. import cycles
from ..discovery import BaseInfo, settle
from ..plan import Conflict, MergeDuplicate, MoveModels, Operation, RebaseBase, RewriteImports
from ..project import link_out_of, module_parts
from . import deferral
from .context import Part, PlanContext, PlanError


def refuse_unanalysed(ctx: PlanContext, why: Mapping[str, str]) -> None:
    """Stop (exit 2) on the first file that could not be read, decoded or parsed and could matter."""
    if not why:
        return
    rel = min(why)
    u = ctx.index.unparsable[rel]
    where = f"{rel} line {u.line}" if u.line else rel
    more = f" ({len(why) - 1} more file(s) too: {', '.join(sorted(why)[1:4])})" if len(why) > 1 else ""
    raise PlanError(
        f"{where} {u.problem}, and it could hold a declarative base, models, tables or a metadata use "
        f"({why[rel]}){more}; fix it, or add it to [tool.unibase] exclude"
    )


def could_matter(ctx: PlanContext) -> dict[str, str]:
    """Unparsable files that could hold a base, a model or a table (any plan could be a partial
    merge, or have the wrong canonical base)."""
    return {rel: u.could_matter for rel, u in ctx.index.unparsable.items() if u.could_matter}


def unanalysed_importers(ctx: PlanContext, merging: tuple[BaseInfo, ...], ops: tuple[Operation, ...]
                         ) -> dict[str, str]:
    """Unparsable files whose import lines name a module or a name the plan changes: their
    imports would need rewriting, and unibase cannot see them."""
    ix = ctx.index
    changed_files = {b.symbol.file for b in merging} | {op.source for op in ops if isinstance(op, MoveModels)}
    names = {b.symbol.name for b in merging} | {m.symbol.name for b in merging for m in ix.models_of(b.symbol)}
    words = {w.encode() for w in names | {module_parts(f)[-1] for f in changed_files if module_parts(f)}}
    settle(ix, {f for op in ops for f in op.files()}, changed_files)  # read whole what may need rewriting
    return {
        rel: "it imports from a module the plan changes"
        for rel, u in ix.unparsable.items()
        if u.could_matter is None and not words.isdisjoint(u.words)
    }


def new_cycle(ctx: PlanContext, target: str, ops: tuple[Operation, ...]) -> Part:
    """A plan whose writes close an import cycle the project did not have breaks it where an
    import only annotations need can go under ``if TYPE_CHECKING:`` (:mod:`.deferral`), and is
    refused where none can."""
    before = cycles.import_graph(ctx.resolver)
    deferred, cycle = deferral.break_cycles(ctx, before, planned_edges(ctx, target, ops, before), ops)
    if cycle is None:
        return Part(deferred)
    chain = deferral.describe_cycle(ctx, cycle)
    return Part((), (Conflict(
        "import-cycle", target,
        f"the merge would make a new import cycle, {chain}, so importing any of them could fail "
        f"(\"partially initialized module\"), and every import of it is needed at run time (none is used "
        f"only in the annotations of undecorated functions); move what {cycle[1]} needs out of the cycle or "
        "import it inside the function that uses it, then plan again", None, tuple(cycle[:-1])),))


def planned_edges(ctx: PlanContext, target: str, ops: tuple[Operation, ...],
                  graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    """The import edges the plan's writes add to the project's ``graph``."""
    resolver, modules = ctx.resolver, ctx.index.modules
    added: set[tuple[str, str]] = set()

    def runs(module: str) -> set[str]:
        """What importing ``module`` runs: the module and its packages' ``__init__``s."""
        return cycles.text_targets(resolver, module, f"import {modules.module_name(module)}") | {module}

    for op in ops:
        if isinstance(op, MoveModels):  # the models go to op.target (the canonical module, or where its models live)
            added |= {(op.source, t) for t in runs(op.target) - {op.source}}
            added |= {(op.target, t) for text in op.imports for t in cycles.text_targets(resolver, op.target, text)}
            # the shim imports the kept class of each dropped duplicate from where that class lives
            added |= {(op.source, t) for _, kept, module, level in op.drop
                      for t in cycles.text_targets(resolver, op.source, f"from {'.' * level}{module} import {kept}")}
        elif isinstance(op, RebaseBase):
            added |= {(op.file, t) for t in runs(op.target) - {op.file}}  # the rebased module imports the target
        elif isinstance(op, MergeDuplicate):
            added |= {(op.file, t) for text in op.imports for t in cycles.text_targets(resolver, op.file, text)}
        elif isinstance(op, RewriteImports) and {s.file for s in op.spellings} & graph.get(op.file, set()):
            # the importer now names the target; its old edge to the shim-to-be stays, as a name
            # the rewrite leaves (a dropped duplicate's) still goes through the shim
            added |= {(op.file, t) for t in runs(target) - {op.file}}
    return added


def links_out(ctx: PlanContext, touched: list[str]) -> tuple[Conflict, ...]:
    """A file the plan writes that is a symbolic link to a file outside the project."""
    out = []
    for rel in touched:
        if (target := link_out_of(ctx.index.root, rel)) is not None:
            out.append(Conflict(
                "symlink-out-of-project", rel,
                f"a symbolic link to {target}: changing it would write outside the project (replace the link "
                "with a copy of the file, or exclude it in [tool.unibase])", None, (rel,)))
    return tuple(out)
