"""The typed index discovery makes of a project: its bases, models, tables and references, the
facts of the files it read, and what it could not read."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .facts import ClassFact, ColumnFact, FileFacts, TableFact
from .project import ModuleMap
from .reading import Mentions


@dataclass(frozen=True, order=True)
class Symbol:
    """A name defined at the top level of a project file."""

    file: str
    name: str

    def __str__(self) -> str:
        return f"{self.file}:{self.name}"


@dataclass(frozen=True)
class External:
    """A name from outside the project, fully qualified (``sqlalchemy.orm.declarative_base``)."""

    qualname: str


@dataclass(frozen=True)
class ModuleRef:
    file: str


Resolved = Symbol | External | ModuleRef | None

SQLA_BASE_CLASSES = ("DeclarativeBase", "DeclarativeBaseNoMeta")


@dataclass
class BaseInfo:
    symbol: Symbol
    line: int
    kind: str
    metadata: str | None = None  # source of the MetaData it uses, when given explicitly
    naming_convention: str | None = None
    schema: str | None = None
    type_annotation_map: str | None = None
    binds: set[str] = field(default_factory=set)  # engines its metadata is created on
    test_local: bool = False
    # ``try: from <fallback_of> import Base`` / ``except ImportError: Base = declarative_base()``
    # where that module is not in the project: the base made here is the one the project runs with
    fallback_of: str | None = None


@dataclass
class ModelInfo:
    symbol: Symbol
    fact: ClassFact
    base: Symbol
    table: str | None
    inherits_table: bool  # single-table inheritance: mapped to a parent's table
    columns: tuple[ColumnFact, ...]  # own and inherited from abstract parents and mixins
    parents: tuple[Symbol, ...]  # project classes among its bases
    # defined inside this function (``Model.method``) of its file: it is mapped when that runs,
    # and it goes wherever its enclosing definition goes, never on its own
    local_to: str | None = None


@dataclass
class TableInfo:
    symbol: Symbol | None
    fact: TableFact
    base: Symbol
    file: str


@dataclass(frozen=True)
class Reference:
    """Something in one model that names a table or a class."""

    kind: str  # foreign-key | relationship | secondary | annotation
    file: str
    line: int
    owner: Symbol  # model (or table) holding the reference
    source: str  # "table.column" or "Class.attr"
    target: str  # as written


@dataclass(frozen=True)
class Unparsable:
    """A project file discovery could not analyse, and whether it could matter."""

    problem: str  # "does not parse (SyntaxError: invalid syntax)", "cannot be read (Permission denied)"
    line: int | None
    # why it could hold a base, a model, a table or a metadata use; None when it was read only
    # because its import lines name the project's models or their modules
    could_matter: str | None
    words: frozenset[bytes] = frozenset()  # the identifiers on its import lines

    def __str__(self) -> str:
        return f"{self.problem} (line {self.line})" if self.line else self.problem


@dataclass(frozen=True)
class NotUnderstood:
    """A name that looks like a declarative base but whose making discovery cannot follow."""

    symbol: Symbol
    line: int
    reason: str


@dataclass
class Index:
    root: Path
    modules: ModuleMap
    facts: dict[str, FileFacts]
    bases: dict[Symbol, BaseInfo]
    models: dict[Symbol, ModelInfo]
    abstract_classes: dict[Symbol, Symbol]  # abstract class or declarative-class base -> base
    tables: list[TableInfo]
    references: list[Reference]
    unparsable: dict[str, Unparsable]
    scanned: int = 0
    roots: tuple[tuple[str, int], ...] = ()  # import roots ("" = the project root), with their imports
    not_understood: list[NotUnderstood] = field(default_factory=list)
    # the files discovery kept no facts for -> their import lines alone (:func:`import_lines`):
    # what liveness needs of them, without parsing them whole
    import_lines: dict[str, bytes] = field(default_factory=dict)
    # the same files -> the words of those lines (:func:`import_lines`)
    import_words: dict[str, frozenset[bytes]] = field(default_factory=dict)
    # the same files -> what the import statements on those lines import, parsed once, as text
    # (``discovery.specs_of_text`` reads it; None: the lines do not parse alone, only the whole
    # file tells)
    import_specs: dict[str, str | None] = field(default_factory=dict)
    # which of EVIDENCE_WORDS each file's text contains (None: not recorded, look at all)
    mentions: Mentions | None = None
    # the files of which discovery read only the import lines (their facts are ``partial``) ->
    # the words of those lines; :func:`unibase.discovery.settle` parses them whole when needed
    lazy: dict[str, frozenset[bytes]] = field(default_factory=dict)
    # every file listed (symbolic links to another listed file included), those links -> their
    # file, and, with the cache on, each file read -> the hash of its bytes (None: unreadable)
    listed: tuple[str, ...] = ()
    aliases: dict[str, str] = field(default_factory=dict)
    digests: dict[str, bytes | None] = field(default_factory=dict)

    def may_mention(self, rel: str, word: bytes) -> bool:
        """False when the file's text cannot hold ``word`` (so nothing made with it is there)."""
        return self.mentions is None or self.mentions.may_hold(rel, word)

    def base_of_table(self) -> dict[str, list[tuple[Symbol, Symbol]]]:
        """table name -> [(base, model or table symbol)]"""
        out: dict[str, list[tuple[Symbol, Symbol]]] = {}
        for m in self.models.values():
            if m.table and not m.inherits_table:
                out.setdefault(m.table, []).append((m.base, m.symbol))
        for t in self.tables:
            out.setdefault(t.fact.table, []).append((t.base, t.symbol or Symbol(t.file, t.fact.table)))
        return out

    def models_of(self, base: Symbol) -> list[ModelInfo]:
        return [m for m in self.models.values() if m.base == base]
