"""Symbolic links and very long files, through the real command line on real git repositories."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import git, make_repo, tree_state, unibase

APP = {
    "app/__init__.py": "",
    "app/db.py": """\
        from sqlalchemy.orm import declarative_base

        Base = declarative_base()
        """,
    "app/models.py": """\
        from sqlalchemy import Column, Integer, String

        from app.db import Base


        class User(Base):
            __tablename__ = "users"
            id = Column(Integer, primary_key=True)
            name = Column(String(50))
        """,
    "app/other_db.py": """\
        from sqlalchemy.orm import declarative_base

        OtherBase = declarative_base()
        """,
    "app/main.py": """\
        from app.db import Base
        from app.legacy import Item
        from app.models import User
        from app.other_db import OtherBase


        def init(engine):
            Base.metadata.create_all(engine)
            OtherBase.metadata.create_all(engine)
        """,
}

ITEMS = """\
    from sqlalchemy import Column, ForeignKey, Integer

    from app.other_db import OtherBase


    class Item(OtherBase):
        __tablename__ = "items"
        id = Column(Integer, primary_key=True)
        user_id = Column(Integer, ForeignKey("users.id"))
    """


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def checkout(project: Path, branch: str, dest: Path) -> Path:
    git(project, "worktree", "add", "-q", "--detach", str(dest), branch)
    return dest


def tables_after_init(root: Path) -> str:
    code = ("import sqlalchemy as sa, app.main as m; e = sa.create_engine('sqlite://'); m.init(e); "
            "print(sorted(sa.inspect(e).get_table_names()))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_a_module_symlinked_inside_the_project_is_one_module(tmp_path):
    project = write(tmp_path / "proj", {**APP, "app/items.py": ITEMS})
    os.symlink("items.py", project / "app/legacy.py")  # the same module under a second name
    make_repo(project)

    plan = json.loads(unibase("plan", str(project), "--json", check=0).stdout)
    models = [(m["file"], m["name"]) for b in plan["bases"] for m in b["models"]]
    assert sorted(models) == [("app/items.py", "Item"), ("app/models.py", "User")]
    unibase("apply", str(project), "--branch", "merged", check=0)

    merged = checkout(project, "merged", tmp_path / "merged")
    assert (merged / "app/legacy.py").is_symlink() and os.readlink(merged / "app/legacy.py") == "items.py"
    assert re.search(r"^from app\.db import .*\bItem\b", (merged / "app/main.py").read_text(), re.M)
    assert "class Item(Base)" in (merged / "app/db.py").read_text()
    assert tables_after_init(merged) == "['items', 'users']"
    unibase("check", str(merged), check=0)


def test_a_symlink_out_of_the_project_is_never_written_through(tmp_path):
    outside = write(tmp_path / "shared", {"items.py": ITEMS}) / "items.py"
    project = write(tmp_path / "proj", {**APP, "app/main.py": APP["app/main.py"].replace("app.legacy", "app.items")})
    os.symlink(outside, project / "app/items.py")
    make_repo(project)
    before, outside_bytes = tree_state(project), outside.read_bytes()

    planned = unibase("plan", str(project))
    assert planned.returncode == 1
    assert "symlink-out-of-project app/items.py" in planned.stdout and str(outside) in planned.stdout
    for args in (("apply", "--branch", "merged"), ("apply", "--dry-run")):
        proc = unibase(*args, str(project))
        assert proc.returncode == 1, proc.stderr
        assert "need a decision" in proc.stderr and "Traceback" not in proc.stderr
    assert tree_state(project) == before and outside.read_bytes() == outside_bytes


def test_an_absolute_link_into_the_checkout_is_an_alias_and_stays_a_link(tmp_path):
    """Written through in the scratch worktree, an absolute link would lead back into the user's
    own files: it is an alias of its target, which is the file that changes."""
    project = write(tmp_path / "proj", {**APP, "app/main.py": APP["app/main.py"].replace("app.legacy", "app.items"),
                                        "app/real_items.py": ITEMS})
    os.symlink(project.resolve() / "app/real_items.py", project / "app/items.py")
    make_repo(project)
    before = tree_state(project)

    unibase("apply", str(project), "--branch", "merged", check=0)
    after = tree_state(project)
    assert [after[k] for k in ("files", "status", "head")] == [before[k] for k in ("files", "status", "head")]
    merged = checkout(project, "merged", tmp_path / "merged")
    assert os.readlink(merged / "app/items.py") == str(project.resolve() / "app/real_items.py")
    assert "class Item" not in (merged / "app/real_items.py").read_text()
    assert re.search(r"^from app\.db import .*\bItem\b", (merged / "app/main.py").read_text(), re.M)
    assert tables_after_init(merged) == "['items', 'users']"


def test_a_very_long_file(tmp_path):
    """A 20,000-line module of helpers with the model in the middle: moved, and nothing else lost."""
    filler = "".join(f"def helper_{i}(x):\n    return x + {i}\n\n\n" for i in range(2_500))
    items = textwrap.dedent(ITEMS)
    head, _, cls = items.partition("\n\n\nclass Item")
    project = write(tmp_path / "proj", {**APP, "app/main.py": APP["app/main.py"].replace("app.legacy", "app.items"),
                                        "app/items.py": f"{head}\n\n\n{filler}class Item{cls}\n\n{filler}"})
    make_repo(project)
    lines = (project / "app/items.py").read_text().count("\n")
    assert lines > 20_000

    unibase("apply", str(project), "--branch", "merged", check=0)
    merged = checkout(project, "merged", tmp_path / "merged")
    after = (merged / "app/items.py").read_text()
    assert "class Item(" not in after and after.count("def helper_") == 5_000
    assert after.count(filler) == 2, "the helpers around the moved class changed"
    assert tables_after_init(merged) == "['items', 'users']"
