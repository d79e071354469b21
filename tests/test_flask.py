"""Flask-SQLAlchemy beside a declarative base: ``SQLAlchemy(model_class=Base)`` through the real CLI.

Each project is our own small Flask app. After ``apply``, a subprocess imports the branch with the
real Flask-SQLAlchemy and checks that ``db.Model`` classes and ``Base`` classes share one metadata
(and that a foreign key between them resolves on SQLite).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import git, make_project, unibase

HEADER = """
    from sqlalchemy import Column, ForeignKey, Integer, String
"""

MODELS = HEADER + """
    from sqlalchemy.orm import DeclarativeBase


    class Base(DeclarativeBase):
        pass


    class Widget(Base):
        __tablename__ = "widgets"
        id = Column(Integer, primary_key=True)
        name = Column(String(50))
"""

EXTENSIONS = """
    from flask_sqlalchemy import SQLAlchemy

    db = SQLAlchemy()
"""

LEGACY = HEADER + """
    from .extensions import db


    class GadgetPart(db.Model):  # no __tablename__: Flask-SQLAlchemy names it gadget_part
        id = Column(Integer, primary_key=True)
        widget_id = Column(Integer, ForeignKey("widgets.id"))
"""


def code(*parts: str) -> str:
    """Source text from parts indented differently."""
    return "\n".join(textwrap.dedent(p).strip("\n") for p in parts) + "\n"


def project(root: Path, files: dict[str, str]) -> Path:
    return make_project(root, files)


def plan(root: Path, *args: str, code: int = 0) -> dict:
    proc = unibase("plan", str(root), "--json", *args)
    assert proc.returncode == code, f"exit {proc.returncode}\n{proc.stderr}\n{proc.stdout[-2000:]}"
    return json.loads(proc.stdout)


def role(data: dict, key: str) -> tuple[str, str]:
    b = next(b for b in data["bases"] if f"{b['file']}:{b['name']}" == key)
    return b["role"], " | ".join(b["evidence"])


def flask_ops(data: dict) -> list[dict]:
    return [o for o in data["operations"] if o["op"] == "unify-flask-model"]


def apply(root: Path, *args: str) -> str:
    unibase("apply", str(root), "--no-verify", *args, check=0)
    git(root, "checkout", "-q", "unibase/merge-bases")
    return git(root, "diff", "main", "--", ".")


def shared_metadata(root: Path, script: str) -> str:
    """Run ``script`` against the project with the real Flask-SQLAlchemy; its stdout."""
    pytest.importorskip("flask_sqlalchemy")
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], cwd=root, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


CHECK_APP = """
    import warnings
    warnings.simplefilter("error")  # a metadata= that Flask-SQLAlchemy would ignore warns
    from sqlalchemy import create_engine, inspect
    from sqlalchemy.orm import configure_mappers
    from app.models import Base, Widget
    from app.legacy import GadgetPart
    from app.extensions import db
    assert GadgetPart.metadata is Widget.metadata is db.metadata, "two metadatas"
    assert GadgetPart.registry is Widget.registry, "two registries"
    configure_mappers()
    engine = create_engine("sqlite://")
    db.metadata.create_all(engine)
    print(sorted(inspect(engine).get_table_names()))
"""


def test_flask_object_in_its_own_module_gets_the_base_as_model_class(tmp_path):
    root = project(tmp_path / "p", {"app/__init__.py": "", "app/models.py": MODELS,
                                    "app/extensions.py": EXTENSIONS, "app/legacy.py": LEGACY})
    before = plan(root)
    assert role(before, "app/models.py:Base")[0] == "canonical"
    r, why = role(before, "app/extensions.py:db")
    assert r == "merge" and "model_class=Base" in why, why
    (op,) = flask_ops(before)
    assert (op["file"], op["model_class"], op["import_name"], op["import_level"]) == ("app/extensions.py", "Base", "Base", 1)
    text = unibase("plan", str(root), check=0).stdout
    assert "UB007 unify-flask-model" in text and "model_class=Base" in text

    pytest.importorskip("flask_sqlalchemy")  # verify imports the models, db.Model ones included
    applied = unibase("apply", str(root), check=0).stdout
    assert "(app.models, app.legacy)" in applied and "matches the 2 table(s)" in applied, applied
    git(root, "checkout", "-q", "unibase/merge-bases")
    diff = git(root, "diff", "main", "--", ".")
    assert "+from .models import Base" in diff and "+db = SQLAlchemy(model_class=Base)" in diff
    assert shared_metadata(root, CHECK_APP) == "['gadget_part', 'widgets']"
    again = plan(root)
    assert again["operations"] == [] and "already unified" in role(again, "app/extensions.py:db")[1]
    unibase("check", str(root), check=0)


def test_object_above_the_base_in_one_module_moves_below_it_and_keeps_its_arguments(tmp_path):
    db_module = code(HEADER, """
        from flask_sqlalchemy import SQLAlchemy
        from sqlalchemy.orm import DeclarativeBase, sessionmaker

        # set up by the app factory
        db: SQLAlchemy = SQLAlchemy(session_options={"autoflush": False})
        Session = sessionmaker()


        class Base(DeclarativeBase):
            pass


        class Widget(Base):
            __tablename__ = "widgets"
            id = Column(Integer, primary_key=True)


        def bind(app):
            Session.configure(bind=db.engine)
    """)
    gadget = code(HEADER, """
        from .db import db


        class Gadget(db.Model):
            __tablename__ = "gadgets"
            id = Column(Integer, primary_key=True)
            widget_id = Column(Integer, ForeignKey("widgets.id"))
    """)
    root = project(tmp_path / "p", {"app/__init__.py": "", "app/db.py": db_module, "app/gadgets.py": gadget})
    (op,) = flask_ops(plan(root))
    assert op["after"] == "Base" and op["import_name"] == ""
    diff = apply(root)
    text = (root / "app/db.py").read_text()
    assert text.index("class Base(") < text.index("# set up by the app factory") < text.index("db: SQLAlchemy")
    assert 'db: SQLAlchemy = SQLAlchemy(session_options={"autoflush": False}, model_class=Base)' in text, diff
    assert "\n\n# set up by the app factory" in text and "sessionmaker\n\nSession = sessionmaker()" in text
    assert shared_metadata(root, """
        from app.db import Base, db
        from app.gadgets import Gadget
        assert Gadget.metadata is Base.metadata is db.metadata
        print(sorted(Base.metadata.tables))
    """) == "['gadgets', 'widgets']"


def test_a_module_level_use_between_object_and_base_is_left_and_said(tmp_path):
    db_module = """
        from flask_sqlalchemy import SQLAlchemy
        from sqlalchemy.orm import DeclarativeBase

        db = SQLAlchemy()
        Model = db.Model


        class Base(DeclarativeBase):
            pass
    """
    widgets = code(HEADER, """
        from .db import Base


        class Widget(Base):
            __tablename__ = "widgets"
            id = Column(Integer, primary_key=True)
    """)
    root = project(tmp_path / "p", {"app/__init__.py": "", "app/db.py": db_module, "app/widgets.py": widgets})
    data = plan(root)
    assert flask_ops(data) == []
    r, why = role(data, "app/db.py:db")
    assert r == "excluded" and "line 5 uses db" in why, why
    assert any(w["code"] == "W002" and "not unified" in w["message"] for w in data["warnings"])


def test_binds_are_separate_databases_and_left_alone(tmp_path):
    legacy = LEGACY.replace("class GadgetPart(db.Model):", "class GadgetPart(db.Model):\n        __bind_key__ = \"audit\"")
    root = project(tmp_path / "p", {"app/__init__.py": "", "app/models.py": MODELS,
                                    "app/extensions.py": EXTENSIONS, "app/legacy.py": legacy})
    data = plan(root)
    assert flask_ops(data) == []
    r, why = role(data, "app/extensions.py:db")
    assert r == "separate" and "__bind_key__ at app/legacy.py:7" in why, why
    forced = plan(root, "--merge", "app/extensions.py:db")
    assert len(flask_ops(forced)) == 1


def test_base_on_an_engine_of_its_own_stays_apart_unless_asked(tmp_path):
    script = """
        from sqlalchemy import create_engine

        from app.models import Base
        from app.settings import settings

        engine = create_engine(settings.reports_url)
        Base.metadata.create_all(engine)
    """
    root = project(tmp_path / "p", {"app/__init__.py": "", "app/models.py": MODELS, "app/extensions.py": EXTENSIONS,
                                    "app/settings.py": "class S:\n    reports_url = 'sqlite:///r.db'\n\n\nsettings = S()\n",
                                    "app/init_reports.py": script})
    data = plan(root)
    r, why = role(data, "app/extensions.py:db")
    assert r == "separate" and "settings.reports_url" in why and "--merge app/extensions.py:db" in why, why
    assert flask_ops(data) == []
    assert len(flask_ops(plan(root, "--merge", "app/extensions.py:db"))) == 1


def test_metadata_argument_that_is_the_bases_own_goes_and_another_one_is_left(tmp_path):
    ext = """
        from flask_sqlalchemy import SQLAlchemy

        from .models import Base

        db = SQLAlchemy(metadata=Base.metadata)
    """
    root = project(tmp_path / "p", {"app/__init__.py": "", "app/models.py": MODELS,
                                    "app/extensions.py": ext, "app/legacy.py": LEGACY})
    (op,) = flask_ops(plan(root))
    assert op["drop_keywords"] == ["metadata"] and op["import_name"] == ""
    diff = apply(root)
    assert "+db = SQLAlchemy(model_class=Base)" in diff
    assert shared_metadata(root, CHECK_APP) == "['gadget_part', 'widgets']"

    other = tmp_path / "q"
    root = project(other, {"app/__init__.py": "", "app/models.py": MODELS, "app/legacy.py": LEGACY,
                           "app/extensions.py": "from flask_sqlalchemy import SQLAlchemy\nfrom sqlalchemy import MetaData\n\n"
                                                "db = SQLAlchemy(metadata=MetaData(naming_convention={'pk': 'pk_%(table_name)s'}))\n"})
    data = plan(root)
    assert flask_ops(data) == []
    assert "is not Base's MetaData" in role(data, "app/extensions.py:db")[1]


def test_an_import_cycle_is_refused(tmp_path):
    models = MODELS.replace("from sqlalchemy.orm import DeclarativeBase",
                            "from sqlalchemy.orm import DeclarativeBase\n\n    from .extensions import db  # noqa: F401")
    root = project(tmp_path / "p", {"app/__init__.py": "", "app/models.py": models,
                                    "app/extensions.py": EXTENSIONS, "app/legacy.py": LEGACY})
    data = plan(root)
    assert flask_ops(data) == []
    assert "import cycle" in role(data, "app/extensions.py:db")[1]


def test_declarative_base_function_is_db_model_itself_when_tables_are_named(tmp_path):
    models = code(HEADER, """
        from sqlalchemy.orm import declarative_base

        Base = declarative_base()


        class Widget(Base):
            __tablename__ = "widgets"
            id = Column(Integer, primary_key=True)
    """)
    root = project(tmp_path / "p", {"app/__init__.py": "", "app/models.py": models,
                                    "app/extensions.py": EXTENSIONS, "app/legacy.py": LEGACY})
    data = plan(root)
    assert flask_ops(data) == []
    assert "automatic table name" in role(data, "app/extensions.py:db")[1]
    named = LEGACY.replace("id = Column(Integer, primary_key=True)",
                           "__tablename__ = \"gadget_part\"\n        id = Column(Integer, primary_key=True)")
    (root / "app/legacy.py").write_text(textwrap.dedent(named).lstrip())
    git(root, "commit", "-qam", "name the table")
    assert len(flask_ops(plan(root))) == 1
    apply(root)
    assert shared_metadata(root, CHECK_APP) == "['gadget_part', 'widgets']"
