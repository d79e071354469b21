"""The migration writer on real databases: SQLite files and a throwaway PostgreSQL server.

The merged definition is miachat's ``database/models.py`` (the winner) extended, in union mode,
with the extra columns of the chat API's ``api/models/chat.py`` (the loser), ``persona_id``
renamed to ``personality_id``. The same generated migration must bring every database to it
without losing a row: (a) one made from the loser, (b) one made from the winner (it lacks the
loser's extra columns), (c) a fresh one built by an Alembic history whose first revision creates
the winner's schema. Every test runs the generated code in a subprocess (the standalone script,
or ``python -m alembic`` in a minimal Alembic environment) and reflects the result. No mocks.
"""

from __future__ import annotations

import ast
import datetime as dt
import importlib.util
import os
import secrets
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa

import pg
from unibase.migration import (
    AlembicInfo,
    ColumnSpec,
    TableMigration,
    find_alembic,
    foreign_key_name,
    migration_path,
    render_alembic_revision,
    render_standalone_script,
)

MIACHAT = Path(__file__).resolve().parent.parent / "fixtures" / "miachat" / "src" / "miachat"

# --- the miachat models --------------------------------------------------------------------------


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


WINNER = _load(MIACHAT / "database" / "models.py", "_miachat_winner_models")
LOSER = _load(MIACHAT / "api" / "models" / "chat.py", "_miachat_loser_chat")


def loser_metadata() -> sa.MetaData:
    """The database as the chat API created it: its conversations/messages, the winner's personalities."""
    md = sa.MetaData()
    WINNER.Base.metadata.tables["personalities"].to_metadata(md)
    for name in ("conversations", "messages"):
        LOSER.ChatBase.metadata.tables[name].to_metadata(md)
    return md


def winner_metadata() -> sa.MetaData:
    """The database as database/models.py created it."""
    md = sa.MetaData()
    for name in ("personalities", "conversations", "messages"):
        WINNER.Base.metadata.tables[name].to_metadata(md)
    return md


# What the merge planner hands the writer for miachat: database/models.py wins, union mode, the
# rename persona_id -> personality_id confirmed. `columns` is every non-primary-key column of the
# merged winner (the loser's extra columns included).
MERGED = (
    TableMigration(
        "conversations",
        columns=(
            ColumnSpec("personality_id", "Integer", False, "personalities.id"),
            ColumnSpec("started_at", "DateTime"),
            ColumnSpec("ended_at", "DateTime"),
            ColumnSpec("conversation_data", "MutableDict.as_mutable(JSON)"),
            ColumnSpec("title", "String"),
            ColumnSpec("created_at", "DateTime"),
            ColumnSpec("updated_at", "DateTime"),
        ),
        renames=(("persona_id", "personality_id"),),
        primary_key=("id",),
    ),
    TableMigration(
        "messages",
        columns=(
            ColumnSpec("conversation_id", "Integer", False, "conversations.id"),
            ColumnSpec("content", "Text", False),
            ColumnSpec("timestamp", "DateTime"),
            ColumnSpec("role", "String(16)", False),
            ColumnSpec("token_count", "Integer"),
            ColumnSpec("message_metadata", "MutableDict.as_mutable(JSON)"),
            ColumnSpec("file_attachments", "JSON"),
        ),
        primary_key=("id",),
    ),
)
MERGED_COLUMNS = {m.table: {*m.primary_key, *(c.name for c in m.columns)} for m in MERGED}


def test_the_merged_definition_is_the_winner_plus_the_losers_extra_columns():
    for table in ("conversations", "messages"):
        winner = set(WINNER.Base.metadata.tables[table].columns.keys())
        loser = set(LOSER.ChatBase.metadata.tables[table].columns.keys())
        assert MERGED_COLUMNS[table] == winner | (loser - {"persona_id"})


T0 = dt.datetime(2024, 5, 1, 9, 30, 0)
PERSONALITIES = [
    {"id": 1, "name": "Mia", "description": "warm", "voice_style": "warm", "is_active": True, "created_at": T0},
    {"id": 2, "name": "Ada", "description": None, "voice_style": "dry", "is_active": False, "created_at": T0},
]
# rows of a database made from the loser
CONVERSATIONS = [
    {"id": 1, "persona_id": 1, "title": "Tea", "created_at": T0, "updated_at": T0 + dt.timedelta(minutes=5),
     "conversation_data": {"topic": "tea", "turns": [1, 2, 3]}, "ended_at": None},
    {"id": 2, "persona_id": 2, "title": "Résumé \"quotes\"", "created_at": T0, "updated_at": T0,
     "conversation_data": None, "ended_at": T0 + dt.timedelta(hours=1)},
    {"id": 3, "persona_id": None, "title": None, "created_at": None, "updated_at": None,
     "conversation_data": {}, "ended_at": None},
]
MESSAGES = [
    {"id": 1, "conversation_id": 1, "content": "hello", "role": "user", "file_attachments": [{"name": "a.png"}],
     "timestamp": T0},
    {"id": 2, "conversation_id": 1, "content": "hi!", "role": "assistant", "file_attachments": None,
     "timestamp": T0 + dt.timedelta(seconds=3)},
    {"id": 3, "conversation_id": 2, "content": None, "role": None, "file_attachments": [],
     "timestamp": None},
    {"id": 4, "conversation_id": None, "content": "orphan message", "role": "user",
     "file_attachments": {"k": "v"}, "timestamp": T0},
]
# rows of a database made from the winner
WINNER_CONVERSATIONS = [
    {"id": 1, "personality_id": 1, "started_at": T0, "ended_at": None, "conversation_data": {"topic": "tea"}},
    {"id": 2, "personality_id": 2, "started_at": None, "ended_at": T0 + dt.timedelta(hours=2),
     "conversation_data": None},
]
WINNER_MESSAGES = [
    {"id": 1, "conversation_id": 1, "content": "hello", "timestamp": T0, "role": "user", "token_count": 2,
     "message_metadata": {"lang": "en"}},
    {"id": 2, "conversation_id": 2, "content": "Résumé \"quotes\"", "timestamp": None, "role": "assistant",
     "token_count": None, "message_metadata": None},
]


def create_loser_database(url: str, *, conversations=CONVERSATIONS) -> None:
    _create(url, loser_metadata(), conversations, MESSAGES)


def create_winner_database(url: str) -> None:
    _create(url, winner_metadata(), WINNER_CONVERSATIONS, WINNER_MESSAGES)


def _create(url: str, md: sa.MetaData, conversations, messages) -> None:
    engine = sa.create_engine(url)
    try:
        md.create_all(engine)
        with engine.begin() as conn:
            conn.execute(md.tables["personalities"].insert(), PERSONALITIES)
            conn.execute(md.tables["conversations"].insert(), conversations)
            conn.execute(md.tables["messages"].insert(), messages)
    finally:
        engine.dispose()


def execute(url: str, *statements: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)
    finally:
        engine.dispose()


# typed views of the tables, for reading values back (JSON decoded, datetimes parsed on SQLite)
MERGED_CONVERSATIONS_VIEW = sa.table(
    "conversations", sa.column("id", sa.Integer), sa.column("personality_id", sa.Integer),
    sa.column("started_at", sa.DateTime), sa.column("ended_at", sa.DateTime), sa.column("conversation_data", sa.JSON),
    sa.column("title", sa.String), sa.column("created_at", sa.DateTime), sa.column("updated_at", sa.DateTime))
MERGED_MESSAGES_VIEW = sa.table(
    "messages", sa.column("id", sa.Integer), sa.column("conversation_id", sa.Integer), sa.column("content", sa.Text),
    sa.column("timestamp", sa.DateTime), sa.column("role", sa.String), sa.column("token_count", sa.Integer),
    sa.column("message_metadata", sa.JSON), sa.column("file_attachments", sa.JSON))
OLD_CONVERSATIONS = sa.table(
    "conversations", sa.column("id", sa.Integer), sa.column("persona_id", sa.Integer),
    sa.column("title", sa.String), sa.column("created_at", sa.DateTime), sa.column("updated_at", sa.DateTime),
    sa.column("conversation_data", sa.JSON), sa.column("ended_at", sa.DateTime))
OLD_MESSAGES = sa.table(
    "messages", sa.column("id", sa.Integer), sa.column("conversation_id", sa.Integer), sa.column("content", sa.Text),
    sa.column("role", sa.String), sa.column("file_attachments", sa.JSON), sa.column("timestamp", sa.DateTime))
WINNER_CONVERSATIONS_VIEW = sa.table(
    "conversations", *(sa.column(c.name, c.type) for c in winner_metadata().tables["conversations"].c))
WINNER_MESSAGES_VIEW = sa.table(
    "messages", *(sa.column(c.name, c.type) for c in winner_metadata().tables["messages"].c))
PERSONALITIES_VIEW = sa.table(
    "personalities", sa.column("id", sa.Integer), sa.column("name", sa.String), sa.column("description", sa.Text),
    sa.column("voice_style", sa.String), sa.column("is_active", sa.Boolean), sa.column("created_at", sa.DateTime))


def rows(url: str, table) -> list[dict]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.select(table).order_by(table.c.id))]
    finally:
        engine.dispose()


def reflect(url: str) -> dict:
    """{table: {"columns": {name: nullable}, "fks": {(cols, table, refcols, name)}}}."""
    engine = sa.create_engine(url)
    try:
        inspector = sa.inspect(engine)
        return {
            t: {
                "columns": {c["name"]: c["nullable"] for c in inspector.get_columns(t)},
                "fks": {(tuple(fk["constrained_columns"]), fk["referred_table"], tuple(fk["referred_columns"]),
                         fk.get("name")) for fk in inspector.get_foreign_keys(t)},
            }
            for t in inspector.get_table_names()
        }
    finally:
        engine.dispose()


def snapshot(url: str) -> tuple:
    """Everything a failed run must leave as it was: the schema and every row."""
    schema = reflect(url)
    data = {}
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            for table in sorted(schema):
                if table != "alembic_version":
                    data[table] = conn.exec_driver_sql(f"SELECT * FROM {table} ORDER BY 1").all()
    finally:
        engine.dispose()
    return schema, data


def has_fk(schema: dict, table: str, column: str, target: str) -> bool:
    ref_table, ref_column = target.split(".")
    return any(fk[:3] == ((column,), ref_table, (ref_column,)) for fk in schema[table]["fks"])


EXPECTED = {
    # (a) a database made from the loser: persona_id renamed (values kept), the winner's columns added
    "loser": (
        [{"id": c["id"], "personality_id": c["persona_id"], "started_at": None, "ended_at": c["ended_at"],
          "conversation_data": c["conversation_data"], "title": c["title"], "created_at": c["created_at"],
          "updated_at": c["updated_at"]} for c in CONVERSATIONS],
        [{**m, "token_count": None, "message_metadata": None} for m in MESSAGES],
    ),
    # (b) a database made from the winner: the loser's extra columns added, empty
    "winner": (
        [{**c, "title": None, "created_at": None, "updated_at": None} for c in WINNER_CONVERSATIONS],
        [{**m, "file_attachments": None} for m in WINNER_MESSAGES],
    ),
}


def assert_merged(url: str, origin: str | None) -> None:
    """The merged schema; with ``origin``, every row of that database, nothing lost."""
    schema = reflect(url)
    for table, columns in MERGED_COLUMNS.items():
        assert set(schema[table]["columns"]) == columns, (table, set(schema[table]["columns"]) ^ columns)
    assert has_fk(schema, "conversations", "personality_id", "personalities.id")
    assert has_fk(schema, "messages", "conversation_id", "conversations.id")
    # never more than one foreign key per column and target
    for table in ("conversations", "messages"):
        assert len({fk[:3] for fk in schema[table]["fks"]}) == len(schema[table]["fks"])
    if origin is None:
        return
    conversations, messages = EXPECTED[origin]
    assert rows(url, MERGED_CONVERSATIONS_VIEW) == conversations
    assert rows(url, MERGED_MESSAGES_VIEW) == messages
    assert rows(url, PERSONALITIES_VIEW) == PERSONALITIES
    if origin == "loser":
        # added (and NOT NULL-in-the-model) columns stay nullable: rows exist
        assert schema["conversations"]["columns"]["started_at"] is True
        assert schema["conversations"]["columns"]["personality_id"] is True
        assert (("personality_id",), "personalities", ("id",), "fk_conversations_personality_id_personalities") \
            in schema["conversations"]["fks"]
    else:
        # what the database had stays as it was: NOT NULL, its own foreign key, no second one
        assert schema["conversations"]["columns"]["personality_id"] is False
        assert not any(fk[3] == "fk_conversations_personality_id_personalities"
                       for fk in schema["conversations"]["fks"])


def assert_loser(url: str) -> None:
    schema = reflect(url)
    assert set(schema["conversations"]["columns"]) == {c.name for c in LOSER.ChatBase.metadata.tables["conversations"].c}
    assert set(schema["messages"]["columns"]) == {c.name for c in LOSER.ChatBase.metadata.tables["messages"].c}
    assert not schema["conversations"]["fks"]
    assert rows(url, OLD_CONVERSATIONS) == CONVERSATIONS
    assert rows(url, OLD_MESSAGES) == MESSAGES


# --- databases -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server(request):
    server = pg.start()
    try:
        url = server.__enter__()
    except pg.Unavailable as exc:
        pytest.skip(f"PostgreSQL is not available: {exc}")
    request.addfinalizer(lambda: server.__exit__(None, None, None))
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """An empty database: a SQLite file in tmp_path, or a fresh database on the PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'app.db'}"
        return
    server = request.getfixturevalue("postgres_server")
    name = f"unibase_migration_{secrets.token_hex(4)}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield sa.engine.make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


def run(cmd: list[str], cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          env={**os.environ, **(env or {})}, timeout=120)


def ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc


def write_standalone(root: Path, migrations=MERGED, revision: str = "a1b2c3d4e5f6") -> Path:
    rel = migration_path(root, None, revision, "merge chat models")
    assert rel == f"migrations/unibase_{revision}_merge_chat_models.py"
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_standalone_script(migrations, message="Merge the chat models into database.models"),
                    encoding="utf-8")
    return path


def script(path: Path, url: str, *args: str) -> subprocess.CompletedProcess:
    return run([sys.executable, str(path), *args, url], cwd=path.parent)


NOTHING_TO_DO = ["unibase: conversations: nothing to do, it already has the merged definition",
                 "unibase: messages: nothing to do, it already has the merged definition"]


# --- the standalone script on real databases ---------------------------------------------------


def test_standalone_script_migrates_a_database_made_from_the_loser(tmp_path, database_url):
    create_loser_database(database_url)
    assert_loser(database_url)
    path = write_standalone(tmp_path)

    out = ok(script(path, database_url)).stdout.splitlines()
    assert out == [
        "unibase: conversations: renamed persona_id -> personality_id; added started_at; "
        "added a foreign key personality_id -> personalities.id",
        "unibase: conversations: personality_id: nullable in the database, NOT NULL in the models; backfill, "
        "then see the TODO(unibase) lines in this migration",
        "unibase: messages: added token_count; added message_metadata",
        "unibase: messages: conversation_id, content, role: nullable in the database, NOT NULL in the models; "
        "backfill, then see the TODO(unibase) lines in this migration",
    ]
    assert_merged(database_url, "loser")
    # the messages foreign key the loser declared survived (SQLite copied tables only when needed)
    messages_fks = reflect(database_url)["messages"]["fks"]
    assert not any(fk[3] == "fk_messages_conversation_id_conversations" for fk in messages_fks)

    # a second run finds the merged schema and does nothing
    before = snapshot(database_url)
    out = ok(script(path, database_url)).stdout.splitlines()
    assert [line for line in out if "nullable in the database" not in line] == NOTHING_TO_DO
    assert snapshot(database_url) == before


def test_standalone_script_migrates_a_database_made_from_the_winner(tmp_path, database_url):
    create_winner_database(database_url)
    assert rows(database_url, WINNER_CONVERSATIONS_VIEW) == WINNER_CONVERSATIONS
    path = write_standalone(tmp_path)

    out = ok(script(path, database_url)).stdout.splitlines()
    assert out == [
        "unibase: conversations: added title; added created_at; added updated_at",
        "unibase: messages: added file_attachments",
    ]
    assert_merged(database_url, "winner")

    before = snapshot(database_url)
    assert ok(script(path, database_url)).stdout.splitlines() == NOTHING_TO_DO
    assert snapshot(database_url) == before


def test_standalone_script_completes_a_half_migrated_database(tmp_path, database_url):
    create_loser_database(database_url)
    execute(database_url, "ALTER TABLE messages ADD COLUMN token_count INTEGER",
            "UPDATE messages SET token_count = id * 10")
    path = write_standalone(tmp_path)

    out = ok(script(path, database_url)).stdout
    assert "unibase: messages: added message_metadata\n" in out
    schema = reflect(database_url)
    assert set(schema["messages"]["columns"]) == MERGED_COLUMNS["messages"]
    assert [r["token_count"] for r in rows(database_url, MERGED_MESSAGES_VIEW)] == [10, 20, 30, 40]
    assert rows(database_url, MERGED_CONVERSATIONS_VIEW) == EXPECTED["loser"][0]


def test_standalone_script_leaves_other_columns_and_missing_tables_alone(tmp_path, database_url):
    # personalities and the loser's conversations, with a column nobody maps; no messages table at all
    md = loser_metadata()
    md.remove(md.tables["messages"])
    _create_tables(database_url, md)
    execute(database_url, "ALTER TABLE conversations ADD COLUMN legacy_flag INTEGER",
            "UPDATE conversations SET legacy_flag = id + 100")
    path = write_standalone(tmp_path)

    out = ok(script(path, database_url)).stdout
    assert "unibase: conversations: renamed persona_id -> personality_id; added started_at; " in out
    assert "unibase: conversations: left as they are (the merged models do not map them): legacy_flag" in out
    assert "unibase: messages: no such table, nothing done (the application's create_all makes it)" in out
    schema = reflect(database_url)
    assert "messages" not in schema
    assert set(schema["conversations"]["columns"]) == MERGED_COLUMNS["conversations"] | {"legacy_flag"}
    view = sa.table("conversations", sa.column("id"), sa.column("personality_id"), sa.column("legacy_flag"))
    assert rows(database_url, view) == [
        {"id": c["id"], "personality_id": c["persona_id"], "legacy_flag": c["id"] + 100} for c in CONVERSATIONS]


def _create_tables(url: str, md: sa.MetaData) -> None:
    engine = sa.create_engine(url)
    try:
        md.create_all(engine)
        with engine.begin() as conn:
            if "personalities" in md.tables:
                conn.execute(md.tables["personalities"].insert(), PERSONALITIES)
            if "conversations" in md.tables:
                conn.execute(md.tables["conversations"].insert(), CONVERSATIONS)
    finally:
        engine.dispose()


def test_a_foreign_key_to_a_missing_table_stops_everything(tmp_path, database_url):
    md = loser_metadata()
    md.remove(md.tables["personalities"])
    _create_tables(database_url, md)
    before = snapshot(database_url)
    proc = script(write_standalone(tmp_path), database_url)
    assert proc.returncode == 1, proc.stderr
    assert ("unibase: cannot add the foreign key conversations.personality_id -> personalities.id: "
            "there is no table 'personalities'") in proc.stderr
    assert "nothing was changed" in proc.stderr and "Traceback" not in proc.stderr
    assert snapshot(database_url) == before


def test_conflicting_rename_stops_and_changes_nothing(tmp_path, database_url):
    create_loser_database(database_url)
    execute(database_url, "ALTER TABLE conversations ADD COLUMN personality_id INTEGER")
    before = snapshot(database_url)
    proc = script(write_standalone(tmp_path), database_url)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith(
        "unibase: conversations has both persona_id and personality_id, so persona_id cannot be renamed to "
        "personality_id.")
    assert "nothing was changed" in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stdout == ""
    assert snapshot(database_url) == before  # messages (migrated after it) is untouched too


def test_standalone_script_refuses_rows_the_new_foreign_key_would_reject(tmp_path, database_url):
    broken = [*CONVERSATIONS, {**CONVERSATIONS[0], "id": 4, "persona_id": 99}]
    create_loser_database(database_url, conversations=broken)
    before = snapshot(database_url)

    proc = script(write_standalone(tmp_path), database_url)
    assert proc.returncode == 1, proc.stderr
    assert "1 row(s) of conversations have a persona_id with no match in personalities.id" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert snapshot(database_url) == before


def test_downgrade_renames_back_and_keeps_what_was_added(tmp_path, database_url):
    create_loser_database(database_url)
    path = write_standalone(tmp_path)
    ok(script(path, database_url))

    out = ok(script(path, database_url, "--downgrade")).stdout.splitlines()
    assert out == ["unibase: conversations: renamed personality_id -> persona_id"]
    schema = reflect(database_url)
    loser = {c.name for c in LOSER.ChatBase.metadata.tables["conversations"].c}
    # the renamed column is back, with its values; the added column and foreign key are kept
    assert set(schema["conversations"]["columns"]) == loser | {"started_at"}
    assert has_fk(schema, "conversations", "persona_id", "personalities.id")
    assert set(schema["messages"]["columns"]) == MERGED_COLUMNS["messages"]
    assert rows(database_url, OLD_CONVERSATIONS) == CONVERSATIONS
    assert rows(database_url, OLD_MESSAGES) == MESSAGES

    # again: nothing left to rename back
    out = ok(script(path, database_url, "--downgrade")).stdout.splitlines()
    assert out == ["unibase: conversations: nothing to do"]
    # and up again: the rename only (the foreign key followed the column)
    out = ok(script(path, database_url)).stdout.splitlines()
    assert out[0] == "unibase: conversations: renamed persona_id -> personality_id"
    assert out[2] == "unibase: messages: nothing to do, it already has the merged definition"
    assert_merged(database_url, "loser")


def test_downgrade_leaves_a_rename_it_cannot_undo(tmp_path):
    url = f"sqlite:///{tmp_path / 'app.db'}"
    create_loser_database(url)
    path = write_standalone(tmp_path)
    ok(script(path, url))
    execute(url, "ALTER TABLE conversations ADD COLUMN persona_id INTEGER")
    before = snapshot(url)
    out = ok(script(path, url, "--downgrade")).stdout.splitlines()
    assert out == ["unibase: conversations: nothing to do",
                   "unibase: conversations: left personality_id as it is: persona_id exists too"]
    assert snapshot(url) == before


def test_added_not_null_column_does_not_fail_on_rows(tmp_path, database_url):
    create_loser_database(database_url)
    migration = TableMigration("conversations", columns=(ColumnSpec("summary", "String(200)", False, None),),
                               primary_key=("id",))
    source = render_standalone_script([migration], message="add summary")
    assert "# TODO(unibase): backfill conversations.summary, then make it NOT NULL" in source
    assert '#     batch.alter_column("summary", existing_type=sa.String(200), nullable=False)' in source
    path = tmp_path / "m.py"
    path.write_text(source, encoding="utf-8")

    out = ok(script(path, database_url)).stdout
    assert "unibase: conversations: added summary\n" in out
    assert "unibase: conversations: summary: nullable in the database, NOT NULL in the models" in out
    schema = reflect(database_url)
    assert schema["conversations"]["columns"]["summary"] is True
    assert [r["id"] for r in rows(database_url, OLD_CONVERSATIONS)] == [1, 2, 3]


def test_foreign_key_on_an_added_column(tmp_path, database_url):
    create_loser_database(database_url)
    migration = TableMigration("messages", columns=(ColumnSpec("reviewer_id", "Integer", True, "personalities.id"),))
    path = tmp_path / "m.py"
    path.write_text(render_standalone_script([migration], message="reviewer"), encoding="utf-8")

    out = ok(script(path, database_url)).stdout
    assert "unibase: messages: added reviewer_id; added a foreign key reviewer_id -> personalities.id" in out
    fks = reflect(database_url)["messages"]["fks"]
    assert (("reviewer_id",), "personalities", ("id",), "fk_messages_reviewer_id_personalities") in fks
    assert any(fk[:3] == (("conversation_id",), "conversations", ("id",)) for fk in fks)
    assert rows(database_url, OLD_MESSAGES) == MESSAGES

    # nothing renamed, so nothing to undo: the column and its foreign key stay
    out = ok(script(path, database_url, "--downgrade")).stdout
    assert out == "unibase: nothing to do\n"
    assert "reviewer_id" in reflect(database_url)["messages"]["columns"]


def test_standalone_script_rolls_back_a_failure_half_way_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'app.db'}"
    create_loser_database(url)
    # conversations is migrated first; messages then fails (SQLite cannot render TSVECTOR)
    migrations = [MERGED[0], TableMigration("messages", columns=(ColumnSpec("extra", "postgresql.TSVECTOR"),))]
    path = tmp_path / "m.py"
    path.write_text(render_standalone_script(migrations, message="fails"), encoding="utf-8")

    proc = script(path, url)
    assert proc.returncode != 0 and "TSVECTOR" in proc.stderr
    assert proc.stdout == ""  # nothing reported as done
    assert_loser(url)  # the rename and the table copy of conversations were rolled back


def test_standalone_script_usage(tmp_path):
    proc = run([sys.executable, str(write_standalone(tmp_path))], cwd=tmp_path)
    assert proc.returncode == 2 and "usage:" in proc.stderr


# --- the Alembic revision on real databases -----------------------------------------------------

FIRST_REVISION = "0a1b2c3d4e5f"
REVISION = "f00dfacecafe"

ENV_PY = """
import logging
import os

from alembic import context
from sqlalchemy import create_engine

logging.basicConfig(level=logging.INFO, format="%(levelname)s [%(name)s] %(message)s")


def run_migrations_online():
    engine = create_engine(os.environ["UNIBASE_TEST_DATABASE_URL"])
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=None)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
"""

FIRST_EMPTY = f'''
"""the chat API's tables (created by the app itself)

Revision ID: {FIRST_REVISION}
Revises:
"""
revision = "{FIRST_REVISION}"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
'''

# what `alembic revision --autogenerate` writes for database/models.py: the winner's schema
FIRST_WINNER = f'''
"""create personalities, conversations, messages

Revision ID: {FIRST_REVISION}
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "{FIRST_REVISION}"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "personalities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("voice_style", sa.String(length=32), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "conversations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("personality_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("conversation_data", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["personality_id"], ["personalities.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("timestamp", sa.DateTime(), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("token_count", sa.Integer(), nullable=True),
        sa.Column("message_metadata", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"]),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade():
    op.drop_table("messages")
    op.drop_table("conversations")
    op.drop_table("personalities")
'''


def alembic_project(root: Path, first: str = FIRST_EMPTY) -> Path:
    (root / "db" / "versions").mkdir(parents=True)
    (root / "alembic.ini").write_text("[alembic]\nscript_location = %(here)s/db\n", encoding="utf-8")
    (root / "db" / "env.py").write_text(ENV_PY, encoding="utf-8")
    (root / "db" / "versions" / f"{FIRST_REVISION}_first.py").write_text(first, encoding="utf-8")
    info = find_alembic(root)
    assert info is not None and info.heads == (FIRST_REVISION,)
    rel = migration_path(root, info, REVISION, "Merge chat models")
    assert rel == f"db/versions/{REVISION}_merge_chat_models.py"
    (root / rel).write_text(render_alembic_revision(MERGED, revision=REVISION, down_revision=info.down_revision,
                                                    message="Merge chat models"), encoding="utf-8")
    assert find_alembic(root).heads == (REVISION,)
    return root


def alembic(root: Path, url: str, *args: str) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "alembic", "-c", str(root / "alembic.ini"), *args], cwd=root,
               env={"UNIBASE_TEST_DATABASE_URL": url})


def said(proc: subprocess.CompletedProcess) -> list[str]:
    """What the revision logged (Alembic's log goes to stderr)."""
    return [line.split("] ", 1)[1] for line in proc.stderr.splitlines() if "] unibase: " in line]


@pytest.mark.parametrize("origin", ["loser", "winner"])
def test_alembic_revision_migrates_an_existing_database(tmp_path, database_url, origin):
    (create_loser_database if origin == "loser" else create_winner_database)(database_url)
    root = alembic_project(tmp_path / "proj")

    proc = ok(alembic(root, database_url, "upgrade", "head"))
    assert f"Running upgrade {FIRST_REVISION} -> {REVISION}" in proc.stderr
    logged = said(proc)
    if origin == "loser":
        assert logged[0].startswith("unibase: conversations: renamed persona_id -> personality_id; added started_at")
    else:
        assert logged == ["unibase: conversations: added title; added created_at; added updated_at",
                          "unibase: messages: added file_attachments"]
    assert_merged(database_url, origin)
    assert ok(alembic(root, database_url, "current")).stdout.split()[0] == REVISION

    # back to the first revision: only the rename is undone
    ok(alembic(root, database_url, "downgrade", FIRST_REVISION))
    schema = reflect(database_url)
    assert "persona_id" in schema["conversations"]["columns"]
    assert {"title", "started_at"} <= set(schema["conversations"]["columns"])
    # and up again
    ok(alembic(root, database_url, "upgrade", "head"))
    assert_merged(database_url, origin)


def test_alembic_history_that_builds_the_winner_upgrades_a_fresh_database(tmp_path, database_url):
    root = alembic_project(tmp_path / "proj", FIRST_WINNER)

    proc = ok(alembic(root, database_url, "upgrade", "head"))
    assert said(proc) == ["unibase: conversations: added title; added created_at; added updated_at",
                          "unibase: messages: added file_attachments"]
    assert_merged(database_url, None)
    assert ok(alembic(root, database_url, "current")).stdout.split()[0] == REVISION

    # the revision itself is a no-op on a database that already has the merged schema
    before = snapshot(database_url)
    ok(alembic(root, database_url, "stamp", FIRST_REVISION))
    proc = ok(alembic(root, database_url, "upgrade", "head"))
    assert said(proc) == NOTHING_TO_DO
    ok(alembic(root, database_url, "upgrade", "head"))  # and Alembic's own second run
    assert snapshot(database_url) == before

    # the whole history goes down again
    ok(alembic(root, database_url, "downgrade", "base"))
    assert set(reflect(database_url)) == {"alembic_version"}


def test_alembic_revision_stops_on_a_conflicting_rename(tmp_path, database_url):
    create_loser_database(database_url)
    execute(database_url, "ALTER TABLE conversations ADD COLUMN personality_id INTEGER")
    root = alembic_project(tmp_path / "proj")
    ok(alembic(root, database_url, "upgrade", FIRST_REVISION))
    before = snapshot(database_url)

    proc = alembic(root, database_url, "upgrade", "head")
    assert proc.returncode != 0
    assert "unibase: conversations has both persona_id and personality_id" in proc.stderr
    assert snapshot(database_url) == before
    assert ok(alembic(root, database_url, "current")).stdout.split()[0] == FIRST_REVISION


def test_alembic_revision_refuses_offline_mode(tmp_path, database_url):
    create_loser_database(database_url)
    root = alembic_project(tmp_path / "proj")
    proc = alembic(root, database_url, "upgrade", f"{FIRST_REVISION}:head", "--sql")
    assert proc.returncode != 0
    assert "cannot run offline (--sql)" in proc.stderr
    assert_loser(database_url)


# --- find_alembic ----------------------------------------------------------------------------


def revision_file(path: Path, revision: str, down, *, annotated: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if annotated:
        body = (f"from typing import Sequence, Union\n\nrevision: str = {revision!r}\n"
                f"down_revision: Union[str, Sequence[str], None] = {down!r}\n")
    else:
        body = f'"""doc"""\nimport sqlalchemy as sa\nrevision = {revision!r}\ndown_revision = {down!r}\n'
    path.write_text(body + "\n\ndef upgrade():\n    pass\n", encoding="utf-8")


def test_find_alembic_reads_script_location_from_alembic_ini(tmp_path):
    (tmp_path / "alembic.ini").write_text(textwrap.dedent("""
        [alembic]
        script_location = %(here)s/app/migrations
        sqlalchemy.url = driver://user:pass@localhost/dbname

        [loggers]
        keys = root
    """), encoding="utf-8")
    versions = tmp_path / "app" / "migrations" / "versions"
    revision_file(versions / "1_a.py", "aaa", None)
    revision_file(versions / "2_b.py", "bbb", "aaa", annotated=True)
    (versions / "__pycache__").mkdir()
    (versions / "__pycache__" / "junk.py").write_text("revision = 'zzz'\n", encoding="utf-8")
    (versions / "broken.py").write_text("revision = (\n", encoding="utf-8")  # not Python: skipped

    info = find_alembic(tmp_path)
    assert isinstance(info, AlembicInfo)
    assert info.config == tmp_path / "alembic.ini"
    assert info.versions.resolve() == versions.resolve()
    assert info.heads == ("bbb",) and info.head == "bbb" and info.down_revision == "bbb"
    assert info.revisions == ("aaa", "bbb")
    assert migration_path(tmp_path, info, "ccc", "Merge: chat models!") == "app/migrations/versions/ccc_merge_chat_models.py"


def test_find_alembic_relative_script_location_and_version_locations(tmp_path):
    (tmp_path / "alembic.ini").write_text(
        "[alembic]\nscript_location = alembic\nversion_locations = %(here)s/alembic/v1 %(here)s/alembic/v2\n",
        encoding="utf-8")
    (tmp_path / "alembic").mkdir()
    revision_file(tmp_path / "alembic" / "v1" / "a.py", "r1", None)
    revision_file(tmp_path / "alembic" / "v2" / "b.py", "r2", "r1")
    info = find_alembic(tmp_path)
    assert info.script_location == tmp_path / "alembic"
    assert info.versions.resolve() == (tmp_path / "alembic" / "v1").resolve()
    assert info.heads == ("r2",)


def test_find_alembic_without_ini_finds_env_py_beside_versions(tmp_path):
    # Flask-Migrate's layout: migrations/{alembic.ini, env.py, versions/}
    migrations = tmp_path / "migrations"
    (migrations / "versions").mkdir(parents=True)
    (migrations / "env.py").write_text("# env\n", encoding="utf-8")
    (migrations / "alembic.ini").write_text("[alembic]\n", encoding="utf-8")
    # a virtualenv's copy of something similar is never looked at, even if shallower-named
    venv = tmp_path / "aaa_env"
    (venv / "versions").mkdir(parents=True)
    (venv / "env.py").write_text("", encoding="utf-8")
    (venv / "pyvenv.cfg").write_text("home = /usr\n", encoding="utf-8")
    (tmp_path / ".venv" / "versions").mkdir(parents=True)
    (tmp_path / ".venv" / "env.py").write_text("", encoding="utf-8")

    info = find_alembic(tmp_path)
    assert info is not None
    assert info.config == migrations / "env.py" and info.versions == migrations / "versions"
    assert info.heads == () and info.head is None and info.down_revision is None
    assert migration_path(tmp_path, info, "abc", "x") == "migrations/versions/abc_x.py"


def test_find_alembic_none(tmp_path):
    assert find_alembic(tmp_path) is None
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "env.py").write_text("", encoding="utf-8")  # no versions/ beside it
    (tmp_path / "alembic.ini").write_text("[loggers]\nkeys = root\n", encoding="utf-8")  # no script_location
    assert find_alembic(tmp_path) is None
    assert migration_path(tmp_path, None, "abc123", "") == "migrations/unibase_abc123_migration.py"


def test_find_alembic_reports_every_head(tmp_path):
    (tmp_path / "alembic.ini").write_text("[alembic]\nscript_location = migrations\n", encoding="utf-8")
    versions = tmp_path / "migrations" / "versions"
    revision_file(versions / "base.py", "base", None)
    revision_file(versions / "left.py", "left2", "base")
    revision_file(versions / "right.py", "right1", "base")
    info = find_alembic(tmp_path)
    assert info.heads == ("left2", "right1")
    assert info.head is None and info.down_revision == ("left2", "right1")

    # a revision on both heads (a merge revision) makes it one head again
    source = render_alembic_revision(MERGED, revision="merge1", down_revision=info.down_revision,
                                     message="merge")
    assert 'down_revision = ("left2", "right1")' in source
    (versions / "merge1_merge.py").write_text(source, encoding="utf-8")
    assert find_alembic(tmp_path).heads == ("merge1",)


def test_find_alembic_reads_pyproject(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.alembic]\nscript_location = "%(here)s/mig"\n', encoding="utf-8")
    revision_file(tmp_path / "mig" / "versions" / "a.py", "a1", None)
    info = find_alembic(tmp_path)
    assert info.config == tmp_path / "pyproject.toml" and info.heads == ("a1",)


# --- rendering --------------------------------------------------------------------------------


def module_docstring(source: str) -> str:
    return ast.get_docstring(ast.parse(source))


def function_docstring(source: str, name: str) -> str:
    return next(ast.get_docstring(n) for n in ast.parse(source).body
                if isinstance(n, ast.FunctionDef) and n.name == name)


def top_level_imports(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add((node.module or "").split(".")[0])
    return names


def test_rendered_revision_is_valid_and_documented():
    source = render_alembic_revision(MERGED, revision="f00d", down_revision="beef", message="Merge")
    compile(source, "revision.py", "exec")
    tree = ast.parse(source)
    assigned = {n.targets[0].id: ast.literal_eval(n.value) for n in tree.body
                if isinstance(n, ast.Assign) and n.targets[0].id in ("revision", "down_revision")}
    assert assigned == {"revision": "f00d", "down_revision": "beef"}
    assert {"upgrade", "downgrade"} <= {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    doc = module_docstring(source)
    assert doc.startswith("Merge\n\nRevision ID: f00d\nRevises: beef")
    assert "unibase" in doc
    assert "renames persona_id -> personality_id" in doc
    assert "Any other column is left as it is" in doc
    assert "file_attachments (JSON)" in doc and "title (String)" in doc
    not_null = doc.split("NOT NULL constraints not applied")[1].split("\n\n")[0]
    assert {"conversations.personality_id", "messages.conversation_id", "messages.content", "messages.role"} == {
        line.strip() for line in not_null.splitlines() if line.startswith("  ")}
    assert "The columns and foreign keys the upgrade added are kept: dropping them could lose data." in doc
    assert "dropping them could lose data" in function_docstring(source, "downgrade")

    upgrade = source.split("def upgrade")[1].split("def downgrade")[0]
    assert "sa.inspect(op.get_bind())" in source
    assert 'with op.batch_alter_table("conversations") as batch:' in upgrade
    assert ('            if conversations.should_rename("persona_id", "personality_id"):\n'
            '                batch.alter_column("persona_id", new_column_name="personality_id")') in upgrade
    assert ('            if messages.lacks("message_metadata"):\n'
            '                batch.add_column(sa.Column("message_metadata", sa.JSON(), nullable=True))') in upgrade
    assert ('            if conversations.lacks_foreign_key("personality_id", "personalities", "id"):\n'
            '                batch.create_foreign_key("fk_conversations_personality_id_personalities", "personalities", '
            '["personality_id"], ["id"])') in upgrade
    assert '    conversations.check_references("personality_id", "personalities", "id")' in upgrade
    assert "# TODO(unibase): backfill conversations.personality_id, then make it NOT NULL" in upgrade
    assert '#     batch.alter_column("personality_id", existing_type=sa.Integer(), nullable=False)' in upgrade
    # the primary key is never added
    assert 'lacks("id")' not in upgrade
    # every check comes before the first change
    assert upgrade.rindex("check_references") < upgrade.index("batch_alter_table")
    # the foreign keys have a batch of their own, after the renames
    assert upgrade.index("batch.alter_column(\"persona_id\"") < upgrade.index("# foreign keys in their own batch") \
        < upgrade.index("batch.create_foreign_key(\"fk_conversations")

    downgrade = source.split("def downgrade")[1].split("class _Table")[0]
    assert 'batch.alter_column("personality_id", new_column_name="persona_id")' in downgrade
    # nothing is ever dropped
    for dropping in ("drop_column", "drop_constraint", "drop_table", "DROP "):
        assert dropping not in source


def test_standalone_script_imports_only_sqlalchemy_and_alembic():
    source = render_standalone_script(MERGED, message="Merge")
    compile(source, "script.py", "exec")
    assert top_level_imports(source) <= {"sqlalchemy", "alembic", "sys"}
    assert "MigrationContext.configure(connection)" in source
    doc = module_docstring(source)
    assert "unibase" in doc and "Any other column is left as it is" in doc
    assert "--downgrade DATABASE_URL   # undo the renames (added columns are kept)" in doc


def test_no_op_migration_is_still_valid():
    for migrations in ([], [TableMigration("conversations", columns=(), primary_key=("id",))],
                       [TableMigration("t", columns=(ColumnSpec("id", "Integer", False),), primary_key=("id",))]):
        for source in (render_standalone_script(migrations, message=""),
                       render_alembic_revision(migrations, revision="r1", down_revision=None, message="")):
            compile(source, "noop.py", "exec")
            assert "pass  # nothing to change" in source
            assert "pass  # nothing to undo" in source
            assert "batch_alter_table" not in source and "_Table" not in source
    source = render_alembic_revision([], revision="r1", down_revision=None, message="keep")
    assert "down_revision = None" in source and "import logging" not in source


def test_rendering_is_deterministic():
    a = render_alembic_revision(MERGED, revision="r", down_revision="d", message="m")
    b = render_alembic_revision(MERGED, revision="r", down_revision="d", message="m")
    c = render_alembic_revision(tuple(reversed(MERGED)), revision="r", down_revision="d", message="m")
    assert a == b == c
    s = render_standalone_script(MERGED, message="m")
    assert s == render_standalone_script(list(reversed(MERGED)), message="m")


def test_awkward_text_still_renders_valid_python():
    message = 'Merge """chat""" models \\ with a trailing quote"\nsecond line'
    migrations = [
        TableMigration("odd table", columns=(ColumnSpec("it's", "String(length=5)", False, None),
                                             ColumnSpec("new\nline", "Integer", True, "odd table.id")),
                       renames=(('we"ird', "plain"),), primary_key=("id",)),
        # table names that are not usable as Python variables
        TableMigration("op", columns=(ColumnSpec("a", "Integer"),)),
        TableMigration("class", columns=(ColumnSpec("a", "Integer"),)),
        TableMigration("1st", columns=(ColumnSpec("a", "Integer"),)),
        TableMigration("odd-table", columns=(ColumnSpec("a", "Integer"),), renames=(("b", "c"),)),
    ]
    for source in (render_standalone_script(migrations, message=message),
                   render_alembic_revision(migrations, revision="r", down_revision=None, message=message)):
        compile(source, "odd.py", "exec")
        doc = module_docstring(source)
        assert doc.startswith('Merge """chat""" models \\ with a trailing quote" second line')
        assert "new line (Integer)" in doc and "odd table.it's" in doc
        assert "batch.add_column(sa.Column(\"it's\", sa.String(length=5), nullable=True))" in source
        assert 'batch.alter_column(\'we"ird\', new_column_name="plain")' in source
        assert "    table_op = _Table(" in source and "    table_class = _Table(" in source
        assert "    table_1st = _Table(" in source and "    odd_table = _Table(" in source
        assert "    odd_table_2 = _Table(" in source


def test_types_render_as_database_types():
    def added(type_source: str) -> str:
        source = render_alembic_revision(
            [TableMigration("t", columns=(ColumnSpec("c", type_source, True, None),))],
            revision="r", down_revision=None, message="m")
        compile(source, "t.py", "exec")
        line = next(line for line in source.splitlines() if "batch.add_column" in line)
        return line.split('"c", ')[1].split(", nullable")[0], source

    assert added("Integer")[0] == "sa.Integer()"
    assert added("String(50)")[0] == "sa.String(50)"
    assert added("sa.DateTime(timezone=True)")[0] == "sa.DateTime(timezone=True)"
    assert added("db.Numeric(10, 2)")[0] == "sa.Numeric(10, 2)"
    assert added("MutableDict.as_mutable(JSON)")[0] == "sa.JSON()"
    assert added("ARRAY(Integer)")[0] == "sa.ARRAY(sa.Integer)"
    assert added("Enum('user', 'assistant', name='role')")[0] == "sa.Enum('user', 'assistant', name='role')"
    code, source = added("postgresql.JSONB(astext_type=Text())")
    assert code == "postgresql.JSONB(astext_type=sa.Text())"
    assert "from sqlalchemy.dialects import postgresql" in source
    for bad in ("TraitScore", "Enum(TraitCategory)", "String(MAX_LEN)", "myapp.types.JSON", "1 +"):
        with pytest.raises(ValueError):
            added(bad)
    # a primary-key column is never rendered, so its type does not matter
    render_alembic_revision([TableMigration("t", columns=(ColumnSpec("id", "MyKey"),), primary_key=("id",))],
                            revision="r", down_revision=None, message="m")


def test_foreign_keys_named_deterministically_and_within_63_characters():
    assert foreign_key_name("conversations", "personality_id", "personalities.id") == \
        "fk_conversations_personality_id_personalities"
    long = foreign_key_name("t" * 40, "c" * 30, "r" * 30 + ".id")
    assert len(long) == 63 and long == foreign_key_name("t" * 40, "c" * 30, "r" * 30 + ".id")
    source = render_alembic_revision(
        [TableMigration("t", columns=(ColumnSpec("owner_id", "Integer", True, "auth.users.id"),))],
        revision="r", down_revision=None, message="m")
    assert ('                batch.create_foreign_key("fk_t_owner_id_users", "users", ["owner_id"], ["id"], '
            'referent_schema="auth")') in source
    assert 'if t.lacks_foreign_key("owner_id", "users", "id", schema="auth"):' in source
    assert 't.check_references("owner_id", "users", "id", schema="auth")' in source


def test_invalid_input_is_refused():
    with pytest.raises(ValueError):
        render_alembic_revision([], revision="no spaces", down_revision=None, message="m")
    with pytest.raises(ValueError):
        migration_path(Path("."), None, "../x", "slug")
    bad = [
        [TableMigration("t", ()), TableMigration("t", ())],  # a table twice
        [TableMigration("", ())],
        [TableMigration("t", (ColumnSpec("c", "Integer", True, "nodot"),))],  # a foreign key target
        [TableMigration("t", (ColumnSpec("c", "Integer"), ColumnSpec("c", "Text")))],  # a column twice
        [TableMigration("t", (), renames=(("a", "a"),))],
        [TableMigration("t", (), renames=(("a", "b"), ("b", "c")))],  # chained
        [TableMigration("t", (), renames=(("a", "b"), ("a", "c")))],
        [TableMigration("t", (ColumnSpec("a", "Integer"),), renames=(("a", "b"),))],  # renamed away but kept
        [TableMigration("t", (), renames=(("a", "id"),), primary_key=("id",))],  # the primary key
    ]
    for migrations in bad:
        with pytest.raises(ValueError):
            render_standalone_script(migrations, message="m")
    with pytest.raises(TypeError):
        render_standalone_script([("t", ())], message="m")


# --- the migration unibase plans for the miachat fixture ------------------------------------------


@pytest.mark.parametrize("origin", ["loser", "winner"])
def test_planned_miachat_migration_keeps_every_row(tmp_path, database_url, origin):
    """What `unibase plan --prefer database/models.py` (union, rename confirmed) writes, run for real."""
    from unibase.api import plan_project
    from unibase.plan import WriteMigration
    from unibase.settings import TableDecision, load_settings

    fixture = Path(__file__).resolve().parent.parent / "fixtures" / "miachat"
    winner = "src/miachat/database/models.py"
    settings = load_settings(fixture, prefer=[winner])
    from dataclasses import replace

    settings = replace(settings, decisions=(
        TableDecision("conversations", f"{winner}:Conversation", "union", (("persona_id", "personality_id"),)),
        TableDecision("messages", f"{winner}:Message", "union"),
    ))
    plan = plan_project(settings)
    assert not plan.unresolved
    (op,) = [o for o in plan.operations if isinstance(o, WriteMigration)]
    assert op.file.startswith("migrations/unibase_") and op.file.endswith(".py")
    script = tmp_path / op.file
    script.parent.mkdir(parents=True)
    script.write_text(op.content, encoding="utf-8")

    (create_loser_database if origin == "loser" else create_winner_database)(database_url)
    ok(run([sys.executable, str(script), database_url], cwd=tmp_path))
    assert_merged(database_url, origin)
    before = snapshot(database_url)
    out = ok(run([sys.executable, str(script), database_url], cwd=tmp_path)).stdout.splitlines()
    assert [line for line in out if "nullable in the database" not in line] == NOTHING_TO_DO
    assert snapshot(database_url) == before


@pytest.mark.parametrize("module", ["table", "alembic_log", "standalone"])
def test_code_a_migration_carries_is_a_real_module_copied_verbatim(module):
    """The helper code lives in importable modules; generated files carry it line for line."""
    import importlib

    from unibase.migration.render import embedded

    importlib.import_module(f"unibase.migration.embedded.{module}")
    body = "\n".join(embedded(module))
    assert body.strip() and "embedded: everything below" not in body
    migrations = [TableMigration("t", columns=(ColumnSpec("x", "Integer"),))]
    rendered = (render_standalone_script(migrations, message="m") if module == "standalone" else
                render_alembic_revision(migrations, revision="r1", down_revision=None, message="m"))
    assert body in rendered
    compile(rendered, "<migration>", "exec")
