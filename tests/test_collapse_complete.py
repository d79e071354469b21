"""Collapse completely: every create_all on the merged metadata becomes one call, whatever the
spelling, and a change of DDL order against code between two calls is reported.

Through the real CLI on a real git repository: ``app/db.py`` (``Base``, ``Widget``) is canonical,
``audit/db.py`` (``AuditBase``, ``Entry``) is merged into it; ``app/main.py`` creates the tables
through a module alias, in a loop over a list of bases, and around a statement that alters a
table between two calls.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import git, make_project, unibase

FILES = {
    "app/__init__.py": "",
    "audit/__init__.py": "",
    "app/db.py": """\
        from sqlalchemy import Column, Integer
        from sqlalchemy.orm import declarative_base

        Base = declarative_base()


        class Widget(Base):
            __tablename__ = "widgets"
            id = Column(Integer, primary_key=True)
        """,
    "audit/db.py": """\
        from sqlalchemy import Column, Integer
        from sqlalchemy.orm import declarative_base

        AuditBase = declarative_base()


        class Entry(AuditBase):
            __tablename__ = "entries"
            id = Column(Integer, primary_key=True)
        """,
    "app/main.py": """\
        import audit.db as audit_mod
        from app.db import Base
        from audit.db import AuditBase


        def init(engine):
            Base.metadata.create_all(engine)
            audit_mod.AuditBase.metadata.create_all(engine)


        def init_all(engine):
            for base in [Base, AuditBase]:
                base.metadata.create_all(engine)


        def init_patched(engine):
            Base.metadata.create_all(engine)
            with engine.begin() as conn:
                conn.exec_driver_sql("ALTER TABLE widgets ADD COLUMN extra INTEGER")
            AuditBase.metadata.create_all(engine)
        """,
}

AFTER = """\
import app.db as audit_mod
from app.db import Base


def init(engine):
    Base.metadata.create_all(engine)


def init_all(engine):
    for base in [Base]:
        base.metadata.create_all(engine)


def init_patched(engine):
    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE widgets ADD COLUMN extra INTEGER")
"""


def tables(root: Path, function: str) -> str:
    code = (f"import sqlalchemy as sa, app.main as m; e = sa.create_engine('sqlite://'); m.{function}(e); "
            "print(sorted(sa.inspect(e).get_table_names()))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_every_spelling_collapses_and_a_change_of_ddl_order_is_reported(tmp_path):
    root = make_project(tmp_path / "proj", FILES)

    plan = json.loads(unibase("plan", str(root), "--json", "--target", "app/db.py", "--strategy", "move",
                              check=0).stdout)
    collapse = [o for o in plan["operations"] if o["step"] == "UB004"]
    assert [(o["file"], o["calls"]) for o in collapse] == [("app/main.py", 3)]
    order = [w for w in plan["warnings"] if w["code"] == "W028"]
    assert [(w["file"], w["line"]) for w in order] == [("app/main.py", 20)]
    assert "line 17" in order[0]["message"] and "lines 18-19" in order[0]["message"]

    unibase("apply", str(root), "--target", "app/db.py", "--strategy", "move", "--branch", "merged", check=0)
    merged = tmp_path / "merged"
    git(root, "worktree", "add", "-q", "--detach", str(merged), "merged")
    assert (merged / "app/main.py").read_text() == AFTER
    for function in ("init", "init_all", "init_patched"):
        assert tables(merged, function) == "['entries', 'widgets']"
    again = json.loads(unibase("plan", str(merged), "--json", check=0).stdout)
    assert not [o for o in again["operations"] if o["step"] == "UB004"]


def test_a_rebased_base_keeps_the_imports_that_load_its_models(tmp_path):
    """``audit/`` is another package, so its base is rebased in place: its models stay in
    ``audit/db.py``, and ``app/main.py`` keeps importing that module (which maps them), while
    the repeated calls still collapse."""
    root = make_project(tmp_path / "proj", FILES)
    plan = json.loads(unibase("plan", str(root), "--json", "--target", "app/db.py", check=0).stdout)
    assert [b["strategy"] for b in plan["bases"] if b["name"] == "AuditBase"] == ["rebase"]
    unibase("apply", str(root), "--target", "app/db.py", "--branch", "merged", check=0)
    merged = tmp_path / "merged"
    git(root, "worktree", "add", "-q", "--detach", str(merged), "merged")
    main = (merged / "app/main.py").read_text()
    assert "import audit.db as audit_mod" in main and "from audit.db import AuditBase" in main
    assert main.count("metadata.create_all") == 3  # one per function (the loop runs it once)
    for function in ("init", "init_all", "init_patched"):
        assert tables(merged, function) == "['entries', 'widgets']"
