"""Imports unibase adds join the module's own import block, in the module's own order
(issue 16, item 8): names into an existing ``from m import`` line at their sorted place, a new
statement into its section (standard library, outside packages, the project), sorted where the
section is sorted. Through the real CLI on a real git repository.
"""

from __future__ import annotations

from conftest import git, make_project, unibase

MAIN = '''
    """The main models."""

    import enum

    from sqlalchemy import Column, Integer
    from sqlalchemy.orm import declarative_base

    from app.sizes import CODE_LEN

    Base = declarative_base()


    class Kind(enum.Enum):
        A = "a"


    class User(Base):
        __tablename__ = "users"
        id = Column(Integer, primary_key=True)


    class Team(Base):
        __tablename__ = "teams"
        id = Column(Integer, primary_key=True)
'''

OTHER = '''
    import datetime

    from sqlalchemy import Column, DateTime, ForeignKey, Integer, String
    from sqlalchemy.ext.hybrid import hybrid_property
    from sqlalchemy.orm import declarative_base, relationship

    from app.labels import default_label
    from app.sizes import NAME_LEN

    Base = declarative_base()


    class Note(Base):
        __tablename__ = "notes"
        id = Column(Integer, primary_key=True)
        title = Column(String(NAME_LEN), default=default_label)
        created = Column(DateTime, default=datetime.datetime.utcnow)
        user_id = Column(Integer, ForeignKey("users.id"))
        user = relationship("User")

        @hybrid_property
        def short(self):
            return self.title[:3]
'''


def test_added_imports_join_the_block_in_its_own_order(tmp_path):
    project = make_project(tmp_path / "proj", {
        "app/__init__.py": "",
        "app/sizes.py": "CODE_LEN = 8\nNAME_LEN = 40\n",
        "app/labels.py": "def default_label() -> str:\n    return 'x'\n",
        "app/main.py": MAIN,
        "app/other.py": OTHER,
    })
    unibase("apply", str(project), "--strategy", "move", "--branch", "merged", check=0)
    text = git(project, "show", "merged:app/main.py")
    head = text.split("\n\n\n")[0]
    assert head == (
        '"""The main models."""\n\n'
        "import datetime\n"
        "import enum\n\n"
        "from sqlalchemy import Column, DateTime, ForeignKey, Integer, String\n"
        "from sqlalchemy.ext.hybrid import hybrid_property\n"
        "from sqlalchemy.orm import declarative_base, relationship\n\n"
        "from app.labels import default_label\n"
        "from app.sizes import CODE_LEN, NAME_LEN\n\n"
        "Base = declarative_base()"
    ), text
