"""The files of a project and the dotted names they are imported under.

A file may be importable under several dotted names (``src.pkg.mod`` and ``pkg.mod`` when
both the root and ``src/`` are on ``sys.path``). unibase resolves names to *files*, never to
spellings: every lookup here answers with a project-relative POSIX path.
"""

from __future__ import annotations

import fnmatch
import keyword
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

# Tool state, never source: skipped by name wherever they are. Virtual environments are
# recognised by what they hold (see :func:`is_environment`), never by their name, and nothing
# else is skipped by name: a real package may be called ``build`` or ``dist``.
SKIP_DIRS = frozenset(
    {".git", ".hg", ".svn", ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache", "__pycache__",
     "node_modules", ".eggs"}
)

# Directory names that are commonly put on sys.path themselves even though their parent is a
# package too (``src/__init__.py`` exists in some projects that also run with ``src`` on the path).
SOURCE_ROOT_NAMES = frozenset({"src", "lib", "backend", "server", "python"})

# What marks the top of a project, looked for upward from the path given (as ruff, black and
# Alembic do).
ROOT_MARKERS = ("pyproject.toml", "setup.cfg", "setup.py", ".git")

# Imports of these never mean a project file, wherever a file of that name sits below the
# project root: the standard library, and the libraries discovery recognises bases by.
_NEVER_PROJECT = frozenset(sys.stdlib_module_names) | {"sqlalchemy", "flask_sqlalchemy", "sqlmodel", "alembic"}

_PYTHON_LIB_DIR = re.compile(r"(^|/)lib(64)?/python\d+(\.\d+)?/")


def find_root(path: Path) -> Path | None:
    """The nearest directory at or above ``path`` holding a project marker, or None."""
    path = path.resolve()
    for folder in (path, *path.parents):
        if any((folder / m).exists() for m in ROOT_MARKERS):
            return folder
    return None


def _is_name(part: str) -> bool:
    return part.isidentifier() and not keyword.iskeyword(part)


def is_importable(rel: str) -> bool:
    """Whether a file is a module of the project as a whole: every folder of its path and its
    stem is an identifier.

    ``(old)__init__.py`` can only be run; ``0x0F-orm/model.py`` or ``my-service/app/db.py`` are
    importable only by the code in their own folder, run with that folder on ``sys.path`` (as
    scripts, or as a service of its own): their bases are listed, never merged, and no import
    of them is written anywhere else.
    """
    parts = module_parts(rel)
    return bool(parts) and all(map(_is_name, parts))


def iter_python_files(root: Path, exclude: Iterable[str] = ()) -> Iterator[str]:
    """Yield project-relative POSIX paths of every ``.py`` file of the project, sorted.

    In a git repository the files are git's own list (tracked, plus untracked files that are
    not ignored); elsewhere a walk that honours ``.gitignore`` files. Virtual environments and
    installed packages are never read, whatever their folder is called.
    """
    excluded = tuple(e.strip("/") for e in exclude if e.strip("/"))
    listed = _git_files(root)
    if listed is None:
        listed = _walk(root)
    envs: dict[str, bool] = {}
    skipped: dict[str, bool] = {}  # folder -> whether its files are tool state or an environment's

    def skip(rel: str) -> bool:
        folder = rel.rpartition("/")[0]
        if folder not in skipped:
            skipped[folder] = any(p in SKIP_DIRS or p.startswith(".") or p.endswith(".egg-info")
                                  for p in (folder.split("/") if folder else ())) \
                or _in_environment(root, rel, envs)
        return skipped[folder]

    found = [rel for rel in listed if rel.endswith(".py") and not _is_excluded(rel, excluded) and not skip(rel)]
    found.sort()
    return iter(found)


def _git_files(root: Path) -> list[str] | None:
    """git's list of the files under ``root`` (tracked and untracked-not-ignored), or None
    when ``root`` is not in a git work tree (or git cannot be run)."""
    names: dict[str, None] = {}
    # tracked files, those of submodules included (read so that a plan needing to change one is
    # refused with a sentence, never silently partial), then untracked files not ignored; in one
    # call where the repository has no submodules (git lists submodules' files in a call of their own)
    listings = (("--cached", "--recurse-submodules"), ("--others", "--exclude-standard")) if _has_submodules(root) \
        else (("--cached", "--others", "--exclude-standard"),)
    for listing in listings:
        try:
            done = subprocess.run(["git", "-c", "core.quotePath=false", "ls-files", "-z", *listing],
                                  cwd=root, capture_output=True, timeout=120)
        except (OSError, subprocess.SubprocessError):
            return None
        if done.returncode != 0:
            return None
        names.update(dict.fromkeys(os.fsdecode(n) for n in done.stdout.split(b"\0") if n))
    # a tracked file deleted from the work tree is listed too (a dangling link is not deleted:
    # it stays, and discovery reports that it cannot be read)
    top = str(root)
    return [n for n in names if n.endswith(".py") and os.path.lexists(os.path.join(top, n))]


def _has_submodules(root: Path) -> bool:
    """Whether the git work tree ``root`` is in declares submodules (a ``.gitmodules`` file at its
    top, found upward from ``root``); True when no top is found (git then says what it is)."""
    for folder in (root, *root.parents):
        if os.path.lexists(os.path.join(folder, ".git")):
            return os.path.lexists(os.path.join(folder, ".gitmodules"))
    return True


def _walk(root: Path) -> list[str]:
    """Every file below ``root`` that its ``.gitignore`` files do not ignore."""
    found: list[str] = []
    rules: dict[str, list[_IgnoreRule]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        rel_dir = "" if rel_dir == "." else rel_dir.replace(os.sep, "/")
        parent = rel_dir.rpartition("/")[0] if rel_dir else None
        here = (rules[parent] if parent is not None else []) + (
            _read_gitignore(root, rel_dir) if ".gitignore" in filenames else [])
        rules[rel_dir] = here
        joined = (lambda n: f"{rel_dir}/{n}") if rel_dir else (lambda n: n)
        dirnames[:] = [
            d for d in dirnames
            if d not in SKIP_DIRS and not d.startswith(".") and not _ignored(joined(d), True, here)
            and not is_environment(os.path.join(dirpath, d))
        ]
        found.extend(joined(n) for n in filenames if n.endswith(".py") and not _ignored(joined(n), False, here))
    return found


@dataclass(frozen=True)
class _IgnoreRule:
    base: str  # the folder of the .gitignore, project-relative
    pattern: str
    negate: bool
    dir_only: bool
    anchored: bool  # matched against the path below ``base``, not only the name


def _read_gitignore(root: Path, rel_dir: str) -> list[_IgnoreRule]:
    try:
        text = (root / rel_dir / ".gitignore").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    out = []
    for line in text.splitlines():
        line = line.rstrip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        line = line[1:] if negate else line
        dir_only = line.endswith("/")
        line = line.rstrip("/")
        if line.startswith("**/"):
            line, anchored = line[3:], "/" in line[3:]
        else:
            anchored = "/" in line
        if line:
            out.append(_IgnoreRule(rel_dir, line.lstrip("/"), negate, dir_only, anchored))
    return out


def _ignored(rel: str, is_dir: bool, rules: list[_IgnoreRule]) -> bool:
    ignored = False
    for r in rules:
        if r.dir_only and not is_dir:
            continue
        below = rel[len(r.base) + 1:] if r.base else rel
        if fnmatch.fnmatchcase(below if r.anchored else below.rpartition("/")[2], r.pattern):
            ignored = not r.negate
    return ignored


def is_environment(folder: Path | str) -> bool:
    """A virtual environment or a conda environment, whatever it is called."""
    return os.path.isfile(os.path.join(folder, "pyvenv.cfg")) or os.path.isdir(os.path.join(folder, "conda-meta"))


def _in_environment(root: Path, rel: str, memo: dict[str, bool]) -> bool:
    """Whether ``rel`` belongs to an installed environment (never the project's own code)."""
    if "site-packages/" in rel or "dist-packages/" in rel or _PYTHON_LIB_DIR.search(rel):
        return True
    folder = rel.rpartition("/")[0]
    chain = []
    while folder and folder not in memo:
        chain.append(folder)
        folder = folder.rpartition("/")[0]
    inside = memo.get(folder, False) if folder else False
    for f in reversed(chain):
        inside = inside or is_environment(os.path.join(root, f))
        memo[f] = inside
    return inside


def symlink_aliases(root: Path, files: Iterable[str]) -> dict[str, str]:
    """``{link: file}`` for the files that are symbolic links to another file of the project.

    A link and its target are one module under two names: only the target is analysed, and
    imports of either name resolve to it. ``root`` must be resolved. A link out of the project
    (or to a file not listed) is not an alias: see :func:`link_out_of` for why it matters.
    """
    listed = set(files)
    aliases = {}
    for rel in _links_among(root, listed):
        path = root / rel
        try:
            target = path.resolve(strict=True).relative_to(root).as_posix()
        except (OSError, RuntimeError, ValueError):  # broken, a loop, or outside the project
            continue
        if target in listed and target != rel:
            aliases[rel] = target
    return aliases


def _links_among(root: Path, files: set[str]) -> list[str]:
    """The files that are symbolic links: each folder is listed once (its entries say which are
    links), one system call per folder instead of one per file."""
    by_folder: dict[str, list[str]] = {}
    for rel in files:
        by_folder.setdefault(rel.rpartition("/")[0], []).append(rel)
    top = str(root)
    links = []
    for folder, rels in by_folder.items():
        try:
            with os.scandir(os.path.join(top, folder)) as entries:
                linked = {e.name for e in entries if e.is_symlink()}
        except OSError:  # an unreadable folder: ask about each file
            links.extend(rel for rel in rels if os.path.islink(os.path.join(top, rel)))
            continue
        links.extend(rel for rel in rels if rel.rpartition("/")[2] in linked)
    return links


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
    """``a/b/c.py`` -> ``("a", "b", "c")``; ``a/b/__init__.py`` -> ``("a", "b")``. (String work,
    as ``PurePosixPath(rel).with_suffix("").parts`` would: discovery asks it of every file.)"""
    parts = [p for p in rel.split("/") if p and p != "."]
    if parts:
        name = parts[-1]
        dot = name.rfind(".")
        if 0 < dot < len(name) - 1:
            parts[-1] = name[:dot]
    if parts and parts[-1] == "__init__":
        parts.pop()
    return tuple(parts)


def is_package_init(rel: str) -> bool:
    return rel.rpartition("/")[2] == "__init__.py"


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
    """Which files answer to which dotted names, and how imports between them resolve.

    Every importable file is indexed under each suffix of its path (``backend/app/db.py``
    answers to ``backend.app.db``, ``app.db`` and ``db``), whether or not its folders have an
    ``__init__.py``. The folder a suffix leaves over is the *import root* that spelling needs
    on ``sys.path``; it must be one Python could have there: the project root, a folder that is
    not itself a package, or a conventional source folder (``src``, ``backend``...). When
    several files answer, the one nearest the importing file wins (same service, same top
    folder), then the one whose root most other imports of the project go through
    (:meth:`learn`).
    """

    root: Path
    files: tuple[str, ...]
    _by_suffix: dict[str, list[tuple[str, str]]] = field(default_factory=dict, repr=False)  # name -> [(file, root)]
    _dirs_with_init: set[str] = field(default_factory=set, repr=False)
    _file_set: frozenset[str] = field(default_factory=frozenset, repr=False)
    aliases: dict[str, str] = field(default_factory=dict, repr=False)  # symlinked file -> its target
    _votes: Counter[str] = field(default_factory=Counter, repr=False)  # root -> imports resolved through it
    _spelled: dict[str, Counter[str]] = field(default_factory=dict, repr=False)  # file -> names imported by
    _cache: dict[tuple[str, str | None], str | None] = field(default_factory=dict, repr=False)
    _dotted_roots: set[str] = field(default_factory=set, repr=False)  # roots that are dotted names too
    _folder_suffixes: dict[tuple[str, ...], list[tuple[str, str]]] = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, root: Path, files: Iterable[str], aliases: dict[str, str] | None = None) -> ModuleMap:
        files = tuple(files)
        mm = cls(root=root, files=files, aliases=dict(aliases or {}))
        mm._file_set = frozenset(files)
        mm._dirs_with_init = {
            f.rpartition("/")[0] for f in (*files, *mm.aliases) if is_package_init(f)
        }
        dotted: dict[str, bool] = {}  # root -> whether it is a dotted name too (many files share one)
        for path, target in [*((f, f) for f in files), *sorted(mm.aliases.items())]:
            # a dotted name is made of identifiers; the folder left over (its root) may be anything,
            # and ``(old)__init__.py`` or ``6-model.py`` is a script no import names
            suffixes = mm._suffixes(path)
            if not (suffixes if path == target else mm._suffixes(target)):
                continue
            for name, root in suffixes:
                mm._by_suffix.setdefault(name, []).append((target, root))
                if root not in dotted:
                    dotted[root] = not root or all(map(_is_name, root.split("/")))
                    if dotted[root]:
                        mm._dotted_roots.add(root)
        return mm

    def has_init(self, rel_dir: str) -> bool:
        return rel_dir in self._dirs_with_init

    def _plausible(self, root: str, dotted: str, here: str | None = None) -> bool:
        """Whether ``root`` could be on ``sys.path`` for an import spelled ``dotted`` (in a file
        of the folder ``here``, when known)."""
        if not root:
            return True
        if dotted.partition(".")[0] in _NEVER_PROJECT:
            return False
        if not self.has_init(root) or root.rpartition("/")[2] in SOURCE_ROOT_NAMES:
            # a root that is no dotted name (``hospitable-ops/``, ``0x0F-orm/``) is a script's or a
            # service's own folder: only the code below it runs with it on sys.path
            return here is None or root in self._dotted_roots or here == root or here.startswith(root + "/")
        return False

    def _candidates(self, dotted: str, here: str | None = None) -> list[tuple[str, str]]:
        return [(f, r) for f, r in self._by_suffix.get(dotted, ()) if self._plausible(r, dotted, here)]

    def learn(self, imports: Iterable[tuple[str, str]]) -> None:
        """Learn the project's import roots from its absolute imports ``(importing file, dotted)``:
        an import only one file answers to is a vote for that file's root, which then breaks the
        ties of ambiguous imports; every import resolved records how the project spells its file."""
        imports = list(imports)
        self._votes = Counter()
        self._spelled = {}
        self._cache.clear()
        for _, dotted in imports:
            cands = self._candidates(dotted)
            if len({f for f, _ in cands}) == 1 and len(cands) == 1:
                self._votes[cands[0][1]] += 1
        self._cache.clear()
        for importer, dotted in imports:
            target = self.resolve(dotted, importer)
            if target is not None:
                self._spelled.setdefault(target, Counter())[dotted] += 1

    def roots(self) -> list[tuple[str, int]]:
        """The import roots the project's absolute imports go through, most used first
        (``""`` is the project root)."""
        used: Counter[str] = Counter()
        for file, names in self._spelled.items():
            for dotted, n in names.items():
                root = self._root_of(file, dotted)
                if root is not None:
                    used[root] += n
        return sorted(used.items(), key=lambda kv: (-kv[1], kv[0]))

    def spellings(self, rel: str) -> Counter[str]:
        """The absolute names the project imports ``rel`` by, with how often (learnt)."""
        return Counter(self._spelled.get(rel, ()))

    def _root_of(self, file: str, dotted: str) -> str | None:
        return next((r for f, r in self._by_suffix.get(dotted, ()) if f == file), None)

    def _suffixes(self, rel: str) -> list[tuple[str, str]]:
        """``(dotted name, root)`` for every name the file answers to, longest first."""
        parts = module_parts(rel)
        if not parts or not _is_name(parts[-1]):
            return []
        folder = parts[:-1]
        above = self._folder_suffixes.get(folder)
        if above is None:
            # the folder's own dotted names and roots, shared by the files in it
            i = len(folder)
            while i > 0 and _is_name(folder[i - 1]):
                i -= 1
            above = self._folder_suffixes[folder] = [
                *((".".join(folder[j:]) + ".", "/".join(folder[:j])) for j in range(i, len(folder))),
                ("", "/".join(folder))]
        name = parts[-1]
        return [(dotted + name, root) for dotted, root in above]

    def dotted_names(self, rel: str) -> list[str]:
        """Every dotted name the file may be imported under, longest first."""
        names = self._suffixes(rel)
        plausible = [n for n, root in names if self._plausible(root, n)]
        return plausible or [n for n, _ in names[:1]]

    def module_name(self, rel: str, from_file: str | None = None) -> str:
        """The dotted name to write for ``rel`` (in an import in ``from_file``, when given).

        How the project itself imports the file, most used spelling first; else the name under
        the root most of its imports go through; else from the top of the file's package chain.
        With ``from_file``, the first of those that resolves back to ``rel`` from there. ``""``
        for a file no import can name (``(old)__init__.py``, the root's own ``__init__.py``).
        """
        names = self.dotted_names(rel)
        if not names:
            return ""
        parts = module_parts(rel)
        i = len(parts) - 1
        while i > 0 and self.has_init("/".join(parts[:i])):
            i -= 1
        chain_top = ".".join(parts[i:])
        spelled = self._spelled.get(rel, Counter())
        order = sorted(spelled, key=lambda n: (-spelled[n], -len(n)))
        order += sorted((n for n in names if self._votes[self._root_of(rel, n) or ""] and n not in spelled),
                        key=lambda n: (-self._votes[self._root_of(rel, n) or ""], -len(n)))
        order.append(chain_top if chain_top in names else names[-1])
        if from_file is not None:
            for name in order:
                if self.resolve(name, from_file) == rel:
                    return name
            # the shortest spelling that reaches the file from there
            for name in reversed(names):
                if self.resolve(name, from_file) == rel:
                    return name
        return order[0]

    def resolve(self, dotted: str, from_file: str | None = None) -> str | None:
        """The project file an absolute dotted module name refers to, if any."""
        here = from_file.rpartition("/")[0] if from_file is not None else None
        key = (dotted, here)
        if key in self._cache:
            return self._cache[key]
        cands = self._candidates(dotted, here)
        found = None
        if len(cands) == 1:
            found = cands[0][0]
        elif cands:
            here_parts = here.split("/") if here else []

            def rank(cand: tuple[str, str]) -> tuple:
                file, root = cand
                common = 0
                for a, b in zip(here_parts, file.split("/")):
                    if a != b:
                        break
                    common += 1
                return (-common, -self._votes[root], root.count("/") if root else -1, file)

            found = min(cands, key=rank)[0]
        self._cache[key] = found
        return found

    def resolve_relative(self, from_file: str, level: int, module: str | None) -> str | None:
        """The file ``from <'.' * level><module> import ...`` in ``from_file`` refers to."""
        return self.file_for_parts(self.package_of_relative(from_file, level, module))

    def package_of_relative(self, from_file: str, level: int, module: str | None) -> list[str]:
        pkg = from_file.rpartition("/")[0]  # string work, as PurePosixPath(from_file).parent would
        for _ in range(level - 1):
            pkg = pkg.rpartition("/")[0]
        parts = pkg.split("/") if pkg else []
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
