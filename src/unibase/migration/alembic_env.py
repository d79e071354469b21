"""Finding a project's Alembic environment: its versions directory and current heads."""

from __future__ import annotations

import ast
import configparser
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class AlembicInfo:
    """Where a project's Alembic revisions live and which revision(s) are the current head."""

    config: Path  # alembic.ini, pyproject.toml, or the env.py that was found
    script_location: Path
    versions: Path  # where a new revision goes
    heads: tuple[str, ...]  # sorted; empty when there are no revisions yet
    revisions: tuple[str, ...] = ()  # every revision found, sorted

    @property
    def head(self) -> str | None:
        """The single head, or None when there is none or more than one."""
        return self.heads[0] if len(self.heads) == 1 else None

    @property
    def down_revision(self) -> str | tuple[str, ...] | None:
        """What a new revision revises: the head, every head (a merge revision), or None."""
        if not self.heads:
            return None
        return self.heads[0] if len(self.heads) == 1 else self.heads



# --- finding Alembic ---------------------------------------------------------------------------

_SKIP_DIRS = {
    ".git", ".hg", ".svn", ".venv", "venv", ".tox", ".nox", "node_modules", "__pycache__", "site-packages",
    ".mypy_cache", ".pytest_cache", ".ruff_cache", "build", "dist", ".eggs",
}


def find_alembic(root: Path) -> AlembicInfo | None:
    """The project's Alembic setup, or None if it has none.

    Looked for, in order: ``alembic.ini`` in ``root`` (its ``script_location``, and
    ``version_locations`` if set), ``[tool.alembic]`` in ``pyproject.toml``, and finally the
    shallowest directory under ``root`` with an ``env.py`` beside a ``versions/`` folder
    (Flask-Migrate's ``migrations/`` layout, or an ini kept somewhere else). Virtualenvs and
    caches are not searched.
    """
    root = Path(root)
    for found in (_from_ini(root), _from_pyproject(root), _from_env_py(root)):
        if found is not None:
            config, script_location, version_dirs = found
            revisions, heads = _scan_revisions(version_dirs)
            return AlembicInfo(config=config, script_location=script_location, versions=version_dirs[0],
                               heads=heads, revisions=revisions)
    return None


def _from_ini(root: Path) -> tuple[Path, Path, list[Path]] | None:
    ini = root / "alembic.ini"
    if not ini.is_file():
        return None
    parser = configparser.ConfigParser(defaults={"here": str(root.resolve())}, strict=False)
    try:
        parser.read(ini, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError, OSError):
        return None
    sections = sorted(parser.sections(), key=lambda s: (s != "alembic", parser.sections().index(s)))
    for section in sections:
        try:
            location = parser.get(section, "script_location", fallback=None)
            versions = parser.get(section, "version_locations", fallback=None)
            separator = parser.get(section, "version_path_separator", fallback=None) or parser.get(
                section, "path_separator", fallback=None)
        except (configparser.Error, ValueError):
            continue
        if not location:
            continue
        return _locations(root, ini, location, versions, separator)
    return None


def _from_pyproject(root: Path) -> tuple[Path, Path, list[Path]] | None:
    import tomllib

    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        return None
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError):
        return None
    section = data.get("tool", {}).get("alembic")
    if not isinstance(section, dict) or not isinstance(section.get("script_location"), str):
        return None
    here = str(root.resolve())
    location = section["script_location"].replace("%(here)s", here)
    versions = section.get("version_locations")
    if isinstance(versions, list):
        versions = "\n".join(str(v).replace("%(here)s", here) for v in versions)
        return _locations(root, pyproject, location, versions, "newline")
    return _locations(root, pyproject, location, None, None)


def _locations(root: Path, config: Path, location: str, versions: str | None,
               separator: str | None) -> tuple[Path, Path, list[Path]] | None:
    script_location = _resolve(root, location.strip())
    if script_location is None:
        return None
    dirs = [_resolve(root, v) for v in _split_locations(versions, separator)] if versions else []
    dirs = [d for d in dirs if d is not None] or [script_location / "versions"]
    return config, script_location, dirs


def _split_locations(value: str, separator: str | None) -> list[str]:
    if separator == "os":
        parts = value.split(os.pathsep)
    elif separator == "newline":
        parts = value.splitlines()
    elif separator in (":", ";", "space"):
        parts = value.split(" " if separator == "space" else separator)
    else:  # Alembic's legacy default: spaces or commas
        parts = re.split(r"[,\s]+", value)
    return [p.strip() for p in parts if p.strip()]


def _resolve(root: Path, location: str) -> Path | None:
    """A script/versions location: a path (relative to ``root``) or ``package:dir``."""
    match = re.fullmatch(r"([A-Za-z_][\w.]*):([^\\/].*)", location)
    if match and not re.fullmatch(r"[A-Za-z]", match.group(1)):  # not a Windows drive letter
        package = Path(*match.group(1).split("."))
        for base in (root, root / "src"):
            if (base / package).is_dir():
                return base / package / match.group(2)
        return None
    path = Path(location)
    return path if path.is_absolute() else root / path


def _from_env_py(root: Path) -> tuple[Path, Path, list[Path]] | None:
    best: tuple[int, str, Path] | None = None
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.endswith(".egg-info")
                             and not (here / d / "pyvenv.cfg").exists())
        if "env.py" in filenames and "versions" in dirnames:
            rel = here.relative_to(root)
            key = (len(rel.parts), rel.as_posix(), here)
            if best is None or key[:2] < best[:2]:
                best = key
            dirnames[:] = []  # a migrations directory does not hold another one
    if best is None:
        return None
    here = best[2]
    return here / "env.py", here, [here / "versions"]


def _scan_revisions(dirs: Iterable[Path]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(every revision, the heads): a head is a revision no other revision names as its down_revision."""
    revisions: set[str] = set()
    named: set[str] = set()
    for directory in dirs:
        if not directory.is_dir():
            continue
        for path in sorted(directory.rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            parsed = _revision_of(path)
            if parsed is None:
                continue
            revision, down = parsed
            revisions.add(revision)
            named.update(down)
    return tuple(sorted(revisions)), tuple(sorted(revisions - named))


def _revision_of(path: Path) -> tuple[str, tuple[str, ...]] | None:
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError, OSError):
        return None
    values: dict[str, ast.expr] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            values[node.targets[0].id] = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            values[node.target.id] = node.value
    revision = values.get("revision")
    if not (isinstance(revision, ast.Constant) and isinstance(revision.value, str) and revision.value):
        return None
    down = values.get("down_revision")
    names: tuple[str, ...] = ()
    if isinstance(down, ast.Constant) and isinstance(down.value, str):
        names = (down.value,)
    elif isinstance(down, (ast.Tuple, ast.List)):
        names = tuple(e.value for e in down.elts if isinstance(e, ast.Constant) and isinstance(e.value, str))
    return revision.value, names


# --- where the file goes -----------------------------------------------------------------------


def migration_path(root: Path, alembic: AlembicInfo | None, revision: str, slug: str) -> str:
    """The project-relative path (``/``-separated) of the migration file to write."""
    check_revision(revision)
    slug = _slug(slug)
    if alembic is None:
        return f"migrations/unibase_{revision}_{slug}.py"
    versions = Path(os.path.relpath(Path(alembic.versions).resolve(), Path(root).resolve()))
    return f"{versions.as_posix()}/{revision}_{slug}.py"


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:40].rstrip("_")
    return slug or "migration"


def check_revision(revision: str) -> None:
    if not isinstance(revision, str) or not re.fullmatch(r"[A-Za-z0-9_\-]+", revision):
        raise ValueError(f"a revision id is letters, digits, '_' and '-' only, not {revision!r}")

