"""UB007 unify-flask-model: before/after pairs; every pair is also run a second time."""

from __future__ import annotations

import dataclasses
import textwrap

import libcst as cst
import pytest

from unibase.codemods.unify_flask_model import DESCRIPTION, UnifyFlaskModelCommand
from unibase.plan import UnifyFlaskModel

OP = UnifyFlaskModel(file="app/extensions.py", name="db", model_class="Base", import_name="Base",
                     import_from="models", import_level=1)


def op(**changes) -> UnifyFlaskModel:
    return dataclasses.replace(OP, **changes)


def case(before: str, after: str | None = None, *, op: UnifyFlaskModel = OP, id: str):
    """``after=None``: a no-op."""
    before = textwrap.dedent(before)
    return pytest.param(op, before, before if after is None else textwrap.dedent(after), id=id)


CASES = [
    case(
        """\
        from flask_sqlalchemy import SQLAlchemy

        db = SQLAlchemy()
        """,
        """\
        from flask_sqlalchemy import SQLAlchemy

        from .models import Base

        db = SQLAlchemy(model_class=Base)
        """,
        id="plain",
    ),
    case(
        """\
        from flask_sqlalchemy import SQLAlchemy

        from .models import Base as MainBase

        db: SQLAlchemy = SQLAlchemy(app, session_options={"autoflush": False})  # the app's
        """,
        """\
        from flask_sqlalchemy import SQLAlchemy

        from .models import Base as MainBase

        db: SQLAlchemy = SQLAlchemy(app, session_options={"autoflush": False}, model_class=MainBase)  # the app's
        """,
        op=op(model_class="MainBase"),
        id="alias-already-imported-arguments-kept",
    ),
    case(
        """\
        from flask_sqlalchemy import SQLAlchemy
        from .models import Base

        db = SQLAlchemy(
            metadata=Base.metadata,
            engine_options={"echo": True},
        )
        """,
        """\
        from flask_sqlalchemy import SQLAlchemy
        from .models import Base

        db = SQLAlchemy(
            engine_options={"echo": True},
            model_class=Base,
        )
        """,
        op=op(drop_keywords=("metadata",)),
        id="one-argument-a-line-metadata-dropped",
    ),
    case(
        """\
        from flask_sqlalchemy import SQLAlchemy
        from sqlalchemy.orm import DeclarativeBase

        # set up by the factory
        db = SQLAlchemy()
        migrate = None


        class Base(DeclarativeBase):
            pass


        class Widget(Base):
            pass
        """,
        """\
        from flask_sqlalchemy import SQLAlchemy
        from sqlalchemy.orm import DeclarativeBase

        migrate = None


        class Base(DeclarativeBase):
            pass


        # set up by the factory
        db = SQLAlchemy(model_class=Base)


        class Widget(Base):
            pass
        """,
        op=op(import_name="", import_from="", import_level=0, after="Base"),
        id="moved-below-the-base-in-one-module",
    ),
    case(
        """\
        from flask_sqlalchemy import SQLAlchemy

        db = SQLAlchemy(model_class=Model)
        """,
        id="noop-a-model-class-already",
    ),
    case(
        """\
        db = make_db()
        """,
        id="noop-no-call-of-that-name",
    ),
]


@pytest.mark.parametrize(("op", "before", "after"), CASES)
def test_transform(op: UnifyFlaskModel, before: str, after: str) -> None:
    out = UnifyFlaskModelCommand(op).transform(cst.parse_module(before)).code
    assert out == after
    assert UnifyFlaskModelCommand(op).transform(cst.parse_module(out)).code == out  # a second run: no change


def test_description_is_one_line() -> None:
    assert "\n" not in DESCRIPTION and UnifyFlaskModelCommand.DESCRIPTION == DESCRIPTION
