"""verify reads both trees (its checkouts of the merged tree and of the tree before the merge) with
the project's cache of what discovery read, read only: `apply` has just read every file of the
tree before the merge, so only the files the merge changed are parsed again."""

from __future__ import annotations

from collections import Counter

from typer.testing import CliRunner

from conftest import git, write_files
from unibase import cache, discovery
from unibase.cli import app

FILES = {
    "app/__init__.py": "",
    "app/core.py": """
        from sqlalchemy import Column, Integer, String
        from sqlalchemy.orm import declarative_base

        Base = declarative_base()


        class Widget(Base):
            __tablename__ = "widgets"
            id = Column(Integer, primary_key=True)
            name = Column(String(50))
    """,
    "app/billing.py": """
        from sqlalchemy import Column, ForeignKey, Integer
        from sqlalchemy.orm import declarative_base

        BillingBase = declarative_base()


        class Invoice(BillingBase):
            __tablename__ = "invoices"
            id = Column(Integer, primary_key=True)
            widget_id = Column(Integer, ForeignKey("widgets.id"))
    """,
    "app/parts.py": """
        from sqlalchemy import Column, ForeignKey, Integer, String

        from .core import Base


        class Part(Base):
            __tablename__ = "parts"
            id = Column(Integer, primary_key=True)
            label = Column(String(30), index=True)
            widget_id = Column(Integer, ForeignKey("widgets.id"))
    """,
}


def parses(monkeypatch) -> Counter:
    """How many times discovery parsed each file (relative path), in this process."""
    seen: Counter = Counter()
    real = discovery.read_facts

    def counted(rel, tree, statements_only):
        seen[rel] += 1
        return real(rel, tree, statements_only)

    monkeypatch.setattr(discovery, "read_facts", counted)
    return seen


def test_verify_parses_only_the_files_the_merge_changed(tmp_path, monkeypatch):
    root = tmp_path / "p"
    write_files(root, FILES)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    monkeypatch.chdir(root)
    seen = parses(monkeypatch)
    facts = cache.fact_file(root.resolve(), cache.cache_dir())
    result = CliRunner().invoke(app, ["apply", str(root), "--branch", "merged", "--strategy", "rebase"])
    assert result.exit_code == 0, result.output
    assert "pass schema" in result.output and "pass import" in result.output, result.output
    changed = set(git(root, "diff", "--name-only", "main", "merged").split())
    assert "app/billing.py" in changed and "app/parts.py" not in changed, changed
    # the plan read each file once; verify parsed again only what the merge changed, in the merged tree
    assert seen["app/parts.py"] == 1 and seen["app/core.py"] == 1 + ("app/core.py" in changed), seen
    assert seen["app/billing.py"] == 2, seen
    # and left the project's cache as the plan wrote it (the tree the user has checked out)
    before = facts.read_bytes()
    seen.clear()
    again = CliRunner().invoke(app, ["verify", str(root), "--against", "main"])
    assert facts.read_bytes() == before
    assert "pass schema" in again.output, again.output
