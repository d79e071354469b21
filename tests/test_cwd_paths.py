"""Paths given on the command line are relative to the current directory, as in git or ruff:
running unibase from a sub-directory of the project works as a user expects. (Paths written in
``[tool.unibase]`` stay relative to the project root.)"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from conftest import USERS_AND_TEAMS, git, make_project, unibase
from test_duplicate_decisions import FILES as ORDERS

FILES = {
    "pyproject.toml": "[project]\nname = 'app'\n",
    "src/app/__init__.py": "",
    "src/app/models.py": USERS_AND_TEAMS,
    "src/app/notes.py": """\
        from sqlalchemy import Column, ForeignKey, Integer
        from sqlalchemy.orm import declarative_base

        NotesBase = declarative_base()


        class Note(NotesBase):
            __tablename__ = "notes"
            id = Column(Integer, primary_key=True)
            user_id = Column(Integer, ForeignKey("users.id"))
        """,
    "src/app/main.py": """\
        from app.models import Base
        from app.notes import NotesBase


        def init(engine):
            Base.metadata.create_all(engine)
            NotesBase.metadata.create_all(engine)
        """,
}


def plan_json(*args: str, cwd: Path, code: int = 0) -> dict:
    return json.loads(unibase("plan", *args, "--json", cwd=cwd, check=code).stdout)


def role(plan: dict, file: str) -> str:
    return next(b["role"] for b in plan["bases"] if b["file"] == file)


def test_target_merge_and_separate_from_a_sub_directory(tmp_path):
    root = make_project(tmp_path / "p", FILES)
    src = root / "src"
    assert plan_json("--target", "app/notes.py", cwd=src)["canonical"]["file"] == "src/app/notes.py"
    assert plan_json("--target", "notes.py:NotesBase", cwd=src / "app")["canonical"]["name"] == "NotesBase"
    assert role(plan_json("..", "--separate", "notes.py", cwd=src / "app"), "src/app/notes.py") == "separate"
    # a path from the root still works where the current directory has no such file
    assert plan_json("--target", "src/app/notes.py", cwd=root)["canonical"]["file"] == "src/app/notes.py"
    proc = unibase("plan", "--target", "app/nothing.py", cwd=src)
    assert proc.returncode == 2 and "--target app/nothing.py names no declarative base" in proc.stderr


def test_prefer_from_a_sub_directory_names_that_file(tmp_path):
    root = make_project(tmp_path / "p", {**ORDERS, "pyproject.toml": ORDERS["pyproject.toml"]
                                         + '\n[tool.unibase]\ntarget = "shop/models.py"\n'})
    # "models.py" is the tail of both files; from shop/ it is shop/models.py
    plan = plan_json("..", "--prefer", "models.py", cwd=root / "shop")
    orders = next(c for c in plan["conflicts"] if c["subject"] == "orders")
    assert orders["options"]["decision"]["winner"] == "shop/models.py:Order"


def test_plan_diff_and_report_files_from_a_sub_directory(tmp_path):
    root = make_project(tmp_path / "p", FILES)
    work = root / "src"
    unibase("plan", "..", "--out", "plan.json", cwd=work, check=0)
    assert (work / "plan.json").is_file() and not (root / "plan.json").exists()
    unibase("apply", "..", "--plan", "plan.json", "--dry-run", "--diff-out", "merge.patch", "--report", "merge.md",
            cwd=work, check=0)
    assert "+++ b/src/app/notes.py" in (work / "merge.patch").read_text()
    assert "UB001 merge-models" in (work / "merge.md").read_text()


def test_verify_python_from_a_sub_directory_is_that_interpreter(tmp_path):
    """``--python`` relative to the current directory: the checks run with that interpreter (a
    wrapper that records its use, then runs this Python), not a path read from elsewhere."""
    root = make_project(tmp_path / "p", {"pyproject.toml": FILES["pyproject.toml"], "src/app/__init__.py": "",
                                         "src/app/models.py": FILES["src/app/models.py"]})
    (root / "src/app/models.py").write_text((root / "src/app/models.py").read_text() + "\n# merged\n")
    git(root, "commit", "-qam", "merged")
    tools = tmp_path / "tools"
    tools.mkdir()
    used = tmp_path / "used.txt"
    wrapper = tools / "py"
    wrapper.write_text(f'#!/bin/sh\necho "$@" >> "{used}"\nexec "{sys.executable}" "$@"\n')
    wrapper.chmod(0o755)
    proc = unibase("verify", "..", "--against", "HEAD~1", "--python", "../../tools/py", cwd=root / "src")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "pass import" in proc.stdout
    assert used.is_file() and used.read_text().strip()  # the checks ran with the wrapper
    missing = unibase("verify", "..", "--against", "HEAD~1", "--python", "../tools/py", cwd=root / "src")
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert missing.stderr.count("\n") == 1 and "is not an executable" in missing.stderr
