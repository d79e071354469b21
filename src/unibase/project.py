"""The files of a project and the dotted names they are imported under.

A file may be importable under several dotted names (``src.pkg.mod`` and ``pkg.mod`` when
both the root and ``src/`` are on ``sys.path``). unibase resolves names to *files*, never to
spellings: every lookup here answers with a project-relative POSIX path.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        "__pycache__",
        "node_modules",
        "site-packages",
        "build",
        "dist",
        ".eggs",
    }
)

# Directory names that are commonly put on sys.path themselves even though their parent is a
# package too (``src/__init__.py`` exists in some projects that also run with ``src`` on the path).
SOURCE_ROOT_NAMES = frozenset({"src", "lib", "backend", "server", "python"})


def iter_python_files(root: Path, exclude: Iterable[str] = ()) -> Iterator[str]:
    """Yield project-relative POSIX paths of every ``.py`` file below ``root``, sorted."""
    excluded = tuple(e.strip("/") for e in exclude if e.strip("/"))
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        rel_dir = "" if rel_dir == "." else rel_dir.replace(os.sep, "/")
        dirnames[:] = [
            d
            for d in dirnames
            if d not in SKIP_DIRS
            and not d.startswith(".")
            and not d.endswith(".egg-info")
            and not _is_excluded(f"{rel_dir}/{d}".lstrip("/"), excluded)
        ]
        for name in filenames:
            if name.endswith(".py"):
                rel = f"{rel_dir}/{name}".lstrip("/")
                if not _is_excluded(rel, excluded):
                    found.append(rel)
    found.sort()
    return iter(found)


def symlink_aliases(root: Path, files: Iterable[str]) -> dict[str, str]:
    """``{link: file}`` for the files that are symbolic links to another file of the project.

    A link and its target are one module under two names: only the target is analysed, and
    imports of either name resolve to it. ``root`` must be resolved. A link out of the project
    (or to a file not listed) is not an alias: see :func:`link_out_of` for why it matters.
    """
    listed = set(files)
    aliases = {}
    for rel in listed:
        path = root / rel
        if not path.is_symlink():
            continue
        try:
            target = path.resolve(strict=True).relative_to(root).as_posix()
        except (OSError, RuntimeError, ValueError):  # broken, a loop, or outside the project
            continue
        if target in listed and target != rel:
            aliases[rel] = target
    return aliases


def link_out_of(root: Path, rel: str) -> str | None:
    """Where ``rel`` leads when it is a symbolic link that writing through could leave ``root``
    by (an absolute link, or one resolving outside); None for a regular file or a relative
    link inside the project, which leads to the same file in every checkout."""
    path = root / rel
    if not path.is_symlink():
        return None
    try:
        target = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return os.readlink(path)
    if Path(os.readlink(path)).is_absolute() or not target.is_relative_to(root.resolve()):
        return str(target)
    return None


def _is_excluded(rel: str, excluded: tuple[str, ...]) -> bool:
    return any(rel == e or rel.startswith(e + "/") or PurePosixPath(rel).match(e) for e in excluded)


def module_parts(rel: str) -> tuple[str, ...]:
    """``a/b/c.py`` -> ``("a", "b", "c")``; ``a/b/__init__.py`` -> ``("a", "b")``."""
    parts = PurePosixPath(rel).with_suffix("").parts
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return tuple(parts)


def is_package_init(rel: str) -> bool:
    return PurePosixPath(rel).name == "__init__.py"


def is_test_path(rel: str) -> bool:
    """Files that belong to a test suite (test-local bases are left alone)."""
    parts = PurePosixPath(rel).parts
    name = parts[-1]
    return (
        any(p in ("tests", "test", "testing") for p in parts[:-1])
        or name.startswith("test_")
        or name.endswith("_test.py")
        or name == "conftest.py"
    )


@dataclass
class ModuleMap:
    """Which files answer to which dotted names, and how imports between them resolve."""

    root: Path
    files: tuple[str, ...]
    _by_name: dict[str, list[str]] = field(default_factory=dict, repr=False)
    _dirs_with_init: set[str] = field(default_factory=set, repr=False)
    _file_set: frozenset[str] = field(default_factory=frozenset, repr=False)
    aliases: dict[str, str] = field(default_factory=dict, repr=False)  # symlinked file -> its target

    @classmethod
    def build(cls, root: Path, files: Iterable[str], aliases: dict[str, str] | None = None) -> ModuleMap:
        files = tuple(files)
        mm = cls(root=root, files=files, aliases=dict(aliases or {}))
        mm._file_set = frozenset(files)
        mm._dirs_with_init = {
            str(PurePosixPath(f).parent) if "/" in f else "" for f in (*files, *mm.aliases) if is_package_init(f)
        }
        for rel in files:
            for name in mm.dotted_names(rel):
                mm._by_name.setdefault(name, []).append(rel)
        for link, target in sorted(mm.aliases.items()):
            for name in mm.dotted_names(link):
                mm._by_name.setdefault(name, []).append(target)
        return mm

    def has_init(self, rel_dir: str) -> bool:
        return rel_dir in self._dirs_with_init

    def dotted_names(self, rel: str) -> list[str]:
        """Every dotted name the file may be imported under, longest first."""
        parts = module_parts(rel)
        names = []
        for i in range(len(parts)):
            prefix_dir = "/".join(parts[:i])
            if i == 0 or not self.has_init(prefix_dir) or parts[i - 1] in SOURCE_ROOT_NAMES:
                # every package between here and the module must really be a package
                if all(self.has_init("/".join(parts[: j + 1])) for j in range(i, len(parts) - 1)):
                    names.append(".".join(parts[i:]))
        if not names and parts:
            names.append(".".join(parts))
        return names

    def module_name(self, rel: str) -> str:
        """The dotted name from the top of the file's package chain (what the plan shows)."""
        parts = module_parts(rel)
        i = len(parts) - 1
        while i > 0 and self.has_init("/".join(parts[:i])):
            i -= 1
        return ".".join(parts[i:])

    def resolve(self, dotted: str, from_file: str | None = None) -> str | None:
        """The project file an absolute dotted module name refers to, if any."""
        candidates = self._by_name.get(dotted)
        if not candidates:
            return None
        if len(candidates) == 1 or from_file is None:
            return candidates[0]
        # several files answer to the name: prefer the one nearest the importing file
        here = PurePosixPath(from_file).parts

        def closeness(rel: str) -> tuple[int, int]:
            there = PurePosixPath(rel).parts
            common = 0
            for a, b in zip(here, there):
                if a != b:
                    break
                common += 1
            return (-common, len(there))

        return sorted(candidates, key=closeness)[0]

    def resolve_relative(self, from_file: str, level: int, module: str | None) -> str | None:
        """The file ``from <'.' * level><module> import ...`` in ``from_file`` refers to."""
        pkg = PurePosixPath(from_file).parent
        for _ in range(level - 1):
            pkg = pkg.parent
        parts = [p for p in pkg.parts if p not in (".",)]
        if module:
            parts.extend(module.split("."))
        return self.file_for_parts(parts)

    def package_of_relative(self, from_file: str, level: int, module: str | None) -> list[str]:
        pkg = PurePosixPath(from_file).parent
        for _ in range(level - 1):
            pkg = pkg.parent
        parts = [p for p in pkg.parts if p not in (".",)]
        if module:
            parts.extend(module.split("."))
        return parts

    def file_for_parts(self, parts: list[str] | tuple[str, ...]) -> str | None:
        base = "/".join(parts)
        for cand in (f"{base}.py", f"{base}/__init__.py" if base else "__init__.py"):
            if cand in self._file_set:
                return cand
            if cand in self.aliases:
                return self.aliases[cand]
        return None

    def submodule(self, package_file: str, name: str) -> str | None:
        """``from pkg import name`` where ``name`` is a submodule of package ``pkg``."""
        if not is_package_init(package_file):
            return None
        return self.file_for_parts(list(module_parts(package_file)) + [name])
