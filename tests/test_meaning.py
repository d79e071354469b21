"""A merge never changes what a name in the moved or merged code means (issue 16, item 1).

Each case: a small project in a real git repository, the real CLI, and a check run on the
merged branch in a fresh interpreter.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import git, make_project, unibase

SQLA_ENUM_MAIN = (
    "from sqlalchemy import Column, Enum, Integer\nfrom sqlalchemy.orm import declarative_base\n\n"
    "Base = declarative_base()\n\nNAME_LEN = 20\n\n\n"
    'class User(Base):\n    __tablename__ = "users"\n    id = Column(Integer, primary_key=True)\n'
    '    kind = Column(Enum("a", "b", name="kind"))\n'
)


def _project(tmp_path: Path, files: dict[str, str]) -> Path:
    return make_project(tmp_path / "proj", files)


def _check_merged(project: Path, tmp_path: Path, check: str) -> str:
    merged = tmp_path / "merged"
    git(project, "worktree", "add", "-q", "--detach", str(merged), "merged")
    proc = subprocess.run([sys.executable, "-c", check], cwd=merged, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return (merged / "app" / "main.py").read_text(encoding="utf-8")


def test_an_enum_helper_moved_with_a_package_base_keeps_enum_enum(tmp_path):
    """``class Source(str, Enum)`` (``enum.Enum``) moves, with the package's base module, into a
    module where ``Enum`` is ``sqlalchemy.Enum``: it must still subclass ``enum.Enum``."""
    project = _project(tmp_path, {
        "app/__init__.py": "",
        "app/main.py": SQLA_ENUM_MAIN,
        "app/media/__init__.py": (
            "from enum import Enum\n\nfrom sqlalchemy.orm import declarative_base\n\nBase = declarative_base()\n\n\n"
            'class Source(str, Enum):\n    WEB = "web"\n    API = "api"\n'
        ),
        "app/media/models.py": (
            "from sqlalchemy import Column, Integer, String\n\nfrom app.media import Base, Source\n\n\n"
            'class Note(Base):\n    __tablename__ = "notes"\n    id = Column(Integer, primary_key=True)\n'
            "    source = Column(String(8), default=Source.WEB.value)\n"
        ),
    })
    applied = unibase("apply", str(project), "--target", "app/main.py", "--branch", "merged", "--strategy", "move",
                      check=0)
    assert "W014" not in applied.stdout
    _check_merged(project, tmp_path, (
        "import enum, app.main as m, app.media as mm, app.media.models\n"
        "assert issubclass(m.Source, enum.Enum) and [s.value for s in m.Source] == ['web', 'api']\n"
        "assert mm.Source is m.Source and m.User.__table__.c.kind.type.enums == ['a', 'b']\n"
    ))


def test_members_appended_with_prefer_keep_their_names(tmp_path):
    """``--prefer``: the loser's extra column reads its own ``NAME_LEN`` (80, not the winner
    module's 20) and its method's ``Enum`` stays ``enum.Enum``."""
    project = _project(tmp_path, {
        "app/__init__.py": "",
        "app/main.py": SQLA_ENUM_MAIN.replace("User", "Note").replace('"users"', '"notes"'),
        "app/other.py": (
            "from enum import Enum\n\nfrom sqlalchemy import Column, Integer, String\n"
            "from sqlalchemy.orm import declarative_base\n\nBase = declarative_base()\n\nNAME_LEN = 80\n\n\n"
            'class Note(Base):\n    __tablename__ = "notes"\n    id = Column(Integer, primary_key=True)\n'
            "    label = Column(String(NAME_LEN))\n\n"
            '    def levels(self):\n        return [s.name for s in Enum("Level", "low high")]\n'
        ),
    })
    planned = unibase("plan", str(project), "--prefer", "app/main.py", check=0)
    assert "W014" not in planned.stdout
    unibase("apply", str(project), "--prefer", "app/main.py", "--branch", "merged", check=0)
    _check_merged(project, tmp_path, (
        "import app.main as m, app.other\n"
        "assert m.NAME_LEN == 20 and m.Note.__table__.c.label.type.length == 80\n"
        "assert m.Note().levels() == ['low', 'high']\n"
    ))


def test_a_union_whose_helpers_cannot_be_placed_is_refused(tmp_path):
    """The kept class lives outside the canonical module, so the loser's ``NAME_LEN`` cannot be
    placed beside it; appending ``String(NAME_LEN)`` there would read that module's ``NAME_LEN``."""
    project = _project(tmp_path, {
        "app/__init__.py": "",
        "app/db.py": "from sqlalchemy.orm import declarative_base\n\nBase = declarative_base()\n",
        "app/models.py": (
            "from sqlalchemy import Column, Integer\n\nfrom app.db import Base\n\nNAME_LEN = 20\n\n\n"
            'class Note(Base):\n    __tablename__ = "notes"\n    id = Column(Integer, primary_key=True)\n\n\n'
            'class User(Base):\n    __tablename__ = "users"\n    id = Column(Integer, primary_key=True)\n'
        ),
        "app/other.py": (
            "from sqlalchemy import Column, Integer, String\nfrom sqlalchemy.orm import declarative_base\n\n"
            "Base = declarative_base()\n\nNAME_LEN = 80\n\n\n"
            'class Note(Base):\n    __tablename__ = "notes"\n    id = Column(Integer, primary_key=True)\n'
            "    label = Column(String(NAME_LEN))\n"
        ),
    })
    planned = unibase("plan", str(project), "--prefer", "app/models.py")
    assert planned.returncode == 1 and "union is not possible" in planned.stdout and "NAME_LEN" in planned.stdout
    applied = unibase("apply", str(project), "--prefer", "app/models.py", "--branch", "merged")
    assert applied.returncode == 1 and "need a decision" in applied.stderr
    assert "merged" not in git(project, "branch", "--list")


def test_one_object_under_two_spellings_is_imported_once(tmp_path):
    """``sqlalchemy.func`` and ``sqlalchemy.sql.func`` are one object: no ``func as other_func``."""
    main = SQLA_ENUM_MAIN.replace("Column, Enum, Integer", "Column, DateTime, Enum, Integer, func").replace(
        '    kind = Column(Enum("a", "b", name="kind"))\n', "    created = Column(DateTime, server_default=func.now())\n")
    project = _project(tmp_path, {
        "app/__init__.py": "",
        "app/main.py": main,
        "app/other.py": (
            "from sqlalchemy import Column, DateTime, Integer\nfrom sqlalchemy.orm import declarative_base\n"
            "from sqlalchemy.sql import func\n\nBase = declarative_base()\n\n\n"
            'class Note(Base):\n    __tablename__ = "notes"\n    id = Column(Integer, primary_key=True)\n'
            "    created = Column(DateTime, server_default=func.now())\n"
        ),
    })
    unibase("apply", str(project), "--branch", "merged", check=0)
    text = _check_merged(project, tmp_path, "import app.main, app.other")
    assert "func as" not in text and "other_func" not in text and "server_default=func.now()" in text


def test_relationship_strings_in_appended_members_name_the_kept_classes(tmp_path):
    """``--prefer``: ``requests`` and ``replies`` are both duplicated; the kept ``Request`` gains
    ``replies = relationship("ReplyB")``, and ``ReplyB`` was deleted for ``Reply``: the string
    must name ``Reply`` or ``configure_mappers()`` fails."""
    main = (
        "from sqlalchemy import Column, ForeignKey, Integer\nfrom sqlalchemy.orm import declarative_base\n\n"
        "Base = declarative_base()\n\n\n"
        'class Request(Base):\n    __tablename__ = "requests"\n    id = Column(Integer, primary_key=True)\n\n\n'
        'class Reply(Base):\n    __tablename__ = "replies"\n    id = Column(Integer, primary_key=True)\n'
        '    request_id = Column(Integer, ForeignKey("requests.id"))\n'
    )
    other = (
        "from sqlalchemy import Column, ForeignKey, Integer, String\n"
        "from sqlalchemy.orm import declarative_base, relationship\n\nBase = declarative_base()\n\n\n"
        'class RequestB(Base):\n    __tablename__ = "requests"\n    id = Column(Integer, primary_key=True)\n'
        '    title = Column(String(40))\n    replies = relationship("ReplyB")\n\n\n'
        'class ReplyB(Base):\n    __tablename__ = "replies"\n    id = Column(Integer, primary_key=True)\n'
        '    request_id = Column(Integer, ForeignKey("requests.id"))\n'
    )
    project = _project(tmp_path, {"app/__init__.py": "", "app/main.py": main, "app/other.py": other})
    unibase("apply", str(project), "--prefer", "app/main.py", "--branch", "merged", check=0)
    text = _check_merged(project, tmp_path, (
        "import app.main as m, app.other\nfrom sqlalchemy.orm import configure_mappers\nconfigure_mappers()\n"
        "assert m.Request.replies.property.mapper.class_ is m.Reply\n"
    ))
    assert 'relationship("Reply")' in text


def test_module_state_is_copied_not_moved(tmp_path):
    """``logger = logging.getLogger(__name__)`` used by a moved class and by a function left
    behind: the function keeps logging under its own module's name; the plan says so."""
    main = SQLA_ENUM_MAIN
    project = _project(tmp_path, {
        "app/__init__.py": "",
        "app/main.py": main,
        "app/other.py": (
            "import logging\n\nfrom sqlalchemy import Column, Integer\nfrom sqlalchemy.orm import declarative_base\n\n"
            "logger = logging.getLogger(__name__)\nBase = declarative_base()\n\n\n"
            'class Note(Base):\n    __tablename__ = "notes"\n    id = Column(Integer, primary_key=True)\n\n'
            "    def channel(self):\n        return logger.name\n\n\n"
            "def cleanup():\n    return logger.name\n"
        ),
    })
    planned = unibase("plan", str(project), check=0)
    assert "copying module state logger" in planned.stdout
    unibase("apply", str(project), "--branch", "merged", check=0)
    _check_merged(project, tmp_path, (
        "import app.main as m, app.other as o\n"
        "assert o.cleanup() == 'app.other' and m.Note().channel() == 'app.main'\n"
    ))
