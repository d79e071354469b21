"""What a migration must do: one table's merged definition, and the checks it must pass."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from .types import render_type

# PostgreSQL truncates longer identifiers (silently), which would break dropping it by name.
MAX_IDENTIFIER = 63
TODO = "TODO(unibase)"



@dataclass(frozen=True)
class ColumnSpec:
    """A column of the merged definition: ``type`` is SQLAlchemy type source (``"String(50)"``, ``"JSON"``)."""

    name: str
    type: str
    nullable: bool = True
    foreign_key: str | None = None  # "table.col" (or "schema.table.col")


@dataclass(frozen=True)
class TableMigration:
    """One table's merged definition, which the migration brings any existing database to."""

    table: str
    # every column of the merged definition (name, type, nullable, foreign_key); a primary-key
    # column listed here is ignored
    columns: tuple[ColumnSpec, ...]
    renames: tuple[tuple[str, str], ...] = ()  # (old, new): confirmed renames
    primary_key: tuple[str, ...] = ()  # never added or touched

    @property
    def has_operations(self) -> bool:
        """Whether the migration may have something to do on this table."""
        return bool(self.renames or added_columns(self))



def foreign_key_name(table: str, column: str, target: str) -> str:
    """``fk_<table>_<column>_<reftable>``, shortened with a stable hash past 63 characters."""
    name = f"fk_{table}_{column}_{split_target(target)[1]}"
    if len(name) <= MAX_IDENTIFIER:
        return name
    digest = hashlib.sha1(name.encode("utf-8")).hexdigest()[:8]
    return f"{name[:MAX_IDENTIFIER - 9]}_{digest}"


def split_target(target: str) -> tuple[str | None, str, str]:
    """``"table.col"`` or ``"schema.table.col"`` -> (schema, table, column)."""
    parts = target.split(".")
    if len(parts) == 2 and all(parts):
        return None, parts[0], parts[1]
    if len(parts) == 3 and all(parts):
        return parts[0], parts[1], parts[2]
    raise ValueError(f"a foreign key target is 'table.column' (or 'schema.table.column'), not {target!r}")



def added_columns(m: TableMigration) -> tuple[ColumnSpec, ...]:
    """The columns the migration may add: every column of the merged definition but the primary key."""
    keys = set(m.primary_key)
    return tuple(c for c in m.columns if c.name not in keys)


def normalise(migrations: Sequence[TableMigration]) -> list[TableMigration]:
    seen: set[str] = set()
    for m in migrations:
        if not isinstance(m, TableMigration):
            raise TypeError(f"expected a TableMigration, got {type(m).__name__}")
        if not m.table:
            raise ValueError("a TableMigration needs a table name")
        if m.table in seen:
            raise ValueError(f"table {m.table!r} appears twice; give one TableMigration per table")
        seen.add(m.table)
        for spec in m.columns:
            if not isinstance(spec, ColumnSpec):
                raise TypeError(f"{m.table}: expected a ColumnSpec, got {type(spec).__name__}")
            if not spec.name:
                raise ValueError(f"{m.table}: a column needs a name")
        names = [c.name for c in m.columns]
        olds = [old for old, _ in m.renames]
        news = [new for _, new in m.renames]
        for listed, what in ((names, "listed"), (olds, "renamed"), (news, "renamed to"),
                             (list(m.primary_key), "in the primary key")):
            dupes = sorted({n for n in listed if listed.count(n) > 1})
            if dupes:
                raise ValueError(f"{m.table}: column(s) {', '.join(dupes)} {what} twice")
        for old, new in m.renames:
            if not old or not new or old == new:
                raise ValueError(f"{m.table}: a rename needs two different column names, not {old!r} -> {new!r}")
        chained = sorted(set(olds) & set(news))
        if chained:
            raise ValueError(f"{m.table}: column(s) {', '.join(chained)} are both renamed and a rename target")
        clash = sorted(set(olds) & set(names))
        if clash:
            raise ValueError(
                f"{m.table}: column(s) {', '.join(clash)} are renamed away but also in the merged definition")
        keys = sorted((set(olds) | set(news)) & set(m.primary_key))
        if keys:
            raise ValueError(f"{m.table}: primary-key column(s) {', '.join(keys)} cannot be renamed by the migration")
        for spec in added_columns(m):
            if spec.foreign_key:
                split_target(spec.foreign_key)
            render_type(spec.type)  # fail now, with the column's type in the message
    return sorted(migrations, key=lambda m: m.table)

