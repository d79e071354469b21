"""``_Table``: what a unibase migration asks the live database before it changes a table.

A real module, so that it is read, linted and imported like the rest of unibase; everything
below the marker is copied into each migration that needs it, where ``op``, ``sa`` and
``_say`` are the migration's own names (imported here for the same meaning).
"""

import sqlalchemy as sa
from alembic import op

from .alembic_log import _say

# --- embedded: everything below this line is copied into the migration as it is ---
class _Table:
    """One table as the database has it before this migration changes anything.

    upgrade() and downgrade() ask it what is still to do (should_rename, lacks, lacks_foreign_key);
    each yes is noted, and report() says what was done.
    """

    def __init__(self, name, renames=(), mapped=()):
        if op.get_context().as_sql:
            raise RuntimeError(
                "unibase: this migration looks at the database to decide what to change, so it cannot "
                "run offline (--sql); run it on the database itself"
            )
        self.name = name
        self.mapped = set(mapped)
        self.done = []
        self.notes = []
        inspector = sa.inspect(op.get_bind())
        self.exists = inspector.has_table(name)
        self.columns = {}  # name -> nullable, as the database has them
        self.foreign_keys = []  # (referred schema, referred table, [(column, referred column)])
        if self.exists:
            self.columns = {c["name"]: c["nullable"] for c in inspector.get_columns(name)}
            self.foreign_keys = [
                (fk.get("referred_schema"), fk["referred_table"],
                 list(zip(fk["constrained_columns"], fk["referred_columns"])))
                for fk in inspector.get_foreign_keys(name)
            ]
        self.renamed = {}  # new name -> the old name it still has, for each rename to make
        for old, new in renames:
            if old in self.columns and new in self.columns:
                raise RuntimeError(
                    f"unibase: {name} has both {old} and {new}, so {old} cannot be renamed to {new}. "
                    f"Keep the values you need in {new}, drop {old} yourself, and run this migration "
                    "again; nothing was changed"
                )
            if old in self.columns:
                self.renamed[new] = old

    def should_rename(self, old, new):
        """True if the table has ``old`` and not ``new`` (when it has both, the rename is left)."""
        if old not in self.columns:
            return False
        if new in self.columns:
            self.notes.append(f"left {old} as it is: {new} exists too")
            return False
        self.done.append(f"renamed {old} -> {new}")
        return True

    def lacks(self, column):
        """True if the table has ``column`` under neither its name nor the old name it is renamed from."""
        if column in self.columns or column in self.renamed:
            return False
        self.done.append(f"added {column}")
        return True

    def _has_foreign_key(self, column, ref_table, ref_column, schema):
        current = self.renamed.get(column, column)
        return any(
            table == ref_table and (schema is None or ref_schema == schema) and (current, ref_column) in pairs
            for ref_schema, table, pairs in self.foreign_keys
        )

    def lacks_foreign_key(self, column, ref_table, ref_column, schema=None):
        """True if ``column`` has no foreign key to ``ref_table.ref_column`` yet."""
        if self._has_foreign_key(column, ref_table, ref_column, schema):
            return False
        target = f"{schema}.{ref_table}" if schema else ref_table
        self.done.append(f"added a foreign key {column} -> {target}.{ref_column}")
        return True

    def check_references(self, column, ref_table, ref_column, schema=None):
        """Stop, with nothing changed, if rows would break a foreign key this migration adds.

        PostgreSQL would reject the new foreign key half-way through; SQLite would accept it and
        keep the broken rows.
        """
        if not self.exists or self._has_foreign_key(column, ref_table, ref_column, schema):
            return
        bind = op.get_bind()
        inspector = sa.inspect(bind)
        target = f"{schema}.{ref_table}" if schema else ref_table
        if not inspector.has_table(ref_table, schema=schema):
            raise RuntimeError(
                f"unibase: cannot add the foreign key {self.name}.{column} -> {target}.{ref_column}: "
                f"there is no table {target!r} (create it first, e.g. with the application's create_all, "
                "and run this migration again); nothing was changed"
            )
        if ref_column not in {c["name"] for c in inspector.get_columns(ref_table, schema=schema)}:
            raise RuntimeError(
                f"unibase: cannot add the foreign key {self.name}.{column} -> {target}.{ref_column}: "
                f"{target} has no column {ref_column!r}; nothing was changed"
            )
        current = self.renamed.get(column, column)
        if current not in self.columns:
            return  # a column this migration adds: all NULL
        rows = sa.table(self.name, sa.column(current))
        refs = sa.table(ref_table, sa.column(ref_column), schema=schema)
        orphans = bind.execute(
            sa.select(sa.func.count())
            .select_from(rows)
            .where(rows.c[current].is_not(None), ~sa.exists().where(refs.c[ref_column] == rows.c[current]))
        ).scalar()
        if orphans:
            raise RuntimeError(
                f"unibase: {orphans} row(s) of {self.name} have a {current} with no match in "
                f"{target}.{ref_column}; the new foreign key would reject them. Fix or clear those values "
                "and run this migration again; nothing was changed"
            )

    def report(self, not_null=(), downgrade=False):
        """Say what was done to the table (called once its batches are through)."""
        if not self.exists:
            _say(f"unibase: {self.name}: no such table, nothing done"
                 + ("" if downgrade else " (the application's create_all makes it)"))
            return
        if self.done:
            _say(f"unibase: {self.name}: " + "; ".join(self.done))
        else:
            _say(f"unibase: {self.name}: nothing to do"
                 + ("" if downgrade else ", it already has the merged definition"))
        for note in self.notes:
            _say(f"unibase: {self.name}: {note}")
        if self.mapped:
            other = sorted(c for c in self.columns if c not in self.mapped and c not in self.renamed.values())
            if other:
                _say(f"unibase: {self.name}: left as they are (the merged models do not map them): "
                     + ", ".join(other))
        nullable = [c for c in not_null if self.columns.get(self.renamed.get(c, c), True)]
        if nullable:
            _say(f"unibase: {self.name}: {', '.join(nullable)}: nullable in the database, NOT NULL in the "
                 "models; backfill, then see the TODO(unibase) lines in this migration")
