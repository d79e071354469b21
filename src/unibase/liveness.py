"""Which bases live code reaches: archives and stale copies are not candidates for a merge.

A base's folder is its top-level package (``_archive/rlcf``, ``backend/app``). Live code is every
file outside the folders that hold bases, and everything in a folder such code imports, directly
or through the modules that import it. An import counts only when it resolves to the file from
the importer's own root: ``import orchestration.api`` in ``scripts/x.py`` does not reach
``_archive/orchestration/api.py`` just because the dotted name matches the end of its path.

When no folder is reached at all the project gives no evidence (a single package run as a
script, say), and every base counts as live.
"""

from __future__ import annotations

import ast
from pathlib import PurePosixPath

from .discovery import Index
from .facts import ImportStmt
from .project import module_parts


def folder_of(ix: Index, rel: str) -> str:
    """The directory of the file's top-level package (``""`` for a file at the project root)."""
    parts = module_parts(rel)
    name = tuple(ix.modules.module_name(rel).split("."))
    prefix = parts[: len(parts) - len(name)]
    top = prefix + name[:1]
    if len(top) >= len(parts) and not rel.endswith("__init__.py"):
        return "/".join(prefix)  # a top-level module: its folder is the directory it sits in
    return "/".join(top)


def _imports(ix: Index, rel: str) -> list[ImportStmt]:
    f = ix.facts.get(rel)
    if f is not None:
        return f.imports
    try:
        tree = ast.parse((ix.root / rel).read_bytes())
    except (OSError, SyntaxError, ValueError):
        return []
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.append(ImportStmt(node.lineno, node.lineno, False, 0, None,
                                  tuple(_Name(a.name) for a in node.names), "module"))
        elif isinstance(node, ast.ImportFrom):
            out.append(ImportStmt(node.lineno, node.lineno, True, node.level, node.module,
                                  tuple(_Name(a.name) for a in node.names), "module"))
    return out


class _Name:
    def __init__(self, name: str) -> None:
        self.name = name
        self.asname = None


def _from_own_root(importer: str, dotted: str, target: str) -> bool:
    """``dotted`` names ``target`` from a directory the importer can have on its path: the
    project root, one of its ancestors' directories, or its own directory."""
    parts = module_parts(target)
    n = len(dotted.split("."))
    prefix = PurePosixPath(*parts[: len(parts) - n]) if len(parts) > n else PurePosixPath("")
    if str(prefix) in ("", "."):
        return True
    importer_dir = PurePosixPath(importer).parent
    return importer_dir == prefix or prefix in importer_dir.parents


def import_edges(ix: Index) -> dict[str, set[str]]:
    """file -> the project files it imports (resolved from its own root)."""
    mm = ix.modules
    out: dict[str, set[str]] = {}
    for rel in mm.files:
        targets: set[str] = set()
        for imp in _imports(ix, rel):
            if imp.is_from:
                if imp.level:
                    mod = mm.resolve_relative(rel, imp.level, imp.module)
                    if mod:
                        targets.add(mod)
                    parts = mm.package_of_relative(rel, imp.level, imp.module)
                    for n in imp.names:
                        sub = mm.file_for_parts(parts + [n.name])
                        if sub:
                            targets.add(sub)
                    continue
                mod = mm.resolve(imp.module or "", rel)
                if mod and _from_own_root(rel, imp.module or "", mod):
                    targets.add(mod)
                    for n in imp.names:
                        sub = mm.submodule(mod, n.name)
                        if sub:
                            targets.add(sub)
            else:
                for n in imp.names:
                    mod = mm.resolve(n.name, rel)
                    if mod and _from_own_root(rel, n.name, mod):
                        targets.add(mod)
        targets.discard(rel)
        out[rel] = targets
    return out


def dead_folders(ix: Index, base_files: list[str]) -> set[str]:
    """The folders holding bases that live code never reaches (empty when nothing can be told)."""
    folders = {folder_of(ix, f) for f in base_files}
    folders.discard("")
    if not folders:
        return set()
    edges = import_edges(ix)

    def inside(rel: str) -> str | None:
        return next((d for d in folders if rel.startswith(d + "/")), None)

    live: set[str] = set()
    todo = [rel for rel in ix.modules.files if inside(rel) is None]
    seen = set(todo)
    while todo:
        rel = todo.pop()
        for t in edges.get(rel, ()):
            d = inside(t)
            if d is not None and d not in live:
                live.add(d)
                more = [f for f in ix.modules.files if f.startswith(d + "/") and f not in seen]
                seen.update(more)
                todo.extend(more)
            if t not in seen:
                seen.add(t)
                todo.append(t)
    if not live:
        return set()
    return folders - live
