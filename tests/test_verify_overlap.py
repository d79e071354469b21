"""The import check's ``create_all()`` runs in a fork of the merged tree's child while that child
runs ``configure_mappers()`` (``verify/overlap.py``): every failure is still reported as before, a
schema that mapper configuration changes is still created as configured, and a project's own DDL
listener still runs after ``configure_mappers()`` (there is then no fork)."""

from __future__ import annotations

import pytest
from test_verify import CORE_NEW, dedent, detail, make_project, new_files, old_files, status

from unibase.verify import overlap, verify_project

# a type whose compilation (every CREATE TABLE of "users" compiles it) writes the process's id,
# and a listener writing the id of the process that configured the mappers
PIDS = '''

import os

from sqlalchemy import event
from sqlalchemy.orm import Mapper
from sqlalchemy.types import TypeDecorator


def _log(what):
    with open(os.environ["APP_PID_LOG"], "a", encoding="utf-8") as fh:
        fh.write(f"{what} {os.getpid()}\\n")


class Label(TypeDecorator):
    impl = String(50)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        _log("compiled")
        return dialect.type_descriptor(self.impl)


@event.listens_for(Mapper, "after_configured")
def _configured():
    _log("configured")
'''

# an after_configured listener adding a table that SQLite refuses (its index has a table's name)
LATE_TABLE = '''

from sqlalchemy import Index, Table, event
from sqlalchemy.orm import Mapper


@event.listens_for(Mapper, "after_configured")
def _late():
    if "late" not in Base.metadata.tables:
        Table("late", Base.metadata, Column("id", Integer, primary_key=True), Index("users", "id"))
'''

# a DDL listener that needs the mappers configured
AFTER_CREATE = '''

import os

from sqlalchemy import event


@event.listens_for(Base.metadata, "after_create")
def _created(target, connection, **kw):
    with open(os.environ["APP_PID_LOG"], "a", encoding="utf-8") as fh:
        fh.write(f"after_create configured={User.__mapper__.configured}\\n")
'''


# a listener on every engine that needs the mappers configured
ENGINE_LISTENER = '''

import os

from sqlalchemy import event
from sqlalchemy.engine import Engine


@event.listens_for(Engine, "before_cursor_execute")
def _executing(conn, cursor, statement, parameters, context, executemany):
    if statement.lstrip().startswith("CREATE TABLE users"):
        with open(os.environ["APP_PID_LOG"], "a", encoding="utf-8") as fh:
            fh.write(f"create configured={User.__mapper__.configured}\\n")
'''


def merged(tmp_path, core: str):
    make_project(tmp_path / "p", old_files(), new_files(core=core))
    return verify_project(tmp_path / "p")


def logged(path) -> list[list[str]]:
    return [line.split() for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.skipif(overlap.cores() < 2, reason="create_all() runs beside configure_mappers() on 2 CPUs or more")
def test_create_all_runs_in_another_process_than_configure_mappers(tmp_path, monkeypatch):
    log = tmp_path / "pids.txt"
    monkeypatch.setenv("APP_PID_LOG", str(log))
    core = dedent(CORE_NEW).replace("Base = declarative_base()\n", "Base = declarative_base()\n" + PIDS)
    report = merged(tmp_path, core.replace("name = Column(String(50), nullable=False)",
                                           "name = Column(Label, nullable=False)"))
    assert report.ok, report.checks
    assert "create_all() makes 3 table(s)" in detail(report, "import")
    entries = logged(log)
    configured = {pid for what, pid in entries if what == "configured"}
    compiled = {pid for what, pid in entries if what == "compiled"}
    assert len(configured) == 1, entries  # the merged tree's child (the tree before the merge has no listener)
    assert compiled - configured, entries  # the tables were also compiled in the fork


def test_a_table_that_configure_mappers_adds_is_still_created(tmp_path):
    report = merged(tmp_path, dedent(CORE_NEW) + LATE_TABLE)
    assert status(report)["import"] == "fail", report.checks
    text = detail(report, "import")
    assert "create_all" in text and "already" in text and "users" in text, text


def test_a_configure_mappers_failure_is_reported_before_a_create_all_failure(tmp_path):
    broken = (dedent(CORE_NEW).replace("import declarative_base\n", "import declarative_base, relationship\n")
              .replace("    email = Column(String(100), unique=True)\n",
                       '    email = Column(String(100), unique=True)\n    ghosts = relationship("Ghost")\n')
              .replace('label = Column(String(30), index=True)',
                       'label = Column(String(30))\n    __table_args__ = (Index("users", "label"),)')
              .replace("from sqlalchemy import Column", "from sqlalchemy import Index, Column"))
    report = merged(tmp_path, broken)
    assert status(report)["import"] == "fail", report.checks
    text = detail(report, "import")
    assert "configure_mappers" in text and "Ghost" in text, text
    assert "create_all" not in text and "already" not in text, text


@pytest.mark.parametrize("listener, event", [(AFTER_CREATE, "after_create"), (ENGINE_LISTENER, "create")],
                         ids=["ddl-listener", "listener-on-every-engine"])
def test_a_listener_still_runs_after_configure_mappers(tmp_path, monkeypatch, listener, event):
    log = tmp_path / "created.txt"
    monkeypatch.setenv("APP_PID_LOG", str(log))
    report = merged(tmp_path, dedent(CORE_NEW) + listener)
    assert report.ok, report.checks
    assert logged(log) == [[event, "configured=True"]]
