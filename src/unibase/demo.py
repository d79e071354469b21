"""``unibase demo``: a bundled scenario copied into a fresh git repository."""

from __future__ import annotations

import shutil
import tempfile
from importlib import resources
from pathlib import Path

import git


class DemoError(ValueError):
    pass


def scenarios() -> list[str]:
    root = resources.files("unibase.fixtures")
    return sorted(p.name for p in root.iterdir() if p.is_dir() and (p / "scenario.toml").is_file())


def prepare(name: str, where: Path | None = None) -> Path:
    """Copy scenario ``name`` to ``where`` (or a new temporary directory) and commit it."""
    available = scenarios()
    if name not in available:
        raise DemoError(f"no bundled scenario {name!r}; choose one of: {', '.join(available)}")
    source = resources.files("unibase.fixtures") / name
    if where is None:
        where = Path(tempfile.mkdtemp(prefix="unibase-demo-")) / name
    elif where.exists() and any(where.iterdir()):
        raise DemoError(f"{where} is not empty; pass a new or empty directory with --dir")
    with resources.as_file(source) as src:
        shutil.copytree(src, where, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache"))
    repo = git.Repo.init(where, initial_branch="main")
    with repo.config_writer() as cw:
        cw.set_value("user", "name", "unibase demo")
        cw.set_value("user", "email", "demo@unibase.invalid")
    repo.git.add("-A")
    repo.git.commit("-q", "-m", f"{name}: the project before unibase")
    return where
