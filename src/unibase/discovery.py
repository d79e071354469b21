"""Discovery: read a project statically into a typed index of bases, models and references.

Only files that can matter are parsed: a byte-level pre-filter first finds the files that speak
SQLAlchemy; for every other file only its import lines are kept (their identifiers, and the lines
themselves for liveness: see :func:`import_lines`), and it is parsed only once it imports a module
or a name that the project's bases, models and tables are defined under. Each file is read once;
which of them can hold what the evidence of databases looks for is noted then (``Index.mentions``).
Names are resolved by meaning (which file defines them), never by spelling.
"""

from __future__ import annotations

import ast
import bisect
import io
import re
import tokenize
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .facts import (
    ClassFact,
    ColumnFact,
    FileFacts,
    ImportBinding,
    ImportStmt,
    MetadataUse,
    LocalBinding,
    TableFact,
    alternatives,
    call_name,
    import_stmt,
    read_facts,
    unparse,
)
from .project import ModuleMap, is_test_path, iter_python_files, module_parts, symlink_aliases


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
    # each of EVIDENCE_WORDS -> the files whose text contains it (None: not recorded, look at all)
    mentions: dict[bytes, frozenset[str]] | None = None

    def may_mention(self, rel: str, word: bytes) -> bool:
        """False when the file's text cannot hold ``word`` (so nothing made with it is there)."""
        return self.mentions is None or rel in self.mentions.get(word, (rel,))

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


# --- pre-filter -------------------------------------------------------------------------------

SQLA_WORDS = re.compile(
    rb"declarative_base|DeclarativeBase|generate_base|as_declarative|registry|__tablename__|__table__"
    rb"|\.metadata|target_metadata|mapped_column|\bTable\(|flask_sqlalchemy"
)

# a word each alternative of SQLA_WORDS contains: a file with none of them cannot match, and
# looking for plain words is several times faster than running the expression over every file
SQLA_LITERALS = (b"declarative_base", b"DeclarativeBase", b"generate_base", b"as_declarative", b"registry",
                 b"__table", b"metadata", b"mapped_column", b"Table(", b"flask_sqlalchemy")


def speaks_sqlalchemy(data: bytes) -> bool:
    """The byte pre-filter: the file's text uses a word only SQLAlchemy code uses (SQLA_WORDS)."""
    return any(word in data for word in SQLA_LITERALS) and SQLA_WORDS.search(data) is not None


IMPORT_LINES = re.compile(
    rb"^[ \t]*(?:from[ \t]+[\w.]+[ \t]+import[ \t]*(?:\([^)]*\)|[^\n]*)|import[ \t][^\n]*)", re.M
)
IDENTIFIER = re.compile(rb"[A-Za-z_]\w*")


def import_words(data: bytes) -> frozenset[bytes]:
    """Every identifier on the file's import lines (``from a.b import (C, D as E)``)."""
    return frozenset(IDENTIFIER.findall(b" ".join(IMPORT_LINES.findall(data))))


TRIPLE_QUOTES = re.compile(rb'"""|\'\'\'')


def import_lines(data: bytes) -> tuple[frozenset[bytes], bytes]:
    """The words of the file's import lines (:func:`import_words`), and those lines alone as a
    small module, each at its own line number (blank lines between), for
    :func:`read_import_lines`. Lines inside a triple-quoted string (an example in a docstring)
    are left out of the module."""
    matches = list(IMPORT_LINES.finditer(data))
    words = frozenset(IDENTIFIER.findall(b" ".join(m.group() for m in matches)))
    # the quotes before the last import line are all that can hide one in a string
    quotes = [m.start() for m in TRIPLE_QUOTES.finditer(data, 0, matches[-1].start())] if matches else []
    pieces: list[bytes] = []
    pos = 0
    for m in matches:
        if bisect.bisect(quotes, m.start()) % 2:
            continue
        pieces.append(b"\n" * data.count(b"\n", pos, m.start()) + m.group().lstrip())
        pos = m.end()
    return words, b"".join(pieces)


def read_import_lines(lines: bytes, path: str) -> list[ImportStmt] | None:
    """The import statements of the module :func:`import_lines` made, or None when those lines do
    not parse on their own (a backslash continuation): then only the whole file tells."""
    try:
        # not parse_source: import lines hold no literal to warn about, and what counts the files
        # parsed whole (benchmarks/run.py) wraps parse_source
        tree = ast.parse(lines, filename=path)
    except (SyntaxError, ValueError):
        return None
    return [imp for node in tree.body if (imp := import_stmt(node, "module")) is not None]


# what the evidence of databases looks for (``create_engine``, ``X.metadata.bind``,
# ``sessionmaker(binds=...)``, Alembic's ``target_metadata``, a base's ``metadata = shared``): a
# file whose text lacks the word holds none of it, and is not parsed again to look
EVIDENCE_WORDS = (b"engine", b"bind", b"target_metadata", b"metadata")

_DEFINING_CALLS = frozenset({"declarative_base", "generate_base", "registry", "Table", "MetaData", "SQLAlchemy"})
# words that say nothing about a file (every package has an __init__)
_TOO_COMMON = frozenset({"__init__", "src", "app", "tests", "test"})


def _is_sqlalchemy_code(f: FileFacts) -> bool:
    return any(
        (imp.module or "").split(".")[0] in ("sqlalchemy", "flask_sqlalchemy")
        or any(n.name.split(".")[0] in ("sqlalchemy", "flask_sqlalchemy") for n in imp.names if not imp.is_from)
        for imp in f.imports
    ) or any(c.tablename or c.table_call or c.tablename_computed for c in f.classes)


def _stem(rel: str) -> str:
    parts = module_parts(rel)
    return parts[-1] if parts else ""


CONFLICT_MARKER = re.compile(rb"^(?:<{7}|>{7})(?: |$)|^={7}$", re.M)
SPEAKS_SQLA = "its text speaks SQLAlchemy"


def _line_at(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def decode_problem(data: bytes) -> tuple[str, int] | None:
    """Why Python would refuse these bytes before parsing them, and on which line: a NUL byte,
    or a byte that is not valid in the file's encoding (UTF-8 unless a coding line says else).
    ``ast.parse`` accepts some of these (a bad byte in a comment) that the interpreter and
    LibCST do not."""
    if (nul := data.find(b"\0")) >= 0:
        return "contains a NUL byte", _line_at(data, nul)
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:  # an unknown or contradictory coding declaration
        return f"has a bad coding declaration ({exc})", 1
    try:
        data.decode(encoding)
    except UnicodeDecodeError as exc:
        declared = "its declared encoding" if encoding not in ("utf-8", "utf-8-sig") else "UTF-8, and there is no coding declaration"
        return f"byte 0x{data[exc.start]:02x} is not valid {declared}", _line_at(data, exc.start)
    return None


def _syntax_problem(data: bytes, exc: Exception) -> tuple[str, int | None]:
    if (marker := CONFLICT_MARKER.search(data)) is not None:
        return "has merge-conflict markers", _line_at(data, marker.start())
    lineno = getattr(exc, "lineno", None)
    return f"{type(exc).__name__}: {getattr(exc, 'msg', exc)}", lineno or None


def parse_source(data: bytes, path: str) -> ast.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(data, filename=path)


def _parse_newer_syntax(data: bytes, path: str) -> ast.Module | None:
    """Read a file whose syntax is newer than this interpreter (PEP 695 type parameters and
    ``type`` aliases, PEP 701 f-strings) through LibCST: the constructs ``ast`` cannot read are
    lowered, line for line, to ones it can (``class A[T]`` -> ``class A``; f-strings -> plain
    strings), which keeps every name, import, class and line number discovery needs."""
    import libcst as cst

    try:
        module = cst.parse_module(data)
    except Exception:  # noqa: BLE001 - LibCST raises several kinds; any means "does not parse"
        return None

    class Lower(cst.CSTTransformer):
        def leave_ClassDef(self, original, updated):
            return updated.with_changes(type_parameters=None) if getattr(updated, "type_parameters", None) else updated

        def leave_FunctionDef(self, original, updated):
            return updated.with_changes(type_parameters=None) if getattr(updated, "type_parameters", None) else updated

        def leave_TypeAlias(self, original, updated):
            return cst.Assign(targets=[cst.AssignTarget(target=updated.name)], value=updated.value)

        def leave_FormattedString(self, original, updated):
            newlines = module.code_for_node(original).count("\n")
            return cst.SimpleString('"""' + "\n" * newlines + '"""' if newlines else '""')

    try:
        lowered = module.visit(Lower()).code
        return parse_source(lowered.encode("utf-8"), path)
    except (SyntaxError, ValueError, cst.CSTValidationError):
        return None


# --- resolution -------------------------------------------------------------------------------


class Resolver:
    def __init__(self, modules: ModuleMap, facts: dict[str, FileFacts]) -> None:
        self.modules = modules
        self.facts = facts
        # names bound by an import of a module outside the project, and made in ``except
        # ImportError``: the project runs with what it makes (see ``_ambiguous_bases``)
        self.fallbacks: dict[tuple[str, str], Symbol] = {}

    def module_file(self, from_file: str, level: int, module: str | None) -> str | None:
        if level:
            return self.modules.resolve_relative(from_file, level, module)
        return self.modules.resolve(module or "", from_file)

    def imported_submodule(self, from_file: str, level: int, module: str | None, name: str) -> str | None:
        """The file of ``from <module> import <name>`` when ``name`` is a submodule of the
        package ``module`` (which may be a namespace package, without an ``__init__.py``)."""
        mod = self.module_file(from_file, level, module)
        if mod is not None:
            return self.modules.submodule(mod, name)
        if level:
            parts = self.modules.package_of_relative(from_file, level, module)
            return self.modules.file_for_parts(parts + [name])
        return self.modules.resolve(f"{module}.{name}", from_file) if module else None

    def binding_target(self, file: str, binding: ImportBinding, depth: int) -> Resolved:
        if binding.attr is None:
            # ``import a.b as c``
            target = self.module_file(file, binding.level, binding.module)
            return ModuleRef(target) if target else External(binding.module or "")
        mod_file = self.module_file(file, binding.level, binding.module)
        if mod_file is None:
            # ``from pkg import x`` where ``pkg`` has no __init__.py (a namespace package)
            sub = self.imported_submodule(file, binding.level, binding.module, binding.attr)
            if sub or binding.level:
                return ModuleRef(sub) if sub else None
            return External(f"{binding.module}.{binding.attr}")
        sub = self.modules.submodule(mod_file, binding.attr)
        if sub and binding.attr not in self._top_names(mod_file):
            return ModuleRef(sub)
        return self.name(mod_file, binding.attr, depth + 1)

    def _top_names(self, file: str) -> dict:
        f = self.facts.get(file)
        return f.bindings if f else {}

    def name(self, file: str, name: str, depth: int = 0, function: str | None = None) -> Resolved:
        """What ``name`` means at the top of ``file`` (or inside ``function`` there)."""
        if depth > 12:
            return None
        f = self.facts.get(file)
        if f is None:
            # a project file discovery did not parse: the name is at least defined there
            return Symbol(file, name)
        binding = None
        if function is not None:
            scope = function
            while scope and binding is None:
                binding = f.function_bindings.get(scope, {}).get(name)
                scope = scope.rpartition(".")[0]
        if binding is None:
            binding = f.bindings.get(name)
        if binding is None:
            return None
        if isinstance(binding, ImportBinding):
            if (file, name) in self.fallbacks:
                return self.fallbacks[file, name]
            return self.binding_target(file, binding, depth)
        if binding.kind == "assign" and isinstance(binding.value, (ast.Name, ast.Attribute)):
            # an alias: ``Base = other.Base``
            target = self.expr(file, binding.value, depth + 1)
            if isinstance(target, (Symbol, External)):
                return target
        return Symbol(file, name)

    def expr(self, file: str, node: ast.expr, depth: int = 0, function: str | None = None) -> Resolved:
        if isinstance(node, ast.Name):
            return self.name(file, node.id, depth, function)
        if isinstance(node, ast.Attribute):
            owner = self.expr(file, node.value, depth, function)
            if isinstance(owner, ModuleRef):
                sub = self.modules.submodule(owner.file, node.attr)
                if sub and node.attr not in self._top_names(owner.file):
                    return ModuleRef(sub)
                return self.name(owner.file, node.attr, depth + 1)
            if isinstance(owner, External):
                # ``import pkg.mod`` then ``pkg.mod.X``, where ``pkg`` is a namespace package
                sub = self.modules.resolve(f"{owner.qualname}.{node.attr}", file)
                return ModuleRef(sub) if sub else External(f"{owner.qualname}.{node.attr}")
            if isinstance(owner, Symbol):
                return Symbol(owner.file, f"{owner.name}.{node.attr}")
        return None


def _is_sqla(resolved: Resolved, *names: str) -> bool:
    if isinstance(resolved, External):
        q = resolved.qualname
        return any(q.endswith("." + n) or q == n for n in names) and (
            q.startswith("sqlalchemy") or q.startswith("flask_sqlalchemy") or "." not in q
        )
    return False


def _named(node: ast.expr, resolved: Resolved, *names: str) -> bool:
    """A SQLAlchemy name, or the bare name when its import cannot be seen (star imports)."""
    return _is_sqla(resolved, *names) or (resolved is None and call_name(node) in names)


# --- discovery --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DiscoverOptions:
    exclude: tuple[str, ...] = ()
    parse_everything: bool = False  # skip the pre-filter (tests compare both)


def discover(root: Path, options: DiscoverOptions = DiscoverOptions(),
             progress: Callable[[int, int], None] | None = None) -> Index:
    root = root.resolve()
    files = list(iter_python_files(root, options.exclude))
    aliases = symlink_aliases(root, files)
    files = [f for f in files if f not in aliases]
    modules = ModuleMap.build(root, files, aliases)
    facts: dict[str, FileFacts] = {}
    unparsable: dict[str, Unparsable] = {}
    raw: dict[str, frozenset[bytes]] = {}  # files not parsed yet -> the words of their imports
    lines: dict[str, bytes] = {}  # files not parsed yet -> their import lines
    mentions: dict[bytes, set[str]] = {w: set() for w in EVIDENCE_WORDS}

    def unreadable(rel: str, exc: OSError, could_matter: str | None) -> None:
        # what an unreadable file holds is unknown: it could hold anything
        unparsable[rel] = Unparsable(f"cannot be read ({exc.strerror})", None, could_matter or "it cannot be read")

    def parse_later(rel: str, could_matter: str | None) -> None:
        words = raw.pop(rel)
        lines.pop(rel)
        try:
            parse(rel, (root / rel).read_bytes(), could_matter, words, statements_only=True)
        except OSError as exc:
            unreadable(rel, exc, could_matter)

    def parse(rel: str, data: bytes, could_matter: str | None, words: frozenset[bytes] = frozenset(),
              statements_only: bool = False) -> None:
        problem = decode_problem(data)
        if problem is None:
            try:
                tree = parse_source(data, rel)
            except (SyntaxError, ValueError) as exc:
                tree = _parse_newer_syntax(data, rel)
                if tree is None:
                    problem = _syntax_problem(data, exc)
        if problem is not None:
            what, line = problem
            unparsable[rel] = Unparsable(f"does not parse ({what})", line, could_matter, words or import_words(data))
            return
        facts[rel] = read_facts(rel, tree, statements_only)

    # pass 1: files that speak SQLAlchemy
    speaks_sqla: list[str] = []
    for i, rel in enumerate(files):
        try:
            data = (root / rel).read_bytes()
        except OSError as exc:
            unreadable(rel, exc, None)
            continue
        for word in EVIDENCE_WORDS:
            if word in data:
                mentions[word].add(rel)
        speaks = speaks_sqlalchemy(data)
        if options.parse_everything or speaks:
            parse(rel, data, SPEAKS_SQLA if speaks else None)
            speaks_sqla.append(rel)
        else:
            # what a file imports is all that can make it relevant later (it names a module
            # or a model that discovery finds): keep its import lines, not the bytes
            raw[rel], lines[rel] = import_lines(data)
        if progress:
            progress(i + 1, len(files))

    modules.learn(_absolute_imports(facts))
    resolver = Resolver(modules, facts)

    def close_over_imports(todo: list[str]) -> None:
        """Parse the files these files import (mixins, helpers, re-exported bases), transitively."""
        while todo and raw:
            rel = todo.pop()
            f = facts.get(rel)
            if f is None:
                continue
            for imp in f.imports:
                targets = []
                if imp.is_from:
                    targets.append(resolver.module_file(rel, imp.level, imp.module))
                    targets.extend(resolver.imported_submodule(rel, imp.level, imp.module, n.name) for n in imp.names)
                else:
                    targets.extend(resolver.module_file(rel, 0, n.name) for n in imp.names)
                for t in targets:
                    if t and t in raw:
                        parse_later(t, f"{rel}, which speaks SQLAlchemy, imports it")
                        todo.append(t)

    # follow the imports of files that really are SQLAlchemy code, not of every file whose bytes
    # happen to say "registry" or ".metadata"
    close_over_imports([rel for rel in speaks_sqla if rel in facts and _is_sqlalchemy_code(facts[rel])])

    # pass 2: files that mention what the project's bases, models and tables are called, or the
    # modules that define them (their importers, which the plan rewrites), until nothing new
    # turns up: a re-export module or a subclass of a model makes its own name worth a search
    if raw:
        prelim = _build(root, modules, facts, unparsable)
        defining = {s.file for s in prelim.bases} | {s.file for s in prelim.models} | {
            s.file for s in prelim.abstract_classes} | {t.file for t in prelim.tables}
        known = {s.name for s in prelim.bases} | {s.name for s in prelim.models} | {
            s.name for s in prelim.abstract_classes} | {t.symbol.name for t in prelim.tables if t.symbol}
        known = {k.split(".")[0] for k in known}
        stems = {_stem(rel) for rel in defining}
        searched: set[str] = set()
        found: list[str] = []
        while raw:
            new_words = (known | stems) - searched - _TOO_COMMON
            if not new_words:
                break
            searched |= new_words
            wanted = {w.encode() for w in new_words}
            hits = [rel for rel, words in raw.items() if not wanted.isdisjoint(words)]
            for rel in hits:
                parse_later(rel, None)
                f = facts.get(rel)
                if f is None:
                    continue
                found.append(rel)
                if any(isinstance(b, ImportBinding) and name in known for name, b in f.bindings.items()):
                    stems.add(_stem(rel))  # re-exports something: importers may name this module
                for c in f.classes:
                    if any(isinstance(n, ast.Name) and n.id in known for b in c.bases for n in ast.walk(b)):
                        known.add(c.name)  # a subclass of a model or base
        # subclasses found in pass 2 may need their own mixins
        close_over_imports([rel for rel in found if facts[rel].classes])

    modules.learn(_absolute_imports(facts))
    index = _build(root, modules, facts, unparsable)
    index.scanned = len(files)
    index.roots = tuple(modules.roots())
    index.import_lines = lines
    index.mentions = {w: frozenset(found) for w, found in mentions.items()}
    return index


def _absolute_imports(facts: dict[str, FileFacts]) -> list[tuple[str, str]]:
    """``(file, dotted name)`` for every absolute import the parsed files make (and, for
    ``from a import b``, ``a.b`` too: ``b`` may be a module of a namespace package)."""
    out = []
    for rel, f in facts.items():
        for imp in f.imports:
            if imp.level:
                continue
            if imp.is_from and imp.module:
                out.append((rel, imp.module))
                out.extend((rel, f"{imp.module}.{n.name}") for n in imp.names if n.name != "*")
            elif not imp.is_from:
                out.extend((rel, n.name) for n in imp.names)
    return out


def _build(root: Path, modules: ModuleMap, facts: dict[str, FileFacts], unparsable: dict[str, Unparsable]) -> Index:
    resolver = Resolver(modules, facts)
    bases: dict[Symbol, BaseInfo] = {}
    registries: set[Symbol] = set()
    metadata_vars: dict[Symbol, str] = {}

    # bases made by calls and registries, also conditionally (``declarative_base() if ok else None``)
    # and by a factory of the project (``Base = make_base()``)
    for rel, f in facts.items():
        for a in f.assigns:
            sym = Symbol(rel, a.name)
            for value in alternatives(a.value):
                if not isinstance(value, ast.Call):
                    continue
                callee = resolver.expr(rel, value.func)
                if kind := _base_call_kind(value, callee):
                    bases[sym] = _base_from_call(sym, a.line, value, kind, resolver, metadata_vars)
                elif isinstance(callee, Symbol) and (made := _factory_base(resolver, callee)):
                    kind, call = made
                    bases[sym] = (_base_from_call(sym, a.line, call, kind, resolver, metadata_vars, callee)
                                  if call is not None else BaseInfo(sym, a.line, kind))
                elif _named(value.func, callee, "registry"):
                    registries.add(sym)
                elif _named(value.func, callee, "MetaData"):
                    metadata_vars[sym] = unparse(value)
                elif _is_sqla(callee, "SQLAlchemy") and isinstance(callee, External) and callee.qualname.startswith("flask_sqlalchemy"):
                    bases[sym] = BaseInfo(sym, a.line, "flask_sqlalchemy")
                else:
                    continue
                break

    # bases made by classes
    for rel, f in facts.items():
        for c in f.classes:
            sym = Symbol(rel, c.name)
            kind = None
            for b in c.bases:
                if isinstance(b, ast.Call) and _named(b.func, resolver.expr(rel, b.func), "declarative_base"):
                    kind = "declarative_base() subclass"
                elif _named(b, resolver.expr(rel, b), *SQLA_BASE_CLASSES):
                    kind = call_name(b) or "DeclarativeBase"
            for d in c.decorators:
                target = d.func if isinstance(d, ast.Call) else d
                if _named(target, resolver.expr(rel, target), "as_declarative"):
                    kind = "as_declarative"
            if kind:
                info = BaseInfo(sym, c.line, kind)
                info.metadata = c.metadata_src
                info.type_annotation_map = c.type_annotation_map_src
                if c.metadata_src:
                    _metadata_options(info, c.metadata_src)
                bases[sym] = info

    # ``@reg.mapped`` registries are bases too
    for rel, f in facts.items():
        for c in f.classes:
            for d in c.decorators:
                target = d.func if isinstance(d, ast.Call) else d
                if isinstance(target, ast.Attribute) and target.attr in ("mapped", "mapped_as_dataclass"):
                    reg = resolver.expr(rel, target.value)
                    if isinstance(reg, Symbol) and reg in registries and reg not in bases:
                        f_reg = facts[reg.file]
                        line = next((a.line for a in f_reg.assigns if a.name == reg.name), 1)
                        bases[reg] = BaseInfo(reg, line, "registry")

    not_understood = _ambiguous_bases(resolver, facts, bases)
    for sym, info in bases.items():
        info.test_local = is_test_path(sym.file)

    # classes: which base each one descends from
    class_facts = {Symbol(rel, c.name): c for rel, f in facts.items() for c in f.classes}
    memo: dict[Symbol, Symbol | None] = {}

    def base_of(sym: Symbol, depth: int = 0) -> Symbol | None:
        if sym in memo:
            return memo[sym]
        memo[sym] = None
        if sym in bases or depth > 30:
            memo[sym] = sym if sym in bases else None
            return memo[sym]
        c = class_facts.get(sym)
        if c is None:
            # ``db.Model`` of a Flask-SQLAlchemy object
            owner, _, attr = sym.name.rpartition(".")
            if attr == "Model" and Symbol(sym.file, owner) in bases:
                memo[sym] = Symbol(sym.file, owner)
            return memo[sym]
        found = None
        for d in c.decorators:
            target = d.func if isinstance(d, ast.Call) else d
            if isinstance(target, ast.Attribute) and target.attr in ("mapped", "mapped_as_dataclass"):
                reg = resolver.expr(sym.file, target.value)
                if isinstance(reg, Symbol) and reg in bases:
                    found = reg
        for b in c.bases:
            if found:
                break
            if isinstance(b, ast.Call):
                continue
            r = resolver.expr(sym.file, b)
            if isinstance(r, Symbol):
                found = base_of(r, depth + 1)
        memo[sym] = found
        return found

    models: dict[Symbol, ModelInfo] = {}
    abstract: dict[Symbol, Symbol] = {}
    pending: list[tuple[Symbol, ClassFact, Symbol]] = []
    for sym, c in class_facts.items():
        if sym in bases:
            continue
        b = base_of(sym)
        if b is None:
            continue
        if c.abstract:
            abstract[sym] = b
        else:
            pending.append((sym, c, b))
    for sym in bases:
        c = class_facts.get(sym)
        if c is not None:
            abstract[sym] = sym

    def parents(sym: Symbol) -> list[Symbol]:
        c = class_facts.get(sym)
        out = []
        for b in c.bases if c else ():
            r = resolver.expr(sym.file, b) if not isinstance(b, ast.Call) else None
            if isinstance(r, Symbol) and r in class_facts:
                out.append(r)
        return out

    def inherited_columns(sym: Symbol, seen: set[Symbol]) -> dict[str, ColumnFact]:
        cols: dict[str, ColumnFact] = {}
        for p in reversed(parents(sym)):
            if p in seen:
                continue
            seen.add(p)
            cols.update(inherited_columns(p, seen))
        c = class_facts[sym]
        cols.update({col.attr: col for col in c.columns})
        return cols

    pending_syms = {p[0] for p in pending}
    for sym, c, b in pending:
        table = c.tablename or c.table_call
        inherits = False
        if table is None:
            for p in parents(sym):
                if p in pending_syms:
                    inherits = True
                    break
        models[sym] = ModelInfo(
            symbol=sym,
            fact=c,
            base=b,
            table=table,
            inherits_table=inherits,
            columns=tuple(inherited_columns(sym, set()).values()),
            parents=tuple(parents(sym)),
        )
    # single-table inheritance: the table of the nearest mapped parent
    for m in models.values():
        if m.inherits_table:
            p = next(p for p in m.parents if p in models)
            seen = set()
            while models[p].table is None and p not in seen:
                seen.add(p)
                nxt = [q for q in models[p].parents if q in models]
                if not nxt:
                    break
                p = nxt[0]
            m.table = models[p].table

    for rel, f in facts.items():
        for function, c in f.local_mapped:
            for b in c.bases:
                r = resolver.expr(rel, b, function=function) if not isinstance(b, ast.Call) else None
                found = base_of(r) if isinstance(r, Symbol) else None
                if found is not None:
                    sym = Symbol(rel, f"{function}.{c.name}")
                    models[sym] = ModelInfo(sym, c, found, c.tablename or c.table_call, False, c.columns, (),
                                            local_to=function)
                    break

    # Core tables and metadata-of-base resolution
    def base_of_metadata(file: str, node: ast.expr, function: str | None = None) -> Symbol | None:
        if isinstance(node, ast.Attribute) and node.attr == "metadata":
            owner = resolver.expr(file, node.value, function=function)
            if isinstance(owner, Symbol):
                return base_of(owner) if owner not in bases else owner
            return None
        r = resolver.expr(file, node, function=function)
        if isinstance(r, Symbol):
            for sym, info in bases.items():
                if info.metadata and (info.metadata == r.name and sym.file == r.file or info.metadata == str(r)):
                    return sym
            # ``metadata = Base.metadata`` in some module
            f = facts.get(r.file)
            if f:
                for a in f.assigns:
                    if a.name == r.name and isinstance(a.value, ast.Attribute):
                        return base_of_metadata(r.file, a.value)
        return None

    tables: list[TableInfo] = []
    for rel, f in facts.items():
        for t in f.tables:
            b = base_of_metadata(rel, t.metadata)
            if b is not None:
                tables.append(TableInfo(Symbol(rel, t.var) if t.var else None, t, b, rel))

    # engines the metadata of each base is created on
    for rel, f in facts.items():
        for use in f.metadata_uses:
            if use.attr in ("create_all", "drop_all") and use.bind:
                b = _owner_base(resolver, rel, use, bases, base_of)
                if b is not None:
                    bind_node = _parse_expr(use.bind)
                    r = resolver.expr(rel, bind_node, function=use.function) if bind_node is not None else None
                    bases[b].binds.add(_bind_key(resolver, r, use.bind))

    references = _references(models, tables, class_facts)
    not_understood += _unknown_bases_of_mapped_classes(resolver, class_facts, bases, models, abstract)
    return Index(root, modules, facts, bases, models, abstract, tables, references, unparsable,
                 not_understood=not_understood)


def _ambiguous_bases(resolver: Resolver, facts: dict[str, FileFacts],
                     bases: dict[Symbol, BaseInfo]) -> list[NotUnderstood]:
    """Bases whose name the program may also bind by an import (``try: from .db import Base`` /
    ``except ImportError: Base = declarative_base()``): which one a run gets depends on the
    machine, so they are not bases to merge, and importers of the name are left alone.

    When the import names a module that is not in the project, the project's own code can only
    run with the base made here: it is kept as a base, marked ``fallback_of`` that module."""
    out = []
    for sym, info in list(bases.items()):
        binding = facts[sym.file].bindings.get(sym.name) if sym.file in facts else None
        if not isinstance(binding, ImportBinding):
            continue
        target = resolver.binding_target(sym.file, binding, 0)
        if isinstance(target, External) and not binding.level:
            info.fallback_of = binding.module
            resolver.fallbacks[sym.file, sym.name] = sym  # the project's code runs with this base
            continue
        del bases[sym]
        out.append(NotUnderstood(sym, info.line, f"made at line {info.line}, and also imported at line "
                                                f"{binding.line} depending on how the program runs"))
    return out


def _unknown_bases_of_mapped_classes(resolver: Resolver, class_facts: dict[Symbol, ClassFact],
                                     bases: dict[Symbol, BaseInfo], models: dict, abstract: dict) -> list[NotUnderstood]:
    """Names assigned in the project that classes with a ``__tablename__`` or ``__table__``
    subclass, made in a way discovery does not follow (``Base = getattr(orm, "declarative_base")()``)."""
    found: dict[Symbol, NotUnderstood] = {}
    for sym, c in class_facts.items():
        if sym in models or sym in abstract or sym in bases or not (c.tablename or c.table_call or c.tablename_computed):
            continue
        for b in c.bases:
            r = resolver.expr(sym.file, b) if not isinstance(b, ast.Call) else None
            if not isinstance(r, Symbol) or r in found:
                continue
            owner = Symbol(r.file, r.name.split(".")[0])
            f = resolver.facts.get(owner.file)
            binding = f.bindings.get(owner.name) if f else None
            if isinstance(binding, LocalBinding) and binding.kind == "assign" and owner not in bases:
                value = unparse(binding.value) if binding.value is not None else "?"
                found[r] = NotUnderstood(owner, binding.line, f"{owner.name} = {value}, subclassed by {c.name} "
                                                              f"({c.tablename or c.table_call or 'a mapped class'})")
    return list(found.values())


def _parse_expr(src: str) -> ast.expr | None:
    try:
        return ast.parse(src, mode="eval").body
    except SyntaxError:
        return None


def _bind_key(resolver: Resolver, resolved: Resolved, text: str) -> str:
    """A stable key for an engine: ``create_engine@file:name`` when it is a module-level engine."""
    if isinstance(resolved, Symbol):
        f = resolver.facts.get(resolved.file)
        if f:
            for a in f.assigns:
                if a.name == resolved.name and isinstance(a.value, ast.Call) and call_name(a.value) in (
                    "create_engine", "create_async_engine",
                ):
                    return f"engine:{resolved}"
    return f"expr:{text}"


def _owner_base(resolver: Resolver, file: str, use: MetadataUse, bases: dict, base_of) -> Symbol | None:
    owner = resolver.expr(file, use.owner, function=use.function)
    if isinstance(owner, Symbol):
        return owner if owner in bases else base_of(owner)
    return None


def _base_call_kind(call: ast.Call, callee: Resolved) -> str | None:
    if _named(call.func, callee, "declarative_base"):
        return "declarative_base"
    if isinstance(call.func, ast.Attribute) and call.func.attr == "generate_base":
        return "generate_base"
    return None


def _factory_base(resolver: Resolver, function: Symbol) -> tuple[str, ast.Call | None] | None:
    """A function of the project that returns a new base: ``return declarative_base(...)``, or a
    ``DeclarativeBase`` subclass it defines. The kind, and the base-making call when there is one."""
    f = resolver.facts.get(function.file)
    if f is None:
        return None
    local = f.local_classes.get(function.name, {})
    for returned in f.function_returns.get(function.name, ()):
        for value in alternatives(returned):
            if isinstance(value, ast.Call):
                kind = _base_call_kind(value, resolver.expr(function.file, value.func, function=function.name))
                if kind:
                    return f"{kind} via {function.name}()", value
            elif isinstance(value, ast.Name) and value.id in local and any(
                    _named(b, resolver.expr(function.file, b, function=function.name), *SQLA_BASE_CLASSES)
                    for b in local[value.id]):
                return f"DeclarativeBase via {function.name}()", None
    return None


def _base_from_call(sym: Symbol, line: int, call: ast.Call, kind: str, resolver: Resolver, metadata_vars: dict,
                    factory: Symbol | None = None) -> BaseInfo:
    """A base made by ``call`` (written in ``factory``'s body when a project function makes it)."""
    info = BaseInfo(sym, line, kind)
    file, function = (factory.file, factory.name) if factory else (sym.file, None)
    for kw in call.keywords:
        if kw.arg == "metadata":
            info.metadata = unparse(kw.value)
            r = resolver.expr(file, kw.value, function=function)
            src = metadata_vars.get(r) if isinstance(r, Symbol) else None
            if isinstance(r, Symbol):
                info.metadata = str(r)
            _metadata_options(info, src or unparse(kw.value))
        elif kw.arg == "type_annotation_map":
            info.type_annotation_map = unparse(kw.value)
        elif kw.arg == "bind":
            info.binds.add(f"expr:{unparse(kw.value)}")
    return info


def _metadata_options(info: BaseInfo, src: str) -> None:
    node = _parse_expr(src)
    if isinstance(node, ast.Call):
        for kw in node.keywords:
            if kw.arg == "naming_convention":
                info.naming_convention = unparse(kw.value)
            elif kw.arg == "schema":
                info.schema = unparse(kw.value)


def _references(models: dict[Symbol, ModelInfo], tables: list[TableInfo], class_facts) -> list[Reference]:
    refs: list[Reference] = []
    for m in models.values():
        c = m.fact
        for fk in c.foreign_keys:
            col = next((col.name for col in m.columns if col.attr == fk.attr), fk.attr or "?")
            refs.append(Reference("foreign-key", m.symbol.file, fk.line, m.symbol, f"{m.table}.{col}", fk.target))
        for r in c.relationships:
            if r.target:
                refs.append(Reference("relationship", m.symbol.file, r.line, m.symbol, f"{c.name}.{r.attr}", r.target))
            if r.secondary:
                refs.append(Reference("secondary", m.symbol.file, r.line, m.symbol, f"{c.name}.{r.attr}", r.secondary))
        for attr, target in c.annotation_targets:
            refs.append(Reference("annotation", m.symbol.file, c.line, m.symbol, f"{c.name}.{attr}", target))
    for t in tables:
        owner = t.symbol or Symbol(t.file, t.fact.table)
        for col in t.fact.columns:
            if col.foreign_key:
                refs.append(Reference("foreign-key", t.file, col.line, owner, f"{t.fact.table}.{col.name}", col.foreign_key))
    return refs


__all__ = [
    "BaseInfo",
    "DiscoverOptions",
    "Index",
    "ModelInfo",
    "ModuleRef",
    "NotUnderstood",
    "External",
    "Reference",
    "Resolver",
    "Symbol",
    "TableInfo",
    "Unparsable",
    "discover",
    "module_parts",
]
