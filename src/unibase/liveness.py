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

from .discovery import ImportSpec, Index, import_specs, parse_source, read_import_specs, specs_of_text
from .facts import import_stmt
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


def standalone(rel: str) -> str | None:
    """Why no module of the project can import ``rel``, or None.

    A file whose name is not a module name, or that sits directly in a folder whose name is not
    a package name (``0x0F-sql-exercises/model.py``), is only ever run, or imported by the scripts
    beside it: a program of its own. A package below such a folder (``my-service/app/db.py``) is a
    service with its own source root and is judged like any other code.
    """
    path = PurePosixPath(rel)
    if not path.stem.isidentifier():
        return f"{path.name} is not a module name, so it is only ever run as a script"
    parent = path.parent.name
    if parent and not parent.isidentifier():
        return (f"{path.parent}/ is not a package name, so only the scripts beside it can import "
                f"{path.name}")
    return None


def _imports(ix: Index, rel: str, finder: _Finder, made: dict[str, ImportSpec | None]) -> list[ImportSpec]:
    """What the file's import statements import (:func:`~unibase.discovery.import_specs`) that can
    name a project file (:meth:`_Finder.inside`): from discovery's facts, else from its
    import lines (the file is not parsed whole: discovery parsed those lines once; ``made`` keeps
    the statements already read, by their text), else (lines that do not parse alone) from the
    whole file."""
    f = ix.facts.get(rel)
    if f is not None:
        found = import_specs(f.imports)
    elif rel in ix.import_specs:
        found = specs_of_text(ix.import_specs[rel], made, finder.inside)
        if found is not None:
            return found
    else:
        lines = ix.import_lines.get(rel)
        found = read_import_specs(lines, rel) if lines is not None else None
    if found is None:
        try:
            tree = parse_source((ix.root / rel).read_bytes(), rel)
        except (OSError, SyntaxError, ValueError):
            return []
        found = import_specs([imp for node in ast.walk(tree) if (imp := import_stmt(node, "module")) is not None])
    return [spec for spec in found if finder.inside(spec)]


class _Finder:
    """Resolve imports by path, from the directories an importer can have on ``sys.path``: the
    project root and the importer's own directory and its ancestors (namespace packages
    included). ``import orchestration.api`` in ``scripts/x.py`` does not reach
    ``_archive/orchestration/api.py``: ``_archive/`` is not on the importer's path."""

    def __init__(self, files) -> None:
        self.files = frozenset(files)
        # the names of every folder and module: an absolute import whose first name is none of them
        # (``os``, ``typing``...) names no project file, whatever the importer's folder
        self._names = {name for f in self.files for name in f.removesuffix(".py").split("/")}
        self._prefixes: dict[str, tuple[str, ...]] = {}  # directory -> "dir/", its ancestors..., ""
        self._found: dict[tuple[str, str], str | None] = {}  # (directory, dotted name) -> file

    def prefixes(self, directory: str) -> tuple[str, ...]:
        """The directory and its ancestors, innermost first, each ending in "/", then the root ("")."""
        got = self._prefixes.get(directory)
        if got is None:
            parts = directory.split("/") if directory else []
            got = tuple("/".join(parts[:i]) + "/" for i in range(len(parts), 0, -1)) + ("",)
            self._prefixes[directory] = got
        return got

    def find(self, directory: str, dotted: str) -> str | None:
        """The file ``import <dotted>`` names in a file of ``directory``."""
        key = (directory, dotted)
        if key not in self._found:
            rel = dotted.replace(".", "/")
            self._found[key] = next((cand for base in self.prefixes(directory)
                                     for cand in (f"{base}{rel}.py", f"{base}{rel}/__init__.py")
                                     if cand in self.files), None)
        return self._found[key]

    def relative(self, directory: str, level: int, module: str | None) -> str:
        for _ in range(level - 1):
            directory = directory.rpartition("/")[0]
        return "/".join(p for p in (directory, (module or "").replace(".", "/")) if p)

    def at(self, path: str) -> str | None:
        for cand in (f"{path}.py", f"{path}/__init__.py"):
            if cand in self.files:
                return cand
        return None

    def inside(self, spec: ImportSpec) -> bool:
        """Whether the import statement ``spec`` may name a project file from some folder: it is
        relative, or the first name of a module it imports is a folder's or a module's."""
        is_from, level, module, imported = spec
        if level:
            return True
        if is_from:
            return (module or "").partition(".")[0] in self._names
        return any(name.partition(".")[0] in self._names for name in imported)

    def edges(self, directory: str, spec: ImportSpec) -> list[tuple[str, tuple[str, ...]]]:
        """(project file, the names imported from it: ``*`` for the module itself) for each file
        the import statement ``spec`` names in a file of ``directory``, in order."""
        is_from, level, module, imported = spec
        out: list[tuple[str, tuple[str, ...]]] = []
        if is_from:
            if level:
                path = self.relative(directory, level, module)
                mod = self.at(path)
                subs = [self.at(f"{path}/{name}" if path else name) for name in imported]
            else:
                mod = self.find(directory, module or "")
                subs = [self.find(directory, f"{module}.{name}") for name in imported]
            if mod:
                out.append((mod, imported))
            out.extend((sub, ("*",)) for sub in subs if sub)
        else:
            for name in imported:
                if name.partition(".")[0] not in self._names:
                    continue
                parts = name.split(".")
                for i in range(1, len(parts) + 1):
                    mod = self.find(directory, ".".join(parts[:i]))
                    if mod:
                        out.append((mod, ("*",)))
        return out


def import_edges(ix: Index) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """file -> the project files it imports; file -> the names imported from it (``*``: the module)."""
    finder = _Finder(ix.modules.files)
    out: dict[str, set[str]] = {}
    names: dict[str, set[str]] = {}
    # what an import statement names depends only on the importer's folder, and the files of
    # one folder often share their imports
    named: dict[tuple[str, ImportSpec], list[tuple[str, tuple[str, ...]]]] = {}
    # most statements (``from typing import Any``) name no project file from any folder, and
    # files repeat them by the thousand: each is read and judged once
    made: dict[str, ImportSpec | None] = {}
    for rel in ix.modules.files:
        directory = rel.rpartition("/")[0]
        targets: set[str] = set()
        for spec in _imports(ix, rel, finder, made):
            key = (directory, spec)
            found = named.get(key)
            if found is None:
                found = named[key] = finder.edges(directory, spec)
            for target, imported in found:
                targets.add(target)
                names.setdefault(target, set()).update(imported)
        targets.discard(rel)
        out[rel] = targets
    return out, names


def base_folders(ix: Index, base_files: list[str]) -> dict[str, str]:
    """Each base file's folder: its top-level package, or, when that package also holds bases
    in other sub-packages (``packages/billing/...`` beside ``packages/shop/...``), the sub-package
    that tells them apart, so that one live application does not make its neighbours live."""
    dirs = {f: PurePosixPath(f).parent.parts for f in base_files}
    out = {}
    for f in base_files:
        top = folder_of(ix, f)
        path = tuple(top.split("/")) if top else ()
        while path and len(path) < len(dirs[f]) and any(
                g != f and dirs[g][:len(path)] == path and dirs[g][:len(path) + 1] != dirs[f][:len(path) + 1]
                for g in base_files):
            path = dirs[f][:len(path) + 1]
        out[f] = "/".join(path)
    return out


def dead_folders(ix: Index, base_files: list[str], edges: dict[str, set[str]]) -> set[str]:
    """The folders holding bases that live code never reaches (empty when nothing can be told)."""
    folders = set(base_folders(ix, base_files).values())
    folders.discard("")
    if not folders:
        return set()
    deepest_first = sorted(folders, key=lambda d: -d.count("/"))

    def inside(rel: str) -> str | None:
        return next((d for d in deepest_first if rel.startswith(d + "/")), None)

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
