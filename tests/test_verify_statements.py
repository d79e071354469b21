"""verify compares only the tables the two trees create differently: each tree's child writes the
statements that create its tables, and the tables both create alike are left out of both
comparisons. Every kind of difference in one table among many must still be reported."""

from __future__ import annotations

import pytest
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from test_verify import detail, make_project, status
from test_verify_child import built, schema

from unibase.verify import child, scratch, verify_project

WIDGETS = 12


def widget(i: int, **change: str) -> str:
    cols = {
        "id": "Column(Integer, primary_key=True)",
        "code": "Column(String(20))",
        "label": "Column(String(40), index=True)",
        "note": 'Column(String(80), nullable=False, default="")',
    }
    if i:
        cols["prev_id"] = f'Column(Integer, ForeignKey("widget_{i - 1}.id"))'
    cols["__table_args__"] = f'(UniqueConstraint("code", name="uq_widget_{i}_code"),)'
    cols.update(change)
    body = "".join(f"    {name} = {spec}\n" for name, spec in cols.items() if spec)
    return f'\n\nclass Widget{i}(Base):\n    __tablename__ = "widget_{i}"\n{body}'


HEADER = ("from sqlalchemy import Column, ForeignKey, Integer, String, UniqueConstraint\n"
          "from sqlalchemy.orm import declarative_base\n\n")
INVOICE = ('\n\nclass Invoice({base}):\n    __tablename__ = "invoices"\n    id = Column(Integer, primary_key=True)\n'
           '    widget_id = Column(Integer, ForeignKey("widget_0.id"))\n')


def core(changed: int | None = None, **change: str) -> str:
    return (HEADER + "Base = declarative_base()\n"
            + "".join(widget(i, **(change if i == changed else {})) for i in range(WIDGETS)))


def project(tmp_path, changed: int | None = None, **change: str):
    """``billing`` (a base of its own, a foreign key into ``core``) merged into ``core``; the
    merged tree's ``widget_<changed>`` changed as ``change`` says."""
    old = {"app/__init__.py": "", "app/core.py": core(),
           "app/billing.py": HEADER + "BillingBase = declarative_base()\n" + INVOICE.format(base="BillingBase")}
    new = {"app/core.py": core(changed, **change) + INVOICE.format(base="Base"),
           "app/billing.py": "from .core import Base as BillingBase, Invoice\n"}
    make_project(tmp_path / "p", old, new)
    return verify_project(tmp_path / "p")


def test_a_correct_merge_compares_no_table_again(tmp_path):
    report = project(tmp_path)
    assert report.ok, report
    text = detail(report, "schema")
    assert f"matches the {WIDGETS + 1} table(s)" in text
    assert f"{WIDGETS + 1} table(s) identical: the same CREATE statements before and after the merge" in text


@pytest.mark.parametrize(("change", "expected"), [
    ({"label": "Column(String(80), index=True)"}, "modify_type widget_5.label: VARCHAR(40) -> VARCHAR(80)"),
    ({"note": 'Column(String(80), default="")'}, "modify_nullable widget_5.note: False -> True"),
    ({"note": ""}, "remove_column widget_5.note VARCHAR(80) NOT NULL"),
    ({"label": "Column(String(40))"}, "remove_index index ix_widget_5_label on widget_5(label)"),
    ({"__table_args__": ""}, "remove_constraint unique constraint uq_widget_5_code on widget_5(code)"),
    ({"prev_id": "Column(Integer)"}, "remove_fk foreign key widget_5(prev_id) -> widget_4(id)"),
    ({"prev_id": 'Column(Integer, ForeignKey("widget_4.id", name="fk_widget_5_prev"))'},
     "rename_fk foreign key widget_5(prev_id) -> widget_4(id) named None before the merge, 'fk_widget_5_prev' after"),
    ({"label": 'Column(String(40), index=True, comment="shown")', "extra": "Column(Integer)"},
     "add_column widget_5.extra INTEGER"),
])
def test_a_difference_in_one_table_of_many_is_reported(tmp_path, change, expected):
    report = project(tmp_path, 5, **change)
    assert status(report)["schema"] == "fail", report
    text = detail(report, "schema")
    assert "1 undeclared difference(s)" in text and expected in text, text
    assert f"{WIDGETS} table(s) identical" in text  # every table but widget_5


def test_a_renamed_unique_constraint_is_reported(tmp_path):
    report = project(tmp_path, 7, __table_args__='(UniqueConstraint("code", name="uq_widget_7_renamed"),)')
    assert status(report)["schema"] == "fail", report
    text = detail(report, "schema")
    assert ("rename_constraint unique constraint on widget_7(code) named 'uq_widget_7_code' before the merge, "
            "'uq_widget_7_renamed' after") in text, text


def test_a_merged_tree_child_that_dies_at_once_does_not_hold_the_other(tmp_path, monkeypatch):
    """The old tree's child waits for the merged tree's statements; a child that dies without a
    word (``os._exit`` in a model module) leaves verify to say there are none, at once."""
    from unibase.verify import session

    monkeypatch.setattr(session, "CHILD_TIMEOUT", 120)
    old = {"app/__init__.py": "", "app/core.py": core(),
           "app/billing.py": HEADER + "BillingBase = declarative_base()\n" + INVOICE.format(base="BillingBase")}
    new = {"app/core.py": "import os\n\nos._exit(3)\n" + core() + INVOICE.format(base="Base"),
           "app/billing.py": "from .core import Base as BillingBase, Invoice\n"}
    make_project(tmp_path / "p", old, new)
    report = verify_project(tmp_path / "p")
    assert status(report)["import"] == "fail" and "exited with 3" in detail(report, "import"), report
    assert status(report)["schema"] == "skipped", report
    assert not any("timed out" in c.detail for c in report.checks), report


# --- the child's side ---------------------------------------------------------------------------


def statements(md: MetaData, url: str) -> dict:
    return {"url": url, "tables": scratch.table_statements(md, child.dialect_of(url))}


def test_only_the_tables_created_differently_are_compared(tmp_path):
    url = built(tmp_path, schema(60))
    new = schema(60, wide_label=80)
    names = scratch.differing(statements(new, url), statements(schema(60), url), url)
    assert names == {"widget_30"}
    reflected = []

    def pragma(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("PRAGMA") and "info(" in statement:
            reflected.append(statement)

    event.listen(Engine, "before_cursor_execute", pragma)
    try:
        diffs = child.compare(url, new, names)
    finally:
        event.remove(Engine, "before_cursor_execute", pragma)
    assert [(d["op"], d["table"]) for d in diffs] == [("modify_type", "widget_30")], diffs
    assert reflected and all("widget_30" in s for s in reflected), reflected


def test_tables_only_one_tree_has_are_compared(tmp_path):
    url = built(tmp_path, schema(6))
    fewer = MetaData()
    for t in list(schema(6).tables.values())[:5]:
        t.to_metadata(fewer)
    names = scratch.differing(statements(fewer, url), statements(schema(6), url), url)
    assert names == {"widget_5"}
    diffs = child.compare(url, fewer, names)
    assert ("remove_table", "widget_5") in [(d["op"], d["table"]) for d in diffs]
    assert {d["table"] for d in diffs} == {"widget_5"}, diffs


def test_unknown_statements_compare_every_table(tmp_path):
    url = "sqlite:///x.sqlite"
    mine = statements(schema(3), url)
    assert scratch.differing(mine, {"url": url, "tables": None}, url) is None
    assert scratch.differing(mine, None, url) is None
    assert scratch.differing(mine, statements(schema(3), "sqlite:///other.sqlite"), url) is None
    assert scratch.differing(mine, statements(schema(3), url), url) == set()
