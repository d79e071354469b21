"""A second run on a project that has not changed replays the first (``unibase.memo``): the same
bytes and exit, without starting Typer or the planner. Any change the run depended on (a file's
bytes, a new or deleted file, ``pyproject.toml``, ``.gitignore``, a link, the current directory,
the environment) makes a real run again, whose output is what a run without the cache prints."""

from __future__ import annotations

import os
import pty
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import cli_server
from conftest import SCENARIOS, copy_project, git, make_project, tree_state

PROJECT = {
    "pyproject.toml": "[project]\nname = 'app'\n",
    "app/__init__.py": "",
    "app/db.py": "from sqlalchemy.orm import DeclarativeBase\n\n\nclass Base(DeclarativeBase):\n    pass\n",
    "app/models.py": ("from sqlalchemy import ForeignKey, Integer\nfrom sqlalchemy.orm import mapped_column\n\n"
                      "from app.db import Base\n\n\nclass Widget(Base):\n    __tablename__ = 'widget'\n"
                      "    id = mapped_column(Integer, primary_key=True)\n"
                      "    part_id = mapped_column(ForeignKey('part.id'))\n"),
    "app/other.py": ("from sqlalchemy import Integer\nfrom sqlalchemy.orm import declarative_base, mapped_column\n\n"
                     "OtherBase = declarative_base()\n\n\nclass Part(OtherBase):\n    __tablename__ = 'part'\n"
                     "    id = mapped_column(Integer, primary_key=True)\n"),
    "app/service.py": "from app.models import Widget\n\n\ndef count(rows):\n    return len(rows)\n",
}


class Runner:
    """Runs ``unibase ARGS`` with one cache, and says whether the run was real or replayed: a real
    run that can be replayed stores its output anew (a new file), a replay marks it as used."""

    def __init__(self, tmp_path: Path, **env: str) -> None:
        self.cache = tmp_path / "cache"
        self.env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "UNIBASE_CACHE_DIR": str(self.cache), **env}
        self.env.pop("UNIBASE_NO_CACHE", None)

    def __call__(self, cwd: Path, *args: str, merged: bool = False, **env: str) -> tuple[int, str, str, bool]:
        """(exit, stdout, stderr, whether it ran for real); ``merged``: stderr into stdout."""
        before = self.stamps()
        if merged:
            proc = subprocess.run([sys.executable, "-m", "unibase", *args], cwd=cwd, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env={**self.env, **env}, text=True)
        else:
            proc = cli_server.run_module("unibase", list(args), cwd, {**self.env, **env})
        after = self.stamps()
        replayed = after.keys() == before.keys() and any(
            after[k][0] == before[k][0] and after[k][1] != before[k][1] for k in after) and all(
            after[k][0] == before[k][0] for k in after)
        return proc.returncode, proc.stdout, proc.stderr or "", not replayed

    def stamps(self) -> dict[Path, tuple[int, int]]:
        return {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in self.remembered()}

    def remembered(self) -> list[Path]:
        return sorted((self.cache / "runs").glob("*.pickle")) if (self.cache / "runs").is_dir() else []


COMMANDS = [
    pytest.param(["check", "."], 1, False, id="check"),
    pytest.param(["check", "--output-format", "json", "."], 1, False, id="check-json"),
    pytest.param(["check", "--output-format", "github", "app"], 1, False, id="check-github-scope"),
    pytest.param(["plan", "."], 0, False, id="plan"),
    pytest.param(["plan", "--json", "--strategy", "move", "."], 0, False, id="plan-json"),
    pytest.param(["apply", "--dry-run", "."], 0, False, id="dry-run"),
]


@pytest.mark.parametrize("args, code, merged", [
    *COMMANDS,
    # stdout and stderr into one pipe: the replay writes and flushes each stream as the run did
    pytest.param(["check", "."], 1, True, id="check-one-pipe"),
    pytest.param(["plan", "."], 0, True, id="plan-one-pipe"),
])
def test_a_second_run_on_an_unchanged_project_replays_the_first_byte_for_byte(tmp_path, args, code, merged):
    project = make_project(tmp_path / "p", PROJECT)
    run = Runner(tmp_path)
    first = run(project, *args, merged=merged)
    assert first[0] == code and first[3], first
    assert len(run.remembered()) == 1
    second = run(project, *args, merged=merged)
    assert second[:3] == first[:3]
    assert second[3] is False  # replayed: no Typer, no planner
    assert run(project, *args, "--no-cache", merged=merged)[:3] == first[:3]


EDITS = {
    # the same number of bytes and the same modification time: only the bytes tell
    "bytes": lambda p: _same_size_edit(p / "app/models.py", b"'widget'", b"'wodget'"),
    "new-file": lambda p: (p / "app/extra.py").write_text(
        "from sqlalchemy.orm import declarative_base\n\nExtraBase = declarative_base()\n", encoding="utf-8"),
    "deleted-file": lambda p: (p / "app/service.py").unlink(),
    "deleted-base": lambda p: (p / "app/other.py").write_text("", encoding="utf-8"),
    "pyproject": lambda p: (p / "pyproject.toml").write_text(
        "[project]\nname = 'app'\n\n[tool.unibase]\nseparate = ['app/other.py']\n", encoding="utf-8"),
    "gitignore": lambda p: (git(p, "rm", "-q", "--cached", "app/extra_ignored.py"),
                            (p / ".gitignore").write_text("app/extra_ignored.py\n", encoding="utf-8")),
    "link": lambda p: ((p / "app/service.py").unlink(), (p / "app/service.py").symlink_to("models.py")),
    "environment": lambda p: (p / "app/pyvenv.cfg").write_text("home = /usr\n", encoding="utf-8"),
    "folder": lambda p: shutil.move(p / "app/other.py", p / "app/sub/other.py"),
}


def _same_size_edit(path: Path, old: bytes, new: bytes) -> None:
    info = path.stat()
    path.write_bytes(path.read_bytes().replace(old, new))
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert path.stat().st_size == info.st_size


@pytest.mark.parametrize("edit, args", [
    *[pytest.param(edit, ["check", "."], id=f"check-{edit}") for edit in EDITS],
    pytest.param("bytes", ["plan", "--json", "."], id="plan-bytes"),
    pytest.param("pyproject", ["plan", "--json", "."], id="plan-pyproject"),
    pytest.param("bytes", ["apply", "--dry-run", "."], id="dry-run-bytes"),
    pytest.param("new-file", ["apply", "--dry-run", "."], id="dry-run-new-file"),
])
def test_any_change_the_run_depended_on_makes_a_real_run(tmp_path, edit, args):
    files = {**PROJECT, "app/extra_ignored.py": "from sqlalchemy.orm import declarative_base\n\nB3 = declarative_base()\n",
             "app/sub/__init__.py": ""}
    project = make_project(tmp_path / "p", files)
    run = Runner(tmp_path)
    run(project, *args)
    assert run(project, *args)[3] is False  # remembered
    EDITS[edit](project)
    after = run(project, *args)
    assert after[3], "replayed a run the edit made stale"
    assert after[:3] == run(project, *args, "--no-cache")[:3]
    again = run(project, *args)  # and that run is remembered in turn (unless it was an error)
    assert again[:3] == after[:3] and again[3] is (after[0] not in (0, 1))


def test_the_current_directory_and_the_environment_are_part_of_a_run(tmp_path):
    project = make_project(tmp_path / "p", PROJECT)
    run = Runner(tmp_path)
    top = run(project, "check", ".")
    below = run(project / "app", "check", "..")
    assert below[3] and below[1] != top[1]  # paths are shown from the current directory
    assert below[:3] == run(project / "app", "check", "..", "--no-cache")[:3]
    wide = run(project, "plan", ".")
    narrow = run(project, "plan", ".", COLUMNS="60")
    assert narrow[3] and narrow[:3] == run(project, "plan", ".", "--no-cache", COLUMNS="60")[:3]
    assert run(project, "plan", ".")[:3] == wide[:3]


@pytest.mark.parametrize("args, env", [
    pytest.param(["check", "--output-format", "nonsense", "."], {}, id="bad-input"),
    pytest.param(["check", "--no-cache", "."], {}, id="no-cache"),
    pytest.param(["check", "."], {"UNIBASE_NO_CACHE": "1"}, id="no-cache-variable"),
    pytest.param(["plan", "--out", "plan.json", "."], {}, id="writes-a-file"),
    pytest.param(["apply", "--no-verify", "--branch", "merged", "."], {}, id="apply"),
])
def test_runs_that_are_not_remembered(tmp_path, args, env):
    project = make_project(tmp_path / "p", PROJECT)
    run = Runner(tmp_path)
    first = run(project, *args, **env)
    if args[0] == "apply":
        assert first[0] == 0, first
        git(project, "branch", "-D", "merged")
    second = run(project, *args, **env)
    assert not run.remembered()
    assert second[3] and second[0] == first[0]
    if args[0] != "apply":  # apply prints the new commits' hashes
        assert second[:3] == first[:3]


def test_a_run_shown_on_a_terminal_is_not_remembered(tmp_path):
    project = make_project(tmp_path / "p", PROJECT)
    run = Runner(tmp_path)
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run([sys.executable, "-m", "unibase", "check", "."], cwd=project,
                              stdout=follower, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=run.env)
    finally:
        os.close(follower)
        os.close(leader)
    assert proc.returncode == 1
    assert not run.remembered()


def test_a_cache_directory_inside_the_project_is_never_written(tmp_path):
    project = make_project(tmp_path / "p", PROJECT)
    run = Runner(tmp_path, UNIBASE_CACHE_DIR=str(tmp_path / "p" / ".cache"))
    state = tree_state(project)
    for args in (["check", "."], ["plan", "."], ["apply", "--dry-run", "."]):
        first = run(project, *args)
        assert run(project, *args) == first  # a real run each time
    assert tree_state(project) == state


@pytest.mark.parametrize("name", SCENARIOS)
def test_a_remembered_plan_applies_as_a_new_one_does(tmp_path, name):
    """``check`` then ``apply``: apply takes the plan check made (the same settings, the project
    unchanged) and commits the same trees as an apply that plans afresh."""
    run = Runner(tmp_path)
    results = []
    for cache in (True, False):
        project = copy_project(name, tmp_path / str(cache) / name)
        extra = () if cache else ("--no-cache",)
        run(project, "check", ".", *extra)
        code, out, err, _ = run(project, "apply", "--no-verify", "--branch", "merged", ".", *extra)
        assert code in (0, 1), out + err
        if code == 0:
            out = git(project, "log", "--format=%T %s", "main..merged")
        results.append((code, out.replace(str(project), "PROJECT"), err.replace(str(project), "PROJECT")))
    assert results[0] == results[1]


def test_a_run_on_a_remembered_plan_keeps_what_that_plan_was_made_from(tmp_path):
    """``check`` on the plan ``plan`` made only checks that plan's look-ups, with calls no trace
    sees: what the check run remembers must still include them."""
    from unibase import memo

    root = tmp_path / "p"
    (root / "app").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'app'\n", encoding="utf-8")
    marker = root / "app" / "settings.cfg"  # a path the plan's run looked up and found missing
    world = memo.World(str(root), str(root), (), (), (), (("stat", str(marker), None),))
    kept = world.with_trace(memo.Trace())
    assert kept is not None and kept.holds() is True
    marker.write_text("now here\n", encoding="utf-8")
    assert kept.holds() is False


def test_plans_made_through_the_api_are_not_kept_in_memory(tmp_path, monkeypatch):
    """Only a command line being recorded keeps the worlds of its plans (a long-lived process
    planning again and again would otherwise hold every one)."""
    from unibase import api, memo
    from unibase.settings import load_settings

    monkeypatch.setenv("UNIBASE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("UNIBASE_NO_CACHE", raising=False)
    root = make_project(tmp_path / "p", PROJECT)
    monkeypatch.setattr(memo, "_worlds", [])
    for _ in range(3):
        api.plan_project(load_settings(root, cache=True))
    assert memo._worlds == []
