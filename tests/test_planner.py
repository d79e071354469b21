"""Planner decisions on small hand-written projects, checked by applying them for real."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

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
