"""Write the migration that brings a database built from a *losing* table definition to the winner's.

When two declarative bases define the same table with different columns, the merge keeps one
definition. Databases created from the other one still have its columns, so unibase writes a
migration for them: rename the columns the winner renamed, add the columns only the winner has,
add the foreign keys the winner declares, and keep (never drop) the columns only the loser had.

Everything here is pure text generation and file-system detection; nothing is printed, nothing
is executed. The generated code:

* uses Alembic operations in batch mode (``with op.batch_alter_table(...) as batch:``), so the
  same script works on SQLite (the table is copied, rows included) and on PostgreSQL (plain
  ``ALTER TABLE``);
* adds every new column as nullable, so it cannot fail on a table that already has rows; a
  NOT NULL the winner declares is listed in the docstring and left as a ``TODO(unibase)``
  with a commented-out ``alter_column(..., nullable=False)``;
* checks, before changing anything, that the rows satisfy each foreign key it is about to add
  (PostgreSQL would reject them half-way; SQLite would accept them silently) and stops with a
  readable error if they do not;
* is deterministic: the same migrations give the same text, whatever order the tables come in.

:func:`render_alembic_revision` writes a revision for a project that uses Alembic
(:func:`find_alembic` finds its versions directory and current head);
:func:`render_standalone_script` writes a script for a project that does not:
``python migrations/unibase_<rev>_<slug>.py DATABASE_URL`` runs it in one transaction.
"""

from __future__ import annotations

import ast
import configparser
import hashlib
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "AlembicInfo",
    "ColumnSpec",
    "TableMigration",
    "find_alembic",
    "foreign_key_name",
    "migration_path",
    "render_alembic_revision",
    "render_standalone_script",
]

# PostgreSQL truncates longer identifiers (silently), which would break dropping it by name.
MAX_IDENTIFIER = 63
TODO = "TODO(unibase)"

# --- the model ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnSpec:
    """A column the winner has: ``type`` is SQLAlchemy type source (``"String(50)"``, ``"JSON"``)."""

    name: str
    type: str
    nullable: bool = True
    foreign_key: str | None = None  # "table.col" (or "schema.table.col")


@dataclass(frozen=True)
class TableMigration:
    """What changes in one table, from the losing definition to the winning one."""

    table: str
    add_columns: tuple[ColumnSpec, ...] = ()  # in the winner, not in the loser
    rename_columns: tuple[tuple[str, str], ...] = ()  # (old, new) confirmed renames
    add_foreign_keys: tuple[tuple[str, str], ...] = ()  # (column, "table.col"), by the winner's column name
    keep_columns: tuple[str, ...] = ()  # loser-only columns that stay in the database untouched
    # existing (or renamed: by the new name) columns the winner declares NOT NULL and the loser
    # did not: left nullable, listed in the docstring with a TODO like an added NOT NULL column
    not_null_columns: tuple[str, ...] = ()

    @property
    def has_operations(self) -> bool:
        return bool(self.add_columns or self.rename_columns or self.add_foreign_keys)


@dataclass(frozen=True)
class AlembicInfo:
    """Where a project's Alembic revisions live and which revision(s) are the current head."""

    config: Path  # alembic.ini, pyproject.toml, or the env.py that was found
    script_location: Path
    versions: Path  # where a new revision goes
    heads: tuple[str, ...]  # sorted; empty when there are no revisions yet
    revisions: tuple[str, ...] = ()  # every revision found, sorted

    @property
    def head(self) -> str | None:
        """The single head, or None when there is none or more than one."""
        return self.heads[0] if len(self.heads) == 1 else None

    @property
    def down_revision(self) -> str | tuple[str, ...] | None:
        """What a new revision revises: the head, every head (a merge revision), or None."""
        if not self.heads:
            return None
        return self.heads[0] if len(self.heads) == 1 else self.heads


# --- finding Alembic ---------------------------------------------------------------------------

_SKIP_DIRS = {
    ".git", ".hg", ".svn", ".venv", "venv", ".tox", ".nox", "node_modules", "__pycache__", "site-packages",
    ".mypy_cache", ".pytest_cache", ".ruff_cache", "build", "dist", ".eggs",
}


def find_alembic(root: Path) -> AlembicInfo | None:
    """The project's Alembic setup, or None if it has none.

    Looked for, in order: ``alembic.ini`` in ``root`` (its ``script_location``, and
    ``version_locations`` if set), ``[tool.alembic]`` in ``pyproject.toml``, and finally the
    shallowest directory under ``root`` with an ``env.py`` beside a ``versions/`` folder
    (Flask-Migrate's ``migrations/`` layout, or an ini kept somewhere else). Virtualenvs and
    caches are not searched.
    """
    root = Path(root)
    for found in (_from_ini(root), _from_pyproject(root), _from_env_py(root)):
        if found is not None:
            config, script_location, version_dirs = found
            revisions, heads = _scan_revisions(version_dirs)
            return AlembicInfo(config=config, script_location=script_location, versions=version_dirs[0],
                               heads=heads, revisions=revisions)
    return None


def _from_ini(root: Path) -> tuple[Path, Path, list[Path]] | None:
    ini = root / "alembic.ini"
    if not ini.is_file():
        return None
    parser = configparser.ConfigParser(defaults={"here": str(root.resolve())}, strict=False)
    try:
        parser.read(ini, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError, OSError):
        return None
    sections = sorted(parser.sections(), key=lambda s: (s != "alembic", parser.sections().index(s)))
    for section in sections:
        try:
            location = parser.get(section, "script_location", fallback=None)
            versions = parser.get(section, "version_locations", fallback=None)
            separator = parser.get(section, "version_path_separator", fallback=None) or parser.get(
                section, "path_separator", fallback=None)
        except (configparser.Error, ValueError):
            continue
        if not location:
            continue
        return _locations(root, ini, location, versions, separator)
    return None


def _from_pyproject(root: Path) -> tuple[Path, Path, list[Path]] | None:
    import tomllib

    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        return None
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError):
        return None
    section = data.get("tool", {}).get("alembic")
    if not isinstance(section, dict) or not isinstance(section.get("script_location"), str):
        return None
    here = str(root.resolve())
    location = section["script_location"].replace("%(here)s", here)
    versions = section.get("version_locations")
    if isinstance(versions, list):
        versions = "\n".join(str(v).replace("%(here)s", here) for v in versions)
        return _locations(root, pyproject, location, versions, "newline")
    return _locations(root, pyproject, location, None, None)


def _locations(root: Path, config: Path, location: str, versions: str | None,
               separator: str | None) -> tuple[Path, Path, list[Path]] | None:
    script_location = _resolve(root, location.strip())
    if script_location is None:
        return None
    dirs = [_resolve(root, v) for v in _split_locations(versions, separator)] if versions else []
    dirs = [d for d in dirs if d is not None] or [script_location / "versions"]
    return config, script_location, dirs


def _split_locations(value: str, separator: str | None) -> list[str]:
    if separator == "os":
        parts = value.split(os.pathsep)
    elif separator == "newline":
        parts = value.splitlines()
    elif separator in (":", ";", "space"):
        parts = value.split(" " if separator == "space" else separator)
    else:  # Alembic's legacy default: spaces or commas
        parts = re.split(r"[,\s]+", value)
    return [p.strip() for p in parts if p.strip()]


def _resolve(root: Path, location: str) -> Path | None:
    """A script/versions location: a path (relative to ``root``) or ``package:dir``."""
    match = re.fullmatch(r"([A-Za-z_][\w.]*):([^\\/].*)", location)
    if match and not re.fullmatch(r"[A-Za-z]", match.group(1)):  # not a Windows drive letter
        package = Path(*match.group(1).split("."))
        for base in (root, root / "src"):
            if (base / package).is_dir():
                return base / package / match.group(2)
        return None
    path = Path(location)
    return path if path.is_absolute() else root / path


def _from_env_py(root: Path) -> tuple[Path, Path, list[Path]] | None:
    best: tuple[int, str, Path] | None = None
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.endswith(".egg-info")
                             and not (here / d / "pyvenv.cfg").exists())
        if "env.py" in filenames and "versions" in dirnames:
            rel = here.relative_to(root)
            key = (len(rel.parts), rel.as_posix(), here)
            if best is None or key[:2] < best[:2]:
                best = key
            dirnames[:] = []  # a migrations directory does not hold another one
    if best is None:
        return None
    here = best[2]
    return here / "env.py", here, [here / "versions"]


def _scan_revisions(dirs: Iterable[Path]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(every revision, the heads): a head is a revision no other revision names as its down_revision."""
    revisions: set[str] = set()
    named: set[str] = set()
    for directory in dirs:
        if not directory.is_dir():
            continue
        for path in sorted(directory.rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            parsed = _revision_of(path)
            if parsed is None:
                continue
            revision, down = parsed
            revisions.add(revision)
            named.update(down)
    return tuple(sorted(revisions)), tuple(sorted(revisions - named))


def _revision_of(path: Path) -> tuple[str, tuple[str, ...]] | None:
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError, OSError):
        return None
    values: dict[str, ast.expr] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            values[node.targets[0].id] = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            values[node.target.id] = node.value
    revision = values.get("revision")
    if not (isinstance(revision, ast.Constant) and isinstance(revision.value, str) and revision.value):
        return None
    down = values.get("down_revision")
    names: tuple[str, ...] = ()
    if isinstance(down, ast.Constant) and isinstance(down.value, str):
        names = (down.value,)
    elif isinstance(down, (ast.Tuple, ast.List)):
        names = tuple(e.value for e in down.elts if isinstance(e, ast.Constant) and isinstance(e.value, str))
    return revision.value, names


# --- where the file goes -----------------------------------------------------------------------


def migration_path(root: Path, alembic: AlembicInfo | None, revision: str, slug: str) -> str:
    """The project-relative path (``/``-separated) of the migration file to write."""
    _check_revision(revision)
    slug = _slug(slug)
    if alembic is None:
        return f"migrations/unibase_{revision}_{slug}.py"
    versions = Path(os.path.relpath(Path(alembic.versions).resolve(), Path(root).resolve()))
    return f"{versions.as_posix()}/{revision}_{slug}.py"


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:40].rstrip("_")
    return slug or "migration"


def _check_revision(revision: str) -> None:
    if not isinstance(revision, str) or not re.fullmatch(r"[A-Za-z0-9_\-]+", revision):
        raise ValueError(f"a revision id is letters, digits, '_' and '-' only, not {revision!r}")


# --- rendering: names and types ----------------------------------------------------------------


def foreign_key_name(table: str, column: str, target: str) -> str:
    """``fk_<table>_<column>_<reftable>``, shortened with a stable hash past 63 characters."""
    name = f"fk_{table}_{column}_{_split_target(target)[1]}"
    if len(name) <= MAX_IDENTIFIER:
        return name
    digest = hashlib.sha1(name.encode("utf-8")).hexdigest()[:8]
    return f"{name[:MAX_IDENTIFIER - 9]}_{digest}"


def _split_target(target: str) -> tuple[str | None, str, str]:
    """``"table.col"`` or ``"schema.table.col"`` -> (schema, table, column)."""
    parts = target.split(".")
    if len(parts) == 2 and all(parts):
        return None, parts[0], parts[1]
    if len(parts) == 3 and all(parts):
        return parts[0], parts[1], parts[2]
    raise ValueError(f"a foreign key target is 'table.column' (or 'schema.table.column'), not {target!r}")


_TYPE_PREFIXES = {"sa", "sqlalchemy", "db", "types", "sqltypes", "sqlalchemy.types", "sqlalchemy.sql.sqltypes"}
_DIALECTS = ("postgresql", "mysql", "sqlite", "mssql", "oracle")


def _render_type(source: str) -> tuple[str, frozenset[str]]:
    """Type source -> (code using ``sa.``/dialect modules, dialect modules to import).

    ``Integer`` becomes ``sa.Integer()``, ``String(50)`` ``sa.String(50)``,
    ``MutableDict.as_mutable(JSON)`` the database type ``sa.JSON()``, ``postgresql.JSONB``
    ``postgresql.JSONB()``. A name that is not a SQLAlchemy type (a project's own
    ``TypeDecorator``, ``Enum(SomeEnum)``) is a :class:`ValueError`: the script must not import
    the project.
    """
    try:
        node = ast.parse(source.strip(), mode="eval").body
    except SyntaxError as exc:
        raise ValueError(f"cannot read the column type {source!r}: {exc.msg}") from None
    while (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "as_mutable"
           and len(node.args) == 1 and not node.keywords):
        node = node.args[0]  # MutableDict.as_mutable(JSON): the mutation tracking is ORM-only
    if isinstance(node, (ast.Name, ast.Attribute)):
        node = ast.Call(func=node, args=[], keywords=[])
    if not isinstance(node, ast.Call):
        raise ValueError(f"cannot render the column type {source!r}")
    imports: set[str] = set()
    rendered = _TypeRewriter(source, imports).visit(node)
    return ast.unparse(ast.fix_missing_locations(rendered)), frozenset(imports)


class _TypeRewriter(ast.NodeTransformer):
    def __init__(self, source: str, imports: set[str]):
        self.source = source
        self.imports = imports

    def visit_Name(self, node: ast.Name) -> ast.expr:
        return self._resolve(node.id, "", node.id)

    def visit_Attribute(self, node: ast.Attribute) -> ast.expr:
        dotted = _dotted(node)
        if dotted is None:
            raise ValueError(f"cannot render the column type {self.source!r}")
        prefix, _, attr = dotted.rpartition(".")
        return self._resolve(attr, prefix, dotted)

    def visit_Call(self, node: ast.Call) -> ast.expr:
        self.generic_visit(node)
        return node

    def _resolve(self, attr: str, prefix: str, shown: str) -> ast.expr:
        import importlib

        import sqlalchemy
        from sqlalchemy.types import TypeEngine

        dialect = prefix.rpartition(".")[2]
        if dialect in _DIALECTS and prefix in (dialect, f"sqlalchemy.dialects.{dialect}"):
            module = importlib.import_module(f"sqlalchemy.dialects.{dialect}")
            obj = getattr(module, attr, None)
            if isinstance(obj, type) and issubclass(obj, TypeEngine):
                self.imports.add(dialect)
                return ast.Attribute(value=ast.Name(id=dialect, ctx=ast.Load()), attr=attr, ctx=ast.Load())
        elif prefix == "" or prefix in _TYPE_PREFIXES:
            obj = getattr(sqlalchemy, attr, None)
            if isinstance(obj, type) and issubclass(obj, TypeEngine):
                return ast.Attribute(value=ast.Name(id="sa", ctx=ast.Load()), attr=attr, ctx=ast.Load())
        raise ValueError(
            f"cannot render the column type {self.source!r}: {shown!r} is not a SQLAlchemy type "
            "(pass the database type, e.g. the TypeDecorator's impl or Enum('a', 'b', name='...'))")


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return None if inner is None else f"{inner}.{node.attr}"
    return None


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


@dataclass(frozen=True)
class _Check:
    table: str
    column: str  # the name before the migration
    schema: str | None
    ref_table: str
    ref_column: str


def _normalise(migrations: Sequence[TableMigration]) -> list[TableMigration]:
    seen: set[str] = set()
    for m in migrations:
        if not isinstance(m, TableMigration):
            raise TypeError(f"expected a TableMigration, got {type(m).__name__}")
        if not m.table:
            raise ValueError("a TableMigration needs a table name")
        if m.table in seen:
            raise ValueError(f"table {m.table!r} appears twice; give one TableMigration per table")
        seen.add(m.table)
        added = [c.name for c in m.add_columns]
        olds = [old for old, _ in m.rename_columns]
        news = [new for _, new in m.rename_columns]
        for names, what in ((added, "added"), (olds, "renamed"), (news, "renamed to")):
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"{m.table}: column(s) {', '.join(dupes)} {what} twice")
        clash = sorted(set(added) & set(news))
        if clash:
            raise ValueError(f"{m.table}: column(s) {', '.join(clash)} are both added and a rename target")
        for column, target in m.add_foreign_keys:
            _split_target(target)
        for spec in m.add_columns:
            _render_type(spec.type)  # fail now, with the column's type in the message
    return sorted(migrations, key=lambda m: m.table)


def _foreign_keys(m: TableMigration) -> list[tuple[str, str, str | None, str, str]]:
    """(name, column, schema, ref table, ref column) for every foreign key to add, deduplicated."""
    out, seen = [], set()
    pairs = list(m.add_foreign_keys)
    for spec in m.add_columns:  # a column spec that names its foreign key adds it too
        if spec.foreign_key and (spec.name, spec.foreign_key) not in pairs:
            pairs.append((spec.name, spec.foreign_key))
    for column, target in pairs:
        if (column, target) in seen:
            continue
        seen.add((column, target))
        schema, ref_table, ref_column = _split_target(target)
        out.append((foreign_key_name(m.table, column, target), column, schema, ref_table, ref_column))
    return out


def _checks(migrations: Sequence[TableMigration]) -> list[_Check]:
    checks = []
    for m in migrations:
        added = {c.name for c in m.add_columns}
        old_of = {new: old for old, new in m.rename_columns}
        for _name, column, schema, ref_table, ref_column in _foreign_keys(m):
            if column in added:
                continue  # a new column is all NULL: nothing to check
            checks.append(_Check(m.table, old_of.get(column, column), schema, ref_table, ref_column))
    return checks


def _not_null(m: TableMigration) -> list[tuple[str, str | None]]:
    """(column, rendered type or None) the winner wants NOT NULL and the script leaves nullable."""
    out: list[tuple[str, str | None]] = [(c.name, _render_type(c.type)[0]) for c in m.add_columns if not c.nullable]
    names = {name for name, _ in out}
    out += [(name, None) for name in m.not_null_columns if name not in names]
    return out


def _upgrade_body(migrations: Sequence[TableMigration]) -> list[str]:
    lines: list[str] = []
    checks = _checks(migrations)
    if checks:
        lines.append("    # stop before changing anything if existing rows would violate a new foreign key")
        for c in checks:
            schema = f", schema={_lit(c.schema)}" if c.schema else ""
            lines.append(f"    _check_references({_lit(c.table)}, {_lit(c.column)}, {_lit(c.ref_table)}, "
                         f"{_lit(c.ref_column)}{schema})")
    for m in migrations:
        if m.rename_columns or m.add_columns:
            if lines:
                lines.append("")
            lines.append(f"    with op.batch_alter_table({_lit(m.table)}) as batch:")
            for old, new in m.rename_columns:
                lines.append(f"        batch.alter_column({_lit(old)}, new_column_name={_lit(new)})")
            for spec in m.add_columns:
                code = _render_type(spec.type)[0]
                note = "  # NOT NULL in the model: see the TODO below" if not spec.nullable else ""
                lines.append(f"        batch.add_column(sa.Column({_lit(spec.name)}, {code}, nullable=True)){note}")
        keys = _foreign_keys(m)
        if keys:
            if lines:
                lines.append("")
            if m.rename_columns or m.add_columns:
                # (Alembic's batch copy on SQLite drops a foreign key on a column renamed in the same batch)
                lines.append("    # foreign keys in their own batch: SQLite's table copy only sees the columns as they were")
            lines.append(f"    with op.batch_alter_table({_lit(m.table)}) as batch:")
            for name, column, schema, ref_table, ref_column in keys:
                schema_arg = f", referent_schema={_lit(schema)}" if schema else ""
                lines.append(f"        batch.create_foreign_key({_lit(name)}, {_lit(ref_table)}, [{_lit(column)}], "
                             f"[{_lit(ref_column)}]{schema_arg})")
        pending = _not_null(m)
        if pending:
            if lines:
                lines.append("")
            for column, _code in pending:
                lines.append(f"    # {TODO}: backfill {_one_line(m.table)}.{_one_line(column)}, then make it NOT NULL")
            lines.append(f"    # with op.batch_alter_table({_lit(m.table)}) as batch:")
            for column, code in pending:
                existing = f", existing_type={code}" if code else ""
                lines.append(f"    #     batch.alter_column({_lit(column)}{existing}, nullable=False)")
    return lines or ["    pass  # nothing to change"]


def _downgrade_body(migrations: Sequence[TableMigration]) -> list[str]:
    lines: list[str] = []
    for m in reversed(migrations):
        if not m.has_operations:
            continue
        keys = _foreign_keys(m)
        if keys:
            if lines:
                lines.append("")
            lines.append(f"    with op.batch_alter_table({_lit(m.table)}) as batch:")
            for name, _column, _schema, _ref_table, _ref_column in reversed(keys):
                lines.append(f"        batch.drop_constraint({_lit(name)}, type_=\"foreignkey\")")
        if not (m.add_columns or m.rename_columns):
            continue
        if lines:
            lines.append("")
        lines.append(f"    with op.batch_alter_table({_lit(m.table)}) as batch:")
        for spec in reversed(m.add_columns):
            lines.append(f"        batch.drop_column({_lit(spec.name)})")
        for old, new in reversed(m.rename_columns):
            lines.append(f"        batch.alter_column({_lit(new)}, new_column_name={_lit(old)})")
    return lines or ["    pass  # nothing to change"]


def _describe(migrations: Sequence[TableMigration]) -> list[str]:
    """The docstring's account of what the migration does, keeps and leaves to do."""
    out: list[str] = []
    changing = [m for m in migrations if m.has_operations]
    if changing:
        out.append("What it does (existing rows are kept; nothing is dropped):")
        for m in changing:
            out.append(f"  {m.table}")
            for old, new in m.rename_columns:
                out.append(f"    - renames {old} -> {new} (values move with the column)")
            for spec in m.add_columns:
                null = "nullable" if spec.nullable else "added nullable, NOT NULL in the model"
                out.append(f"    - adds {spec.name} ({spec.type}, {null})")
            for name, column, schema, ref_table, ref_column in _foreign_keys(m):
                target = f"{schema}.{ref_table}" if schema else ref_table
                out.append(f"    - adds the foreign key {name}: {column} -> {target}.{ref_column}")
    else:
        out.append("What it does: nothing; the database already has every column the merged models need.")
    kept = [(m.table, c) for m in migrations for c in m.keep_columns]
    out.append("")
    if kept:
        out.append("Columns kept: only the old definition had them, so the merged models do not map them, but")
        out.append("they stay in the database untouched, with their data (drop them yourself when unused):")
        out += [f"  {table}.{column}" for table, column in kept]
    else:
        out.append("Columns kept: none (the old definition had no column the merged models lack).")
    pending = [(m.table, column) for m in migrations for column, _ in _not_null(m)]
    if pending:
        out.append("")
        out.append("NOT NULL constraints not applied yet: the model declares them, but rows that already exist")
        out.append(f"have no value, so the columns stay nullable. Backfill, then see the {TODO} lines:")
        out += [f"  {table}.{column}" for table, column in pending]
    return [_flat(line) for line in out]


_CHECK_HELPER = '''
def _check_references(table, column, ref_table, ref_column, schema=None):
    """Stop, with nothing changed, if a row's ``column`` has no match in ``ref_table.ref_column``.

    PostgreSQL would reject the new foreign key half-way through; SQLite would accept it and
    keep the broken rows. Offline (``--sql``) there are no rows to look at.
    """
    if op.get_context().as_sql:
        return
    bind = op.get_bind()
    if not sa.inspect(bind).has_table(ref_table, schema=schema):
        raise RuntimeError(
            f"unibase: cannot add the foreign key {table}.{column} -> {ref_table}.{ref_column}: "
            f"there is no table {ref_table!r}; nothing was changed"
        )
    rows = sa.table(table, sa.column(column))
    refs = sa.table(ref_table, sa.column(ref_column), schema=schema)
    orphans = bind.execute(
        sa.select(sa.func.count())
        .select_from(rows)
        .where(rows.c[column].is_not(None), ~sa.exists().where(refs.c[ref_column] == rows.c[column]))
    ).scalar()
    if orphans:
        raise RuntimeError(
            f"unibase: {orphans} row(s) of {table} have a {column} with no match in {ref_table}.{ref_column}; "
            "the new foreign key would reject them. Fix or clear those values and run this migration "
            "again; nothing was changed"
        )
'''


def _imports(migrations: Sequence[TableMigration]) -> list[str]:
    dialects = sorted({d for m in migrations for c in m.add_columns for d in _render_type(c.type)[1]})
    return [f"from sqlalchemy.dialects import {d}" for d in dialects]


def _tables(migrations: Sequence[TableMigration]) -> str:
    return ", ".join(m.table for m in migrations) or "no tables"


def render_alembic_revision(migrations: Sequence[TableMigration], *, revision: str,
                            down_revision: str | Sequence[str] | None, message: str) -> str:
    """An Alembic revision file: ``revision``, ``down_revision``, ``upgrade()``, ``downgrade()``.

    ``down_revision`` may be several heads (a tuple): the revision then also merges them.
    """
    _check_revision(revision)
    if isinstance(down_revision, str) or down_revision is None:
        downs = () if down_revision is None else (down_revision,)
    else:
        downs = tuple(down_revision)
    for down in downs:
        _check_revision(down)
    migrations = _normalise(migrations)
    if not downs:
        down_code = "None"
    elif len(downs) == 1:
        down_code = _lit(downs[0])
    else:
        down_code = "(" + ", ".join(_lit(d) for d in downs) + ")"
    checks = bool(_checks(migrations))
    doc = [
        _one_line(message) or "unibase: migrate to the merged schema",
        "",
        f"Revision ID: {revision}",
        f"Revises: {', '.join(downs)}",
        "",
        f"Written by unibase after merging the declarative bases: brings the tables {_tables(migrations)}",
        "from the definition that lost the merge to the one that won. Review it before running it.",
        "",
        *_describe(migrations),
        "",
        "Downgrade reverses it: drops the added foreign keys and columns (and their data), renames back.",
    ]
    parts = [
        _docstring("\n".join(line.rstrip() for line in doc) + "\n"),
        "",
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
    if checks:
        parts += ["", *_CHECK_HELPER.rstrip("\n").split("\n")]
    return "\n".join(parts) + "\n"


_STANDALONE_MAIN = '''
# What upgrade() expects to find and leaves behind, for the check that runs before it.
_PLAN = {plan}


def _state(connection):
    """``"old"``, ``"new"`` (already migrated), or raise on anything else (a half-migrated table)."""
    inspector = sa.inspect(connection)
    states, problems = set(), []
    for table, change in _PLAN.items():
        if not inspector.has_table(table):
            problems.append(f"there is no table {{table!r}}")
            continue
        columns = {{c["name"] for c in inspector.get_columns(table)}}
        keys = {{
            (tuple(fk["constrained_columns"]), fk["referred_table"], tuple(fk["referred_columns"]))
            for fk in inspector.get_foreign_keys(table)
        }}
        old = [o for o, _ in change["renamed"]]
        new = [n for _, n in change["renamed"]] + change["added"]
        fks = [((c,), t, (r,)) for c, t, r in change["foreign_keys"]]
        if all(c in columns for c in old) and not any(c in columns for c in new) and not any(k in keys for k in fks):
            states.add("old")
        elif all(c in columns for c in new) and not any(c in columns for c in old) and all(k in keys for k in fks):
            states.add("new")
        else:
            problems.append(
                f"{{table}} is neither before nor after this migration "
                f"(expected {{sorted(old) or 'no old column'}} before, {{sorted(new) or 'no new column'}} after; "
                f"it has {{sorted(columns)}})"
            )
    if problems or len(states) > 1:
        raise RuntimeError("unibase: the database does not match this migration: " + "; ".join(
            problems or ["some tables are migrated and some are not"]))
    return states.pop() if states else "old"


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
        print(f"usage: python {{sys.argv[0]}} [--downgrade] DATABASE_URL", file=sys.stderr)
        return 2
    global op
    engine = sa.create_engine(args[0])
    if engine.dialect.name == "sqlite" and engine.dialect.driver == "pysqlite":
        _sqlite_transactional_ddl(engine)
    try:
        with engine.begin() as connection:
            state = _state(connection)
            if state == ("old" if downgrading else "new"):
                print("unibase: nothing to do, the database is already " + ("before" if downgrading else "after")
                      + " this migration")
                return 0
            op = Operations(MigrationContext.configure(connection))
            (downgrade if downgrading else upgrade)()
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        op = None
        engine.dispose()
    print("unibase: " + ("downgraded " if downgrading else "migrated ") + {tables})
    return 0


if __name__ == "__main__":
    sys.exit(main())
'''


def render_standalone_script(migrations: Sequence[TableMigration], *, message: str) -> str:
    """A script for a project without Alembic: ``python <file> [--downgrade] DATABASE_URL``.

    It builds an :class:`alembic.operations.Operations` on the connection
    (``MigrationContext.configure``), checks that the database is in the state it expects, and
    runs ``upgrade()`` in one transaction (on SQLite too). Running it again does nothing. It
    imports only SQLAlchemy, Alembic and ``sys``.
    """
    migrations = _normalise(migrations)
    doc = [
        _one_line(message) or "unibase: migrate to the merged schema",
        "",
        f"Written by unibase after merging the declarative bases: brings the tables {_tables(migrations)}",
        "from the definition that lost the merge to the one that won, in one transaction. Review it",
        "before running it. Running it on a database that is already migrated does nothing.",
        "",
        "    python <this file> DATABASE_URL               # upgrade",
        "    python <this file> --downgrade DATABASE_URL   # undo: drops the added columns and their data",
        "",
        *_describe(migrations),
    ]
    plan = {
        m.table: {
            "renamed": [[old, new] for old, new in m.rename_columns],
            "added": [c.name for c in m.add_columns],
            "foreign_keys": [[column, ref_table, ref_column] for _n, column, _s, ref_table, ref_column in _foreign_keys(m)],
        }
        for m in migrations
        if m.has_operations
    }
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
    if _checks(migrations):
        parts += ["", *_CHECK_HELPER.rstrip("\n").split("\n")]
    parts.append("")
    main = _STANDALONE_MAIN.format(plan=_render_plan(plan), tables=_lit(_tables(migrations)))
    parts += ["", *main.strip("\n").split("\n")]
    return "\n".join(parts) + "\n"


def _render_plan(plan: dict) -> str:
    if not plan:
        return "{}"
    lines = ["{"]
    for table, change in plan.items():
        lines.append(f"    {_lit(table)}: {{")
        for key in ("renamed", "added", "foreign_keys"):
            items = change[key]
            if key == "added":
                rendered = ", ".join(_lit(i) for i in items)
            else:
                rendered = ", ".join("(" + ", ".join(_lit(x) for x in i) + ")" for i in items)
            lines.append(f"        {_lit(key)}: [{rendered}],")
        lines.append("    },")
    lines.append("}")
    return "\n".join(lines)
