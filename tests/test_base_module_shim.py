"""A base module left with no models loses its base (issue 16, item 8): its importers import the
canonical base and the module becomes a shim in the one form every shim has (a note and
``__all__``); a base module where anything else lives is rebased as it is. Through the real CLI
on a real git repository, with ``--strategy rebase`` (the models stay where they are).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import USERS_AND_TEAMS, git, make_project, unibase

MAIN = USERS_AND_TEAMS
AUDIT_BASE = '''
    """The audit base."""

    from sqlalchemy.orm import declarative_base

    Base = declarative_base()
'''
AUDIT_MODELS = """
    from sqlalchemy import Column, Integer

    from app.audit_base import Base


    class Event(Base):
        __tablename__ = "events"
        id = Column(Integer, primary_key=True)
"""
DB = """
    from app.audit_base import Base as AuditBase
    from app.main import Base


    def init_db(engine):
        Base.metadata.create_all(engine)
        AuditBase.metadata.create_all(engine)
"""
HELPER = """

    def audit_label() -> str:
        return "audit"
"""


def _merge(tmp_path, audit_base: str):
    project = make_project(tmp_path / "proj", {
        "app/__init__.py": "", "app/main.py": MAIN, "app/audit_base.py": audit_base,
        "app/audit_models.py": AUDIT_MODELS, "app/db.py": DB,
    })
    unibase("apply", str(project), "--strategy", "rebase", "--branch", "merged", check=0)
    merged = tmp_path / "merged"
    git(project, "worktree", "add", "-q", "--detach", str(merged), "merged")
    check = ("import sqlalchemy as sa, app.main as m, app.audit_base, app.audit_models, app.db\n"
             "e = sa.create_engine('sqlite://'); app.db.init_db(e)\n"
             "assert sorted(sa.inspect(e).get_table_names()) == ['events', 'teams', 'users']\n"
             "assert app.audit_models.Event.registry is m.Base.registry\n")
    proc = subprocess.run([sys.executable, "-c", check], cwd=merged, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return merged


def test_a_base_module_with_nothing_else_becomes_a_shim(tmp_path):
    merged = _merge(tmp_path, AUDIT_BASE)
    assert "from app.main import Base\n" in (merged / "app/audit_models.py").read_text(encoding="utf-8")
    assert (merged / "app/audit_base.py").read_text(encoding="utf-8") == (
        '"""The audit base."""\n\n'
        "# These names now live in app/main.py; re-exported so old imports keep working (unibase).\n"
        "from .main import Base\n\n"
        '__all__ = ["Base"]\n'
    )


@pytest.mark.parametrize("extra", [HELPER], ids=["a-helper"])
def test_a_base_module_with_code_of_its_own_is_rebased_as_it_is(tmp_path, extra):
    merged = _merge(tmp_path, AUDIT_BASE + extra)
    assert "from app.audit_base import Base\n" in (merged / "app/audit_models.py").read_text(encoding="utf-8")
    text = (merged / "app/audit_base.py").read_text(encoding="utf-8")
    assert "from .main import Base\n" in text and "__all__" not in text and "def audit_label" in text
