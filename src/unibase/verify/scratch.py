"""What verify's child does on its scratch databases and files besides the comparison itself:
engines that do not wait for the disk, SQLite reflection that reads each table's statement once,
the statements each tree creates its tables with (the tables both trees create alike need no
comparison), and the files the two children hand each other.

Like :mod:`unibase.verify.child`, it runs in the project's interpreter with the standard library,
SQLAlchemy and Alembic only; the child loads it by path from beside itself.
"""

import json
import os


def table_sql_once(dialect):
    """Make SQLite's reflection read every table's CREATE statement once.

    SQLAlchemy's SQLite dialect looks a table's statement up in ``sqlite_master`` by name, which
    SQLite answers by scanning every row there, and it does so several times per table (primary
    key, foreign keys, unique and check constraints, table options), not always through the
    inspector's cache: on thousands of tables that is quadratic, minutes of scanning. The
    database compared does not change while it is compared, so one read of every statement
    answers every lookup the same way: the first row of ``sqlite_master`` then
    ``sqlite_temp_master`` whose name is the table's (a name absent there, or with a schema,
    still goes to SQLAlchemy's own lookup). Only this engine's dialect is changed; a SQLAlchemy
    without the method is left as it is.
    """
    lookup = getattr(type(dialect), "_get_table_sql", None)
    if dialect.name != "sqlite" or lookup is None:
        return
    statements = {}

    def table_sql(connection, table_name, schema=None, **kw):
        if schema is None:
            if not statements:
                statements[None] = None  # read once, even when there is no table
                for master in ("sqlite_master", "sqlite_temp_master"):
                    rows = connection.exec_driver_sql(
                        f"SELECT name, sql FROM {master} WHERE type in ('table', 'view')").fetchall()
                    for name, sql in rows:
                        statements.setdefault(name, sql)
            if table_name in statements:
                return statements[table_name]
        return lookup(dialect, connection, table_name, schema=schema, **kw)

    dialect._get_table_sql = table_sql



SCRATCH_PRAGMAS = (
    "PRAGMA cache_size = -262144",  # KiB: at most 256 MB, used as needed
    "PRAGMA synchronous = OFF",
    "PRAGMA journal_mode = MEMORY",
)



def scratch_engine(url):
    """An engine on one of verify's databases. On SQLite, a page cache large enough to hold the
    schema (SQLite scans its whole schema table for each table and index it creates, which with
    thousands of tables outgrows its default cache of 2 MB and rereads the file every time), and
    no waiting for the disk: each ``CREATE`` commits on its own, and a scratch database that a
    crash leaves half written is thrown away anyway, so neither the rollback journal nor the
    ``fsync`` of every commit is worth its cost (minutes for thousands of tables)."""
    from sqlalchemy import create_engine, event
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool)
    if engine.dialect.name == "sqlite":
        def scratch_pragmas(dbapi_connection, record):
            cursor = dbapi_connection.cursor()
            for pragma in SCRATCH_PRAGMAS:
                cursor.execute(pragma)
            cursor.close()

        event.listen(engine, "connect", scratch_pragmas)
    return engine



def write_json(path, data):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    os.replace(tmp, path)



def wait_json(path, timeout):
    """What the other process wrote to ``path``, once it is there; None after ``timeout`` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.02)
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)



def write_ready(path, built):
    write_json(path, {"built": built})



def wait_ready(path, timeout):
    return (wait_json(path, timeout) or {}).get("built", [])



def table_statements(md, dialect):
    """Every table of ``md`` as the statements that create it on ``dialect``: its name, its
    ``CREATE TABLE`` (columns, types, nullability, defaults, primary key, unique, check and
    foreign key constraints, with their names) and its ``CREATE INDEX`` statements, and the
    comments of the table and its columns. Two tables that give the same statements become the
    same table in a database (but for the order of its columns, which no comparison looks at)."""
    from sqlalchemy.schema import CreateIndex, CreateTable

    out = {}
    for t in md.tables.values():
        # the columns and constraints in a canonical order: a table's constraints are a set,
        # and a copy of the table (``combine``) may list them in another order
        head, _, rest = str(CreateTable(t).compile(dialect=dialect)).partition(" (\n\t")
        body, _, tail = rest.rpartition("\n)")
        indexes = sorted(str(CreateIndex(ix).compile(dialect=dialect)) for ix in t.indexes)
        out[t.key] = [t.name, head, sorted(body.split(", \n\t")), tail, indexes,
                      [t.comment] + [c.comment for c in t.columns]]
    return out



def first_sqlite(urls):
    return next((u for u in urls if u.startswith("sqlite")), None)



def differing(mine, theirs, url):
    """The names of the tables the two trees create differently on ``url``, or that only one of
    them has: the only ones whose comparison can differ from the old tree's with itself (the
    baseline, subtracted); None when either tree's statements are unknown (compare every table)."""
    if not mine or not theirs or mine.get("url") != url or theirs.get("url") != url:
        return None
    a, b = mine.get("tables"), theirs.get("tables")
    if a is None or b is None:
        return None
    return {(a.get(k) or b.get(k))[0] for k in set(a) | set(b) if a.get(k) != b.get(k)}
