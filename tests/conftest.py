"""Shared helpers: scenario fixtures copied into real temporary git repositories."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
SCENARIOS = sorted(p.name for p in FIXTURES.iterdir() if (p / "scenario.toml").is_file())


def scenario(name: str) -> dict:
    return tomllib.loads((FIXTURES / name / "scenario.toml").read_text(encoding="utf-8"))


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=env).stdout


def copy_project(name: str, dest: Path, *, init_git: bool = True) -> Path:
    """Copy fixture ``name`` to ``dest`` and commit it on ``main``."""
    shutil.copytree(FIXTURES / name, dest, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    if init_git:
        make_repo(dest)
    return dest


def make_repo(path: Path) -> None:
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")


def unibase(*args: str, cwd: Path | None = None, check: int | None = None) -> subprocess.CompletedProcess:
    """Run the real console entry point in a subprocess (no TTY, CI-like)."""
    proc = subprocess.run([sys.executable, "-m", "unibase", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}, stdin=subprocess.DEVNULL)
    if check is not None:
        assert proc.returncode == check, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc


def run_project_tests(project: Path) -> subprocess.CompletedProcess:
    """Run a fixture project's own tests with this interpreter; returns the finished process."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA", "--tb=line"],
        cwd=project, capture_output=True, text=True, stdin=subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")},
    )


@pytest.fixture
def tmp_project(tmp_path):
    def make(name: str, *, init_git: bool = True) -> Path:
        return copy_project(name, tmp_path / name, init_git=init_git)

    return make


def tree_state(project: Path) -> dict:
    """Everything a refused command must leave as it was: the bytes of every file outside .git,
    and, in a git repository, ``git status``, HEAD, the branches and the worktrees."""
    files = {}
    for dirpath, dirnames, filenames in os.walk(project):
        # never walk .git: git processes a killed unibase started may still be writing there
        dirnames[:] = sorted(d for d in dirnames if not (Path(dirpath) == project and d == ".git"))
        for name in sorted(filenames):
            p = Path(dirpath) / name
            if p.is_file():
                files[p.relative_to(project).as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    state: dict = {"files": files}
    if (project / ".git").exists():
        state["status"] = git(project, "status", "--porcelain", "--untracked-files=all")
        for key, args in (("head", ["rev-parse", "-q", "--verify", "HEAD"]), ("symbolic", ["symbolic-ref", "-q", "HEAD"])):
            state[key] = subprocess.run(["git", *args], cwd=project, capture_output=True, text=True).stdout.strip()
        state["branches"] = git(project, "for-each-ref", "--format=%(refname) %(objectname)", "refs/heads")
        state["worktrees"] = git(project, "worktree", "list", "--porcelain")
    return state
