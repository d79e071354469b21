"""Rendering a migration: an Alembic revision or a standalone script, as deterministic text."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from importlib import resources

from .alembic_env import check_revision
from .model import TODO, TableMigration, added_columns, foreign_key_name, normalise, split_target
from .types import DIALECTS, render_type

_MARKER = "# --- embedded: everything below this line is copied into the migration as it is ---"


@functools.cache
def embedded(module: str) -> tuple[str, ...]:
    """The lines of ``embedded/<module>.py`` below its marker: code a migration carries.

    The code lives in real modules (imported and linted like the rest of unibase) rather than
    in strings; the migration gets a copy, since it must run without unibase installed.
    """
    text = resources.files(__package__).joinpath("embedded", f"{module}.py").read_text(encoding="utf-8")
    head, marker, body = text.partition(_MARKER + "\n")
    if not marker:
        raise RuntimeError(f"unibase.migration.embedded.{module} has lost its marker line")
    return tuple(body.rstrip("\n").split("\n"))


def _lit(value: str) -> str:
    """A Python string literal, double-quoted when that needs no escaping of quotes."""
    text = repr(value)
    if text.startswith("'") and '"' not in value:
        text = '"' + text[1:-1] + '"'
    return text


def _one_line(text: str) -> str:
    return " ".join(_flat(text).split())


def _flat(text: str) -> str:
    """``text`` without line breaks or other control characters (for comments and docstrings)."""
    return re.sub(r"[\x00-\x1f\x7f]", " ", str(text)).rstrip()


def _docstring(text: str) -> str:
    body = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    if body.endswith('"'):
        body = body[:-1] + '\\"'
    return f'"""{body}"""'


# --- rendering: the plan -----------------------------------------------------------------------


# --- rendering: the plan ---------------------------------------------------------------------


def _foreign_keys(m: TableMigration) -> list[tuple[str, str, str | None, str, str]]:
    """(name, column, schema, ref table, ref column) for every foreign key of the merged definition."""
    out = []
    for spec in added_columns(m):
        if spec.foreign_key:
            schema, ref_table, ref_column = split_target(spec.foreign_key)
            out.append((foreign_key_name(m.table, spec.name, spec.foreign_key), spec.name, schema, ref_table,
                        ref_column))
    return out


def _not_null(m: TableMigration) -> list[tuple[str, str]]:
    """(column, rendered type) the model declares NOT NULL and the migration leaves nullable."""
    return [(c.name, render_type(c.type)[0]) for c in added_columns(m) if not c.nullable]


def _mapped(m: TableMigration) -> list[str]:
    """Every column name the merged definition maps (the rest are left as they are)."""
    out = list(m.primary_key)
    for name in [c.name for c in m.columns] + [new for _, new in m.renames]:
        if name not in out:
            out.append(name)
    return out


_RESERVED = {
    "op", "sa", "sys", "log", "logging", "batch", "revision", "down_revision", "branch_labels", "depends_on",
    "upgrade", "downgrade", "main", "MigrationContext", "Operations", *DIALECTS,
}


def _variables(migrations: Sequence[TableMigration]) -> dict[str, str]:
    """A local variable name for each table: the table's name when it is a usable identifier."""
    import keyword

    out: dict[str, str] = {}
    used: set[str] = set()
    for m in migrations:
        base = re.sub(r"\W", "_", m.table, flags=re.ASCII)
        if not base.isidentifier() or keyword.iskeyword(base) or base in _RESERVED or base.startswith("_"):
            base = "table_" + base.lstrip("_")
        name, n = base, 2
        while name in used:
            name, n = f"{base}_{n}", n + 1
        used.add(name)
        out[m.table] = name
    return out


def _list(items: Sequence[str], indent: int, width: int = 100) -> list[str]:
    """``[a, b, ...]`` as one or more lines, each continuation indented under the first item."""
    if not items:
        return ["[]"]
    lines, line = [], ""
    for i, item in enumerate(items):
        piece = item + ("," if i < len(items) - 1 else "]")
        if not line:
            line = "[" + piece
        elif indent + len(line) + 1 + len(piece) > width:
            lines.append(line)
            line = " " + piece
        else:
            line = f"{line} {piece}"
    lines.append(line)
    return lines


_UPGRADE_DOC = '    """Bring each table to its merged definition: only what it lacks is done; nothing is dropped."""'
_DOWNGRADE_DOC = [
    '    """Rename back the columns upgrade() renamed, where the database still has the new name only.',
    "",
    "    The columns and foreign keys upgrade() added are kept: dropping them could lose data.",
    '    """',
]


def _upgrade_body(migrations: Sequence[TableMigration]) -> list[str]:
    active = [m for m in migrations if m.has_operations]
    if not active:
        return [_UPGRADE_DOC, "    pass  # nothing to change"]
    var = _variables(active)
    lines = [
        _UPGRADE_DOC,
        "    # look at every table before changing any: stop, with nothing changed, on a rename whose",
        "    # new column exists too, or on rows a new foreign key would reject",
    ]
    for m in active:
        args = [_lit(m.table)]
        if m.renames:
            args.append("renames=" + "\n".join(_list(
                [f"({_lit(old)}, {_lit(new)})" for old, new in m.renames], 8 + len("renames="))))
        args.append("mapped=" + "\n".join(_list([_lit(c) for c in _mapped(m)], 8 + len("mapped="))))
        one = f"    {var[m.table]} = _Table({', '.join(args)})"
        if "\n" not in one and len(one) <= 100:
            lines.append(one)
        else:
            lines.append(f"    {var[m.table]} = _Table(")
            for arg in args:
                first, *rest = arg.split("\n")
                lines.append(f"        {first}")
                pad = " " * len(first.split("[", 1)[0])
                lines += [f"        {pad}{r}" for r in rest]
                lines[-1] += ","
            lines.append("    )")
    for m in active:
        for _name, column, schema, ref_table, ref_column in _foreign_keys(m):
            schema_arg = f", schema={_lit(schema)}" if schema else ""
            lines.append(f"    {var[m.table]}.check_references({_lit(column)}, {_lit(ref_table)}, {_lit(ref_column)}"
                         f"{schema_arg})")
    for m in active:
        v = var[m.table]
        lines += ["", f"    if {v}.exists:", f"        with op.batch_alter_table({_lit(m.table)}) as batch:"]
        for old, new in m.renames:
            lines.append(f"            if {v}.should_rename({_lit(old)}, {_lit(new)}):")
            lines.append(f"                batch.alter_column({_lit(old)}, new_column_name={_lit(new)})")
        for spec in added_columns(m):
            code = render_type(spec.type)[0]
            note = "  # NOT NULL in the model: see the TODO below" if not spec.nullable else ""
            lines.append(f"            if {v}.lacks({_lit(spec.name)}):")
            lines.append(f"                batch.add_column(sa.Column({_lit(spec.name)}, {code}, nullable=True)){note}")
        keys = _foreign_keys(m)
        if keys:
            # (Alembic's batch copy on SQLite drops a foreign key on a column renamed in the same batch)
            lines.append("        # foreign keys in their own batch: SQLite's table copy only sees the columns as they "
                         "were")
            lines.append(f"        with op.batch_alter_table({_lit(m.table)}) as batch:")
            for name, column, schema, ref_table, ref_column in keys:
                schema_check = f", schema={_lit(schema)}" if schema else ""
                schema_arg = f", referent_schema={_lit(schema)}" if schema else ""
                lines.append(f"            if {v}.lacks_foreign_key({_lit(column)}, {_lit(ref_table)}, "
                             f"{_lit(ref_column)}{schema_check}):")
                lines.append(f"                batch.create_foreign_key({_lit(name)}, {_lit(ref_table)}, "
                             f"[{_lit(column)}], [{_lit(ref_column)}]{schema_arg})")
        pending = _not_null(m)
        if pending:
            lines.append(f"    {v}.report(not_null=" + "\n".join(
                _list([_lit(c) for c, _ in pending], 4 + len(f"{v}.report(not_null="))) + ")")
            for column, _code in pending:
                lines.append(f"    # {TODO}: backfill {_one_line(m.table)}.{_one_line(column)}, then make it NOT NULL")
            lines.append(f"    # with op.batch_alter_table({_lit(m.table)}) as batch:")
            for column, code in pending:
                lines.append(f"    #     batch.alter_column({_lit(column)}, existing_type={code}, nullable=False)")
        else:
            lines.append(f"    {v}.report()")
    return lines


def _downgrade_body(migrations: Sequence[TableMigration]) -> list[str]:
    active = [m for m in reversed(migrations) if m.renames]
    if not active:
        return [*_DOWNGRADE_DOC, "    pass  # nothing to undo: no column was renamed"]
    var = _variables(active)
    lines = list(_DOWNGRADE_DOC)
    for m in active:
        lines.append(f"    {var[m.table]} = _Table({_lit(m.table)})")
    for m in active:
        v = var[m.table]
        lines += ["", f"    if {v}.exists:", f"        with op.batch_alter_table({_lit(m.table)}) as batch:"]
        for old, new in reversed(m.renames):
            lines.append(f"            if {v}.should_rename({_lit(new)}, {_lit(old)}):")
            lines.append(f"                batch.alter_column({_lit(new)}, new_column_name={_lit(old)})")
        lines.append(f"    {v}.report(downgrade=True)")
    return lines


def _describe(migrations: Sequence[TableMigration]) -> list[str]:
    """The docstring's account of what the migration does, keeps and leaves to do."""
    out: list[str] = []
    active = [m for m in migrations if m.has_operations]
    if active:
        out.append("What it does, table by table, after looking at what the database has (rows are kept;")
        out.append("nothing is dropped):")
        for m in active:
            out.append(f"  {m.table}")
            for old, new in m.renames:
                out.append(f"    - renames {old} -> {new} (the values move with the column)")
                out.append(f"      when the table has {old} and not {new}; when it has both, it stops")
                out.append("      and changes nothing")
            added = added_columns(m)
            if added:
                out.append("    - adds each of these columns the table lacks, as nullable:")
                for spec in added:
                    null = "" if spec.nullable else ", NOT NULL in the model"
                    out.append(f"        {spec.name} ({spec.type}{null})")
            for name, column, schema, ref_table, ref_column in _foreign_keys(m):
                target = f"{schema}.{ref_table}" if schema else ref_table
                out.append(f"    - adds the foreign key {name}")
                out.append(f"      ({column} -> {target}.{ref_column}) unless the column already has one to")
                out.append(f"      {target}.{ref_column}; it first checks that every row has a match")
            if m.primary_key:
                out.append(f"    - never touches the primary key ({', '.join(m.primary_key)})")
        out.append("")
        out.append("Any other column is left as it is, with its data (the merged models do not map it; drop it")
        out.append("yourself when unused). A table the database does not have is not created: the application's")
        out.append("create_all makes it. Running the migration again does nothing.")
    else:
        out.append("What it does: nothing; the merged definitions have nothing a database could lack.")
    pending = [(m.table, column) for m in active for column, _ in _not_null(m)]
    if pending:
        out.append("")
        out.append("NOT NULL constraints not applied: the models declare them, but a column this migration adds")
        out.append("(or that an older definition had nullable) has rows without a value, so it stays nullable.")
        out.append(f"Backfill, then see the {TODO} lines (nothing to do where the database has it NOT NULL):")
        out += [f"  {table}.{column}" for table, column in pending]
    return [_flat(line) for line in out]


def _describe_downgrade(migrations: Sequence[TableMigration]) -> list[str]:
    renames = [(m.table, old, new) for m in migrations for old, new in m.renames]
    out = []
    if renames:
        out.append("Downgrade renames back what it can (the new name to the old one, where the table has the new")
        out.append("name and not the old one):")
        out += [f"  {table}.{new} -> {old}" for table, old, new in renames]
        out.append("The columns and foreign keys the upgrade added are kept: dropping them could lose data.")
    else:
        out.append("Downgrade does nothing: the columns and foreign keys the upgrade added are kept, since")
        out.append("dropping them could lose data.")
    return [_flat(line) for line in out]


_OFFLINE = ("Offline (alembic --sql) it cannot run: it needs the live database to know what to change.")




def _imports(migrations: Sequence[TableMigration]) -> list[str]:
    dialects = sorted({d for m in migrations for c in added_columns(m) for d in render_type(c.type)[1]})
    return [f"from sqlalchemy.dialects import {d}" for d in dialects]


def _tables(migrations: Sequence[TableMigration]) -> str:
    return ", ".join(m.table for m in migrations) or "no tables"


def _needs_helper(migrations: Sequence[TableMigration]) -> bool:
    return any(m.has_operations for m in migrations)


def render_migration(migrations: Sequence[TableMigration], *, message: str, revision: str | None = None,
                     down_revision: str | Sequence[str] | None = None) -> str:
    """The migration file of a plan's ``write-migration`` operation: an Alembic revision chained
    after ``down_revision`` when it has a ``revision`` id, else a standalone script."""
    if revision is None:
        return render_standalone_script(migrations, message=message)
    return render_alembic_revision(migrations, revision=revision, down_revision=down_revision, message=message)


def check_migration(migrations: Sequence[TableMigration], *, revision: str | None = None,
                    down_revision: str | Sequence[str] | None = None) -> None:
    """Raise ``ValueError`` (saying why) when :func:`render_migration` could not write these."""
    if revision is not None:
        _heads(revision, down_revision)
    normalise(migrations)


def _heads(revision: str, down_revision: str | Sequence[str] | None) -> tuple[str, ...]:
    """The revisions a revision follows, each id checked with ``revision``'s own."""
    check_revision(revision)
    if isinstance(down_revision, str) or down_revision is None:
        downs: tuple[str, ...] = () if down_revision is None else (down_revision,)
    else:
        downs = tuple(down_revision)
    for down in downs:
        check_revision(down)
    return downs


def render_alembic_revision(migrations: Sequence[TableMigration], *, revision: str,
                            down_revision: str | Sequence[str] | None, message: str) -> str:
    """An Alembic revision file: ``revision``, ``down_revision``, ``upgrade()``, ``downgrade()``.

    ``down_revision`` may be several heads (a tuple): the revision then also merges them. What it
    did is logged on ``alembic.runtime.migration`` (beside Alembic's "Running upgrade").
    """
    downs = _heads(revision, down_revision)
    migrations = normalise(migrations)
    if not downs:
        down_code = "None"
    elif len(downs) == 1:
        down_code = _lit(downs[0])
    else:
        down_code = "(" + ", ".join(_lit(d) for d in downs) + ")"
    helper = _needs_helper(migrations)
    doc = [
        _one_line(message) or "unibase: migrate to the merged schema",
        "",
        f"Revision ID: {revision}",
        f"Revises: {', '.join(downs)}",
        "",
        f"Written by unibase after merging the declarative bases: brings the tables {_tables(migrations)}",
        "to their merged definitions from whatever the database has (the definition that lost the merge,",
        "the one that won, or something in between). Review it before running it.",
        "",
        *_describe(migrations),
        "",
        *_describe_downgrade(migrations),
        *(["", _OFFLINE] if helper else []),
    ]
    parts = [
        _docstring("\n".join(line.rstrip() for line in doc) + "\n"),
        "",
        *(["import logging", ""] if helper else []),
        "import sqlalchemy as sa",
        "from alembic import op",
        *_imports(migrations),
        "",
        f"revision = {_lit(revision)}",
        f"down_revision = {down_code}",
        "branch_labels = None",
        "depends_on = None",
        "",
        "",
        "def upgrade() -> None:",
        *_upgrade_body(migrations),
        "",
        "",
        "def downgrade() -> None:",
        *_downgrade_body(migrations),
    ]
    if helper:
        parts += ["", "", *embedded("table"), "", "", *embedded("alembic_log")]
    return "\n".join(parts) + "\n"




def render_standalone_script(migrations: Sequence[TableMigration], *, message: str) -> str:
    """A script for a project without Alembic: ``python <file> [--downgrade] DATABASE_URL``.

    It builds an :class:`alembic.operations.Operations` on the connection
    (``MigrationContext.configure``) and runs ``upgrade()`` (or ``downgrade()``) in one
    transaction (on SQLite too), then prints what it did. Running it again does nothing. It
    imports only SQLAlchemy, Alembic and ``sys``.
    """
    migrations = normalise(migrations)
    doc = [
        _one_line(message) or "unibase: migrate to the merged schema",
        "",
        f"Written by unibase after merging the declarative bases: brings the tables {_tables(migrations)}",
        "to their merged definitions from whatever the database has (the definition that lost the merge,",
        "the one that won, or something in between), in one transaction, and prints what it did. Review",
        "it before running it.",
        "",
        "    python <this file> DATABASE_URL               # upgrade",
        "    python <this file> --downgrade DATABASE_URL   # undo the renames (added columns are kept)",
        "",
        *_describe(migrations),
        "",
        *_describe_downgrade(migrations),
    ]
    parts = [
        _docstring("\n".join(line.rstrip() for line in doc) + "\n"),
        "",
        "import sys",
        "",
        "import sqlalchemy as sa",
        "from alembic.migration import MigrationContext",
        "from alembic.operations import Operations",
        *_imports(migrations),
        "",
        "op = None  # the Operations object main() binds to the connection",
        "",
        "",
        "def upgrade():",
        *_upgrade_body(migrations),
        "",
        "",
        "def downgrade():",
        *_downgrade_body(migrations),
    ]
    if _needs_helper(migrations):
        parts += ["", "", *embedded("table")]
    parts.append("")
    parts += ["", *embedded("standalone")]
    return "\n".join(parts) + "\n"
