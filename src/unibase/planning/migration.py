"""UB009: the migration that brings each duplicated table to its kept (or unioned) definition,
an Alembic revision when the project has an Alembic environment, else a standalone script."""

from __future__ import annotations

import hashlib

from .. import migration as mig
from ..plan import Warning, WriteMigration
from .context import Part, PlanContext
from .duplicates import DuplicateMigration


def plan_migration(ctx: PlanContext, migrations: tuple[DuplicateMigration, ...]) -> Part:
    if not migrations:
        return Part()
    specs = []
    for one in migrations:
        loser, winner = one.loser, one.winner
        # the merged definition: the winner's columns, plus (union) the loser's extra ones
        loser_cols = {c.attr: c for c in loser.columns}
        merged = [c for c in winner.columns] + [loser_cols[a] for a in one.added if a in loser_cols]
        columns = tuple(
            mig.ColumnSpec(c.name, c.type or "String", c.nullable != "False", c.foreign_key)
            for c in merged if not c.primary_key
        )
        winner_cols = {c.attr: c for c in winner.columns}
        renames = tuple((loser_cols[o].name, winner_cols[n].name) for o, n in one.renames)
        primary_key = tuple(c.name for c in merged if c.primary_key)
        specs.append(mig.TableMigration(winner.table or "", columns, renames, primary_key))
    digest = hashlib.sha1("".join(repr(sp) for sp in specs).encode()).hexdigest()[:12]
    root = ctx.index.root
    alembic = mig.find_alembic(root)
    slug = "merge_" + "_".join(sorted({sp.table for sp in specs}))[:40]
    message = "unibase: migrate " + ", ".join(sorted({sp.table for sp in specs})) + " to the kept definitions"
    revision = digest if alembic is not None else None
    down_revision = alembic.down_revision if alembic is not None else None
    try:
        mig.check_migration(specs, revision=revision, down_revision=down_revision)
    except ValueError as exc:
        return Part(warnings=(Warning("W019", f"no migration written: {exc}; write it by hand"),))
    # the operation holds what the migration does; UB006 renders the file when it is applied
    return Part((WriteMigration(mig.migration_path(root, alembic, digest, slug), tuple(specs), message, revision,
                                down_revision),))
