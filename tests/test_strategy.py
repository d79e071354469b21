"""``--strategy auto`` (the default): move siblings of the canonical module, rebase the rest in place.

Through the real CLI on our own small projects: a sibling module is moved, a plugin package is
rebased in place (its models stay in the plugin), a sibling too large to move is rebased, and
``--strategy move|rebase`` (or ``strategy`` in ``[tool.unibase]``) forces one for every base.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import git, make_project, unibase

DB = """
    from sqlalchemy import Column, ForeignKey, Integer, String
    from sqlalchemy.orm import DeclarativeBase


    class Base(DeclarativeBase):
        pass


    class User(Base):
        __tablename__ = "users"
        id = Column(Integer, primary_key=True)
        name = Column(String(50))


    class Team(Base):
        __tablename__ = "teams"
        id = Column(Integer, primary_key=True)
"""

BILLING = """
    from sqlalchemy import Column, ForeignKey, Integer
    from sqlalchemy.orm import declarative_base

    BillingBase = declarative_base()


    class Invoice(BillingBase):
        __tablename__ = "invoices"
        id = Column(Integer, primary_key=True)
        user_id = Column(Integer, ForeignKey("users.id"))
"""

PLUGIN = """
    from sqlalchemy import Column, ForeignKey, Integer, String
    from sqlalchemy.orm import DeclarativeBase


    class AuditBase(DeclarativeBase):
        pass


    class AuditEntry(AuditBase):
        __tablename__ = "audit_entries"
        id = Column(Integer, primary_key=True)
        user_id = Column(Integer, ForeignKey("users.id"))
        action = Column(String(20))
"""

FILES = {"app/__init__.py": "", "app/db.py": DB, "app/billing.py": BILLING, "plugins/__init__.py": "",
         "plugins/audit/__init__.py": "", "plugins/audit/models.py": PLUGIN}

ONE_METADATA = """
    from sqlalchemy import create_engine, inspect
    from sqlalchemy.orm import configure_mappers
    from app.db import Base
    from app.billing import Invoice
    from plugins.audit.models import AuditEntry
    assert Invoice.metadata is AuditEntry.metadata is Base.metadata
    configure_mappers()
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    print(sorted(inspect(engine).get_table_names()))
"""


def project(root: Path, files: dict[str, str]) -> Path:
    return make_project(root, files)


def plan(root: Path, *args: str) -> dict:
    proc = unibase("plan", str(root), "--json", *args, check=0)
    return json.loads(proc.stdout)


def choices(data: dict) -> dict[str, tuple[str, str]]:
    return {b["file"]: (b.get("strategy", ""), b.get("strategy_reason", "")) for b in data["bases"]}


def ops(data: dict) -> list[tuple[str, str]]:
    return sorted((o["op"], o.get("source") or o.get("file")) for o in data["operations"]
                  if o["op"] in ("move-models", "rebase-base"))


def one_metadata(root: Path) -> str:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(ONE_METADATA)], cwd=root, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_auto_moves_a_sibling_and_rebases_a_plugin_in_place(tmp_path):
    root = project(tmp_path / "p", FILES)
    data = plan(root)
    assert data["strategy"] == "auto"
    got = choices(data)
    assert got["app/billing.py"][0] == "move" and "a sibling of app/db.py in app/" in got["app/billing.py"][1]
    assert got["plugins/audit/models.py"][0] == "rebase"
    assert "it lives in plugins/audit/, another package than app/" in got["plugins/audit/models.py"][1]
    assert got["app/db.py"] == ("", f"app/db.py: {len(textwrap.dedent(DB).strip().splitlines())} lines now, "
                                    "about 23 after the moves")
    assert ops(data) == [("move-models", "app/billing.py"), ("rebase-base", "plugins/audit/models.py")]
    table = unibase("plan", str(root), check=0).stdout
    assert "rebase: it lives in plugins/audit/" in table and "lines now, about 23 after the moves" in table

    unibase("apply", str(root), check=0)
    git(root, "checkout", "-q", "unibase/merge-bases")
    assert "class Invoice(Base)" in (root / "app/db.py").read_text()
    plugin = (root / "plugins/audit/models.py").read_text()
    assert "from app.db import Base as AuditBase" in plugin and "class AuditEntry(AuditBase)" in plugin
    assert "AuditEntry" not in (root / "app/db.py").read_text()
    assert one_metadata(root) == "['audit_entries', 'invoices', 'teams', 'users']"


def test_forced_strategies_apply_to_every_base(tmp_path):
    root = project(tmp_path / "p", FILES)
    moved = plan(root, "--strategy", "move")
    assert {c for c, _ in choices(moved).values() if c} == {"move"}
    assert ops(moved) == [("move-models", "app/billing.py"), ("move-models", "plugins/audit/models.py")]
    assert "move: as asked (--strategy move)" in choices(moved)["plugins/audit/models.py"][1]
    rebased = plan(root, "--strategy", "rebase")
    assert ops(rebased) == [("rebase-base", "app/billing.py"), ("rebase-base", "plugins/audit/models.py")]

    (root / "pyproject.toml").write_text('[tool.unibase]\nstrategy = "rebase"\n')
    git(root, "add", "-A")
    git(root, "commit", "-qm", "settings")
    assert ops(plan(root)) == ops(rebased)
    unibase("apply", str(root), "--no-verify", check=0)
    git(root, "checkout", "-q", "unibase/merge-bases")
    assert "class Invoice(BillingBase)" in (root / "app/billing.py").read_text()
    assert one_metadata(root) == "['audit_entries', 'invoices', 'teams', 'users']"
    bad = unibase("plan", str(root), "--strategy", "sideways")
    assert bad.returncode == 2 and "use one of: auto, move, rebase" in bad.stderr


def test_a_sibling_too_large_to_move_is_rebased(tmp_path):
    columns = "".join(f"\n        c{j} = Column(Integer)" for j in range(1000))
    big = BILLING.replace('user_id = Column(Integer, ForeignKey("users.id"))',
                          'user_id = Column(Integer, ForeignKey("users.id"))' + columns)
    root = project(tmp_path / "p", {**FILES, "app/billing.py": big})
    strategy, reason = choices(plan(root))["app/billing.py"]
    assert strategy == "rebase" and "about 1023 lines, over 1000" in reason, reason
    assert choices(plan(root, "--strategy", "move"))["app/billing.py"][0] == "move"


def test_a_plugin_that_copies_a_table_is_moved_since_only_a_move_deletes_the_copy(tmp_path):
    copy = PLUGIN + """

    class Team(AuditBase):
        __tablename__ = "teams"
        id = Column(Integer, primary_key=True)
    """
    root = project(tmp_path / "p", {**FILES, "plugins/audit/models.py": copy})
    strategy, reason = choices(plan(root))["plugins/audit/models.py"]
    assert strategy == "move" and "maps table teams" in reason, reason
