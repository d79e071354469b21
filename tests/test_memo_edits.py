"""A commit that changes only files a run knew by their import lines (application code that
imports no model and speaks no SQLAlchemy) keeps the run's output: ``unibase.memo`` replays it
without planning again. Any other change (an import line, a word of SQLAlchemy, a file the run
read further) makes a real run, whose output is what a run without the cache prints."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import git, make_project
from test_memo import PROJECT

FILES = {
    **PROJECT,
    # read by its import lines alone: it imports no model and no word of it speaks SQLAlchemy
    "app/util.py": "import os\n\nimport sqlalchemy.orm as orm\n\n\ndef size(path):\n    return os.path.getsize(path)\n",
}


def run(project: Path, cache: Path, *args: str) -> tuple[int, str, str, bool]:
    """(exit, stdout, stderr, whether it planned): ``-X importtime`` tells whether the planner was
    imported, which a replay never does."""
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "UNIBASE_CACHE_DIR": str(cache)}
    env.pop("UNIBASE_NO_CACHE", None)
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "unibase", *args], cwd=project, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    lines = proc.stderr.splitlines(keepends=True)
    imported = [line for line in lines if line.startswith("import time:")]
    planned = any(line.rstrip().endswith(" unibase.planning") for line in imported)
    return proc.returncode, proc.stdout, "".join(line for line in lines if line not in imported), planned


def append(rel: str, text: str):
    return lambda p: (p / rel).write_text((p / rel).read_text(encoding="utf-8") + text, encoding="utf-8")


KEPT = {
    "body": append("app/util.py", "\n\ndef twice(x):\n    return 2 * x\n"),
    "comment": append("app/util.py", "# a comment at the end\n"),
    "docstring": lambda p: (p / "app/__init__.py").write_text('"""The application."""\n', encoding="utf-8"),
}

REAL = {
    # a new import line
    "import": append("app/util.py", "\nimport json\n"),
    # the same import lines, but the file now defines a base and a model: it speaks SQLAlchemy
    "base": append("app/util.py", "\n\nExtraBase = orm.declarative_base()\n\n\nclass Gadget(ExtraBase):\n"
                                  "    __tablename__ = 'gadget'\n    id = orm.mapped_column(orm.Integer, primary_key=True)\n"),
    # the import lines move down a line (their line numbers are part of what the run kept)
    "moved": lambda p: (p / "app/util.py").write_text("# utilities\n" + (p / "app/util.py").read_text(encoding="utf-8"),
                                                       encoding="utf-8"),
    # an importer of a model: the run read it whole, so any change to it counts
    "importer": append("app/service.py", "\n\ndef none():\n    return None\n"),
}

COMMANDS = [
    pytest.param(["check", "."], id="check"),
    pytest.param(["check", "--output-format", "json", "."], id="check-json"),
    pytest.param(["plan", "--json", "."], id="plan-json"),
    pytest.param(["apply", "--dry-run", "."], id="dry-run"),
]


@pytest.mark.parametrize("args", COMMANDS)
@pytest.mark.parametrize("edit", KEPT)
def test_an_edit_of_code_known_by_its_import_lines_keeps_the_run(tmp_path, edit, args):
    project, cache = make_project(tmp_path / "p", FILES), tmp_path / "cache"
    first = run(project, cache, *args)
    assert first[3] and first[0] in (0, 1), first
    KEPT[edit](project)
    after = run(project, cache, *args)
    assert after[3] is False, "planned again for an edit that cannot change the plan"
    assert after[:3] == run(project, cache, *args, "--no-cache")[:3] == first[:3]
    append("app/util.py", "\nNAME = 'util'\n")(project)  # the world kept is the one after the edit
    assert run(project, cache, *args)[3] is False


@pytest.mark.parametrize("args", [COMMANDS[0], COMMANDS[-1]])
@pytest.mark.parametrize("edit", REAL)
def test_any_other_edit_plans_again(tmp_path, edit, args):
    project, cache = make_project(tmp_path / "p", FILES), tmp_path / "cache"
    run(project, cache, *args)
    REAL[edit](project)
    after = run(project, cache, *args)
    assert after[3], "replayed a run the edit made stale"
    assert after[:3] == run(project, cache, *args, "--no-cache")[:3]


def test_a_new_base_in_code_known_by_its_import_lines_is_found(tmp_path):
    project, cache = make_project(tmp_path / "p", FILES), tmp_path / "cache"
    before = run(project, cache, "check", ".")
    REAL["base"](project)
    after = run(project, cache, "check", ".")
    assert "ExtraBase" not in before[1] and "app/util.py:10:1: UB101 declarative base ExtraBase" in after[1]
    assert "3 declarative bases are in scope" in after[2]


def test_apply_after_an_edit_of_such_code_commits_what_a_new_plan_does(tmp_path):
    """``check``, a commit that touches only such code, then ``apply``: apply takes the plan
    check made and commits the same trees as an apply that plans afresh."""
    from unibase.cache import read_stamped

    results = []
    for extra in ((), ("--no-cache",)):
        project, cache = make_project(tmp_path / str(bool(extra)) / "p", FILES), tmp_path / str(bool(extra)) / "cache"
        run(project, cache, "check", ".", *extra)
        KEPT["body"](project)
        git(project, "commit", "-qam", "util: twice")
        if not extra:  # the plan check made still holds
            worlds = [read_stamped(path)[0] for path in (cache / "plans").glob("*.pickle")]
            assert len(worlds) == 1 and worlds[0].now() not in (None, worlds[0])
        code, out, err, _ = run(project, cache, "apply", "--no-verify", "--branch", "merged", ".", *extra)
        assert code == 0, out + err
        results.append(git(project, "log", "--format=%T %s", "main..merged"))
    assert results[0] == results[1]


def test_a_file_read_after_discovery_is_not_known_by_its_import_lines_alone(tmp_path):
    """A run that read a file again after discovery (a search for a word, a codemod) may have
    made something of its whole text: a change to it is a change to the run."""
    from unibase import memo
    from unibase.reading import import_lines

    root = tmp_path / "p"
    (root / "app").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'app'\n", encoding="utf-8")
    path = root / "app" / "util.py"
    path.write_bytes(b"import os\n\nENGINE = None\n")
    info = path.stat()
    digest = memo.content_hash(path.read_bytes())
    lines = memo._lines_digest(*import_lines(path.read_bytes()))
    files = (("app/util.py", info.st_size, info.st_mtime_ns, digest),)
    known = memo.World(str(root), str(root), (), files, (), (), lines=(lines,))
    read = memo.World(str(root), str(root), (), files, (), (), lines=(lines,), read=frozenset({"app/util.py"}))
    assert known.now() is known and read.now() is read
    path.write_bytes(b"import os\n\nENGINE = 'sqlite://'\n")
    now = known.now()
    assert now is not None and now is not known and now.files[0][3] == memo.content_hash(path.read_bytes())
    assert now.now() is now
    assert read.now() is None


def test_git_sees_no_change_in_the_project(tmp_path):
    """Remembering and refreshing a world writes nothing into the project."""
    project, cache = make_project(tmp_path / "p", FILES), tmp_path / "cache"
    run(project, cache, "check", ".")
    KEPT["body"](project)
    run(project, cache, "check", ".")
    status = subprocess.run(["git", "status", "--porcelain"], cwd=project, capture_output=True, text=True).stdout
    assert status == " M app/util.py\n"
