"""`unibase apply` ends with `unibase verify`: failures exit 1 and keep the branch; bugs the
project already had are reported as pre-existing and do not fail it."""

from __future__ import annotations

import textwrap
from pathlib import Path

from conftest import copy_project, git, make_repo, unibase


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return root


def test_a_failing_check_exits_1_and_leaves_the_branch(tmp_path):
    project = copy_project("knowledge_chipper", tmp_path / "kc", init_git=False)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + '\n[tool.unibase]\ntest-cmd = "python -c \\"raise SystemExit(3)\\""\n')
    make_repo(project)
    head = git(project, "rev-parse", "HEAD").strip()
    proc = unibase("apply", str(project), "--branch", "merged")
    assert proc.returncode == 1
    assert "fail tests" in proc.stdout
    assert proc.stderr.strip().startswith("verification failed")
    assert git(project, "branch", "--list", "merged").strip()  # left for inspection
    assert git(project, "rev-parse", "HEAD").strip() == head
    assert git(project, "status", "--porcelain") == ""


def test_a_mapper_broken_before_the_merge_is_pre_existing(tmp_path):
    project = write(tmp_path / "p", {
        "app/__init__.py": "",
        "app/models.py": """
            from sqlalchemy import Column, Integer
            from sqlalchemy.orm import declarative_base, relationship

            Base = declarative_base()


            class User(Base):
                __tablename__ = "users"
                id = Column(Integer, primary_key=True)
                ghosts = relationship("Ghost")  # a class nobody ever wrote


            class Group(Base):
                __tablename__ = "groups"
                id = Column(Integer, primary_key=True)
        """,
        "app/audit.py": """
            from sqlalchemy import Column, ForeignKey, Integer
            from sqlalchemy.orm import declarative_base

            AuditBase = declarative_base()


            class Entry(AuditBase):
                __tablename__ = "entries"
                id = Column(Integer, primary_key=True)
                user_id = Column(Integer, ForeignKey("users.id"))
        """,
    })
    make_repo(project)
    proc = unibase("apply", str(project), "--branch", "merged")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "pre-existing import" in proc.stdout
    assert "Ghost" in proc.stdout
