"""The plan's JSON is a contract: typed decisions and migrations read and write exactly it.

``shop/models.py`` (canonical ``Base``) and ``legacy/models.py`` (``LegacyBase``, whose metadata
has its own naming convention) both map table ``orders``: the legacy class calls the customer
column ``customer_ref`` (the plan suggests renaming it to ``customer_id``) and has a ``note``
column of its own. With ``--prefer shop/models.py`` the plan holds a duplicate-table conflict
with its decision taken and the rename confirmed, a metadata-option change, and a migration.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_project, unibase

from unibase.api import decisions_from_plan, plan_needs_replanning
from unibase.decisions import (
    DuplicateDecision,
    DuplicateTable,
    MetadataOptionChange,
    SeparateOrMerge,
    SuggestedRename,
)
from unibase.migration import ColumnSpec, TableMigration, render_alembic_revision, render_standalone_script
from unibase.plan import Plan, WriteMigration
from unibase.settings import TableDecision

FILES = {
    "pyproject.toml": "[project]\nname = 'shop'\n",
    "shop/__init__.py": "",
    "legacy/__init__.py": "",
    "shop/models.py": """\
        from sqlalchemy import Column, ForeignKey, Integer, String
        from sqlalchemy.orm import declarative_base

        Base = declarative_base()


        class Customer(Base):
            __tablename__ = "customers"
            id = Column(Integer, primary_key=True)


        class Order(Base):
            __tablename__ = "orders"
            id = Column(Integer, primary_key=True)
            customer_id = Column(Integer, ForeignKey("customers.id"))
            total = Column(Integer)
        """,
    "legacy/models.py": """\
        from sqlalchemy import Column, Integer, MetaData, String
        from sqlalchemy.orm import declarative_base

        LegacyBase = declarative_base(metadata=MetaData(naming_convention={"pk": "pk_%(table_name)s"}))


        class Order(LegacyBase):
            __tablename__ = "orders"
            id = Column(Integer, primary_key=True)
            customer_ref = Column(Integer)
            total = Column(Integer)
            note = Column(String(50))


        class Coupon(LegacyBase):
            __tablename__ = "coupons"
            id = Column(Integer, primary_key=True)
        """,
    "app.py": """\
        from shop.models import Base
        from legacy.models import LegacyBase


        def init(engine):
            Base.metadata.create_all(engine)
            LegacyBase.metadata.create_all(engine)
        """,
}


@pytest.fixture(scope="module")
def planned(tmp_path_factory) -> tuple[Path, str]:
    root = make_project(tmp_path_factory.mktemp("plan_json") / "proj", FILES)
    proc = unibase("plan", str(root), "--json", "--target", "shop/models.py", "--prefer", "shop/models.py")
    assert proc.returncode == 0, proc.stderr
    return root, proc.stdout


def test_a_plan_round_trips_json_to_plan_to_json_unchanged(planned):
    root, text = planned
    plan = Plan.from_json(text)
    assert plan.to_json() == text
    out = root.parent / "plan.json"
    unibase("plan", str(root), "--target", "shop/models.py", "--prefer", "shop/models.py", "--out", str(out), check=0)
    assert Plan.from_json(out.read_text()).to_json() == out.read_text() == text


def test_conflict_options_are_typed(planned):
    plan = Plan.from_json(planned[1])
    orders = next(c for c in plan.conflicts if c.kind == "duplicate-table")
    options = orders.duplicate
    assert isinstance(options, DuplicateTable) and options.table == "orders"
    decision = DuplicateDecision("shop/models.py:Order", "union", (("customer_ref", "customer_id"),))
    assert options.decision == options.planned_with == decision
    assert options.suggested_renames == (SuggestedRename("customer_ref", "customer_id", True),)
    assert [d.id for d in options.definitions] == ["shop/models.py:Order", "legacy/models.py:Order"]
    assert options.definitions[1].column_attrs() == ["id", "customer_ref", "total", "note"]
    assert options.definitions[0].columns[1].foreign_key == "customers.id"
    meta = next(c for c in plan.conflicts if c.kind == "metadata-options")
    assert meta.options == MetadataOptionChange("naming_convention", ("coupons", "orders"),
                                                "{'pk': 'pk_%(table_name)s'}", None)
    assert decisions_from_plan(plan) == (TableDecision("orders", "shop/models.py:Order", "union",
                                                       (("customer_ref", "customer_id"),)),)
    assert not plan_needs_replanning(plan)


def test_the_options_keep_their_json_shape(planned):
    """The keys users edit and scripts read, in their order."""
    data = json.loads(planned[1])
    orders = next(c for c in data["conflicts"] if c["kind"] == "duplicate-table")
    options = orders["options"]
    assert list(options) == ["table", "definitions", "differences", "suggested_renames", "decision", "planned_with"]
    assert list(options["definitions"][0]) == ["file", "class", "line", "columns", "table_args", "relationships",
                                               "methods"]
    assert list(options["definitions"][0]["columns"][0]) == ["attr", "name", "type", "nullable", "primary_key",
                                                             "foreign_key", "default", "index", "unique"]
    assert options["suggested_renames"] == [{"from": "customer_ref", "to": "customer_id", "confirmed": True}]
    assert options["decision"] == {"winner": "shop/models.py:Order", "mode": "union",
                                   "renames": [["customer_ref", "customer_id"]]}
    meta = next(c for c in data["conflicts"] if c["kind"] == "metadata-options")
    assert list(meta["options"]) == ["option", "tables", "from", "to"]
    others = [c for c in data["conflicts"] if c["kind"] not in ("duplicate-table", "metadata-options")]
    assert all(c["options"] == {} for c in others)


def test_a_decision_edited_into_the_json_is_read_as_it_always_was(planned):
    """A decision without mode or renames, a rename confirmed by hand, a decision without a winner."""
    data = json.loads(planned[1])
    orders = next(c for c in data["conflicts"] if c["kind"] == "duplicate-table")
    orders["options"]["decision"] = {"winner": "shop/models.py:Order"}
    orders["options"]["suggested_renames"][0]["confirmed"] = True
    plan = Plan.from_dict(data)
    assert plan_needs_replanning(plan)
    assert decisions_from_plan(plan) == (TableDecision("orders", "shop/models.py:Order", "union",
                                                       (("customer_ref", "customer_id"),)),)
    orders["options"]["decision"] = {"mode": "keep"}
    with pytest.raises(ValueError, match='the decision for table orders needs a "winner"'):
        decisions_from_plan(Plan.from_dict(data))
    orders["options"]["decision"] = None
    orders["options"]["planned_with"] = None
    orders["options"]["suggested_renames"][0]["confirmed"] = False
    assert not plan_needs_replanning(Plan.from_dict(data)) and decisions_from_plan(Plan.from_dict(data)) == ()


def test_an_undecidable_duplicate_and_a_separate_or_merge_choice_keep_their_keys():
    conflicts = [
        {"kind": "duplicate-table", "subject": "tags", "detail": "d", "resolution": None, "locations": [],
         "options": {"table": "tags", "definitions": [], "differences": ["x"], "suggested_renames": []}},
        {"kind": "separate-or-merge", "subject": "A/B", "detail": "d", "resolution": None, "locations": ["a.py"],
         "options": {"merge": "--merge a.py:A", "separate": "--separate a.py:A"}},
    ]
    data = {"version": 1, "root": "/p", "strategy": "move", "canonical": None, "bases": [], "operations": [],
            "conflicts": conflicts, "warnings": []}
    plan = Plan.from_dict(data)
    assert plan.conflicts[0].duplicate.decidable is False
    assert plan.conflicts[1].options == SeparateOrMerge("--merge a.py:A", "--separate a.py:A")
    assert plan.to_dict()["conflicts"] == conflicts


# --- the migration: data in the plan, text when applied ---------------------------------------------

TABLES = (
    TableMigration("orders", (ColumnSpec("customer_id", "Integer", True, "customers.id"),
                              ColumnSpec("note", "String(50)")), (("customer_ref", "customer_id"),), ("id",)),
)


def test_a_hand_built_operation_renders_an_alembic_revision():
    op = WriteMigration("alembic/versions/abc123_merge.py", TABLES, "unibase: migrate orders", "abc123", "f00d")
    text = op.content
    assert text == render_alembic_revision(TABLES, revision="abc123", down_revision="f00d",
                                           message="unibase: migrate orders")
    assert 'revision = "abc123"' in text and 'down_revision = "f00d"' in text
    assert "customer_ref" in text and "fk_orders_customer_id_customers" in text
    several = WriteMigration("v/x.py", TABLES, "m", "abc123", ("a1", "b2"))
    assert 'down_revision = ("a1", "b2")' in several.content
    compile(text, op.file, "exec")


def test_a_hand_built_operation_without_a_revision_renders_a_standalone_script(tmp_path):
    op = WriteMigration("migrations/unibase_x.py", TABLES, "unibase: migrate orders")
    assert op.content == render_standalone_script(TABLES, message="unibase: migrate orders")
    script = tmp_path / "m.py"
    script.write_text(op.content)
    db = tmp_path / "db.sqlite"
    with sqlite3.connect(db) as con:
        con.executescript("CREATE TABLE customers (id INTEGER PRIMARY KEY);"
                          "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_ref INTEGER);"
                          "INSERT INTO customers VALUES (1); INSERT INTO orders VALUES (1, 1);")
    subprocess.run([sys.executable, str(script), f"sqlite:///{db}"], check=True, capture_output=True)
    with sqlite3.connect(db) as con:
        cols = [row[1] for row in con.execute("PRAGMA table_info(orders)")]
        rows = con.execute("SELECT id, customer_id FROM orders").fetchall()
    assert (sorted(cols), rows) == (["customer_id", "id", "note"], [(1, 1)])


def test_the_plan_holds_the_migration_as_data_and_its_json_the_text(planned):
    data = json.loads(planned[1])
    (op_json,) = [o for o in data["operations"] if o["op"] == "write-migration"]
    assert op_json["step"] == "UB006" and op_json["revision"] is None
    (op,) = [o for o in Plan.from_dict(data).operations if isinstance(o, WriteMigration)]
    assert op.text is None and [t.table for t in op.tables] == ["orders"]
    assert op.tables[0].renames == (("customer_ref", "customer_id"),)
    assert op_json["content"] == op.content and "customer_ref" in op.content


def test_an_old_plans_migration_and_an_edited_one_are_written_as_given(planned):
    data = json.loads(planned[1])
    (op_json,) = [o for o in data["operations"] if o["op"] == "write-migration"]
    old = {k: op_json[k] for k in ("op", "step", "file")} | {"content": "# written by an older unibase\n"}
    data["operations"] = [old]
    (op,) = Plan.from_dict(data).operations
    assert op.content == "# written by an older unibase\n" and op.tables == ()
    assert Plan.from_dict(data).to_dict()["operations"] == [old]
    edited = {**op_json, "content": op_json["content"] + "# reviewed\n"}
    data["operations"] = [edited]
    (op,) = Plan.from_dict(data).operations
    assert op.content.endswith("# reviewed\n")
    assert Plan.from_dict(data).to_dict()["operations"] == [edited]


def test_apply_writes_a_plan_files_migration_as_its_json_gives_it(planned):
    """``apply --plan --dry-run``: the rendered migration, an old plan's text, an edited text."""
    root, text = planned
    data = json.loads(text)
    (index,) = [i for i, o in enumerate(data["operations"]) if o["op"] == "write-migration"]
    op_json = data["operations"][index]

    def dry_run(operation: dict) -> str:
        data["operations"][index] = operation
        plan_file = root.parent / "edited-plan.json"
        plan_file.write_text(json.dumps(data))
        return unibase("apply", str(root), "--plan", str(plan_file), "--dry-run", check=0).stdout

    rendered = dry_run(op_json)
    assert "+def upgrade():" in rendered and f"+++ b/{op_json['file']}" in rendered
    old = {k: op_json[k] for k in ("op", "step", "file", "content")}
    assert dry_run(old) == rendered
    edited = dry_run({**op_json, "content": op_json["content"] + "# reviewed by hand\n"})
    assert "+# reviewed by hand" in edited and "+# reviewed by hand" not in rendered
