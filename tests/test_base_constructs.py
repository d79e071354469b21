"""Bases and mapped classes made in unusual ways, through the real CLI on real git repositories.

Each project has a canonical ``Base`` (``app/db.py``, model ``User``) and a second base
``BillingBase`` in ``billing/db.py`` made by one construct, with a model ``Invoice``, an
importer that creates its tables, and an Alembic-style ``env.py`` whose ``target_metadata`` is
``BillingBase.metadata``. The plan must find ``BillingBase`` with ``Invoice``; after the merge
both tables are on one metadata, and ``env.py`` still sees the ``invoices`` table.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import git, make_repo, unibase

COMMON = {
    "app/__init__.py": "",
    "app/db.py": """\
        from sqlalchemy.orm import declarative_base

        Base = declarative_base()
        """,
    "app/models.py": """\
        from sqlalchemy import Column, Integer, String

        from app.db import Base


        class User(Base):
            __tablename__ = "users"
            id = Column(Integer, primary_key=True)
            name = Column(String(50))
        """,
    "billing/__init__.py": "",
    "billing/models.py": """\
        from sqlalchemy import Column, Integer

        from billing.db import BillingBase


        class Invoice(BillingBase):
            __tablename__ = "invoices"
            id = Column(Integer, primary_key=True)
            user_id = Column(Integer)
        """,
    "billing/env.py": """\
        import app.models  # noqa: F401
        import billing.models  # noqa: F401
        from billing.db import BillingBase

        target_metadata = BillingBase.metadata
        """,
    "app/main.py": """\
        from app.db import Base
        from billing.db import BillingBase
        from billing.models import Invoice  # noqa: F401
        from app.models import User  # noqa: F401


        def init(engine):
            Base.metadata.create_all(engine)
            BillingBase.metadata.create_all(engine)
        """,
}

CONSTRUCTS = {
    "factory-returning-declarative_base": """\
        from sqlalchemy.orm import declarative_base


        def _make_base(**options):
            return declarative_base(**options)


        BillingBase = _make_base()
        """,
    "factory-returning-a-DeclarativeBase-subclass": """\
        from sqlalchemy.orm import DeclarativeBase


        def _make_base():
            class _Base(DeclarativeBase):
                pass

            return _Base


        BillingBase = _make_base()
        """,
    "conditional-expression": """\
        try:
            from sqlalchemy.orm import declarative_base
            AVAILABLE = True
        except ImportError:  # pragma: no cover
            AVAILABLE = False

        BillingBase = declarative_base() if AVAILABLE else None
        """,
    "else-branch-of-TYPE_CHECKING": """\
        from typing import TYPE_CHECKING

        if TYPE_CHECKING:
            from app.db import Base as BillingBase
        else:
            from sqlalchemy.orm import declarative_base

            BillingBase = declarative_base()
        """,
    "if-branch-of-not-TYPE_CHECKING": """\
        from typing import TYPE_CHECKING

        if not TYPE_CHECKING:
            from sqlalchemy.orm import declarative_base

            BillingBase = declarative_base()
        else:
            from app.db import Base as BillingBase
        """,
    "importlib-inline": """\
        import importlib

        BillingBase = importlib.import_module("sqlalchemy.orm").declarative_base()
        """,
    "importlib-module-variable": """\
        import importlib

        orm = importlib.import_module("sqlalchemy.orm")
        BillingBase = orm.declarative_base()
        """,
}

PLAIN_BASE = """\
    from sqlalchemy.orm import declarative_base

    BillingBase = declarative_base()
    """

# the columns and __tablename__ of a model inside an ``if`` in its class body
CONDITIONAL_BODY = """\
    try:
        from sqlalchemy import Column, Integer
        AVAILABLE = True
    except ImportError:  # pragma: no cover
        AVAILABLE = False

    from billing.db import BillingBase


    class Invoice(BillingBase if AVAILABLE else object):
        if AVAILABLE:
            __tablename__ = "invoices"
            id = Column(Integer, primary_key=True)
            user_id = Column(Integer)
    """


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def project(tmp_path: Path, files: dict[str, str]) -> Path:
    root = write(tmp_path / "proj", {**COMMON, **files})
    make_repo(root)
    return root


def run_python(root: Path, code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def tables(root: Path) -> str:
    """The tables ``init`` creates, and the tables Alembic's ``target_metadata`` knows."""
    return run_python(root, (
        "import sqlalchemy as sa, app.main as m, billing.env as env; e = sa.create_engine('sqlite://'); m.init(e); "
        "print(sorted(sa.inspect(e).get_table_names()), sorted(env.target_metadata.tables))"))


def assert_found_and_merged(tmp_path: Path, root: Path, *options: str) -> dict:
    before = tables(root)
    assert before == "['invoices', 'users'] ['invoices']"
    plan = json.loads(unibase("plan", str(root), "--json", *options, check=0).stdout)
    bases = {(b["file"], b["name"]): b for b in plan["bases"]}
    assert set(bases) == {("app/db.py", "Base"), ("billing/db.py", "BillingBase")}, plan["bases"]
    billing = bases["billing/db.py", "BillingBase"]
    assert [(m["name"], m["table"]) for m in billing["models"]] == [("Invoice", "invoices")]
    assert {b["role"] for b in bases.values()} == {"canonical", "merge"}
    check = unibase("check", str(root))
    assert check.returncode == 1 and "BillingBase" in check.stdout, check.stdout + check.stderr

    unibase("apply", str(root), "--branch", "merged", *options, check=0)  # verify included: same schema
    merged = tmp_path / "merged"
    git(root, "worktree", "add", "-q", "--detach", str(merged), "merged")
    assert tables(merged) == "['invoices', 'users'] ['invoices', 'users']"
    assert run_python(merged, "import app.db, billing.env as env; print(env.target_metadata is app.db.Base.metadata)") == "True"
    after = json.loads(unibase("plan", str(merged), "--json", check=0).stdout)
    in_scope = [b for b in after["bases"] if b["role"] == "canonical"]
    assert len(in_scope) == 1 and sorted(m["name"] for m in in_scope[0]["models"]) == ["Invoice", "User"]
    assert unibase("check", str(merged), check=0).stdout.strip() == "one declarative base in scope"
    return plan


@pytest.mark.parametrize("construct", list(CONSTRUCTS))
def test_a_base_made_this_way_is_found_and_merged(construct, tmp_path):
    root = project(tmp_path, {"billing/db.py": CONSTRUCTS[construct]})
    assert_found_and_merged(tmp_path, root)


def test_columns_and_tablename_inside_an_if_in_the_class_body(tmp_path):
    """The model needs ``AVAILABLE``, bound inside a ``try``: a move would leave it behind (a
    NameError in the target), so the base is rebased in place instead, and the plan says so."""
    root = project(tmp_path, {"billing/db.py": PLAIN_BASE, "billing/models.py": CONDITIONAL_BODY})
    # --strategy move: --strategy auto rebases billing/ (another package) without trying a move
    plan = assert_found_and_merged(tmp_path, root, "--target", "app/db.py", "--strategy", "move")
    assert [o["op"] for o in plan["operations"] if o["step"] == "UB001"] == ["rebase-base"]
    assert [w["code"] for w in plan["warnings"]] == ["W021"] and "AVAILABLE" in plan["warnings"][0]["message"]
    billing = next(b for b in plan["bases"] if b["file"] == "billing/db.py")
    assert billing["strategy"] == "rebase" and "under `if`/`try` in billing/models.py" in billing["strategy_reason"]


# --- constructs discovery does not follow: said by file and line, never a claim of one base ------

NOT_UNDERSTOOD_DB = """\
    from sqlalchemy import orm
    from sqlalchemy.orm import declarative_base

    BillingBase = declarative_base()
    make_audit_base = getattr(orm, "declarative_base")
    AuditBase = make_audit_base()
    """

AUDIT = {
    "billing/audit.py": """\
        from sqlalchemy import Column, Integer

        from billing.db import AuditBase


        class AuditEntry(AuditBase):
            __tablename__ = "audit"
            id = Column(Integer, primary_key=True)
        """,
    "app/main.py": """\
        from app.db import Base
        from billing.db import AuditBase, BillingBase
        from billing.audit import AuditEntry  # noqa: F401
        from billing.models import Invoice  # noqa: F401
        from app.models import User  # noqa: F401


        def init(engine):
            Base.metadata.create_all(engine)
            BillingBase.metadata.create_all(engine)
            AuditBase.metadata.create_all(engine)
        """,
}


def not_understood(plan: dict) -> list[tuple[str, int]]:
    return [(w["file"], w["line"]) for w in plan["warnings"]
            if "possible declarative base not understood" in w["message"]]


def test_a_base_made_in_a_way_not_understood_is_reported_and_never_called_one_base(tmp_path):
    root = project(tmp_path, {"billing/db.py": NOT_UNDERSTOOD_DB, **AUDIT})
    plan = json.loads(unibase("plan", str(root), "--json", "--target", "app/db.py", check=0).stdout)
    assert not_understood(plan) == [("billing/db.py", 6)]
    check = unibase("check", str(root))
    assert check.returncode == 1 and re.search(r"^billing/db.py:6:\d+: UB105 possible declarative base not understood", check.stdout, re.M)

    unibase("apply", str(root), "--target", "app/db.py", "--branch", "merged", "--no-verify", check=0)
    merged = tmp_path / "merged"
    git(root, "worktree", "add", "-q", "--detach", str(merged), "merged")
    # the one understood secondary base is merged; the other is left, and so are its importers
    assert "from billing.db import AuditBase" in (merged / "app/main.py").read_text()
    assert run_python(merged, (
        "import sqlalchemy as sa, app.main as m; e = sa.create_engine('sqlite://'); m.init(e); "
        "print(sorted(sa.inspect(e).get_table_names()))")) == "['audit', 'invoices', 'users']"
    check = unibase("check", str(merged))
    assert check.returncode == 1, check.stdout
    assert "one declarative base" not in check.stdout and "AuditBase" in check.stdout
    assert "not understood" in check.stderr


def test_a_base_that_is_an_import_fallback_is_reported_and_its_importers_left_alone(tmp_path):
    fallback = """\
        from sqlalchemy.orm import declarative_base

        try:
            from app.db import Base as BillingBase
        except ImportError:  # pragma: no cover
            BillingBase = declarative_base()
        """
    root = project(tmp_path, {"billing/db.py": fallback})
    plan = json.loads(unibase("plan", str(root), "--json", check=0).stdout)
    assert not_understood(plan) == [("billing/db.py", 6)]
    assert [b["name"] for b in plan["bases"]] == ["Base"]
    assert all(o.get("file") not in ("billing/env.py", "app/main.py") for o in plan["operations"])
    check = unibase("check", str(root))
    assert check.returncode == 1 and "billing/db.py:6" in check.stdout
    assert "one declarative base" not in check.stdout


def test_a_fallback_base_for_a_module_not_in_the_project_is_found_listed_and_left_alone(tmp_path):
    """``try: from vendored.models import Base`` where no ``vendored`` exists in the project: the
    base made in ``except ImportError`` is the one the project runs with. Its models are counted,
    and it is listed but never merged, since another installation may have that module."""
    fallback = """\
        from sqlalchemy.orm import declarative_base

        try:
            from vendored.models import Base as BillingBase
        except ImportError:
            BillingBase = declarative_base()
        """
    root = project(tmp_path, {"billing/db.py": fallback})
    plan = json.loads(unibase("plan", str(root), "--json", check=0).stdout)
    assert not_understood(plan) == []
    bases = {(b["file"], b["name"]): b for b in plan["bases"]}
    billing = bases["billing/db.py", "BillingBase"]
    assert [m["name"] for m in billing["models"]] == ["Invoice"]
    assert billing["role"] == "excluded"
    assert [(w["code"], w["file"], w["line"]) for w in plan["warnings"]] == [("W027", "billing/db.py", 6)]
    assert "vendored.models" in plan["warnings"][0]["message"]
    assert plan["operations"] == []
    check = unibase("check", str(root), check=0)
    assert "not understood" not in check.stdout + check.stderr


def test_a_class_mapped_inside_a_method_is_a_model_and_moves_with_its_class(tmp_path):
    """A model whose classmethod defines (and maps) another class on the same base when called:
    the inner class is one of the base's models, listed with its table; it is never moved on
    its own, and after the merge it lands on the canonical metadata with its enclosing class."""
    models = """\
        from sqlalchemy import Column, Integer, String

        from billing.db import BillingBase


        class Invoice(BillingBase):
            __tablename__ = "invoices"
            id = Column(Integer, primary_key=True)
            user_id = Column(Integer)

            @classmethod
            def kind_class(cls):
                if "Kind" not in cls.__dict__:
                    class Kind(BillingBase):
                        __tablename__ = "invoice_kinds"
                        id = Column(Integer, primary_key=True)
                        label = Column(String(20))
                    cls.Kind = Kind
                return cls.Kind
        """
    root = project(tmp_path, {"billing/db.py": PLAIN_BASE, "billing/models.py": models})
    plan = json.loads(unibase("plan", str(root), "--json", "--target", "app/db.py", check=0).stdout)
    billing = next(b for b in plan["bases"] if b["name"] == "BillingBase")
    assert [(m["name"], m["table"], m["line"]) for m in billing["models"]] == [
        ("Invoice", "invoices", 6), ("Invoice.kind_class.Kind", "invoice_kinds", 14)]

    unibase("apply", str(root), "--target", "app/db.py", "--branch", "merged", check=0)
    merged = tmp_path / "merged"
    git(root, "worktree", "add", "-q", "--detach", str(merged), "merged")
    assert run_python(merged, (
        "import app.db, app.models, billing.models as m; k = m.Invoice.kind_class(); "
        "print(k.__table__.metadata is app.db.Base.metadata, sorted(app.db.Base.metadata.tables))"
    )) == "True ['invoice_kinds', 'invoices', 'users']"
