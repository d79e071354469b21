"""What a name means, compared by object rather than by spelling.

Code that moves into another module (or is appended to a class there) must keep meaning what
it meant: ``Enum`` from ``enum`` is not ``sqlalchemy.Enum``, and a module's ``NAME_LEN = 80``
is not the target's ``NAME_LEN = 20``. The planner asks two things here: whether two resolved
names are one object (``sqlalchemy.func`` and ``sqlalchemy.sql.func`` are), and how to give a
clashing name another spelling in the moved text (an import alias or a renamed binding).

What it does not do: import user code. Only names of SQLAlchemy and of modules this process
has already imported (the standard library's usual ones) are followed to their objects; other
outside names are compared by spelling, which at worst imports one object under two names.
"""

from __future__ import annotations

import ast
import importlib
import sys
from collections.abc import Callable, Iterable

from .discovery import External

_FOLLOWED = {"sqlalchemy"}  # outside packages safe to import here: unibase depends on them


def _external_object(qualname: str) -> object | None:
    module, _, attr = qualname.rpartition(".")
    top = qualname.partition(".")[0]
    if not module or not (top in _FOLLOWED or top in sys.modules):
        return None
    try:
        return getattr(importlib.import_module(module), attr)
    except Exception:  # noqa: BLE001 - a name we cannot follow is compared by spelling
        return None


def meaning_key(resolved: object) -> object:
    """A value equal for two resolved names exactly when they are known to be one object."""
    if isinstance(resolved, External):
        obj = _external_object(resolved.qualname)
        if obj is not None and not isinstance(obj, (int, float, str, bytes, bool, type(None))):
            return ("object", id(obj))
    return resolved


def same_object(a: object, b: object) -> bool:
    return a == b or meaning_key(a) == meaning_key(b)


def alias_imports(texts: Iterable[str], meaning_of: Callable[[str], object], taken: dict[str, object],
                  new_name: Callable[[str], str]) -> tuple[list[str], dict[str, str]]:
    """Import statements for a module whose names mean ``taken`` (name -> key), each name
    that would mean something else there imported under a new name instead. Returns the
    statements and the renames (old local name -> new) the moved text needs. ``taken`` grows
    with what the statements bind."""
    out: list[str] = []
    renames: dict[str, str] = {}
    for text in texts:
        stmt = ast.parse(text).body[0]
        if not isinstance(stmt, (ast.Import, ast.ImportFrom)):
            out.append(text)
            continue
        for alias in stmt.names:
            local = alias.asname or alias.name.partition(".")[0]
            k = meaning_key(meaning_of(local))
            if k is None:
                k = ("text", text, local)
            if taken.setdefault(local, k) == k:
                continue
            if isinstance(stmt, ast.Import) and "." in alias.name and alias.asname is None:
                continue  # ``import a.b`` binds ``a``: a package, left as it is
            new = new_name(local)
            while taken.setdefault(new, k) != k:
                new += "_"
            renames[local] = new
            alias.asname = new
        out.append(ast.unparse(stmt))
    return out, renames


def rename_names(texts: Iterable[str], name_map: dict[str, str]) -> list[str]:
    """Each text (top-level statements) with the globals of ``name_map`` renamed: their
    definitions and the references to them, never attributes, keywords or local names."""
    import libcst as cst  # only when something is renamed: `--help` and `check` do without it

    from unibase.codemods._names import RenameNodes, rename_targets

    out = []
    for text in texts:
        if not name_map:
            out.append(text)
            continue
        module = cst.parse_module(text)
        targets = rename_targets(list(module.body), name_map)
        out.append(module.visit(RenameNodes(targets)).code if targets else text)
    return out


def module_state(value: ast.expr | None) -> bool:
    """A value that depends on the module it is computed in (``getLogger(__name__)``,
    ``Path(__file__).parent``): moved code needs its own copy, and the code left behind keeps
    the original."""
    return value is not None and any(isinstance(n, ast.Name) and n.id in ("__name__", "__file__", "__package__")
                                     for n in ast.walk(value))


def follow_lazy_imports(planner, target: str, moves) -> None:
    """Point the ``if TYPE_CHECKING:`` imports of the code moving into ``target`` at where what
    they name ends up (a class dropped as an identical duplicate, or renamed on a collision).

    Such a name is never bound when the program runs, so SQLAlchemy finds ``Mapped[X]`` through
    the class registry, by the class's own name: the moved code is renamed to the final class's
    name, and the import goes when that class lives in ``target``, or imports it from its final
    module. A final name that means something else in ``target`` is left as it was.
    ``planner`` is the :class:`~unibase.planner.Planner` (its ops, resolver and spellings).
    """
    from dataclasses import replace

    from .discovery import Symbol
    from .plan import MoveModels

    moved_to = {mv.old: mv.new for mv in moves}

    def final(symbol: Symbol) -> Symbol:
        seen = {symbol}
        while symbol in moved_to and moved_to[symbol] not in seen:
            symbol = moved_to[symbol]
            seen.add(symbol)
        return symbol

    facts = planner.ix.facts.get(target)
    in_target = {name: planner.resolver.name(target, name) for name in (facts.bindings if facts else ())}
    in_target.update({new.name: new for new in moved_to.values() if new.file == target})
    for i, op in enumerate(planner.ops):
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
                meaning = planner.resolver.name(op.source, local)
                end = final(meaning) if isinstance(meaning, Symbol) else meaning
                if end == meaning or in_target.get(end.name, end) != end:
                    kept.append(alias)
                    continue
                if end.name != local:
                    renames.append((local, end.name))
                if end.file != target:
                    level, module = planner._spelling_between(target, end.file)
                    texts.append(f"from {'.' * level}{module} import {end.name}")
            if kept:
                stmt.names = kept
                texts.append(ast.unparse(stmt))
        planner.ops[i] = replace(op, type_checking_imports=tuple(dict.fromkeys(texts)),
                                 renames=tuple(dict.fromkeys(renames)))
