"""Two definitions of one table compared by meaning: pairs of spellings that agree and that differ."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from unibase.discovery import Symbol, discover
from unibase.tables import table_differences

HEADER = """\
import datetime
import decimal
import enum
from typing import Optional, Union

import sqlalchemy as sa
from sqlalchemy import (BigInteger, Boolean, Column, Date, DateTime, ForeignKey, Integer, LargeBinary, Numeric,
                        String, Text, UniqueConstraint, text)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, declarative_base, deferred, mapped_column

{imports}

Base = declarative_base()


class {cls}(Base{parents}):
    __tablename__ = "things"
    id = Column(Integer, primary_key=True)
{body}
"""


def compare(root: Path, left: str, right: str, *, left_imports: str = "", right_imports: str = "",
            left_parents: str = "", right_parents: str = "", files: dict[str, str] | None = None) -> list[str]:
    """The differences between class ``Left`` (app/left.py) and ``Right`` (app/right.py)."""
    sources = {"app/__init__.py": "", **(files or {})}
    for name, body, imports, parents in (("left", left, left_imports, left_parents),
                                        ("right", right, right_imports, right_parents)):
        sources[f"app/{name}.py"] = HEADER.format(imports=textwrap.dedent(imports), cls=name.title(),
                                                  parents=parents, body=textwrap.indent(textwrap.dedent(body), "    "))
    for rel, text in sources.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    ix = discover(root)
    a, b = ix.models[Symbol("app/left.py", "Left")], ix.models[Symbol("app/right.py", "Right")]
    return table_differences(ix, a, b)


def case(left: str, right: str, expect: str = "", *, id: str, **options):
    """A pair of class bodies; ``options`` are :func:`compare`'s keywords, ``expect`` a part of
    the difference reported."""
    return pytest.param(left, right, expect, options, id=id)


SAME = [
    case("x = Column(Integer)", "x = Column(Integer)", id="noop-identical"),
    case("x = Column(Integer, primary_key=True)", "x: Mapped[int] = mapped_column(Integer, primary_key=True)",
                 id="column-vs-mapped-column"),
    case("x = Column(Integer, primary_key=True)", "x: Mapped[int] = mapped_column(primary_key=True)",
                 id="type-from-annotation"),
    case("x = Column(Integer)", "x: Mapped[Optional[int]] = mapped_column(Integer)", id="optional-is-nullable"),
    case("x = Column(Integer)", "x: Mapped[int | None] = mapped_column()", id="pipe-none"),
    case("x = Column(Integer)", "x: Mapped[Union[None, int]] = mapped_column()", id="union-none"),
    case("x = Column(Integer)", 'x: Mapped["int | None"] = mapped_column()', id="quoted-inner"),
    case("x = Column(Integer)", 'x: "Mapped[Optional[int]]" = mapped_column()', id="quoted-annotation"),
    case("x = Column(Integer, nullable=False)", "x: Mapped[int]", id="bare-annotation"),
    case("x = Column(String)", "x = Column(String())", id="class-vs-instance"),
    case("x = Column(String(50))", "x = Column(String(length=50))", id="keyword-argument"),
    case("x = Column(String(50))", "x = Column(String(50, collation=None))", id="default-argument"),
    case("x = Column(String(50))", "x = Column(sa.String(50))", id="module-alias"),
    case("x = Column(String(50))", "x = Column(sa.types.String(50))", id="types-module"),
    case("x = Column(String(50))", "x = sa.Column(sa.String(50))", id="sa-column"),
    case("x = Column(String(50))", "x = Column(String(NAME_LENGTH))", right_imports="NAME_LENGTH = 50",
                 id="constant-length"),
    case("x = Column(String(50), nullable=False)", "x: Mapped[str] = mapped_column(String(50))",
                 id="not-null-from-annotation"),
    case("x = Column(String, nullable=False)", "x: Mapped[str] = mapped_column()", id="str"),
    case("x = Column(Boolean, nullable=False)", "x: Mapped[bool] = mapped_column()", id="bool"),
    case("x = Column(DateTime)", "x: Mapped[Optional[datetime.datetime]] = mapped_column()", id="datetime"),
    case("x = Column(DateTime)", "x: Mapped[Optional[datetime]] = mapped_column()",
                 right_imports="from datetime import datetime", id="datetime-imported"),
    case("x = Column(Date, nullable=False)", "x: Mapped[datetime.date] = mapped_column()", id="date"),
    case("x = Column(Numeric, nullable=False)", "x: Mapped[decimal.Decimal] = mapped_column()", id="decimal"),
    case("x = Column(LargeBinary, nullable=False)", "x: Mapped[bytes] = mapped_column()", id="bytes"),
    case("x = Column(Integer, nullable=True)", "x = Column(Integer)", id="explicit-nullable"),
    case("x = Column(Integer, primary_key=True, nullable=False)", "x = Column(Integer, primary_key=True)",
                 id="primary-key-not-null"),
    case("x = Column(Integer, index=False, unique=None)", "x = Column(Integer)", id="no-op-flags"),
    case('x = Column(Integer, autoincrement="auto")', "x = Column(Integer)", id="autoincrement-auto"),
    case("x = Column(Integer, index=True)", "x: Mapped[Optional[int]] = mapped_column(index=True)", id="index"),
    case('x = Column(Integer, ForeignKey("users.id"))',
                 'x: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))', id="foreign-key"),
    case('x = Column("x_id", Integer)', 'x: Mapped[Optional[int]] = mapped_column("x_id")', id="sql-name"),
    case("x = Column(Integer, default=0)", "x: Mapped[Optional[int]] = mapped_column(default=0)", id="default"),
    case("x = Column(Integer, default=0)", "x: Mapped[Optional[int]] = mapped_column(insert_default=0)",
                 id="insert-default"),
    case('x = Column(Integer, server_default=text("0"))', 'x = Column(Integer, server_default=sa.text("0"))',
                 id="server-default"),
    case("x = Column(DateTime, default=datetime.datetime.utcnow)", "x = Column(DateTime, default=datetime.utcnow)",
                 right_imports="from datetime import datetime", id="callable-default"),
    case("x = Column(postgresql.JSONB)", "x = Column(JSONB())",
                 right_imports="from sqlalchemy.dialects.postgresql import JSONB", id="dialect-type"),
    case("x = Column(GUID())", "x = Column(GUID)", left_imports="from app.types import GUID",
                 right_imports="from .types import GUID",
                 files={"app/types.py": "from sqlalchemy.types import CHAR, TypeDecorator\n\n\n"
                                        "class GUID(TypeDecorator):\n    impl = CHAR(32)\n"},
                 id="one-custom-type"),
    case('__table_args__ = (UniqueConstraint("id", name="u"),)',
                 '__table_args__ = (sa.UniqueConstraint("id", name="u"), {"extend_existing": True})', id="table-args"),
    case("", "", left_parents=", Stamped", right_parents=", Stamped",
                 left_imports="from app.mixins import Stamped", right_imports="from .mixins import Stamped",
                 files={"app/mixins.py": "from sqlalchemy import Column, DateTime\n\n\n"
                                         "class Stamped:\n    created = Column(DateTime)\n"},
                 id="one-mixin"),
    case("created = Column(DateTime)", "", right_parents=", Stamped", right_imports="from .mixins import Stamped",
                 files={"app/mixins.py": "from sqlalchemy import Column, DateTime\n\n\n"
                                         "class Stamped:\n    created = Column(DateTime)\n"},
                 id="column-from-a-mixin"),
]

DIFFERENT = [
    case("x = Column(String(50))", "x = Column(String(80))", "x: Column(String(50)) vs Column(String(80))",
                 id="length"),
    case("x = Column(Integer)", "x: Mapped[int] = mapped_column(Integer)", "NULL vs NOT NULL",
                 id="mapped-not-optional"),
    case("x = Column(Integer)", "x: Mapped[Optional[int]] = mapped_column(Integer, nullable=False)",
                 "NULL vs NOT NULL", id="explicit-nullable-wins"),
    case("x = Column(Integer)", "x = Column(BigInteger)", "type Integer vs BigInteger", id="type"),
    case("x = Column(Integer)", "x: Mapped[Optional[str]] = mapped_column()", "type", id="annotation-type"),
    case("x = Column(DateTime)", "x = Column(DateTime(timezone=True))", "type", id="timezone"),
    case("x = Column(Integer)", "x = Column(Integer, index=True)", "index not set vs True", id="index"),
    case("x = Column(Integer)", "x = Column(Integer, unique=True)", "unique", id="unique"),
    case("x = Column(Integer, default=0)", "x = Column(Integer, default=1)", "default 0 vs 1", id="default"),
    case("x = Column(Integer)", 'x = Column(Integer, server_default="0")', "server_default", id="server-default"),
    case('x = Column(Integer, ForeignKey("users.id"))', 'x = Column(Integer, ForeignKey("groups.id"))',
                 "foreign key users.id vs groups.id", id="foreign-key"),
    case('x = Column(Integer, ForeignKey("users.id"))',
                 'x = Column(Integer, ForeignKey("users.id", ondelete="CASCADE"))', "foreign key", id="ondelete"),
    case("x = Column(Integer, primary_key=True)", "x = Column(Integer, nullable=False)", "primary key",
                 id="primary-key"),
    case('x = Column("y", Integer)', "x = Column(Integer)", "y: only in app/left.py", id="sql-name"),
    case('x = Column("y", Integer)', 'z = Column("y", Integer)', "attribute x vs z", id="attribute-name"),
    case("x = Column(Integer)", "x: Mapped[Optional[int]] = mapped_column(sort_order=1)", "sort_order",
                 id="orm-option"),
    case("x = Column(Mystery)", "x = Column(Mystery)", "cannot resolve", id="unresolved-name"),
    case("x = Column(sa.Uuid())", "x = Column(GUID())", "type", right_imports=(
        "from sqlalchemy.types import CHAR, TypeDecorator\n\n\nclass GUID(TypeDecorator):\n    impl = CHAR(32)\n"),
        id="custom-type-on-one-side"),
    case("x = Column(GUID())", "x = Column(GUID())", "a different GUID() on each side", left_imports=(
        "from sqlalchemy.types import CHAR, TypeDecorator\n\n\nclass GUID(TypeDecorator):\n    impl = CHAR(36)\n"),
        right_imports=(
        "from sqlalchemy.types import CHAR, TypeDecorator\n\n\nclass GUID(TypeDecorator):\n    impl = CHAR(32)\n"),
        id="custom-types-defined-differently"),
    case("x = Column(JSON)", "x = Column(JSON)", "a different JSON on each side", left_imports="from sqlalchemy import JSON",
                 right_imports="from sqlalchemy.dialects.postgresql import JSON", id="one-name-two-types"),
    case("x = Column(sa.Enum(Status), nullable=False)", "x: Mapped[Status] = mapped_column()", "type",
                 left_imports="from .enums import Status", right_imports="from .enums import Status",
                 files={"app/enums.py": "import enum\n\n\nclass Status(enum.Enum):\n    A = 'a'\n"},
                 id="enum-annotation"),
    case('__table_args__ = (UniqueConstraint("id"),)', "", "__table_args__", id="table-args"),
    case('__table_args__ = {"schema": "a"}', '__table_args__ = {"schema": "b"}', "__table_args__",
                 id="schema"),
    case("", "extra = deferred(Column(Integer))", "builds extra inside another call", id="column-inside-another-call"),
    case("", "", "inherits", right_parents=", Serializable",
                 right_imports="from serializer_lib import Serializable", id="library-mixin"),
]


@pytest.mark.parametrize(("left", "right", "expect", "options"), SAME)
def test_same_meaning(tmp_path, left, right, expect, options):
    assert compare(tmp_path, left, right, **options) == []


@pytest.mark.parametrize(("left", "right", "expect", "options"), DIFFERENT)
def test_different_meaning(tmp_path, left, right, expect, options):
    found = compare(tmp_path, left, right, **options)
    assert found and expect in "; ".join(found), found


def compare_files(root: Path, left: str, right: str, shared: dict[str, str] | None = None) -> list[str]:
    """The differences between class ``Thing`` of app/left.py and of app/right.py, written whole."""
    for rel, text in {"app/__init__.py": "", **(shared or {}), "app/left.py": left, "app/right.py": right}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    ix = discover(root)
    return table_differences(ix, ix.models[Symbol("app/left.py", "Thing")], ix.models[Symbol("app/right.py", "Thing")])


PLAIN = """
    from sqlalchemy import Column, Integer, String
    from sqlalchemy.orm import declarative_base

    Base = declarative_base()


    class Thing(Base):
        __tablename__ = "things"
        id = Column(Integer, primary_key=True)
        name = Column(String(50), nullable=False)
"""

ANNOTATED = """
    from sqlalchemy import String
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


    class Base(DeclarativeBase):
        type_annotation_map = {{str: String({length})}}


    class Thing(Base):
        __tablename__ = "things"
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str]
"""


def test_star_import(tmp_path):
    star = PLAIN.replace("from sqlalchemy import Column, Integer, String", "from sqlalchemy import *")
    assert compare_files(tmp_path, PLAIN, star) == []


def test_declarative_base_class_with_a_type_annotation_map(tmp_path):
    assert compare_files(tmp_path, PLAIN, ANNOTATED.format(length=50)) == []
    found = compare_files(tmp_path, PLAIN, ANNOTATED.format(length=80))
    assert found and "String(50) vs String(80)" in found[0], found


def test_type_annotation_map_of_other_types_keeps_the_default(tmp_path):
    right = ANNOTATED.format(length=50).replace("{str: String(50)}", "{bytes: String(50)}")
    found = compare_files(tmp_path, PLAIN, right)
    assert found and "type String(50) vs String" in found[0], found


def test_the_float_of_this_sqlalchemy(tmp_path):
    from sqlalchemy.sql.sqltypes import _type_map

    sql = type(_type_map[float]).__name__
    left = PLAIN.replace("String(50)", f"{sql}").replace("String", sql)
    right = ANNOTATED.format(length=50).replace("name: Mapped[str]", "name: Mapped[float]")
    assert compare_files(tmp_path, left, right) == []
    other = "Float" if sql != "Float" else "Double"
    found = compare_files(tmp_path, left.replace(sql, other), right)
    assert found and f"type {other} vs {sql}" in found[0], found


@pytest.mark.parametrize(("change", "expect"), [
    pytest.param('    __table__ = Table("things", Base.metadata, Column("id", Integer, primary_key=True))\n',
                 "defines __table__ itself", id="table-object"),
    pytest.param("    @declared_attr\n    def __table_args__(cls):\n        return {}\n",
                 "computes __table_args__ in a function", id="declared-table-args"),
])
def test_unreadable_definitions_differ(tmp_path, change, expect):
    right = (PLAIN.replace("from sqlalchemy import Column, Integer, String",
                           "from sqlalchemy import Column, Integer, String, Table")
             .replace("from sqlalchemy.orm import declarative_base", "from sqlalchemy.orm import declarative_base, declared_attr")
             + textwrap.indent(change, "    "))
    if "__table__" in change:
        right = right.replace('        __tablename__ = "things"\n        id = Column(Integer, primary_key=True)\n'
                              '        name = Column(String(50), nullable=False)\n', "")
        left = PLAIN.replace('        name = Column(String(50), nullable=False)\n', "")
        right = right.replace("class Thing(Base):\n", "class Thing(Base):\n        __tablename__ = \"things\"\n")
    else:
        left = PLAIN
    found = compare_files(tmp_path, left, right)
    assert any(expect in f for f in found), found


def test_column_on_the_declarative_base_class(tmp_path):
    shared = {"app/db.py": """
        import datetime as dt

        from sqlalchemy import DateTime, func
        from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


        class Base(DeclarativeBase):
            created: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())
    """}
    left = """
        from sqlalchemy import Column, Integer

        from .db import Base


        class Thing(Base):
            __tablename__ = "things"
            id = Column(Integer, primary_key=True)
    """
    right = PLAIN.replace("name = Column(String(50), nullable=False)",
                          "created = Column(DateTime, server_default=func.now(), nullable=False)").replace(
        "import Column, Integer, String", "import Column, DateTime, Integer, func")
    assert compare_files(tmp_path, left, right, shared) == []
    found = compare_files(tmp_path, left, right.replace(", nullable=False", ""), shared)
    assert found and "NOT NULL vs NULL" in found[0], found
