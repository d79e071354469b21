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
