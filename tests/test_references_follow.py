"""References follow their targets: names seen only by type checkers (``if TYPE_CHECKING:``
imports used in ``Mapped[...]`` annotations) point at the surviving class after a merge.

SQLAlchemy resolves such an annotation through the class registry, by the class's own name,
so a class dropped as an identical duplicate, or renamed on a collision, must be renamed in
the moved annotation too. Each case: the real CLI on a real git repository, then the merged
branch imported in a fresh interpreter with its mappers configured.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import git, make_project, unibase

MAIN = """
    from sqlalchemy import Column, Integer, String
    from sqlalchemy.orm import declarative_base

    Base = declarative_base()


    class User(Base):
        __tablename__ = "users"
        id = Column(Integer, primary_key=True)


    class {kept}(Base):
        __tablename__ = "{table}"
        id = Column(Integer, primary_key=True)
        name = Column(String(20))
"""

OTHER = """
    from sqlalchemy import Column, Integer, String
    from sqlalchemy.orm import declarative_base

    Base = declarative_base()


    class {cls}(Base):
        __tablename__ = "{table}"
        id = Column(Integer, primary_key=True)
        name = Column(String(20))
"""

OTHER_MODELS = """
    from __future__ import annotations

    from typing import TYPE_CHECKING, Optional

    from sqlalchemy import ForeignKey
    from sqlalchemy.orm import Mapped, mapped_column, relationship

    from app.other import Base

    if TYPE_CHECKING:
        from app.other import {cls}


    class Note(Base):
        __tablename__ = "notes"
        id: Mapped[int] = mapped_column(primary_key=True)
        target_id: Mapped[Optional[int]] = mapped_column(ForeignKey("{table}.id"))
        target: Mapped[Optional[{cls}]] = relationship()
"""

CASES = {
    # app.other.Widget is an identical duplicate of app.main.Gadget: it is dropped
    "dropped-duplicate": dict(kept="Gadget", cls="Widget", main_table="shared_widgets", table="shared_widgets"),
    # app.other.Widget and app.main.Widget are two tables: the moved one is renamed
    "renamed-on-collision": dict(kept="Widget", cls="Widget", main_table="widgets", table="other_widgets"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_type_checking_annotation_names_the_surviving_class(name, tmp_path):
    case = CASES[name]
    project = make_project(tmp_path / "proj", {
        "app/__init__.py": "",
        "app/main.py": MAIN.format(kept=case["kept"], table=case["main_table"]),
        "app/other.py": OTHER.format(cls=case["cls"], table=case["table"]),
        "app/other_models.py": OTHER_MODELS.format(cls=case["cls"], table=case["table"]),
    })
    unibase("apply", str(project), "--strategy", "move", "--target", "app/main.py", "--branch", "merged", check=0)
    merged = tmp_path / "merged"
    git(project, "worktree", "add", "-q", "--detach", str(merged), "merged")
    check = ("import app.main as m, app.other, app.other_models\n"
             "from sqlalchemy.orm import configure_mappers\n"
             "configure_mappers()\n"
             f"assert m.Note.target.property.mapper.local_table.name == {case['table']!r}\n")
    proc = subprocess.run([sys.executable, "-c", check], cwd=merged, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    shim = (merged / "app/other_models.py").read_text(encoding="utf-8")
    assert "TYPE_CHECKING" not in shim, shim  # the annotation moved away: so does its import


def test_a_class_that_stays_names_the_kept_class_of_a_dropped_duplicate(tmp_path):
    """A class of the canonical module names ``Gadget`` of another base (a cross-base reference)
    through an ``if TYPE_CHECKING:`` import; ``Gadget`` is an identical duplicate of ``Widget``,
    which is kept and moves into the canonical module: the annotation names ``Widget`` and the
    emptied ``if TYPE_CHECKING:`` block goes with its import."""
    table = '''
        class Base(DeclarativeBase):
            pass


        class {cls}(Base):
            __tablename__ = "shared_widgets"
            id: Mapped[int] = mapped_column(primary_key=True)
            name: Mapped[Optional[str]] = mapped_column(String(20))
    '''
    head = """
        from typing import Optional

        from sqlalchemy import String
        from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
    """
    project = make_project(tmp_path / "proj", {
        "app/__init__.py": "",
        "app/main.py": """
            from __future__ import annotations

            from typing import TYPE_CHECKING, Optional

            from sqlalchemy import ForeignKey
            from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

            if TYPE_CHECKING:
                from app.third import Gadget


            class Base(DeclarativeBase):
                pass


            class User(Base):
                __tablename__ = "users"
                id: Mapped[int] = mapped_column(primary_key=True)


            class Note(Base):
                __tablename__ = "notes"
                id: Mapped[int] = mapped_column(primary_key=True)
                gadget_id: Mapped[Optional[int]] = mapped_column(ForeignKey("shared_widgets.id"))
                gadget: Mapped[Optional[Gadget]] = relationship()
        """,
        "app/other.py": head + table.format(cls="Widget"),
        "app/third.py": head + table.format(cls="Gadget"),
    })
    unibase("apply", str(project), "--strategy", "move", "--target", "app/main.py", "--branch", "merged", check=0)
    merged = tmp_path / "merged"
    git(project, "worktree", "add", "-q", "--detach", str(merged), "merged")
    check = ("import app.main as m, app.other, app.third\nfrom sqlalchemy.orm import configure_mappers\n"
             "configure_mappers()\nassert m.Note.gadget.property.mapper.class_ is m.Widget is app.third.Gadget\n")
    proc = subprocess.run([sys.executable, "-c", check], cwd=merged, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    text = (merged / "app/main.py").read_text(encoding="utf-8")
    assert "gadget: Mapped[Optional[Widget]]" in text and "TYPE_CHECKING" not in text, text


KEPT = """
    from sqlalchemy import String
    from sqlalchemy.orm import Mapped, mapped_column

    from app.base import Base


    class Gadget(Base):
        __tablename__ = "shared_widgets"
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str] = mapped_column(String(20))
"""

REFERRING = """
    from __future__ import annotations

    from typing import TYPE_CHECKING, Optional

    from sqlalchemy import ForeignKey
    from sqlalchemy.orm import Mapped, mapped_column, relationship

    from app.base import Base

    if TYPE_CHECKING:
        from app.other import Widget


    class Note(Base):
        __tablename__ = "notes"
        id: Mapped[int] = mapped_column(primary_key=True)
        widget_id: Mapped[Optional[int]] = mapped_column(ForeignKey("shared_widgets.id"))
        widget: Mapped[Optional[Widget]] = relationship()
"""


SAME_MODULE = """
    from __future__ import annotations

    from typing import TYPE_CHECKING, Optional

    from sqlalchemy import ForeignKey, String
    from sqlalchemy.orm import Mapped, mapped_column, relationship

    from app.base import Base

    if TYPE_CHECKING:
        from app.other import Widget


    class Gadget(Base):
        __tablename__ = "shared_widgets"
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str] = mapped_column(String(20))


    class Note(Base):
        __tablename__ = "notes"
        id: Mapped[int] = mapped_column(primary_key=True)
        widget_id: Mapped[Optional[int]] = mapped_column(ForeignKey("shared_widgets.id"))
        widget: Mapped[Optional[Widget]] = relationship()
"""


@pytest.mark.parametrize("where", ["same-module", "another-module"])
def test_a_type_checking_import_of_a_duplicate_kept_outside_the_target_follows_it(where, tmp_path):
    """``app.other.Widget`` is an identical duplicate of ``Gadget``, which stays where it is
    (a models module of the canonical base, not the target). A class of that base names
    ``Widget`` only for type checkers, in a ``Mapped[...]`` annotation postponed by
    ``from __future__ import annotations``: SQLAlchemy resolves it by the class's name, which
    the merge removes, so the import and the annotation name ``Gadget`` instead."""
    files = {
        "app/__init__.py": "",
        "app/base.py": "from sqlalchemy.orm import DeclarativeBase\n\n\nclass Base(DeclarativeBase):\n    pass\n",
        "app/models.py": SAME_MODULE if where == "same-module" else KEPT,
        "app/other.py": """
            from sqlalchemy import String
            from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


            class Base(DeclarativeBase):
                pass


            class Widget(Base):
                __tablename__ = "shared_widgets"
                id: Mapped[int] = mapped_column(primary_key=True)
                name: Mapped[str] = mapped_column(String(20))
        """,
    }
    referring_file = "app/models.py" if where == "same-module" else "app/notes.py"
    if where == "another-module":
        files["app/notes.py"] = REFERRING
    project = make_project(tmp_path / "proj", files)
    unibase("apply", str(project), "--strategy", "move", "--target", "app/base.py", "--branch", "merged", check=0)
    merged = tmp_path / "merged"
    git(project, "worktree", "add", "-q", "--detach", str(merged), "merged")
    module = referring_file[:-3].replace("/", ".")
    check = (f"import app.models, app.other, {module} as m\nfrom sqlalchemy.orm import configure_mappers\n"
             "configure_mappers()\nassert m.Note.widget.property.mapper.class_ is app.models.Gadget is app.other.Widget\n")
    proc = subprocess.run([sys.executable, "-c", check], cwd=merged, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    text = (merged / referring_file).read_text(encoding="utf-8")
    assert "widget: Mapped[Optional[Gadget]]" in text and "Widget" not in text, text
    if where == "another-module":
        assert "    from app.models import Gadget\n" in text, text  # still for type checkers only
