"""Planner decisions on small hand-written projects, checked by applying them for real."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import git, make_repo, unibase

from unibase.api import plan_project
from unibase.plan import MoveModels
from unibase.runner import compute_phases, write_phase
from unibase.settings import load_settings


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return root


def apply_in_place(root: Path):
    plan = plan_project(load_settings(root))
    for phase in compute_phases(root, plan):
        write_phase(root, phase)
    return plan


def configure(root: Path, *modules: str) -> subprocess.CompletedProcess:
    code = "import sqlalchemy.orm as o\n" + "".join(f"import {m}\n" for m in modules) + "o.configure_mappers()\n"
    return subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)


MODEL = """
from sqlalchemy import Column, ForeignKey, Integer
from sqlalchemy.orm import declarative_base, relationship
{base} = declarative_base()


class {cls}({base}):
    __tablename__ = "{table}"
    id = Column(Integer, primary_key=True)
"""


def test_collision_with_an_anonymous_canonical_base(tmp_path):
    write(tmp_path, {
        "app/__init__.py": "",
        "app/core.py": """
            from sqlalchemy import Column, ForeignKey, Integer
            from sqlalchemy.orm import declarative_base, relationship

            class BaseModel(declarative_base()):
                __abstract__ = True
                id = Column(Integer, primary_key=True)

            class User(BaseModel):
                __tablename__ = "users"
                events = relationship("Event")

            class Event(BaseModel):
                __tablename__ = "events"
                user_id = Column(Integer, ForeignKey("users.id"))
        """,
        "app/analytics.py": MODEL.format(base="AnalyticsBase", cls="Event", table="analytics_events"),
    })
    plan = apply_in_place(tmp_path)
    assert [(c.kind, c.subject) for c in plan.conflicts] == [("class-name-collision", "Event")]
    (move,) = [o for o in plan.operations if isinstance(o, MoveModels)]
    assert move.renames == (("Event", "AnalyticsEvent"),)
    proc = configure(tmp_path, "app.core", "app.analytics")
    assert proc.returncode == 0, proc.stderr
    assert plan_project(load_settings(tmp_path)).operations == ()


def test_two_secondary_bases_with_one_class_name(tmp_path):
    write(tmp_path, {
        "app/__init__.py": "",
        "app/models.py": MODEL.format(base="Base", cls="User", table="users")
        + '\n\nclass Group(Base):\n    __tablename__ = "groups"\n    id = Column(Integer, primary_key=True)\n',
        "app/blog.py": MODEL.format(base="BlogBase", cls="Tag", table="blog_tags"),
        "app/shop.py": MODEL.format(base="ShopBase", cls="Tag", table="shop_tags"),
    })
    plan = apply_in_place(tmp_path)
    moves = {o.source: o for o in plan.operations if isinstance(o, MoveModels)}
    assert moves["app/blog.py"].renames == ()
    assert moves["app/shop.py"].renames == (("Tag", "ShopTag"),)
    proc = configure(tmp_path, "app.models", "app.blog", "app.shop")
    assert proc.returncode == 0, proc.stderr
    check = subprocess.run([sys.executable, "-c", "import app.blog, app.shop; assert app.blog.Tag is not app.shop.Tag;"
                            "assert app.shop.Tag.__tablename__ == 'shop_tags'"], cwd=tmp_path, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


# -- duplicate tables, merged by the real CLI and imported from the merged branch -------------------

MAIN = """
from sqlalchemy import Column, ForeignKey, Integer
from sqlalchemy.orm import declarative_base, relationship

Base = declarative_base()
""" + "".join(f'\n\nclass {c}(Base):\n    __tablename__ = "{t}"\n    id = Column(Integer, primary_key=True)\n'
              for c, t in (("User", "users"), ("Team", "teams"), ("Org", "orgs")))

ONE_METADATA = """
import importlib
import sys

from sqlalchemy.orm import configure_mappers

modules = [importlib.import_module(m) for m in sys.argv[1:]]
configure_mappers()
mapped = [v for m in modules for v in vars(m).values() if hasattr(v, "__mapper__") and hasattr(v, "__table__")]
metadatas = {id(c.__table__.metadata): c.__table__.metadata for c in mapped}
assert len(metadatas) == 1, sorted(c.__qualname__ for c in mapped)
print(",".join(sorted(next(iter(metadatas.values())).tables)))
"""


def merged_branch(root: Path, files: dict[str, str]) -> Path:
    """``files`` committed in a new repository, merged by ``unibase apply --branch merged``; the
    merged branch checked out beside it."""
    write(root, files)
    make_repo(root)
    unibase("apply", str(root), "--branch", "merged", check=0)
    tree = root.parent / f"{root.name}-merged"
    git(root, "worktree", "add", "-q", str(tree), "merged")
    return tree


def run(tree: Path, code: str, *args: str) -> str:
    proc = subprocess.run([sys.executable, "-c", code, *args], cwd=tree, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def planned_conflicts(root: Path, *args: str) -> tuple[int, list[dict]]:
    proc = unibase("plan", str(root), "--json", *args)
    return proc.returncode, json.loads(proc.stdout)["conflicts"]


TAGS_MAPPED = """
from typing import Optional

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, declarative_base, mapped_column

Base = declarative_base()


class Tag(Base):
    __tablename__ = "tags"
    {id}
    name: Mapped[Optional[str]] = mapped_column(String(30))
    rank: Mapped[int] = mapped_column(default=0)
"""
TAGS_COLUMN = """

class Tag(Base):
    __tablename__ = "tags"
    id = Column(Integer, primary_key=True)
    name = Column(String(length=30), nullable=True)
    rank = Column(Integer, nullable=False, default=0)
"""


@pytest.mark.parametrize("id_column", [
    pytest.param("id: Mapped[int] = mapped_column(Integer, primary_key=True)", id="typed"),
    pytest.param("id: Mapped[int] = mapped_column(primary_key=True)", id="type-from-annotation"),
    pytest.param("id: Mapped[Optional[int]] = mapped_column(Integer, primary_key=True)", id="optional-primary-key"),
])
def test_one_table_in_two_styles_is_an_identical_duplicate(tmp_path, id_column):
    main = MAIN.replace("import Column, ForeignKey, Integer", "import Column, ForeignKey, Integer, String") + TAGS_COLUMN
    files = {"app/__init__.py": "", "app/main.py": main, "app/other.py": TAGS_MAPPED.format(id=id_column)}
    write(tmp_path / "p", files)
    code, conflicts = planned_conflicts(tmp_path / "p")
    assert code == 0, conflicts
    assert [(c["kind"], c["subject"], c["resolution"] is not None) for c in conflicts] == [
        ("identical-duplicate-table", "tags", True)]
    tree = merged_branch(tmp_path / "q", files)
    assert run(tree, ONE_METADATA, "app.main", "app.other") == "orgs,tags,teams,users"
    run(tree, "import app.main, app.other; assert app.other.Tag is app.main.Tag")


def test_one_table_differing_in_meaning_keeps_its_conflict(tmp_path):
    main = MAIN.replace("import Column, ForeignKey, Integer", "import Column, ForeignKey, Integer, String") + TAGS_COLUMN
    other = TAGS_MAPPED.format(id="id: Mapped[int] = mapped_column(primary_key=True)").replace(
        "name: Mapped[Optional[str]]", "name: Mapped[str]")
    write(tmp_path, {"app/__init__.py": "", "app/main.py": main, "app/other.py": other})
    code, conflicts = planned_conflicts(tmp_path)
    assert code == 1
    (conflict,) = conflicts
    assert (conflict["kind"], conflict["resolution"]) == ("duplicate-table", None)
    assert "name: Mapped[str] = mapped_column(String(30)) vs Column(String(length=30), nullable=True) " \
           "(NOT NULL vs NULL)" in conflict["detail"]
    assert "rank" not in conflict["detail"] and conflict["options"]["differences"]


SECONDARY = """
from sqlalchemy import Column, ForeignKey, Integer, String
from sqlalchemy.orm import declarative_base, relationship

Base = declarative_base()


class {cls}(Base):
    __tablename__ = "tags"
    id = Column(Integer, primary_key=True)
    {extra}
"""
POSTS = """

class Post(Base):
    __tablename__ = "posts"
    id = Column(Integer, primary_key=True)
    tag_id = Column(Integer, ForeignKey("tags.id"))
    tag = relationship("Label")
"""


def test_identical_table_on_two_secondary_bases_is_kept_once(tmp_path):
    files = {
        "app/__init__.py": "",
        "app/main.py": MAIN,
        "app/one.py": SECONDARY.format(cls="Tag", extra='label = Column(String(20), index=True)'),
        "app/two.py": SECONDARY.format(cls="Label", extra="label: Mapped[Optional[str]] = mapped_column(String(20), "
                                       "index=True)").replace("import declarative_base",
                                                              "import Mapped, declarative_base, mapped_column")
        .replace("from sqlalchemy import", "from typing import Optional\n\nfrom sqlalchemy import") + POSTS,
    }
    write(tmp_path / "p", files)
    code, conflicts = planned_conflicts(tmp_path / "p")
    assert code == 0, conflicts
    (conflict,) = conflicts
    assert (conflict["kind"], conflict["locations"]) == ("identical-duplicate-table", ["app/two.py:9", "app/one.py:7"])
    assert conflict["resolution"] == ("keep app/one.py:Tag (moved to app/main.py:Tag); "
                                      "app/two.py:Label becomes an alias of it")
    tree = merged_branch(tmp_path / "q", files)
    assert run(tree, ONE_METADATA, "app.main", "app.one", "app.two") == "orgs,posts,tags,teams,users"
    run(tree, "import app.main, app.one, app.two; assert app.two.Label is app.one.Tag is app.main.Tag;"
              "assert app.main.Post.tag.property.mapper.class_ is app.main.Tag")


def test_different_tables_on_two_secondary_bases_need_a_decision(tmp_path):
    write(tmp_path, {
        "app/__init__.py": "",
        "app/main.py": MAIN,
        "app/one.py": SECONDARY.format(cls="Tag", extra="label = Column(String(20))"),
        "app/two.py": SECONDARY.format(cls="Label", extra="label = Column(String(40))"),
    })
    make_repo(tmp_path)
    for prefer in ((), ("--prefer", "app/two.py")):
        code, conflicts = planned_conflicts(tmp_path, *prefer)
        assert code == 1
        (conflict,) = conflicts
        assert (conflict["kind"], conflict["subject"], conflict["resolution"]) == ("duplicate-table", "tags", None)
        assert "label: Column(String(40)) vs Column(String(20)) (type String(40) vs String(20))" in conflict["detail"]
        assert "both are on bases being merged" in conflict["detail"] and "--target" in conflict["detail"]
        assert "decision" not in conflict["options"]
    assert unibase("apply", str(tmp_path), "--branch", "merged").returncode == 1
    assert "merged" not in git(tmp_path, "branch", "--list")


def test_identical_table_on_two_secondary_bases_with_rebase_needs_move(tmp_path):
    write(tmp_path, {
        "app/__init__.py": "",
        "app/main.py": MAIN,
        "app/one.py": SECONDARY.format(cls="Tag", extra=""),
        "app/two.py": SECONDARY.format(cls="Label", extra=""),
    })
    code, conflicts = planned_conflicts(tmp_path, "--strategy", "rebase")
    assert code == 1
    assert [(c["kind"], c["resolution"]) for c in conflicts] == [("identical-duplicate-table", None)]
    assert "use --strategy move" in conflicts[0]["detail"]
