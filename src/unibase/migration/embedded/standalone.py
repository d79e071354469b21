"""The ``main()`` of a standalone unibase migration (a project without Alembic).

Everything below the marker is copied into the script after its ``upgrade()`` and
``downgrade()``; ``op`` is the module global that ``main()`` binds to the connection.
"""

import sys

import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations

op = None
upgrade = downgrade = None  # the generated script defines both above this code

# --- embedded: everything below this line is copied into the migration as it is ---
_REPORT = []  # what upgrade()/downgrade() did, printed once the transaction is committed


def _say(text):
    _REPORT.append(text)


def _sqlite_transactional_ddl(engine):
    """pysqlite commits before DDL by itself; let SQLAlchemy own BEGIN so a failure rolls back."""

    def connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA foreign_keys=OFF")  # the batch copy drops and renames tables

    def begin(connection):
        connection.exec_driver_sql("BEGIN")

    sa.event.listen(engine, "connect", connect)
    sa.event.listen(engine, "begin", begin)


def main(argv=None):
    args = list(sys.argv[1:] if argv is None else argv)
    downgrading = "--downgrade" in args
    args = [a for a in args if a != "--downgrade"]
    if len(args) != 1 or args[0] in ("-h", "--help"):
        print(f"usage: python {sys.argv[0]} [--downgrade] DATABASE_URL", file=sys.stderr)
        return 2
    global op
    del _REPORT[:]
    engine = sa.create_engine(args[0])
    if engine.dialect.name == "sqlite" and engine.dialect.driver == "pysqlite":
        _sqlite_transactional_ddl(engine)
    try:
        with engine.begin() as connection:
            op = Operations(MigrationContext.configure(connection))
            (downgrade if downgrading else upgrade)()
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        op = None
        engine.dispose()
    for line in _REPORT or ["unibase: nothing to do"]:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
