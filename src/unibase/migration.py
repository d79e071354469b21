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
        return bool(self.renames or _added(self))


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


def _added(m: TableMigration) -> tuple[ColumnSpec, ...]:
    """The columns the migration may add: every column of the merged definition but the primary key."""
    keys = set(m.primary_key)
    return tuple(c for c in m.columns if c.name not in keys)


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
        for spec in _added(m):
            if spec.foreign_key:
                _split_target(spec.foreign_key)
            _render_type(spec.type)  # fail now, with the column's type in the message
    return sorted(migrations, key=lambda m: m.table)


def _foreign_keys(m: TableMigration) -> list[tuple[str, str, str | None, str, str]]:
    """(name, column, schema, ref table, ref column) for every foreign key of the merged definition."""
    out = []
    for spec in _added(m):
        if spec.foreign_key:
            schema, ref_table, ref_column = _split_target(spec.foreign_key)
            out.append((foreign_key_name(m.table, spec.name, spec.foreign_key), spec.name, schema, ref_table,
                        ref_column))
    return out


def _not_null(m: TableMigration) -> list[tuple[str, str]]:
    """(column, rendered type) the model declares NOT NULL and the migration leaves nullable."""
    return [(c.name, _render_type(c.type)[0]) for c in _added(m) if not c.nullable]


def _mapped(m: TableMigration) -> list[str]:
    """Every column name the merged definition maps (the rest are left as they are)."""
    out = list(m.primary_key)
    for name in [c.name for c in m.columns] + [new for _, new in m.renames]:
        if name not in out:
            out.append(name)
    return out


_RESERVED = {
    "op", "sa", "sys", "log", "logging", "batch", "revision", "down_revision", "branch_labels", "depends_on",
    "upgrade", "downgrade", "main", "MigrationContext", "Operations", *_DIALECTS,
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
        for spec in _added(m):
            code = _render_type(spec.type)[0]
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
            added = _added(m)
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

_TABLE_HELPER = '''
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
'''

_ALEMBIC_SAY = '''
# Alembic's own logger: its messages appear beside "Running upgrade ..."
log = logging.getLogger("alembic.runtime.migration")


def _say(text):
    log.info(text)
'''


def _imports(migrations: Sequence[TableMigration]) -> list[str]:
    dialects = sorted({d for m in migrations for c in _added(m) for d in _render_type(c.type)[1]})
    return [f"from sqlalchemy.dialects import {d}" for d in dialects]


def _tables(migrations: Sequence[TableMigration]) -> str:
    return ", ".join(m.table for m in migrations) or "no tables"


def _needs_helper(migrations: Sequence[TableMigration]) -> bool:
    return any(m.has_operations for m in migrations)


def render_alembic_revision(migrations: Sequence[TableMigration], *, revision: str,
                            down_revision: str | Sequence[str] | None, message: str) -> str:
    """An Alembic revision file: ``revision``, ``down_revision``, ``upgrade()``, ``downgrade()``.

    ``down_revision`` may be several heads (a tuple): the revision then also merges them. What it
    did is logged on ``alembic.runtime.migration`` (beside Alembic's "Running upgrade").
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
        parts += ["", *_TABLE_HELPER.rstrip("\n").split("\n"), "", *_ALEMBIC_SAY.rstrip("\n").split("\n")]
    return "\n".join(parts) + "\n"


_STANDALONE_MAIN = '''
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
'''


def render_standalone_script(migrations: Sequence[TableMigration], *, message: str) -> str:
    """A script for a project without Alembic: ``python <file> [--downgrade] DATABASE_URL``.

    It builds an :class:`alembic.operations.Operations` on the connection
    (``MigrationContext.configure``) and runs ``upgrade()`` (or ``downgrade()``) in one
    transaction (on SQLite too), then prints what it did. Running it again does nothing. It
    imports only SQLAlchemy, Alembic and ``sys``.
    """
    migrations = _normalise(migrations)
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
        parts += ["", *_TABLE_HELPER.rstrip("\n").split("\n")]
    parts.append("")
    parts += ["", *_STANDALONE_MAIN.strip("\n").split("\n")]
    return "\n".join(parts) + "\n"
