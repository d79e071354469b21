"""The migration writer on real databases: SQLite files and a throwaway PostgreSQL server.

The old schema is miachat's chat-API definition of ``conversations`` and ``messages`` (loaded
from the fixture's own ``api/models/chat.py``) plus its ``personalities`` table; the winner is
``database/models.py``. Every test fills the old schema with rows, runs the generated code in a
subprocess (the standalone script, or ``python -m alembic upgrade head`` in a minimal Alembic
environment) and reflects the result. No mocks.
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


def old_metadata() -> sa.MetaData:
    """The database as the chat API created it: its conversations/messages, the winner's personalities."""
    md = sa.MetaData()
    WINNER.Base.metadata.tables["personalities"].to_metadata(md)
    for name in ("conversations", "messages"):
        LOSER.ChatBase.metadata.tables[name].to_metadata(md)
    return md


# What the merge planner hands the writer for miachat (database/models.py wins).
MIACHAT_MIGRATIONS = (
    TableMigration(
        table="conversations",
        add_columns=(ColumnSpec("started_at", "DateTime", True, None),),
        rename_columns=(("persona_id", "personality_id"),),
        add_foreign_keys=(("personality_id", "personalities.id"),),
        keep_columns=("title", "created_at", "updated_at"),
        not_null_columns=("personality_id",),
    ),
    TableMigration(
        table="messages",
        add_columns=(
            ColumnSpec("token_count", "Integer", True, None),
            ColumnSpec("message_metadata", "MutableDict.as_mutable(JSON)", True, None),
        ),
        keep_columns=("file_attachments",),
        not_null_columns=("conversation_id", "content", "role"),
    ),
)

T0 = dt.datetime(2024, 5, 1, 9, 30, 0)
PERSONALITIES = [
    {"id": 1, "name": "Mia", "description": "warm", "voice_style": "warm", "is_active": True, "created_at": T0},
    {"id": 2, "name": "Ada", "description": None, "voice_style": "dry", "is_active": False, "created_at": T0},
]
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


def create_old_database(url: str, *, conversations=CONVERSATIONS) -> None:
    md = old_metadata()
    engine = sa.create_engine(url)
    try:
        md.create_all(engine)
        with engine.begin() as conn:
            conn.execute(md.tables["personalities"].insert(), PERSONALITIES)
            conn.execute(md.tables["conversations"].insert(), conversations)
            conn.execute(md.tables["messages"].insert(), MESSAGES)
    finally:
        engine.dispose()


# typed views of the tables, for reading values back (JSON decoded, datetimes parsed on SQLite)
NEW_CONVERSATIONS = sa.table(
    "conversations", sa.column("id", sa.Integer), sa.column("personality_id", sa.Integer),
    sa.column("title", sa.String), sa.column("created_at", sa.DateTime), sa.column("updated_at", sa.DateTime),
    sa.column("conversation_data", sa.JSON), sa.column("ended_at", sa.DateTime), sa.column("started_at", sa.DateTime))
OLD_CONVERSATIONS = sa.table(
    "conversations", sa.column("id", sa.Integer), sa.column("persona_id", sa.Integer),
    sa.column("title", sa.String), sa.column("created_at", sa.DateTime), sa.column("updated_at", sa.DateTime),
    sa.column("conversation_data", sa.JSON), sa.column("ended_at", sa.DateTime))
NEW_MESSAGES = sa.table(
    "messages", sa.column("id", sa.Integer), sa.column("conversation_id", sa.Integer), sa.column("content", sa.Text),
    sa.column("role", sa.String), sa.column("file_attachments", sa.JSON), sa.column("timestamp", sa.DateTime),
    sa.column("token_count", sa.Integer), sa.column("message_metadata", sa.JSON))
OLD_MESSAGES = sa.table(
    "messages", sa.column("id", sa.Integer), sa.column("conversation_id", sa.Integer), sa.column("content", sa.Text),
    sa.column("role", sa.String), sa.column("file_attachments", sa.JSON), sa.column("timestamp", sa.DateTime))
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


def assert_migrated(url: str) -> None:
    schema = reflect(url)
    for name in ("conversations", "messages"):
        winner = set(WINNER.Base.metadata.tables[name].columns.keys())
        assert winner <= set(schema[name]["columns"]), (name, winner - set(schema[name]["columns"]))
    conversations = schema["conversations"]
    assert "persona_id" not in conversations["columns"]
    assert {"title", "created_at", "updated_at"} <= set(conversations["columns"])  # kept
    assert "file_attachments" in schema["messages"]["columns"]  # kept
    assert (("personality_id",), "personalities", ("id",), "fk_conversations_personality_id_personalities") \
        in conversations["fks"]
    # added and NOT NULL-in-the-model columns stay nullable: rows exist
    assert conversations["columns"]["started_at"] is True
    assert conversations["columns"]["personality_id"] is True
    # the old foreign key of messages survived (SQLite copied the table only when needed)
    assert any(fk[:3] == (("conversation_id",), "conversations", ("id",)) for fk in schema["messages"]["fks"])

    expected = [{**{k: v for k, v in c.items() if k != "persona_id"}, "personality_id": c["persona_id"],
                 "started_at": None} for c in CONVERSATIONS]
    assert rows(url, NEW_CONVERSATIONS) == expected
    assert rows(url, NEW_MESSAGES) == [{**m, "token_count": None, "message_metadata": None} for m in MESSAGES]
    assert rows(url, PERSONALITIES_VIEW) == PERSONALITIES


def assert_old(url: str) -> None:
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


def write_standalone(root: Path, migrations, revision: str = "a1b2c3d4e5f6") -> Path:
    rel = migration_path(root, None, revision, "merge chat models")
    assert rel == f"migrations/unibase_{revision}_merge_chat_models.py"
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_standalone_script(migrations, message="Merge the chat models into database.models"),
                    encoding="utf-8")
    return path


# --- the standalone script on real databases ---------------------------------------------------


def test_standalone_script_migrates_miachat(tmp_path, database_url):
    create_old_database(database_url)
    assert_old(database_url)
    script = write_standalone(tmp_path, MIACHAT_MIGRATIONS)

    proc = ok(run([sys.executable, str(script), database_url], cwd=tmp_path))
    assert "migrated conversations, messages" in proc.stdout
    assert_migrated(database_url)

    # a second run finds the new schema and does nothing
    proc = ok(run([sys.executable, str(script), database_url], cwd=tmp_path))
    assert "nothing to do" in proc.stdout
    assert_migrated(database_url)

    # --downgrade brings the old schema back, rows and all
    ok(run([sys.executable, str(script), "--downgrade", database_url], cwd=tmp_path))
    assert_old(database_url)


def test_standalone_script_refuses_rows_the_new_foreign_key_would_reject(tmp_path, database_url):
    broken = [*CONVERSATIONS, {**CONVERSATIONS[0], "id": 4, "persona_id": 99}]
    create_old_database(database_url, conversations=broken)
    script = write_standalone(tmp_path, MIACHAT_MIGRATIONS)

    proc = run([sys.executable, str(script), database_url], cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "1 row(s) of conversations have a persona_id with no match in personalities.id" in proc.stderr
    assert "Traceback" not in proc.stderr
    schema = reflect(database_url)
    assert "persona_id" in schema["conversations"]["columns"] and "started_at" not in schema["conversations"]["columns"]
    assert len(rows(database_url, OLD_CONVERSATIONS)) == 4


def test_added_not_null_column_does_not_fail_on_rows(tmp_path, database_url):
    create_old_database(database_url)
    migration = TableMigration(
        "conversations", add_columns=(ColumnSpec("summary", "String(200)", False, None),), keep_columns=("title",))
    source = render_standalone_script([migration], message="add summary")
    assert "# TODO(unibase): backfill conversations.summary, then make it NOT NULL" in source
    assert '#     batch.alter_column("summary", existing_type=sa.String(200), nullable=False)' in source
    script = tmp_path / "m.py"
    script.write_text(source, encoding="utf-8")

    ok(run([sys.executable, str(script), database_url], cwd=tmp_path))
    schema = reflect(database_url)
    assert schema["conversations"]["columns"]["summary"] is True
    assert [r["id"] for r in rows(database_url, OLD_CONVERSATIONS)] == [1, 2, 3]


def test_foreign_key_on_an_added_column(tmp_path, database_url):
    create_old_database(database_url)
    migration = TableMigration(
        "messages", add_columns=(ColumnSpec("reviewer_id", "Integer", True, "personalities.id"),))
    script = tmp_path / "m.py"
    script.write_text(render_standalone_script([migration], message="reviewer"), encoding="utf-8")

    ok(run([sys.executable, str(script), database_url], cwd=tmp_path))
    fks = reflect(database_url)["messages"]["fks"]
    assert (("reviewer_id",), "personalities", ("id",), "fk_messages_reviewer_id_personalities") in fks
    assert any(fk[:3] == (("conversation_id",), "conversations", ("id",)) for fk in fks)
    assert rows(database_url, OLD_MESSAGES) == MESSAGES

    ok(run([sys.executable, str(script), "--downgrade", database_url], cwd=tmp_path))
    assert "reviewer_id" not in reflect(database_url)["messages"]["columns"]
    assert_old(database_url)


def test_standalone_script_rolls_back_a_failure_half_way_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'app.db'}"
    create_old_database(url)
    # conversations is migrated first; messages then fails (SQLite cannot render TSVECTOR)
    migrations = [MIACHAT_MIGRATIONS[0],
                  TableMigration("messages", add_columns=(ColumnSpec("extra", "postgresql.TSVECTOR", True, None),))]
    script = tmp_path / "m.py"
    script.write_text(render_standalone_script(migrations, message="fails"), encoding="utf-8")

    proc = run([sys.executable, str(script), url], cwd=tmp_path)
    assert proc.returncode != 0 and "TSVECTOR" in proc.stderr
    assert_old(url)  # the rename and the table copy of conversations were rolled back


def test_standalone_script_rejects_a_half_migrated_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'app.db'}"
    create_old_database(url)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE messages ADD COLUMN token_count INTEGER")
    engine.dispose()
    script = write_standalone(tmp_path, MIACHAT_MIGRATIONS)
    proc = run([sys.executable, str(script), url], cwd=tmp_path)
    assert proc.returncode == 1
    assert "messages is neither before nor after this migration" in proc.stderr
    assert "persona_id" in reflect(url)["conversations"]["columns"]


def test_standalone_script_usage(tmp_path):
    script = write_standalone(tmp_path, MIACHAT_MIGRATIONS)
    proc = run([sys.executable, str(script)], cwd=tmp_path)
    assert proc.returncode == 2 and "usage:" in proc.stderr


# --- the Alembic revision on real databases -----------------------------------------------------

FIRST_REVISION = "0a1b2c3d4e5f"

ENV_PY = """
import os

from alembic import context
from sqlalchemy import create_engine


def run_migrations_online():
    engine = create_engine(os.environ["UNIBASE_TEST_DATABASE_URL"])
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=None)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
"""

FIRST = f'''
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


def alembic_project(root: Path) -> Path:
    (root / "db" / "versions").mkdir(parents=True)
    (root / "alembic.ini").write_text("[alembic]\nscript_location = %(here)s/db\n", encoding="utf-8")
    (root / "db" / "env.py").write_text(ENV_PY, encoding="utf-8")
    (root / "db" / "versions" / f"{FIRST_REVISION}_chat_tables.py").write_text(FIRST, encoding="utf-8")
    return root


def alembic(root: Path, url: str, *args: str) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "alembic", "-c", str(root / "alembic.ini"), *args], cwd=root,
               env={"UNIBASE_TEST_DATABASE_URL": url})


def test_alembic_revision_migrates_miachat(tmp_path, database_url):
    create_old_database(database_url)
    root = alembic_project(tmp_path / "proj")
    info = find_alembic(root)
    assert info is not None and info.heads == (FIRST_REVISION,)

    revision = "f00dfacecafe"
    rel = migration_path(root, info, revision, "Merge chat models")
    assert rel == f"db/versions/{revision}_merge_chat_models.py"
    (root / rel).write_text(render_alembic_revision(MIACHAT_MIGRATIONS, revision=revision,
                                                    down_revision=info.down_revision, message="Merge chat models"),
                            encoding="utf-8")
    assert find_alembic(root).heads == (revision,)

    ok(alembic(root, database_url, "upgrade", "head"))
    assert_migrated(database_url)
    assert ok(alembic(root, database_url, "current")).stdout.split()[0] == revision

    ok(alembic(root, database_url, "downgrade", FIRST_REVISION))
    assert_old(database_url)

    if database_url.startswith("postgresql"):
        # offline (--sql) the foreign key check steps aside; SQLite's batch copy needs a live database
        proc = ok(alembic(root, database_url, "upgrade", f"{FIRST_REVISION}:head", "--sql"))
        assert "ALTER TABLE conversations RENAME persona_id TO personality_id" in proc.stdout
        assert "fk_conversations_personality_id_personalities" in proc.stdout


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
    source = render_alembic_revision(MIACHAT_MIGRATIONS, revision="merge1", down_revision=info.down_revision,
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


def top_level_imports(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add((node.module or "").split(".")[0])
    return names


def test_rendered_revision_is_valid_and_documented():
    source = render_alembic_revision(MIACHAT_MIGRATIONS, revision="f00d", down_revision="beef", message="Merge")
    compile(source, "revision.py", "exec")
    tree = ast.parse(source)
    assigned = {n.targets[0].id: ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign)}
    assert assigned["revision"] == "f00d" and assigned["down_revision"] == "beef"
    assert {"upgrade", "downgrade"} <= {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    doc = module_docstring(source)
    assert doc.startswith("Merge\n\nRevision ID: f00d\nRevises: beef")
    assert "unibase" in doc
    for kept in ("conversations.title", "conversations.created_at", "conversations.updated_at",
                 "messages.file_attachments"):
        assert kept in doc
    assert "conversations.personality_id" in doc.split("NOT NULL constraints not applied")[1]
    assert 'with op.batch_alter_table("conversations") as batch:' in source
    assert 'batch.alter_column("persona_id", new_column_name="personality_id")' in source
    assert ('batch.create_foreign_key("fk_conversations_personality_id_personalities", "personalities", '
            '["personality_id"], ["id"])') in source
    assert 'batch.add_column(sa.Column("message_metadata", sa.JSON(), nullable=True))' in source
    assert 'batch.alter_column("personality_id", new_column_name="persona_id")' in source  # downgrade
    assert 'batch.drop_constraint("fk_conversations_personality_id_personalities", type_="foreignkey")' in source
    assert "# TODO(unibase): backfill conversations.personality_id, then make it NOT NULL" in source


def test_standalone_script_imports_only_sqlalchemy_and_alembic():
    source = render_standalone_script(MIACHAT_MIGRATIONS, message="Merge")
    compile(source, "script.py", "exec")
    assert top_level_imports(source) <= {"sqlalchemy", "alembic", "sys"}
    assert "MigrationContext.configure(connection)" in source
    doc = module_docstring(source)
    assert "unibase" in doc and "messages.file_attachments" in doc


def test_no_op_migration_is_still_valid():
    for migrations in ([], [TableMigration("conversations", keep_columns=("title",))]):
        for source in (render_standalone_script(migrations, message=""),
                       render_alembic_revision(migrations, revision="r1", down_revision=None, message="")):
            compile(source, "noop.py", "exec")
            assert "pass  # nothing to change" in source
            assert "batch_alter_table" not in source
    source = render_alembic_revision([TableMigration("conversations", keep_columns=("title",))],
                                     revision="r1", down_revision=None, message="keep")
    assert "down_revision = None" in source and "conversations.title" in module_docstring(source)


def test_rendering_is_deterministic():
    a = render_alembic_revision(MIACHAT_MIGRATIONS, revision="r", down_revision="d", message="m")
    b = render_alembic_revision(MIACHAT_MIGRATIONS, revision="r", down_revision="d", message="m")
    c = render_alembic_revision(tuple(reversed(MIACHAT_MIGRATIONS)), revision="r", down_revision="d", message="m")
    assert a == b == c
    s = render_standalone_script(MIACHAT_MIGRATIONS, message="m")
    assert s == render_standalone_script(list(reversed(MIACHAT_MIGRATIONS)), message="m")


def test_awkward_text_still_renders_valid_python():
    message = 'Merge """chat""" models \\ with a trailing quote"\nsecond line'
    migration = TableMigration(
        "odd table", add_columns=(ColumnSpec("it's", "String(length=5)", False, None),),
        rename_columns=(('we"ird', "plain"),), keep_columns=("new\nline",))
    for source in (render_standalone_script([migration], message=message),
                   render_alembic_revision([migration], revision="r", down_revision=None, message=message)):
        compile(source, "odd.py", "exec")
        doc = module_docstring(source)
        assert doc.startswith('Merge """chat""" models \\ with a trailing quote" second line')
        assert "odd table.new line" in doc
        assert "batch.add_column(sa.Column(\"it's\", sa.String(length=5), nullable=True))" in source


def test_types_render_as_database_types():
    def added(type_source: str) -> str:
        source = render_alembic_revision(
            [TableMigration("t", add_columns=(ColumnSpec("c", type_source, True, None),))],
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


def test_foreign_keys_named_deterministically_and_within_63_characters():
    assert foreign_key_name("conversations", "personality_id", "personalities.id") == \
        "fk_conversations_personality_id_personalities"
    long = foreign_key_name("t" * 40, "c" * 30, "r" * 30 + ".id")
    assert len(long) == 63 and long == foreign_key_name("t" * 40, "c" * 30, "r" * 30 + ".id")
    source = render_alembic_revision(
        [TableMigration("t", add_columns=(ColumnSpec("owner_id", "Integer", True, "auth.users.id"),))],
        revision="r", down_revision=None, message="m")
    assert ('batch.create_foreign_key("fk_t_owner_id_users", "users", ["owner_id"], ["id"], '
            'referent_schema="auth")') in source
    assert "_check_references" not in source.split("def downgrade")[0]  # a new column has nothing to check


def test_invalid_input_is_refused():
    with pytest.raises(ValueError):
        render_alembic_revision([], revision="no spaces", down_revision=None, message="m")
    with pytest.raises(ValueError):
        migration_path(Path("."), None, "../x", "slug")
    with pytest.raises(ValueError):
        render_standalone_script([TableMigration("t"), TableMigration("t")], message="m")
    with pytest.raises(ValueError):
        render_standalone_script([TableMigration("t", add_foreign_keys=(("c", "nodot"),))], message="m")


# --- the migration unibase plans for the miachat fixture ------------------------------------------


def test_planned_miachat_migration_keeps_every_row(tmp_path, database_url):
    """What `unibase plan --prefer database/models.py` (rename confirmed) writes, run for real."""
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

    create_old_database(database_url)
    ok(run([sys.executable, str(script), database_url], cwd=tmp_path))
    assert_migrated(database_url)
