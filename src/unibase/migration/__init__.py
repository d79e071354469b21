"""Write the migration that brings any database to a table's merged definition.

When two declarative bases define the same table with different columns, the merge keeps one
definition (the winner), in union mode extended with the loser's extra columns, with confirmed
column renames (loser column -> winner column). Databases exist in several shapes: made from the
losing definition, made from the winning one (in union mode it lacks the loser's extra columns),
or built by the project's own Alembic history (usually the winner's schema). So the migration
unibase writes does not assume any of them: for each table it looks at the live database first
(``sa.inspect(op.get_bind())``) and then only does what is missing:

* renames ``old`` -> ``new`` when the table has ``old`` and not ``new``; when it has both it
  stops, with nothing changed, naming the table and both columns;
* adds every column of the merged definition the table still lacks, always as nullable, so it
  cannot fail on rows; a NOT NULL the model declares is left as a ``TODO(unibase)`` with a
  commented-out ``alter_column(..., nullable=False)`` and listed in the docstring;
* adds each foreign key of the merged definition whose column has none to that target yet, in a
  batch of its own after the renames (Alembic's SQLite table copy drops a foreign key added on a
  column renamed in the same batch), after checking that the rows satisfy it (PostgreSQL would
  reject them half-way; SQLite would accept them silently);
* never drops anything, never touches the primary key, leaves any other column as it is and
  creates no table (the application's ``create_all`` does), and says what it did ("nothing to
  do" when the table already matches). Running it twice is harmless.

``downgrade()`` renames back what it can; added columns and foreign keys are kept.

Everything here is pure text generation and file-system detection; nothing is printed, nothing
is executed. The generated code uses Alembic operations in batch mode
(``with op.batch_alter_table(...) as batch:``), so the same script works on SQLite (the table is
copied, rows included, when needed) and on PostgreSQL (plain ``ALTER TABLE``), and it is
deterministic: the same migrations give the same text, whatever order the tables come in.

:func:`render_alembic_revision` writes a revision for a project that uses Alembic
(:func:`find_alembic` finds its versions directory and current head);
:func:`render_standalone_script` writes a script for a project that does not:
``python migrations/unibase_<rev>_<slug>.py DATABASE_URL`` runs it in one transaction.

The package: :mod:`.model` (what a migration must do), :mod:`.alembic_env` (finding the
project's Alembic setup), :mod:`.types` (column types as code), :mod:`.render` (the text), and
:mod:`.embedded` (code the generated files carry, kept as real modules).
"""

from .alembic_env import AlembicInfo, find_alembic, migration_path
from .model import ColumnSpec, TableMigration, foreign_key_name
from .render import check_migration, render_alembic_revision, render_migration, render_standalone_script

__all__ = [
    "AlembicInfo",
    "ColumnSpec",
    "check_migration",
    "TableMigration",
    "find_alembic",
    "foreign_key_name",
    "migration_path",
    "render_alembic_revision",
    "render_migration",
    "render_standalone_script",
]
