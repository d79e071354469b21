"""Shared helpers: scenario fixtures copied into real temporary git repositories."""

from __future__ import annotations

import atexit
import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import pytest

import cli_server

REPO = Path(__file__).resolve().parent.parent

# the CLI keeps a cache of per-file facts in the user's cache directory: the suite keeps its own,
# in a temporary directory of this process (each xdist worker has one), and leaves $HOME alone
_CACHE = tempfile.mkdtemp(prefix="unibase-test-cache-")
os.environ["UNIBASE_CACHE_DIR"] = _CACHE
atexit.register(shutil.rmtree, _CACHE, True)
FIXTURES = REPO / "fixtures"
SCENARIOS = sorted(p.name for p in FIXTURES.iterdir() if (p / "scenario.toml").is_file())


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests marked ``long`` first, the others in their order: pytest-xdist's workers then
    start on the long ones and steal the short ones, so no worker is left finishing a long test
    alone at the end of the run."""
    items[:] = sorted(items, key=lambda item: item.get_closest_marker("long") is None)


# a base with two models: the project most tests merge another base into
USERS_AND_TEAMS = """\
from sqlalchemy import Column, Integer
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class User(Base):
    __tablename__ = "users"
    id = Column(Integer, primary_key=True)


class Team(Base):
    __tablename__ = "teams"
    id = Column(Integer, primary_key=True)
"""


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


def write_files(root: Path, files: dict[str, str]) -> Path:
    """Write ``files`` (project path -> text, dedented) under ``root``; return ``root``."""
    import textwrap

    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return root


def make_project(root: Path, files: dict[str, str]) -> Path:
    """``files`` written under ``root`` and committed as the first commit of a new repository."""
    make_repo(write_files(root, files))
    return root


def make_repo(path: Path) -> None:
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")


def unibase(*args: str, cwd: Path | None = None, check: int | None = None, fresh: bool = False) -> subprocess.CompletedProcess:
    """Run the real console entry point as ``python -m unibase ARGS`` would (no TTY, CI-like): in a
    process forked from this worker's CLI server (tests/cli_server.py), or with ``fresh`` in a new
    interpreter, for a test that checks what a process starts with (its modules, its hash seed)."""
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    if fresh:
        proc = subprocess.run([sys.executable, "-m", "unibase", *args], cwd=cwd, capture_output=True, text=True,
                              env=env, stdin=subprocess.DEVNULL)
    else:
        proc = cli_server.run_module("unibase", list(args), cwd, env)
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


def once_per_session(tmp_path_factory, name: str, make) -> dict:
    """``make(directory)``, run once per test session whichever pytest-xdist worker asks first
    (the others wait for it), and its JSON-serialisable result; ``directory`` stays for every test
    that reads it. For expensive work several tests only observe."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the one directory all workers of this run share
    result = shared / f"{name}.json"
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not result.exists():
            result.write_text(json.dumps(make(shared / name)), encoding="utf-8")
    return json.loads(result.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """``unibase demo --dir DIR``, run once for the tests that read what it printed and made."""
    def run(where: Path) -> dict:
        proc = unibase("demo", "--dir", str(where))
        return {"dir": str(where), "returncode": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr}

    data = once_per_session(tmp_path_factory, "demo", run)
    proc = subprocess.CompletedProcess(["unibase", "demo"], data["returncode"], data["stdout"], data["stderr"])
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return Path(data["dir"]), proc


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


# --- a real apply stopped at a named point (unibase.interrupts): no wall-clock timing ------------


def env_for(tmpdir: Path | None = None, pause: str | None = None, ready: Path | None = None) -> dict:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    if tmpdir is not None:
        env["TMPDIR"] = str(tmpdir)
    if pause is not None:
        env.update(UNIBASE_TEST_PAUSE_AT=pause, UNIBASE_TEST_PAUSE_FILE=str(ready))
    return env


def _default_sigint() -> None:
    # a shell that starts jobs in the background ignores SIGINT for them; Ctrl-C must reach unibase
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Paused:
    """A real ``unibase apply`` stopped at a named pause point (no timing: it waits for the test)."""

    def __init__(self, project: Path, point: str, *args: str, tmpdir: Path | None = None,
                 prefix: tuple[str, ...] = ()) -> None:
        self.ready = project.parent / f"paused-{point}-{os.getpid()}"
        self.proc = subprocess.Popen(
            [*prefix, sys.executable, "-m", "unibase", "apply", str(project), *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
            env=env_for(tmpdir, point, self.ready), start_new_session=True, preexec_fn=_default_sigint)
        deadline = time.monotonic() + 600  # a safety net for a hung run, not a timing assumption
        while not self.ready.exists():
            if self.proc.poll() is not None:
                out, err = self.proc.communicate()
                pytest.fail(f"apply exited ({self.proc.returncode}) before reaching {point}:\n{out}\n{err}")
            assert time.monotonic() < deadline, f"apply never reached {point}"
            time.sleep(0.01)

    def resume(self) -> subprocess.CompletedProcess:
        self.ready.unlink()
        return self._finish()

    def signal(self, sig: int) -> subprocess.CompletedProcess:
        os.killpg(self.proc.pid, sig)  # the whole process group, as a terminal's Ctrl-C does
        return self._finish()

    def _finish(self) -> subprocess.CompletedProcess:
        out, err = self.proc.communicate(timeout=300)
        return subprocess.CompletedProcess(self.proc.args, self.proc.returncode, out, err)
