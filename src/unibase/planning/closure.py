"""What code taken from one module into another needs there: the top-level helpers it uses
(transitively), the imports the other module lacks, and the names that mean a declarative base."""

from __future__ import annotations

import ast
from dataclasses import dataclass

from ..discovery import Symbol
from ..facts import ImportBinding
from ..meaning import alias_imports, meaning_key, rename_names, same_object
from ..plan import Warning
from .context import Merge, PlanContext, function_names, same_definition, top_level_source
from .spelling import free_name, group_imports, import_text, other_name


@dataclass(frozen=True)
class Closure:
    helpers: tuple[str, ...]  # top-level helpers of the source, in source order
    imports: tuple[str, ...]  # import statements the target lacks (ungrouped)
    base_names: frozenset[str]  # local names that mean a declarative base
    type_checking: frozenset[str]  # the import texts made under ``if TYPE_CHECKING:`` in the source
    warnings: tuple[Warning, ...] = ()


def closure(ctx: PlanContext, merge: Merge, source: str, target: str, start: set[str], skip: set[str]) -> Closure:
    """What code taken from ``source`` into ``target`` needs, given the names it uses. A name
    ``target`` binds to another object is imported too: the caller imports it under another
    name, so the moved code keeps its meaning."""
    ix = ctx.index
    facts = ix.facts[source]
    target_names = set(ix.facts[target].bindings) if target in ix.facts else set()
    merging_bases = merge.merging_bases
    helpers: list[str] = []
    imports: list[str] = []
    base_names: set[str] = set()
    type_checking: set[str] = set()
    warnings: list[Warning] = []
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
            resolved = ctx.resolver.binding_target(source, binding, 0)
            if isinstance(resolved, Symbol) and resolved.file == target:
                if resolved.name != name:
                    warnings.append(Warning(
                        "W011", f"{name} is imported from the target under another name ({resolved.name}); "
                        "check the moved code", source, binding.line))
                continue
            if isinstance(resolved, Symbol) and resolved in ix.bases:
                base_names.add(name)
                continue
            moving = isinstance(resolved, Symbol) and (
                (m := ix.models.get(resolved)) is not None and m.base in merging_bases
                or ix.abstract_classes.get(resolved) in merging_bases)
            if name in target_names and not moving:  # a class that moves too: ordering decides
                if same_object(ctx.resolver.name(target, name), resolved):
                    continue
                # imported all the same: the caller imports it under another name
            text = import_text(ctx, source, target, name, binding)
            if text and text not in imports:
                imports.append(text)
                if _type_checking_only(facts, binding):
                    type_checking.add(text)
        elif name not in helpers:
            helpers.append(name)
            stack.extend(function_names(ctx, source, name))
            for a in facts.assigns:
                if a.name == name:
                    stack.extend(n.id for n in ast.walk(a.value) if isinstance(n, ast.Name))
    order = [n for n, *_ in facts.top_level]
    helpers.sort(key=lambda h: order.index(h) if h in order else len(order))
    return Closure(tuple(helpers), tuple(imports), frozenset(base_names), frozenset(type_checking), tuple(warnings))


@dataclass(frozen=True)
class Dependencies:
    helpers: tuple[str, ...]  # the helpers placed beside the members
    imports: tuple[str, ...]  # grouped
    statements: tuple[str, ...]  # the members' texts, names renamed where they clash
    helper_texts: tuple[str, ...]
    warnings: tuple[Warning, ...] = ()


def dependencies(ctx: PlanContext, merge: Merge, statements: list[str], source: str, target: str) -> Dependencies:
    """Helpers and imports for class members taken from ``source`` into a class of ``target``,
    and the members and helpers' texts: a name that means something else in ``target`` is
    imported under another name, a helper defined differently there is renamed."""
    ix = ctx.index
    if source not in ix.facts:
        return Dependencies((), (), tuple(statements), ())
    start: set[str] = set()
    for text in statements:
        try:
            start |= {n.id for n in ast.walk(ast.parse(text)) if isinstance(n, ast.Name)}
        except SyntaxError:
            continue
    models_here = {m.symbol.name for m in ix.models.values() if m.symbol.file == source}
    found = closure(ctx, merge, source, target, start, models_here)
    target_facts = ix.facts.get(target)
    taken = {n: meaning_key(ctx.resolver.name(target, n)) for n in (target_facts.bindings if target_facts else ())}
    kept, renames = [], {}
    for name in found.helpers:
        if name in taken and same_definition(ctx, source, target, name):
            continue  # the target's own definition stands for it
        if name in taken:
            new = free_name(source, name, taken.__contains__)
            renames[name] = new
        taken[renames.get(name, name)] = Symbol(source, name)
        kept.append(name)
    imports, aliases = alias_imports(
        list(found.imports), lambda local: ctx.resolver.name(source, local), taken,
        lambda local: other_name(source, local))
    renames |= aliases
    texts = [top_level_source(ctx, source, h) for h in kept]
    return Dependencies(tuple(kept), tuple(group_imports(imports)), tuple(rename_names(statements, renames)),
                        tuple(rename_names(texts, renames)), found.warnings)


def _type_checking_only(facts, binding: ImportBinding) -> bool:
    """The import that made ``binding`` sits under ``if TYPE_CHECKING:``."""
    return any(i.line <= binding.line <= i.end_line and i.scope == "type-checking" for i in facts.imports)
