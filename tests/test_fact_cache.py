"""The persistent cache of per-file facts (unibase.cache): a run with it finds what a run without it
finds, cold, warm and after an edit; it lives outside the project; a damaged or unwritable cache
is ignored; ``--no-cache`` and ``UNIBASE_NO_CACHE=1`` bypass it. And the commands that do not
need the heavy libraries do not import them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SCENARIOS, copy_project, make_project, tree_state
from unibase import discovery
from unibase.cache import cache_dir
from unibase.discovery import DiscoverOptions, discover


def run(project: Path, cache: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "unibase", *args], cwd=project, capture_output=True, text=True,
                          env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "UNIBASE_CACHE_DIR": str(cache), **env},
                          stdin=subprocess.DEVNULL)


def plan_json(project: Path, cache: Path, *extra: str) -> tuple[int, dict]:
    proc = run(project, cache, "plan", "--json", ".", *extra)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def cached_files(cache: Path) -> list[Path]:
    return sorted((cache / "facts").glob("*.pickle")) if (cache / "facts").is_dir() else []


@pytest.mark.parametrize("name", SCENARIOS)
def test_plans_are_the_same_cold_warm_and_after_an_edit_as_without_the_cache(name, tmp_path):
    project = copy_project(name, tmp_path / name)
    cache = tmp_path / "cache"
    before = tree_state(project)
    fresh = plan_json(project, cache, "--no-cache")
    assert cached_files(cache) == []
    assert plan_json(project, cache) == fresh  # cold: reads every file, writes the cache
    assert len(cached_files(cache)) == 1
    assert plan_json(project, cache) == fresh  # warm: unchanged files come from the cache
    assert tree_state(project) == before  # nothing written into the project; git status unchanged
    # an edit between runs: a new subclass of a model in the model's own file
    model = fresh[1]["bases"][0]["models"][0]
    path = project / model["file"]
    path.write_text(path.read_text(encoding="utf-8") + f"\n\nclass CacheProbe({model['name']}):\n    pass\n",
                    encoding="utf-8")
    edited = plan_json(project, cache, "--no-cache")
    assert edited != fresh
    assert plan_json(project, cache) == edited
    assert plan_json(project, cache) == edited


def test_check_is_the_same_with_and_without_the_cache(tmp_path):
    project = copy_project(SCENARIOS[0], tmp_path / "p")
    cache = tmp_path / "cache"
    fresh = run(project, cache, "check", ".", "--no-cache")
    for _ in range(2):
        again = run(project, cache, "check", ".")
        assert (again.returncode, again.stdout, again.stderr) == (fresh.returncode, fresh.stdout, fresh.stderr)
    assert len(cached_files(cache)) == 1


PROJECT = {
    "pyproject.toml": "[project]\nname = 'app'\n",
    "app/__init__.py": "",
    "app/db.py": "from sqlalchemy.orm import DeclarativeBase\n\n\nclass Base(DeclarativeBase):\n    pass\n",
    "app/models.py": ("from sqlalchemy import Integer\nfrom sqlalchemy.orm import mapped_column\n\nfrom app.db import Base\n\n\n"
                      "class Widget(Base):\n    __tablename__ = 'widget'\n    id = mapped_column(Integer, primary_key=True)\n"),
    "app/other.py": "from sqlalchemy.orm import declarative_base\n\nOtherBase = declarative_base()\n",
    "app/service.py": "from app.models import Widget\n\n\ndef count(rows):\n    return len(rows)\n",
}


def test_a_warm_discovery_parses_only_the_files_that_changed(tmp_path, monkeypatch):
    monkeypatch.setenv("UNIBASE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("UNIBASE_NO_CACHE", raising=False)
    root = make_project(tmp_path / "p", PROJECT)
    cold = discover(root, DiscoverOptions(cache=True))
    parsed_now: list[str] = []
    real = discovery.parsed

    def counting(data: bytes, rel: str):
        parsed_now.append(rel)
        return real(data, rel)

    monkeypatch.setattr(discovery, "parsed", counting)
    warm = discover(root, DiscoverOptions(cache=True))
    assert parsed_now == []
    assert summary(warm) == summary(cold)
    (root / "app/models.py").write_text(PROJECT["app/models.py"] + "\n\nclass Gadget(Base):\n    __tablename__ = 'gadget'\n"
                                        "    id = mapped_column(Integer, primary_key=True)\n", encoding="utf-8")
    edited = discover(root, DiscoverOptions(cache=True))
    assert parsed_now == ["app/models.py"]
    assert summary(edited) == summary(discover(root))  # as a discovery without the cache finds it
    assert "Gadget" in {m.name for m in edited.models}
    # without the cache every file that matters is parsed again
    parsed_now.clear()
    discover(root, DiscoverOptions(cache=False))
    assert {"app/db.py", "app/models.py", "app/other.py"} <= set(parsed_now)


def summary(index) -> tuple:
    return (sorted((b.file, b.name) for b in index.bases), sorted((m.file, m.name) for m in index.models),
            sorted((rel, f.partial, [(i.line, i.module, i.names) for i in f.imports]) for rel, f in index.facts.items()),
            sorted(index.unparsable))


def test_a_damaged_cache_is_ignored_and_replaced(tmp_path):
    project = make_project(tmp_path / "p", PROJECT)
    cache = tmp_path / "cache"
    fresh = plan_json(project, cache, "--no-cache")
    plan_json(project, cache)
    [file] = cached_files(cache)
    file.write_bytes(b"not a pickle at all")
    forget_runs(cache)  # else the plan is not made again and the facts are not read
    assert plan_json(project, cache) == fresh
    assert file.read_bytes() != b"not a pickle at all"  # written again, whole
    assert plan_json(project, cache) == fresh
    file.write_bytes(file.read_bytes()[: len(file.read_bytes()) // 2])  # cut short
    forget_runs(cache)
    assert plan_json(project, cache) == fresh


def forget_runs(cache: Path) -> None:
    """Delete the plans and outputs ``unibase.memo`` remembers (the facts stay)."""
    for kind in ("plans", "runs"):
        shutil.rmtree(cache / kind, ignore_errors=True)


def test_a_cache_that_cannot_be_written_changes_nothing(tmp_path):
    project = make_project(tmp_path / "p", PROJECT)
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache directory would be", encoding="utf-8")
    fresh = plan_json(project, tmp_path / "cache", "--no-cache")
    assert plan_json(project, blocked) == fresh
    assert blocked.read_text(encoding="utf-8") == "a file where the cache directory would be"


def test_no_cache_and_the_environment_variable_bypass_it(tmp_path):
    project = make_project(tmp_path / "p", PROJECT)
    cache = tmp_path / "cache"
    assert run(project, cache, "check", ".", "--no-cache").returncode == 0
    assert run(project, cache, "plan", ".", "--no-cache").returncode == 0
    assert run(project, cache, "graph", ".", "--no-cache").returncode == 0
    assert run(project, cache, "check", ".", UNIBASE_NO_CACHE="1").returncode == 0
    assert not cache.exists()
    assert run(project, cache, "check", ".").returncode == 0
    assert len(cached_files(cache)) == 1


def test_the_cache_is_never_written_inside_the_project(tmp_path):
    project = make_project(tmp_path / "p", PROJECT)
    before = tree_state(project)
    proc = run(project, project / ".cache", "check", ".")
    assert proc.returncode == 0, proc.stderr
    assert tree_state(project) == before


def test_the_cache_directory_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("UNIBASE_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "unibase"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "unibase"
    monkeypatch.setenv("UNIBASE_CACHE_DIR", str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"


# --- what a command imports -----------------------------------------------------------------------

HEAVY = ("libcst", "sqlalchemy", "alembic", "git")


def imported_by(args: list[str], cwd: Path, cache: Path) -> set[str]:
    code = ("import sys\nfrom unibase.cli import main\n"
            f"sys.argv = ['unibase', *{args!r}]\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(' '.join(sorted(sys.modules)))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "UNIBASE_CACHE_DIR": str(cache)}, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    return set(proc.stdout.strip().splitlines()[-1].split())


@pytest.mark.parametrize("args", [["check", "."], ["check", ".", "--no-cache"], ["plan", "."], ["plan", "--json", "."]])
def test_check_and_plan_import_no_heavy_library(args, tmp_path):
    project = make_project(tmp_path / "p", PROJECT)
    modules = imported_by(args, project, tmp_path / "cache")
    assert "unibase.discovery" in modules  # it did run
    assert {m.split(".")[0] for m in modules} & set(HEAVY) == set()


def test_help_imports_neither_the_planner_nor_discovery(tmp_path):
    modules = imported_by(["--help"], tmp_path, tmp_path / "cache")
    assert "unibase.cli" in modules
    assert not {"unibase.api", "unibase.planning", "unibase.discovery", "unibase.check"} & modules
    assert {m.split(".")[0] for m in modules} & set(HEAVY) == set()


def test_caches_no_run_used_for_a_month_are_deleted(tmp_path):
    cache = tmp_path / "cache"
    (cache / "facts").mkdir(parents=True)
    old, recent = cache / "facts" / "0old.pickle", cache / "facts" / "0recent.pickle"
    old.write_bytes(b"x")
    recent.write_bytes(b"x")
    month_ago = os.stat(recent).st_mtime - 31 * 24 * 3600
    os.utime(old, (month_ago, month_ago))
    project = make_project(tmp_path / "p", PROJECT)
    assert run(project, cache, "check", ".").returncode == 0
    assert not old.exists() and recent.exists()
    [mine] = [p for p in cached_files(cache) if p != recent]
    os.utime(mine, (month_ago, month_ago))
    assert run(project, cache, "check", ".").returncode == 0  # a warm run: nothing to write, but in use
    assert os.stat(mine).st_mtime > month_ago


def test_the_source_fingerprint_follows_each_source_file(tmp_path):
    """unibase's source counts by each ``.py`` file's path, size and modification time (not its
    bytes, which every run would read): any of them changing makes another fingerprint."""
    from unibase.cache import _source_files

    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "__pycache__").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("A = 1\n", encoding="utf-8")
    (tmp_path / "pkg" / "sub" / "b.py").write_text("B = 2\n", encoding="utf-8")
    (tmp_path / "pkg" / "__pycache__" / "a.py").write_text("", encoding="utf-8")
    (tmp_path / "pkg" / "notes.txt").write_text("", encoding="utf-8")

    def listing():
        return sorted(_source_files(str(tmp_path / "pkg"), ""))

    first = listing()
    assert [rel for rel, *_ in first] == ["a.py", "sub/b.py"]
    assert listing() == first
    info = (tmp_path / "pkg" / "sub" / "b.py").stat()
    os.utime(tmp_path / "pkg" / "sub" / "b.py", ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000))
    touched = listing()
    assert touched != first
    (tmp_path / "pkg" / "a.py").write_text("A = 10\n", encoding="utf-8")
    assert listing() not in (first, touched)
