"""UB001 extract-base: before/after pairs; every pair is also run a second time."""

from __future__ import annotations

import dataclasses
import textwrap

import libcst as cst
import pytest

from unibase.codemods.extract_base import DESCRIPTION, ExtractBaseCommand
from unibase.plan import ExtractBase

OP = ExtractBase(file="pkg/models.py", class_name="BaseModel", new_name="Base")


def op(**changes) -> ExtractBase:
    return dataclasses.replace(OP, **changes)


def case(before: str, after: str | None = None, *, op: ExtractBase = OP, id: str):
    """``after=None``: a no-op."""
    before = textwrap.dedent(before)
    return pytest.param(op, before, before if after is None else textwrap.dedent(after), id=id)


NOOPS = [
    case(
        """\
        from sqlalchemy.orm import declarative_base

        Base = declarative_base()


        class BaseModel(Base):
            __abstract__ = True
        """,
        id="noop-already-subclasses-a-name",
    ),
    case(
        """\
        class BaseModel(Mixin, metaclass=Meta):
            pass
        """,
        id="noop-no-call-among-the-bases",
    ),
    case(
        """\
        class Other(declarative_base()):
            pass
        """,
        id="noop-no-such-class",
    ),
    case(
        """\
        if True:
            class BaseModel(declarative_base()):
                pass
        """,
        id="skip-class-not-at-top-level",
    ),
    case(
        """\
        class BaseModel(with_metaclass(Meta), make_mixin()):
            pass
        """,
        id="skip-two-calls-neither-a-base-factory",
    ),
    case(
        """\
        from .legacy import Base


        class BaseModel(declarative_base()):
            pass
        """,
        id="skip-new-name-already-bound",
    ),
]

CASES = [
    case(
        """\
        from sqlalchemy import Column, DateTime
        from sqlalchemy.ext.declarative import declarative_base


        class BaseModel(declarative_base()):
            __abstract__ = True
            created = Column(DateTime)


        class User(BaseModel):
            __tablename__ = "users"
        """,
        """\
        from sqlalchemy import Column, DateTime
        from sqlalchemy.ext.declarative import declarative_base


        Base = declarative_base()


        class BaseModel(Base):
            __abstract__ = True
            created = Column(DateTime)


        class User(BaseModel):
            __tablename__ = "users"
        """,
        id="happy-path",
    ),
    case(
        """\
        meta = MetaData(naming_convention=CONVENTION)


        class BaseModel(declarative_base(metadata=meta)):
            pass
        """,
        """\
        meta = MetaData(naming_convention=CONVENTION)


        Base = declarative_base(metadata=meta)


        class BaseModel(Base):
            pass
        """,
        id="arguments-kept",
    ),
    case(
        """\
        class BaseModel(
            declarative_base(
                metadata=meta,  # shared with alembic
                cls=Model,
            ),
        ):
            pass
        """,
        """\
        Base = declarative_base(
                metadata=meta,  # shared with alembic
                cls=Model,
            )


        class BaseModel(
            Base,
        ):
            pass
        """,
        id="multiline-call-with-comment-kept",
    ),
    case(
        """\
        meta = MetaData()


        # every model has timestamps
        # (and soft deletes)
        @add_timestamps
        @dataclass_transform()
        class BaseModel(declarative_base()):  # abstract
            \"\"\"The base of all models.\"\"\"

            __abstract__ = True
        """,
        """\
        meta = MetaData()


        Base = declarative_base()


        # every model has timestamps
        # (and soft deletes)
        @add_timestamps
        @dataclass_transform()
        class BaseModel(Base):  # abstract
            \"\"\"The base of all models.\"\"\"

            __abstract__ = True
        """,
        id="decorators-comments-and-docstring-stay-with-the-class",
    ),
    case(
        """\
        class BaseModel(TimestampMixin, sa.orm.declarative_base(), metaclass=Meta):
            pass
        """,
        """\
        Base = sa.orm.declarative_base()


        class BaseModel(TimestampMixin, Base, metaclass=Meta):
            pass
        """,
        id="other-bases-and-keywords-kept-attribute-call",
    ),
    case(
        """\
        class BaseModel(make_mixin(), registry().generate_base()):
            pass
        """,
        """\
        Base = registry().generate_base()


        class BaseModel(make_mixin(), Base):
            pass
        """,
        id="two-calls-the-factory-wins",
    ),
    case(
        '''\
        """Models."""
        from __future__ import annotations

        from sqlalchemy.orm import declarative_base


        class Model(declarative_base()):
            pass
        ''',
        '''\
        """Models."""
        from __future__ import annotations

        from sqlalchemy.orm import declarative_base


        DeclarativeBase_ = declarative_base()


        class Model(DeclarativeBase_):
            pass
        ''',
        op=op(class_name="Model", new_name="DeclarativeBase_"),
        id="other-names-docstring-and-future-stay-first",
    ),
    case(
        """\
        class BaseModel(declarative_base()):
            pass
        """,
        """\
        Base = declarative_base()


        class BaseModel(Base):
            pass
        """,
        id="first-statement",
    ),
]


def _run(op: ExtractBase, source: str) -> str:
    return ExtractBaseCommand(op).transform(cst.parse_module(source)).code


@pytest.mark.parametrize(("op", "before", "after"), NOOPS + CASES)
def test_extract_base(op: ExtractBase, before: str, after: str) -> None:
    result = _run(op, before)
    assert result == after
    cst.parse_module(result)


@pytest.mark.parametrize(("op", "before", "after"), NOOPS + CASES)
def test_second_run_changes_nothing(op: ExtractBase, before: str, after: str) -> None:
    assert _run(op, after) == after


@pytest.mark.parametrize(("op", "before", "after"), NOOPS)
def test_nothing_to_extract_returns_the_same_module(op: ExtractBase, before: str, after: str) -> None:
    module = cst.parse_module(before)
    assert ExtractBaseCommand(op).transform(module) is module


def test_description_is_one_line() -> None:
    assert DESCRIPTION and "\n" not in DESCRIPTION
