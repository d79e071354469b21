"""The plan: frozen, versioned, JSON-serialisable data that ``apply`` consumes.

A plan never holds AST nodes or paths outside the project: every file is a POSIX path relative
to ``root``. A user may edit the JSON (pick another target, resolve a conflict, change a
base's role) and hand it back with ``unibase apply --plan``; ``apply`` never re-decides.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from .decisions import ConflictOptions, DuplicateTable, options_from_dict, options_to_dict
from .migration.model import ColumnSpec, TableMigration

PLAN_VERSION = 1

ROLES = ("canonical", "merge", "separate", "unreferenced", "test-local", "excluded")


@dataclass(frozen=True)
class ModelEntry:
    name: str
    table: str | None
    file: str
    line: int


@dataclass(frozen=True)
class BaseEntry:
    module: str
    file: str
    line: int
    name: str
    kind: str
    role: str
    models: tuple[ModelEntry, ...] = ()
    importers: int = 0
    metadata: dict[str, str] = field(default_factory=dict)
    evidence: tuple[str, ...] = ()  # why it has its role: short sentences with file:line
    strategy: str = ""  # move | rebase (a merged base), chosen by --strategy auto or forced
    strategy_reason: str = ""  # why; for the canonical base: its module's size now and after the moves


@dataclass(frozen=True)
class Target:
    module: str
    file: str
    name: str


@dataclass(frozen=True)
class Conflict:
    kind: str
    subject: str
    detail: str
    resolution: str | None  # None: needs a decision, and plan/apply exit 1
    locations: tuple[str, ...] = ()
    options: ConflictOptions | None = None  # the facts a decision needs, and the decision

    @property
    def duplicate(self) -> DuplicateTable | None:
        """The options of a table two bases define differently (None for any other conflict)."""
        return self.options if self.kind == "duplicate-table" and isinstance(self.options, DuplicateTable) else None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "subject": self.subject, "detail": self.detail, "resolution": self.resolution,
                "locations": list(self.locations), "options": options_to_dict(self.options)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Conflict:
        return cls(**{**data, "locations": tuple(data.get("locations", ())),
                      "options": options_from_dict(data.get("kind", ""), data.get("options"))})


@dataclass(frozen=True)
class CrossReference:
    kind: str  # foreign-key | relationship | secondary | annotation
    source: str
    target: str
    file: str
    line: int
    from_base: str
    to_base: str


@dataclass(frozen=True)
class Warning:
    code: str
    message: str
    file: str | None = None
    line: int | None = None


# --- operations ---------------------------------------------------------------------------------

OPERATION_TYPES: dict[str, type[Operation]] = {}  # op name -> type, filled as the types are defined


@dataclass(frozen=True)
class Operation:
    """One change the plan asks for. A subclass is registered by its ``op`` (its name in the plan's
    JSON) and declares, in this one place, the ``step`` that applies it (its code, as the JSON
    carries it; ``steps.STEPS`` gathers each step's operation types from here) and the ``command``
    that does (``"module:Class"``, imported only when the operation is applied)."""

    op: ClassVar[str] = ""
    step: ClassVar[str] = ""
    command: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.op:
            OPERATION_TYPES[cls.op] = cls

    def files(self) -> tuple[str, ...]:
        raise NotImplementedError

    def describe(self) -> str:
        """One line for the plan, the commit body and the progress output."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """The operation in the plan's JSON: its ``op``, its ``step`` and its fields."""
        return {"op": self.op, "step": self.step, **_plain(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Operation:
        return cls(**{f.name: _revive(cls, f.name, data[f.name]) for f in dataclasses.fields(cls) if f.name in data})


@dataclass(frozen=True)
class Rename:
    """``name`` defined in ``file`` is known as ``new_name`` in ``new_file`` after the merge."""

    file: str
    name: str
    new_file: str
    new_name: str


@dataclass(frozen=True)
class MoveModels(Operation):
    """Move classes (and the helpers they need) from ``source`` to ``target``; leave a shim."""

    op: ClassVar[str] = "move-models"
    step: ClassVar[str] = "UB001"
    command: ClassVar[str] = "unibase.codemods.move_models:MoveModelsCommand"
    source: str
    target: str
    base_name: str  # the secondary base's name in ``source``
    target_base: str  # the canonical base's name in ``target``
    classes: tuple[str, ...]  # in source order
    helpers: tuple[str, ...]  # top-level names moved along (functions, enums, constants...)
    imports: tuple[str, ...]  # import statements the moved code needs in ``target`` (source text)
    renames: tuple[tuple[str, str], ...] = ()  # (old, new) class names that clash in target
    drop: tuple[tuple[str, str, str, int], ...] = ()  # (class, kept class, its module, level): duplicate tables
    string_renames: tuple[tuple[str, str], ...] = ()  # class names inside relationship strings
    base_aliases: tuple[str, ...] = ()  # other local names of the secondary base in ``source``
    base_attributes: tuple[tuple[str, str], ...] = ()  # (module alias, name): ``other_db.Base`` spellings of it
    type_checking_imports: tuple[str, ...] = ()  # imports the moved code needs under ``if TYPE_CHECKING:`` only
    quote_annotations: bool = False  # the source had ``from __future__ import annotations``, the target not
    import_from: str = ""  # the shim's ``from <import_from> import ...`` (relative to ``source``)
    import_level: int = 0
    imported_elsewhere: tuple[str, ...] = ()  # names other files import from ``source``: never pruned
    relocated: tuple[str, ...] = ()  # helpers another operation placed in ``target``: removed here, re-exported
    copied: tuple[str, ...] = ()  # helpers that are module state (``logger = getLogger(__name__)``): copied, kept here
    # (dropped class, the registry's name for its kept class) when the kept class is not in ``target``:
    # the moved code's ``relationship(Dropped)`` and ``Mapped[Dropped]`` name it through the registry
    registry_names: tuple[tuple[str, str], ...] = ()

    def files(self) -> tuple[str, ...]:
        return (self.source, self.target)

    def describe(self) -> str:
        extra = f" with {', '.join(self.helpers)}" if self.helpers else ""
        extra += f" (copying module state {', '.join(self.copied)})" if self.copied else ""
        drop = f"; drop duplicates {', '.join(d[0] for d in self.drop)}" if self.drop else ""
        return (f"move {', '.join(self.classes) or 'nothing'}{extra} from {self.source} into {self.target}; "
                f"shim {self.source}{drop}")


@dataclass(frozen=True)
class ExtractBase(Operation):
    """Name the anonymous base of ``class X(declarative_base())`` as ``new_name``."""

    op: ClassVar[str] = "extract-base"
    step: ClassVar[str] = "UB001"
    command: ClassVar[str] = "unibase.codemods.extract_base:ExtractBaseCommand"
    file: str
    class_name: str
    new_name: str

    def files(self) -> tuple[str, ...]:
        return (self.file,)

    def describe(self) -> str:
        return f"{self.file}: name the anonymous base of {self.class_name} {self.new_name}"


@dataclass(frozen=True)
class MergeDuplicate(Operation):
    """The winner of a duplicated table gains the loser's missing columns and methods (union)."""

    op: ClassVar[str] = "merge-duplicate"
    step: ClassVar[str] = "UB001"
    command: ClassVar[str] = "unibase.codemods.merge_duplicate:MergeDuplicateCommand"
    file: str
    class_name: str
    table: str
    statements: tuple[str, ...]  # source of each added column/method, unindented
    imports: tuple[str, ...]  # import statements they need in ``file``
    helpers: tuple[str, ...] = ()  # top-level definitions they need, placed before the class

    def files(self) -> tuple[str, ...]:
        return (self.file,)

    def describe(self) -> str:
        return (f"{self.file}: {self.class_name} gains {plural(len(self.statements), 'member')} "
                f"of the deleted {self.table} definition")


@dataclass(frozen=True)
class RenameColumnUses(Operation):
    """Uses of a loser's column in one file, renamed to the winner's column where provable."""

    op: ClassVar[str] = "rename-column-uses"
    step: ClassVar[str] = "UB005"
    command: ClassVar[str] = "unibase.codemods.rename_column_uses:RenameColumnUsesCommand"
    file: str
    class_names: tuple[str, ...]  # local names bound to the winning class in this file
    renames: tuple[tuple[str, str], ...]  # (old column attribute, new column attribute)
    todo_attributes: tuple[tuple[str, str], ...] = ()  # (attribute, note) to mark on instance uses

    def files(self) -> tuple[str, ...]:
        return (self.file,)

    def describe(self) -> str:
        review = f"; review {', '.join(a for a, _ in self.todo_attributes)}" if self.todo_attributes else ""
        return f"{self.file}: " + ", ".join(f"{a} -> {b}" for a, b in self.renames) + review


@dataclass(frozen=True)
class WriteMigration(Operation):
    """A migration that turns databases made from the losing definitions into the winner's schema.

    The operation holds what the migration must do, table by table; its text is rendered when the
    step is applied (:mod:`unibase.migration.render`). The plan's JSON also carries that text as
    ``content``, for reading and for plans made before the tables were kept: a ``content`` that is
    not what the tables render (a plan of an older unibase, or an edited one) is written as it is.
    """

    op: ClassVar[str] = "write-migration"
    step: ClassVar[str] = "UB006"
    command: ClassVar[str] = "unibase.steps:NewFileCommand"
    file: str  # the new file, relative to the root
    tables: tuple[TableMigration, ...] = ()  # each table's merged definition, which the migration brings databases to
    message: str = ""  # the migration's first line
    revision: str | None = None  # an Alembic revision id; None: a standalone script (no Alembic environment)
    down_revision: str | tuple[str, ...] | None = None  # the head(s) the revision follows
    text: str | None = None  # the file's text as a plan JSON gave it, when the tables do not render it

    def files(self) -> tuple[str, ...]:
        return (self.file,)

    def describe(self) -> str:
        return f"write {self.file}"

    @property
    def content(self) -> str:
        """The file's text: rendered from the tables (or as the plan JSON gave it)."""
        if self.text is not None:
            return self.text
        from .migration.render import render_migration

        return render_migration(self.tables, message=self.message, revision=self.revision,
                                down_revision=self.down_revision)

    def to_dict(self) -> dict[str, Any]:
        if self.text is not None and not self.tables:  # as an older plan gave it
            return {"op": self.op, "step": self.step, "file": self.file, "content": self.text}
        data = {"op": self.op, "step": self.step, **_plain(self), "content": self.content}
        del data["text"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WriteMigration:
        if "tables" not in data:  # a plan made before the tables were kept: its text is the migration
            return cls(data["file"], text=data["content"])
        down = data.get("down_revision")
        op = cls(data["file"], tuple(_table_migration(t) for t in data["tables"]), data.get("message", ""),
                 data.get("revision"), tuple(down) if isinstance(down, list) else down)
        content = data.get("content")
        return op if content is None or content == op.content else dataclasses.replace(op, text=content)


def _table_migration(data: dict[str, Any]) -> TableMigration:
    return TableMigration(data["table"], tuple(ColumnSpec(**c) for c in data.get("columns", ())),
                          tuple(tuple(r) for r in data.get("renames", ())),  # type: ignore[misc]
                          tuple(data.get("primary_key", ())))


@dataclass(frozen=True)
class RebaseBase(Operation):
    """Replace the secondary base definition in ``file`` by an import of the canonical one."""

    op: ClassVar[str] = "rebase-base"
    step: ClassVar[str] = "UB001"
    command: ClassVar[str] = "unibase.codemods.rebase_base:RebaseBaseCommand"
    file: str
    name: str
    target: str
    target_name: str
    import_from: str  # ``from <import_from> import <target_name> as <name>``
    import_level: int
    string_renames: tuple[tuple[str, str], ...] = ()

    def files(self) -> tuple[str, ...]:
        return (self.file,)

    def describe(self) -> str:
        return f"{self.file}: {self.name} becomes an import of {self.target}:{self.target_name}"


@dataclass(frozen=True)
class ModuleSpelling:
    """An import spelling in one file and what it becomes."""

    level: int
    module: str  # as written (``""`` for ``from . import x``)
    file: str  # the file it resolves to
    new_level: int
    new_module: str  # ``""`` with new_level 0 means: the importing file itself


@dataclass(frozen=True)
class RewriteImports(Operation):
    """Point the imports of moved names at their new module; unify aliases of the one Base."""

    op: ClassVar[str] = "rewrite-imports"
    step: ClassVar[str] = "UB002"
    command: ClassVar[str] = "unibase.codemods.rewrite_imports:RewriteImportsCommand"
    file: str
    spellings: tuple[ModuleSpelling, ...]
    renames: tuple[Rename, ...]  # every moved name from the files these spellings resolve to
    base_names: tuple[str, ...]  # names of the canonical Base once merged (all bases' names)
    canonical_name: str
    # a renamed name whose class lives outside the target (a dropped duplicate kept elsewhere):
    # ``file`` is that class's file, ``new_level``/``new_module`` how this file imports it
    sources: tuple[ModuleSpelling, ...] = ()

    def files(self) -> tuple[str, ...]:
        return (self.file,)

    def describe(self) -> str:
        mods = ", ".join(sorted({s.module or "." for s in self.spellings}))
        return f"{self.file}: imports from {mods}"


@dataclass(frozen=True)
class RewriteStrings(Operation):
    """Rewrite class names inside relationship strings (module paths, renamed classes)."""

    op: ClassVar[str] = "rewrite-strings"
    step: ClassVar[str] = "UB003"
    command: ClassVar[str] = "unibase.codemods.rewrite_strings:RewriteStringsCommand"
    file: str
    replacements: tuple[tuple[str, str], ...]  # (old, new) dotted names
    classes: tuple[str, ...] = ()  # only in these top-level classes (empty: the whole file)

    def files(self) -> tuple[str, ...]:
        return (self.file,)

    def describe(self) -> str:
        return f"{self.file}: " + ", ".join(f"{a} -> {b}" for a, b in self.replacements)


@dataclass(frozen=True)
class CollapseMetadataCalls(Operation):
    """Drop repeated ``X.metadata.create_all/drop_all`` calls once every X is the one Base."""

    op: ClassVar[str] = "collapse-metadata"
    step: ClassVar[str] = "UB004"
    command: ClassVar[str] = "unibase.codemods.collapse_metadata:CollapseMetadataCallsCommand"
    file: str
    names: tuple[str, ...]  # local names that denote the canonical Base after the merge
    calls: int  # how many calls or list entries collapse

    def files(self) -> tuple[str, ...]:
        return (self.file,)

    def describe(self) -> str:
        return f"{self.file}: {plural(self.calls, 'redundant metadata call')} on {', '.join(self.names)}"


@dataclass(frozen=True)
class UnifyFlaskModel(Operation):
    """``name = SQLAlchemy(...)`` in ``file`` gains ``model_class=<model_class>``: ``db.Model``
    then shares the canonical base's registry and metadata (Flask-SQLAlchemy 3.x)."""

    op: ClassVar[str] = "unify-flask-model"
    step: ClassVar[str] = "UB007"
    command: ClassVar[str] = "unibase.codemods.unify_flask_model:UnifyFlaskModelCommand"
    file: str
    name: str  # the Flask-SQLAlchemy object
    model_class: str  # the canonical base's local name in ``file``
    import_name: str = ""  # when not empty: ``from <import_from> import <import_name> [as <model_class>]``
    import_from: str = ""
    import_level: int = 0
    drop_keywords: tuple[str, ...] = ()  # arguments the model class makes redundant (``metadata``)
    after: str = ""  # the base is defined below the object in ``file``: the object moves below it

    def files(self) -> tuple[str, ...]:
        return (self.file,)

    def describe(self) -> str:
        imported = (f", importing {self.import_name} from {'.' * self.import_level}{self.import_from}"
                    if self.import_name else "")
        return (f"{self.file}: {self.name} = SQLAlchemy(..., model_class={self.model_class})" + imported
                + (f", moved below {self.after}" if self.after else ""))


@dataclass(frozen=True)
class DeferImports(Operation):
    """Imports in ``file`` whose names are used only in function annotations go under ``if
    TYPE_CHECKING:``: at run time they would close the import ``cycle`` the merge makes."""

    op: ClassVar[str] = "defer-imports"
    step: ClassVar[str] = "UB002"
    command: ClassVar[str] = "unibase.codemods.defer_imports:DeferImportsCommand"
    file: str
    names: tuple[str, ...]  # the local names whose module-level imports move
    imports: tuple[str, ...]  # those imports as written, for the plan's reader
    quote: bool  # the file has no ``from __future__ import annotations``: the annotations naming them are quoted
    cycle: tuple[str, ...]  # the modules of the cycle, the first repeated at the end

    def files(self) -> tuple[str, ...]:
        return (self.file,)

    def describe(self) -> str:
        return (f"{self.file}: {'; '.join(self.imports)} only under TYPE_CHECKING (used only in annotations; "
                f"at run time it would close the import cycle {' -> '.join(self.cycle)})")


# --- the plan -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportRoot:
    """A folder the project's absolute imports start from (``.`` is the project root)."""

    path: str
    imports: int  # how many imports of the project resolve through it



@dataclass(frozen=True)
class Plan:
    root: str
    strategy: str
    canonical: Target | None
    bases: tuple[BaseEntry, ...]
    operations: tuple[Operation, ...]
    conflicts: tuple[Conflict, ...]
    warnings: tuple[Warning, ...]
    cross_references: tuple[CrossReference, ...] = ()
    fingerprints: dict[str, str] = field(default_factory=dict)  # file -> sha256 when planned
    version: int = PLAN_VERSION
    roots: tuple[ImportRoot, ...] = ()  # where the project's absolute imports start
    scope: str | None = None  # the narrower folder given on the command line, if any

    @property
    def unresolved(self) -> tuple[Conflict, ...]:
        return tuple(c for c in self.conflicts if c.resolution is None)

    def merged_bases(self) -> tuple[BaseEntry, ...]:
        return tuple(b for b in self.bases if b.role in ("canonical", "merge"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "root": self.root,
            "strategy": self.strategy,
            "canonical": _plain(self.canonical),
            "bases": [_plain(b) for b in self.bases],
            "operations": [o.to_dict() for o in self.operations],
            "conflicts": [c.to_dict() for c in self.conflicts],
            "warnings": [_plain(w) for w in self.warnings],
            "cross_references": [_plain(r) for r in self.cross_references],
            "fingerprints": dict(self.fingerprints),
            "roots": [_plain(r) for r in self.roots],
            "scope": self.scope,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        if not isinstance(data, dict):
            raise PlanFormatError("the plan is not a JSON object")
        version = data.get("version")
        if version != PLAN_VERSION:
            raise PlanFormatError(f"the plan has version {version!r}; this unibase reads version {PLAN_VERSION}")
        try:
            canonical = Target(**data["canonical"]) if data.get("canonical") else None
            bases = tuple(
                BaseEntry(**{**b, "models": tuple(ModelEntry(**m) for m in b.get("models", ())),
                             "evidence": tuple(b.get("evidence", ()))})
                for b in data["bases"]
            )
            ops = tuple(_operation(o) for o in data["operations"])
            conflicts = tuple(Conflict.from_dict(c) for c in data["conflicts"])
            warnings = tuple(Warning(**w) for w in data["warnings"])
            refs = tuple(CrossReference(**r) for r in data.get("cross_references", ()))
            for b in bases:
                if b.role not in ROLES:
                    raise PlanFormatError(f"base {b.name} in {b.file} has unknown role {b.role!r}")
            return cls(
                root=data["root"],
                strategy=data.get("strategy", "move"),
                canonical=canonical,
                bases=bases,
                operations=ops,
                conflicts=conflicts,
                warnings=warnings,
                cross_references=refs,
                fingerprints=dict(data.get("fingerprints", {})),
                roots=tuple(ImportRoot(**r) for r in data.get("roots", ())),
                scope=data.get("scope"),
            )
        except (KeyError, TypeError) as exc:
            raise PlanFormatError(f"the plan is malformed ({type(exc).__name__}: {exc})") from exc

    @classmethod
    def from_json(cls, text: str) -> Plan:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PlanFormatError(f"the plan is not valid JSON (line {exc.lineno}: {exc.msg})") from exc
        return cls.from_dict(data)


class PlanFormatError(ValueError):
    pass


def _operation(data: dict[str, Any]) -> Operation:
    kind = data.get("op")
    t = OPERATION_TYPES.get(kind)  # type: ignore[arg-type]
    if t is None:
        raise PlanFormatError(f"unknown operation {kind!r}")
    return t.from_dict(data)


def _revive(t: type, name: str, value: Any) -> Any:
    if name in ("spellings", "sources"):
        return tuple(ModuleSpelling(**v) for v in value)
    if name == "renames" and t is RewriteImports:
        return tuple(Rename(**v) for v in value)
    if isinstance(value, list):
        return tuple(tuple(v) if isinstance(v, list) else v for v in value)
    return value


def _plain(obj: Any) -> Any:
    if obj is None:
        return None
    if dataclasses.is_dataclass(obj):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    return obj


def plural(n: int, word: str) -> str:
    """``1 file``, ``2 files``."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def fingerprint(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
