"""How planned code names things: the import spelling from one file to another, the module a
rewritten import names, and the other name a clashing definition takes in the target."""

from __future__ import annotations

import ast
import re
from pathlib import PurePosixPath

from ..facts import ImportBinding
from ..plan import ModuleSpelling
from ..project import module_parts
from .context import PlanContext


def spelling_between(ctx: PlanContext, from_file: str, to_file: str) -> tuple[int, str]:
    """A relative import from ``from_file`` to ``to_file`` when both share a package, else absolute."""
    modules = ctx.index.modules
    a = list(PurePosixPath(from_file).parent.parts)
    b_parts = list(module_parts(to_file))
    common = 0
    for x, y in zip(a, b_parts):
        if x != y:
            break
        common += 1
    pkg_ok = common > 0 and all(
        modules.has_init("/".join(a[:i])) for i in range(common, len(a) + 1)
    ) and modules.has_init("/".join(a[:common]))
    if pkg_ok:
        level = len(a) - common + 1
        return level, ".".join(b_parts[common:])
    return 0, modules.module_name(to_file, from_file)


def absolute_like(ctx: PlanContext, spelled: str, resolved: str, target: str, importer: str | None = None) -> str:
    """Spell ``target`` as the project spells it, else from the same root the importer used
    to spell ``resolved``."""
    modules = ctx.index.modules
    if modules.spellings(target):
        return modules.module_name(target, importer)
    parts = module_parts(resolved)
    spelled_parts = tuple(spelled.split(".")) if spelled else ()
    start = len(parts) - len(spelled_parts)
    target_parts = module_parts(target)
    if spelled_parts and parts[start:] == spelled_parts and target_parts[:start] == parts[:start]:
        name = ".".join(target_parts[start:])
        if importer is None or modules.resolve(name, importer) == target:
            return name
    return modules.module_name(target, importer)


def respell(ctx: PlanContext, file: str, level: int, module: str, resolved: str, target: str) -> ModuleSpelling:
    """How ``file``'s import of ``module`` (which is ``resolved``) names ``target`` instead."""
    if file == target:
        return ModuleSpelling(level, module, resolved, 0, "")
    if level:
        new_level, new_module = spelling_between(ctx, file, target)
        if new_level == 0:
            new_module = absolute_like(ctx, module, resolved, target, file)
        return ModuleSpelling(level, module, resolved, new_level, new_module)
    return ModuleSpelling(0, module, resolved, 0, absolute_like(ctx, module, resolved, target, file))


def import_text(ctx: PlanContext, source: str, target: str, name: str, binding: ImportBinding) -> str | None:
    """The import statement ``target`` needs to bind ``name`` as ``source`` did."""
    alias = "" if (binding.attr or (binding.module or "").split(".")[0]) == name else f" as {name}"
    if binding.level == 0:
        if binding.attr is None:
            return f"import {binding.module}{alias}" if alias or binding.module == name else f"import {binding.module}"
        return f"from {binding.module} import {binding.attr}{alias}"
    mod_file = ctx.resolver.module_file(source, binding.level, binding.module)
    if mod_file is None:
        return None
    level, module = spelling_between(ctx, target, mod_file)
    dots = "." * level
    if binding.attr is None:
        return None
    return f"from {dots}{module} import {binding.attr}{alias}"


def group_imports(texts: list[str]) -> list[str]:
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


def without_names(texts: list[str], names: set[str]) -> list[str]:
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


def other_name(file: str, name: str) -> str:
    """``name`` prefixed with the name of the module ``file``, in the name's own style
    (``ITEM_LEN`` -> ``MODELS_ITEM_LEN``, ``Item`` -> ``ModelsItem``, ``item`` -> ``models_item``).
    A package's ``__init__.py`` lends the package's name; never a leading underscore (a
    ``__name`` inside a class body would be mangled)."""
    path = PurePosixPath(file)
    stem = (path.parent.name if path.stem == "__init__" else path.stem).strip("_") or "module"
    if name.isupper():
        return f"{stem.upper()}_{name}"
    return f"{_camel(stem)}{name}" if name[:1].isupper() else f"{stem}_{name}"


def free_name(file: str, name: str, taken) -> str:
    """:func:`other_name`, with underscores added until ``taken(candidate)`` is false."""
    new = other_name(file, name)
    while taken(new):
        new += "_"
    return new


def _camel(stem: str) -> str:
    stem = re.sub(r"_?models?$", "", stem) or stem
    return "".join(p[:1].upper() + p[1:] for p in stem.split("_") if p)
