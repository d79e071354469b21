"""The verify child's schema comparison on real SQLite databases with many tables: its cost must
not grow with the square of the table count, and it must still see every difference."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table, UniqueConstraint, create_engine, event
from sqlalchemy.engine import Engine

from unibase.verify import child


def schema(tables: int, *, wide_label: int | None = None, unique_code: bool = True) -> MetaData:
    """``tables`` tables, each with a foreign key to the previous one, a unique and an index."""
    md = MetaData()
    for i in range(tables):
        cols = [Column("id", Integer, primary_key=True),
                Column("code", String(20)),
                Column("label", String(wide_label if i == tables // 2 and wide_label else 40), index=True)]
        if unique_code or i != tables - 1:
            cols.append(UniqueConstraint("code", name=f"uq_widget_{i}_code"))
        if i:
            cols.append(Column("prev_id", Integer, ForeignKey(f"widget_{i - 1}.id", name=f"fk_widget_{i}_prev")))
        Table(f"widget_{i}", md, *cols)
    return md


def built(tmp_path: Path, md: MetaData) -> str:
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = create_engine(url)
    md.create_all(engine)
    engine.dispose()
    return url


@pytest.fixture
def master_reads():
    """How many statements read ``sqlite_master`` (every engine's, while the test runs)."""
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if "sqlite_master" in statement:
            seen.append(statement)

    event.listen(Engine, "before_cursor_execute", count)
    yield seen
    event.remove(Engine, "before_cursor_execute", count)


@pytest.mark.parametrize("tables", [5, 60])
def test_the_same_schema_compares_equal(tmp_path, tables):
    url = built(tmp_path, schema(tables))
    assert child.compare(url, schema(tables)) == []


def test_reads_of_sqlite_master_do_not_grow_with_the_tables(tmp_path, master_reads):
    counts = []
    for tables in (5, 60):
        folder = tmp_path / str(tables)
        folder.mkdir()
        url = built(folder, schema(tables))
        master_reads.clear()
        assert child.compare(url, schema(tables)) == []
        counts.append(len(master_reads))
    # SQLAlchemy's own lookup scans sqlite_master several times per table: 60 tables would
    # read it hundreds of times
    assert counts[0] == counts[1], counts


def test_a_difference_in_one_table_of_many_is_still_found(tmp_path):
    url = built(tmp_path, schema(60))
    diffs = child.compare(url, schema(60, wide_label=80))
    assert [(d["op"], d["table"]) for d in diffs] == [("modify_type", "widget_30")], diffs
    assert "VARCHAR(40) -> VARCHAR(80)" in diffs[0]["text"]


def test_a_lost_unique_constraint_is_still_found(tmp_path):
    url = built(tmp_path, schema(60))
    diffs = child.compare(url, schema(60, unique_code=False))
    assert [(d["op"], d["table"]) for d in diffs] == [("remove_constraint", "widget_59")], diffs


def test_a_renamed_foreign_key_is_still_found(tmp_path):
    url = built(tmp_path, schema(60))
    md = schema(60)
    fk = next(iter(md.tables["widget_7"].foreign_key_constraints))
    fk.name = "fk_renamed"
    diffs = child.compare(url, md)
    assert [(d["op"], d["table"]) for d in diffs] == [("rename_fk", "widget_7")], diffs
    assert "'fk_widget_7_prev' before the merge, 'fk_renamed' after" in diffs[0]["text"]
