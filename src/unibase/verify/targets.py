"""The static part of verify: a tree read and planned as unibase reads it, and what a child
process imports there (the modules of the in-scope bases, their models and Core tables, and the
other modules the merge changed)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from ..discovery import Index, Symbol
from ..plan import Plan

if TYPE_CHECKING:
    from ..check import Finding


@dataclass(frozen=True)
class Targets:
    """What a child imports: dotted modules, where they import from, and which names are bases."""

    roots: tuple[str, ...]  # project-relative directories to put on sys.path ("" is the root)
    modules: tuple[str, ...]  # bases first, then models and Core tables
    bases: tuple[tuple[str, str], ...]  # (module, attribute) of every in-scope base
    changed: tuple[str, ...] = ()  # the other changed modules, imported after the checks


@dataclass
class Scan:
    root: Path
    index: Index | None
    in_scope: tuple[Symbol, ...]
    targets: Targets
    plan: Plan | None = None
    error: str | None = None  # why planning failed
    findings: list[Finding] = field(default_factory=list)


def read_tree(root: Path, cache_from: Path | None = None) -> Scan:
    """The tree at ``root`` read and planned; with the unchanged files' facts from the cache of
    the project at ``cache_from`` (read only), when given."""
    from ..check import check_plan, scan
    from ..planning import make_plan
    from ..settings import load_settings

    try:
        settings = load_settings(root)
        index = scan(settings, cache_from=cache_from)
    except (ValueError, OSError) as exc:
        return Scan(root, None, (), Targets(("",), (), ()), error=str(exc))
    plan = error = None
    findings: list[Finding] = []
    try:
        plan = make_plan(index, settings)
        findings = check_plan(plan)
        in_scope = tuple(Symbol(b.file, b.name) for b in plan.merged_bases())
    except ValueError as exc:  # PlanError: fall back to every base that is not test-local
        error = str(exc)
        in_scope = tuple(s for s, b in index.bases.items() if not b.test_local and b.kind != "flask_sqlalchemy")
    # Flask-SQLAlchemy objects given the canonical base as model_class: their db.Model classes are
    # on the merged metadata, so their modules are imported with the models
    unified = tuple(Symbol(b.file, b.name) for b in plan.bases if b.metadata.get("model_class")) if plan else ()
    return Scan(root, index, in_scope, _targets(index, in_scope, unified), plan, error, findings)


def _targets(index: Index, in_scope: Sequence[Symbol], unified: Sequence[Symbol] = ()) -> Targets:
    """The modules defining the in-scope bases, their models and Core tables (and the models of
    ``unified`` Flask-SQLAlchemy objects), importable from ``roots``."""
    scope = set(in_scope) | set(unified)
    base_files = [s.file for s in in_scope]
    model_files = sorted({m.symbol.file for m in index.models.values() if m.base in scope}
                         | {t.file for t in index.tables if t.base in scope})
    files = list(dict.fromkeys(base_files + model_files))
    roots: list[str] = []
    modules: list[str] = []
    for rel in files:
        name = _import_name(index, rel)
        if not name:
            continue  # the project root's own __init__.py: not importable by a dotted name
        parts = PurePosixPath(rel).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        # the directories module_name drops are the source root: ``backend/`` for ``backend/app/x.py``
        roots.append("/".join(parts[: len(parts) - len(name.split("."))]))
        modules.append(name)
    roots.append("")  # the project root last, for modules the models import from top-level files
    bases = tuple((_import_name(index, s.file), s.name) for s in in_scope if _import_name(index, s.file))
    return Targets(tuple(dict.fromkeys(roots)), tuple(dict.fromkeys(modules)), bases)


def _import_name(index: Index, rel: str) -> str:
    """The dotted name that imports ``rel`` itself: the project's usual spelling, unless that
    goes through a symbolic link (``app.items`` for ``app/real_items.py``), which may lead out of
    the tree being checked; then the file's own name from the same root."""
    name = index.modules.module_name(rel)
    own = index.modules.dotted_names(rel)
    if not name or name in own:
        return name
    depth = len(name.split("."))
    return next((n for n in own if len(n.split(".")) == depth), own[-1] if own else name)


def with_changed(scan: Scan, changed: Sequence[str] | None) -> Targets:
    """The scan's targets plus every other changed module (shims, rewritten importers, package
    ``__init__``s), with the roots they import from."""
    if scan.index is None or not changed:
        return scan.targets
    roots, modules = list(scan.targets.roots), []
    for rel in changed:
        name = _import_name(scan.index, rel)
        parts = PurePosixPath(rel).with_suffix("").parts
        if not name or parts[-1] in ("__main__", "setup", "conftest") or name in scan.targets.modules:
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        root = "/".join(parts[: len(parts) - len(name.split("."))])
        if root not in roots:
            roots.insert(len(roots) - 1, root)  # the project root stays last
        modules.append(name)
    return replace(scan.targets, roots=tuple(roots), changed=tuple(dict.fromkeys(modules)))
