"""UB001 rebase-base: before/after pairs; every pair is also run a second time."""

from __future__ import annotations

import dataclasses
import textwrap

import libcst as cst
import pytest

from unibase.codemods.rebase_base import DESCRIPTION, RebaseBaseCommand
from unibase.plan import RebaseBase

# pkg/chat.py keeps its models; its base becomes the canonical one of pkg/models.py
OP = RebaseBase(
    file="pkg/chat.py",
    name="Base",
    target="pkg/models.py",
    target_name="Base",
    import_from="models",
    import_level=1,
)


def op(**changes) -> RebaseBase:
    return dataclasses.replace(OP, **changes)


def case(before: str, after: str | None = None, *, op: RebaseBase = OP, id: str):
    """``after=None``: a no-op."""
    before = textwrap.dedent(before)
    return pytest.param(op, before, before if after is None else textwrap.dedent(after), id=id)


NOOPS = [
    case(
        """\
        from sqlalchemy import Column, Integer

        from .models import Base


        class Message(Base):
            __tablename__ = "messages"
            id = Column(Integer, primary_key=True)
        """,
        id="noop-already-an-import",
    ),
    case(
        """\
        from sqlalchemy.orm import declarative_base

        ChatBase = declarative_base()
        """,
        id="noop-no-such-statement",
    ),
    case(
        """\
        from sqlalchemy.orm import declarative_base

        try:
            from .models import Base
        except ImportError:
            Base = declarative_base()
        """,
        id="skip-definition-under-try-left-alone",
    ),
    case(
        """\
        from sqlalchemy.orm import declarative_base

        Base = OtherBase = declarative_base()
        """,
        id="skip-statement-binding-other-names-left-alone",
    ),
]

CASES = [
    case(
        """\
        from sqlalchemy import Column, Integer
        from sqlalchemy.orm import declarative_base

        Base = declarative_base()


        class Message(Base):
            __tablename__ = "messages"
            id = Column(Integer, primary_key=True)
        """,
        """\
        from sqlalchemy import Column, Integer

        from .models import Base


        class Message(Base):
            __tablename__ = "messages"
            id = Column(Integer, primary_key=True)
        """,
        id="happy-path-declarative-base-call",
    ),
    case(
        """\
        from sqlalchemy import MetaData
        from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


        class Base(DeclarativeBase):
            \"\"\"The chat registry.\"\"\"

            metadata = MetaData(schema="chat")


        class Message(Base):
            __tablename__ = "messages"
            id: Mapped[int] = mapped_column(primary_key=True)
        """,
        """\
        from sqlalchemy.orm import Mapped, mapped_column

        from .models import Base


        class Message(Base):
            __tablename__ = "messages"
            id: Mapped[int] = mapped_column(primary_key=True)
        """,
        id="class-definition-and-its-imports-go",
    ),
    case(
        """\
        from sqlalchemy.orm import DeclarativeBase


        class ChatBase(DeclarativeBase):
            pass


        class Message(ChatBase):
            __tablename__ = "messages"
        """,
        """\
        from .models import Base as ChatBase


        class Message(ChatBase):
            __tablename__ = "messages"
        """,
        op=op(name="ChatBase"),
        id="alias-keeps-the-local-name",
    ),
    case(
        """\
        from sqlalchemy.orm import declarative_base

        Base = declarative_base()
        """,
        """\
        # These names now live in pkg/models.py; re-exported so old imports keep working (unibase).
        from pkg.models import Base

        __all__ = ["Base"]
        """,
        op=op(import_from="pkg.models", import_level=0),
        id="absolute-import",
    ),
    case(
        """\
        from sqlalchemy.orm import declarative_base

        ChatBase = declarative_base()
        """,
        """\
        # These names now live in pkg/models.py; re-exported so old imports keep working (unibase).
        from ..core.models import Base as ChatBase

        __all__ = ["ChatBase"]
        """,
        op=op(name="ChatBase", import_from="core.models", import_level=2),
        id="relative-two-dots-alias",
    ),
    case(
        """\
        from typing import TYPE_CHECKING

        from sqlalchemy import MetaData
        from sqlalchemy.orm import registry

        metadata = MetaData()
        Base = registry(metadata=metadata).generate_base()


        def make_registry() -> "registry":
            return Base.registry
        """,
        """\
        from typing import TYPE_CHECKING

        from sqlalchemy import MetaData
        from sqlalchemy.orm import registry

        metadata = MetaData()
        from .models import Base


        def make_registry() -> "registry":
            return Base.registry
        """,
        # MetaData: used by kept code; registry: by a quoted annotation; TYPE_CHECKING: by
        # nobody before either, so not this codemod's business
        id="generate-base-imports-still-used-kept",
    ),
    case(
        """\
        from sqlalchemy.orm import declarative_base, DeclarativeMeta

        Base: DeclarativeMeta = declarative_base()

        __all__ = ["Base", "DeclarativeMeta"]
        """,
        """\
        from sqlalchemy.orm import DeclarativeMeta

        from .models import Base

        __all__ = ["Base", "DeclarativeMeta"]
        """,
        id="annotated-definition-name-in-all-kept",
    ),
    case(
        '''\
        """Chat models."""
        from __future__ import annotations

        import sqlalchemy as sa
        from sqlalchemy.orm import (
            Mapped,
            declarative_base,
        )

        # The chat registry: chat tables only.
        # Kept apart since 2021.
        Base = declarative_base()


        class Message(Base):
            __tablename__ = "messages"
            id: Mapped[int] = sa.Column(sa.Integer, primary_key=True)
        ''',
        '''\
        """Chat models."""
        from __future__ import annotations

        import sqlalchemy as sa
        from sqlalchemy.orm import (
            Mapped,
        )

        # The chat registry: chat tables only.
        # Kept apart since 2021.
        from .models import Base


        class Message(Base):
            __tablename__ = "messages"
            id: Mapped[int] = sa.Column(sa.Integer, primary_key=True)
        ''',
        id="docstring-future-comments-and-parenthesized-import",
    ),
    case(
        """\
        from sqlalchemy.orm import declarative_base

        Base = declarative_base()
        """,
        """\
        # These names now live in pkg/models.py; re-exported so old imports keep working (unibase).
        from .models import Base

        __all__ = ["Base"]
        """,
        id="module-with-only-the-base",
    ),
    case(
        """\
        import os; from sqlalchemy.orm import declarative_base
        Base = declarative_base()
        ROOT = os.getcwd()
        """,
        """\
        import os
        from .models import Base
        ROOT = os.getcwd()
        """,
        id="semicolon-import-line",
    ),
]


def _run(op: RebaseBase, source: str) -> str:
    return RebaseBaseCommand(op).transform(cst.parse_module(source)).code


@pytest.mark.parametrize(("op", "before", "after"), NOOPS + CASES)
def test_rebase_base(op: RebaseBase, before: str, after: str) -> None:
    result = _run(op, before)
    assert result == after
    cst.parse_module(result)


@pytest.mark.parametrize(("op", "before", "after"), NOOPS + CASES)
def test_second_run_changes_nothing(op: RebaseBase, before: str, after: str) -> None:
    assert _run(op, after) == after


@pytest.mark.parametrize(("op", "before", "after"), NOOPS)
def test_nothing_to_rebase_returns_the_same_module(op: RebaseBase, before: str, after: str) -> None:
    module = cst.parse_module(before)
    assert RebaseBaseCommand(op).transform(module) is module


def test_description_is_one_line() -> None:
    assert DESCRIPTION and "\n" not in DESCRIPTION
