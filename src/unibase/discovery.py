"""Discovery: read a project statically into a typed index of bases, models and references.

Only files that can matter are parsed whole: a byte-level pre-filter first finds the files that
speak SQLAlchemy; they are parsed, and so are the files their SQLAlchemy code takes a mixin, a
base, a base factory, a metadata or an engine from. Every other file is read by its import lines
alone (their identifiers, and the lines themselves: see :func:`import_lines`), which is all
liveness needs of it; a file whose import lines name a module or a name the project's bases,
models and tables are defined under (an importer, whose imports a plan may rewrite) gets those
lines as its facts (``FileFacts.partial``), and is parsed whole only when its class headers name
one of them (a subclass) or a plan is about to change it (:func:`settle`). Each file is read
once (an importer twice); which of those read further can hold what the evidence of databases
looks for is noted then (``Index.mentions``, which reads any other file the evidence asks about).
A warm run takes from the cache, by the hash of each file's bytes, what it read of it: a file
whose import lines the cache holds did not speak SQLAlchemy and is not searched again. Names are
resolved by meaning (which file defines them), never by spelling.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .cache import MISSING, FactCache, content_hash
from .fact_reader import read_facts
from .facts import FileFacts, ImportBinding, ImportStmt, import_bindings
from .index import (  # noqa: F401  (re-exported: the index's types are discovery's)
    BaseInfo,
    External,
    Index,
    ModelInfo,
    ModuleRef,
    NotUnderstood,
    Reference,
    Resolved,
    Symbol,
    TableInfo,
    Unparsable,
)
from .indexing import build
from .memo import untraced
from .project import ModuleMap, iter_python_files, module_parts, symlink_aliases
from .reading import (  # noqa: F401  (re-exported)
    EVIDENCE_WORDS,
    IDENTIFIER,
    Mentions,
    SPEAKS_SQLA,
    SQLA_LITERALS,
    SQLA_WORDS,
    class_header_words,
    decode_problem,
    import_lines,
    import_words,
    parse_newer_syntax,
    parse_source,
    read_file,
    read_import_lines,
    speaks_sqlalchemy,
    syntax_problem,
)
from .resolver import Resolver

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



# --- discovery --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DiscoverOptions:
    exclude: tuple[str, ...] = ()
    parse_everything: bool = False  # skip the pre-filter (tests compare both)
    cache: bool = False  # reuse the facts of unchanged files from the last run (unibase.cache)
    # read (never write) the cache of the project at this root instead: verify reads its scratch
    # checkouts of the project this way (entries are keyed by relative path and content)
    cache_from: Path | None = None


def discover(root: Path, options: DiscoverOptions = DiscoverOptions(),
             progress: Callable[[int, int], None] | None = None) -> Index:
    root = root.resolve()
    with untraced():  # what unibase.memo checks again whole
        listed = list(iter_python_files(root, options.exclude))
        aliases = symlink_aliases(root, listed)
    files = [f for f in listed if f not in aliases]
    modules = ModuleMap.build(root, files, aliases)
    store = (FactCache.for_project(options.cache_from, True, readonly=True) if options.cache_from is not None
             else FactCache.for_project(root, options.cache))
    reading = _Reading(root, modules, store)
    with untraced():  # each file's first read: unibase.memo keeps what it gave (its digest, its import lines)
        speaks_sqla = reading.read_all(files, options.parse_everything, progress)
    modules.learn(_absolute_imports(reading.facts))
    # follow the imports of files that really are SQLAlchemy code, not of every file whose bytes
    # happen to say "registry" or ".metadata"
    reading.close_over_imports([rel for rel in speaks_sqla if rel in reading.facts
                                and _is_sqlalchemy_code(reading.facts[rel])])
    if reading.raw or reading.lazy:
        reading.read_importers()
    modules.learn(_absolute_imports(reading.facts))
    reading.store.save()
    index = build(root, modules, reading.facts, reading.unparsable)
    index.scanned = len(files)
    index.roots = tuple(modules.roots())
    index.import_lines, index.import_words = reading.lines, reading.raw
    index.import_specs = {rel: reading.specs[rel] for rel in reading.lines}
    index.mentions = reading.mentions
    index.lazy = {rel: words for rel, (words, _) in reading.lazy.items()}
    index.listed, index.aliases, index.digests = tuple(listed), aliases, reading.digests
    return index


class _Reading:
    """The files of one discovery: read once each, parsed whole only where that can matter."""

    def __init__(self, root: Path, modules: ModuleMap, store: FactCache) -> None:
        self.root = root
        self.store = store
        self.facts: dict[str, FileFacts] = {}
        self.unparsable: dict[str, Unparsable] = {}
        self.raw: dict[str, frozenset[bytes]] = {}  # files not read further yet -> the words of their imports
        self.lines: dict[str, bytes] = {}  # files not read further yet -> their import lines
        # the same files -> what the statements on those lines import (:func:`read_import_specs`),
        # as text (:func:`_spec_text`)
        self.specs: dict[str, str | None] = {}
        # files of which only the import lines were read -> (the words of their imports, the
        # words of their class headers and decorators: what would make them worth a whole parse)
        self.lazy: dict[str, tuple[frozenset[bytes], frozenset[bytes]]] = {}
        self.mentions = Mentions(root, modules.files)
        # with the cache on: every file read -> the hash of its bytes (None: it cannot be read)
        self.digests: dict[str, bytes | None] = {}
        self.resolver = Resolver(modules, self.facts)

    def unreadable(self, rel: str, exc: OSError, could_matter: str | None) -> None:
        # what an unreadable file holds is unknown: it could hold anything
        self.digests[rel] = None
        self.unparsable[rel] = Unparsable(f"cannot be read ({exc.strerror})", None, could_matter or "it cannot be read")

    def digest(self, data: bytes) -> bytes:
        """What the cache knows these bytes by (nothing when there is no cache)."""
        return content_hash(data) if self.store.enabled else b""

    def cached(self, kind: str, rel: str, data: bytes, compute: Callable[[], Any], digest: bytes | None = None) -> Any:
        """``compute()``: what a function of these bytes of ``rel`` gives, taken from the cache when
        an earlier run computed it for the same bytes (and stored there for the next run).
        ``digest``: :meth:`digest` of ``data``, when the caller has it."""
        digest = self.digest(data) if digest is None else digest
        found = self.store.get(kind, rel, digest) if digest else MISSING
        if found is MISSING:
            found = compute()
            if digest:
                self.store.put(kind, rel, digest, found)
        return found

    def parse(self, rel: str, data: bytes, could_matter: str | None, words: frozenset[bytes] = frozenset(),
              statements_only: bool = False, digest: bytes | None = None) -> None:
        # every metadata use is spelled ``metadata``: in a file whose text lacks the word, expressions
        # hold none to look for
        statements_only = statements_only or b"metadata" not in data

        def read() -> FileFacts | tuple[str, int | None]:
            tree, problem = parsed(data, rel)
            return read_facts(rel, tree, statements_only) if problem is None else problem

        self.mentions.note(rel, data)
        found = self.cached("statements" if statements_only else "whole", rel, data, read, digest)
        if not isinstance(found, FileFacts):
            what, line = found
            self.unparsable[rel] = Unparsable(f"does not parse ({what})", line, could_matter, words or import_words(data))
            return
        self.facts[rel] = found

    def parse_later(self, rel: str, could_matter: str | None) -> None:
        words = self.raw.pop(rel, None)
        self.lines.pop(rel, None)
        if words is None:
            words = self.lazy.pop(rel)[0]
            del self.facts[rel]
        try:
            self.parse(rel, read_file(f"{self.root}/{rel}"), could_matter, words, statements_only=True)
        except OSError as exc:
            self.unreadable(rel, exc, could_matter)

    def read_all(self, files: list[str], parse_everything: bool,
                 progress: Callable[[int, int], None] | None) -> list[str]:
        """Pass 1: parse the files that speak SQLAlchemy, keep the import lines of the others."""
        speaks_sqla: list[str] = []
        top = str(self.root)
        for i, rel in enumerate(files):
            try:
                data = read_file(f"{top}/{rel}")
            except OSError as exc:
                self.unreadable(rel, exc, None)
                continue
            digest = self.digest(data)
            if digest:
                self.digests[rel] = digest
            # the cache keeps the import lines of the files that do not speak SQLAlchemy: bytes it
            # keeps them for need no search
            known = self.store.get("import-lines", rel, digest) if digest and not parse_everything else MISSING
            speaks = known is MISSING and speaks_sqlalchemy(data)
            if parse_everything or speaks:
                self.parse(rel, data, SPEAKS_SQLA if speaks else None, digest=digest)
                speaks_sqla.append(rel)
            else:
                # what a file imports is all that can make it relevant later (it names a module
                # or a model that discovery finds): keep its import lines, not the bytes, and what
                # the statements on them import (all liveness needs of most files)
                words, self.lines[rel], self.specs[rel] = self.cached(
                    "import-lines", rel, data, lambda: _lines_and_specs(data, rel), digest) \
                    if known is MISSING else known
                self.raw[rel] = frozenset(words.split())
            if progress:
                progress(i + 1, len(files))
        return speaks_sqla

    def close_over_imports(self, todo: list[str]) -> None:
        """Read what these files make their bases, models and tables from, transitively: a file
        they take such a name from (a mixin, a base factory, a metadata, a re-exported base) is
        parsed whole; a file they import for anything else, by its import lines alone."""
        requested: dict[str, set[str]] = {}  # file -> the names asked of it by the files that import them
        while todo:
            rel = todo.pop()
            f = self.facts.get(rel)
            if f is None or f.partial:
                continue
            needed = structural_names(f) | requested.get(rel, set())
            for imp in f.imports:
                for target, names, whole in self._imported(rel, imp, needed):
                    if target in self.raw and not whole:
                        self.read_imports_of(target, set())
                        continue
                    if not whole:
                        continue
                    if target in self.raw or target in self.lazy:
                        self.parse_later(target, f"{rel}, which speaks SQLAlchemy, imports it")
                    elif names <= requested.get(target, set()):
                        continue
                    requested.setdefault(target, set()).update(names)
                    todo.append(target)

    def _imported(self, rel: str, imp, needed: set[str]):
        """(file, names asked of it, whether it is needed whole) for each project file ``imp`` imports."""
        resolver = self.resolver
        if not imp.is_from:
            for n in imp.names:
                target = resolver.module_file(rel, 0, n.name)
                if target:
                    yield target, set(), (n.asname or n.name.split(".")[0]) in needed
            return
        module = resolver.module_file(rel, imp.level, imp.module)
        asked = {n.name for n in imp.names if n.name == "*" or (n.asname or n.name) in needed}
        for n in imp.names:
            sub = resolver.imported_submodule(rel, imp.level, imp.module, n.name)
            if sub:
                yield sub, set(), n.name in asked
        if module:
            yield module, asked - {"*"}, bool(asked)

    def read_imports_of(self, rel: str, known: set[bytes]) -> None:
        """A file whose import lines name what the project's bases, models and tables are called,
        or their modules: the plan may rewrite its imports, so they are its facts. It is parsed
        whole only when its class headers or decorators name one of ``known`` (it may define a
        model: a subclass of one, a class of a base's module) or its import lines do not read alone."""
        words, text = self.raw.pop(rel), self.lines.pop(rel)
        try:
            data = read_file(f"{self.root}/{rel}")
        except OSError as exc:
            self.unreadable(rel, exc, None)
            return
        self.mentions.note(rel, data)
        headers, facts = self.cached("imports", rel, data, lambda: (class_header_words(data), import_facts(rel, text, data)))
        facts = facts if headers.isdisjoint(known) else None
        if facts is None:
            self.parse(rel, data, None, words, statements_only=True)
        else:
            self.facts[rel] = facts
            self.lazy[rel] = (words, headers)

    def read_importers(self) -> None:
        """Pass 2: the files that mention what the project's bases, models and tables are called,
        or the modules that define them (their importers, which the plan rewrites), until nothing
        new turns up: a re-export module or a subclass of a model makes its own name worth a search."""
        prelim = build(self.root, self.resolver.modules, self.facts, self.unparsable)
        defining = {s.file for s in prelim.bases} | {s.file for s in prelim.models} | {
            s.file for s in prelim.abstract_classes} | {t.file for t in prelim.tables}
        known = {s.name for s in prelim.bases} | {s.name for s in prelim.models} | {
            s.name for s in prelim.abstract_classes} | {t.symbol.name for t in prelim.tables if t.symbol}
        known = {k.split(".")[0] for k in known}
        stems = {_stem(rel) for rel in defining}
        searched: set[str] = set()
        found: list[str] = []
        while self.raw or self.lazy:
            new_words = (known | stems) - searched - _TOO_COMMON
            if not new_words:
                break
            searched |= new_words
            wanted = {w.encode() for w in new_words}
            # a file read lazily before a new subclass made its name known may subclass it
            upgrades = [rel for rel, (_, headers) in self.lazy.items() if not wanted.isdisjoint(headers)]
            for rel in upgrades:
                self.parse_later(rel, None)
            hits = [rel for rel, words in self.raw.items() if not wanted.isdisjoint(words)]
            names = {w.encode() for w in (known | stems) - _TOO_COMMON}
            for rel in hits:
                self.read_imports_of(rel, names)
            for rel in upgrades + hits:
                f = self.facts.get(rel)
                if f is None:
                    continue
                found.append(rel)
                if any(isinstance(b, ImportBinding) and name in known for name, b in f.bindings.items()):
                    stems.add(_stem(rel))  # re-exports something: importers may name this module
                for c in f.classes:
                    if any(isinstance(n, ast.Name) and n.id in known for b in c.bases for n in ast.walk(b)):
                        known.add(c.name)  # a subclass of a model or base
        # subclasses found in pass 2 may need their own mixins
        self.close_over_imports([rel for rel in found if rel in self.facts and self.facts[rel].classes])


# an import statement as liveness reads it: (is_from, level, module, the names it imports); plain
# tuples, cheap to keep in the cache for every file of a large tree
ImportSpec = tuple[bool, int, "str | None", tuple[str, ...]]


def import_specs(stmts: list[ImportStmt]) -> tuple[ImportSpec, ...]:
    """What each of these import statements imports, as liveness reads it."""
    return tuple((imp.is_from, imp.level, imp.module, tuple(n.name for n in imp.names)) for imp in stmts)


def _lines_and_specs(data: bytes, rel: str) -> tuple[bytes, bytes, str | None]:
    """:func:`import_lines` (its words joined by spaces), and what the statements on those lines
    import (:func:`read_import_specs`, as :func:`_spec_text`): kept in the cache together, one
    entry per file, so that a warm run parses no file's lines. Plain bytes and text: read back,
    they cost a fraction of what a set of words would (one object, no hashing)."""
    words, text = import_lines(data)
    return b" ".join(sorted(words)), text, _spec_text(read_import_specs(text, rel))


# import specs as text: a statement is "F" (from) or "I", its level, "\x1e", its module, "\x1e",
# its names joined by ","; statements are joined by "\x1f" (no dotted name holds either). Read
# back from the cache, a text is one object where the tuples are dozens: on a large tree making
# those costs more than reading the files
def _spec_text(specs: tuple[ImportSpec, ...] | None) -> str | None:
    if specs is None:
        return None
    return "\x1f".join(f"{'F' if is_from else 'I'}{level}\x1e{module or ''}\x1e{','.join(names)}"
                       for is_from, level, module, names in specs)


def specs_of_text(text: str | None, made: dict[str, ImportSpec | None],
                  keep: Callable[[ImportSpec], bool] = lambda spec: True) -> list[ImportSpec] | None:
    """The specs :func:`_spec_text` wrote (``Index.import_specs``), those ``keep`` keeps; ``made``
    keeps the ones already made by their text (None: not kept), so that the statements many
    files make alike are read, and judged, once."""
    if text is None:
        return None
    out = []
    for stmt in text.split("\x1f") if text else ():
        if stmt in made:
            spec = made[stmt]
        else:
            head, module, names = stmt.split("\x1e")
            spec = (head[0] == "F", int(head[1:]), module or None, tuple(names.split(",")))
            spec = made[stmt] = spec if keep(spec) else None
        if spec is not None:
            out.append(spec)
    return out


def read_import_specs(lines: bytes, path: str) -> tuple[ImportSpec, ...] | None:
    """``import_specs(read_import_lines(lines, path))``, read straight from the syntax tree (on a
    large tree, making the statements first costs as much as parsing the lines)."""
    try:
        tree = ast.parse(lines, filename=path)
    except (SyntaxError, ValueError):
        return None
    return tuple((isinstance(node, ast.ImportFrom), getattr(node, "level", 0), getattr(node, "module", None),
                  tuple(a.name for a in node.names))
                 for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom)))


def imported_files(resolver: Resolver, rel: str, imp: ImportStmt) -> list[str]:
    """The project files an import statement of ``rel`` names: its module, and the submodules it
    imports by name (``from pkg import models``)."""
    if not imp.is_from:
        found = [resolver.module_file(rel, 0, n.name) for n in imp.names]
    else:
        found = [resolver.module_file(rel, imp.level, imp.module),
                 *(resolver.imported_submodule(rel, imp.level, imp.module, n.name) for n in imp.names)]
    return [f for f in found if f]


def structural_names(f: FileFacts) -> set[str]:
    """The names a parsed file makes its bases, models and tables from: in the bases and
    decorators of its classes (and the bodies of those given a ``__table__``), its module-level
    assignments, what its module-level functions return (a base factory), its metadata uses
    (with their engines) and its tables."""
    nodes = [*(b for c in f.classes for b in (*c.bases, *c.decorators)),
             *(b for classes in f.local_classes.values() for bases in classes.values() for b in bases),
             *(a.value for a in f.assigns),
             *(v for qual, values in f.function_returns.items() if "." not in qual for v in values),
             *(u.owner for u in f.metadata_uses), *(t.metadata for t in f.tables)]
    names = {n.id for node in nodes for n in ast.walk(node) if isinstance(n, ast.Name)}
    for c in f.classes:
        if c.table_call:
            names |= c.body_names
    # and the engines its metadata is created on (the evidence of databases follows them)
    sources = [*(s for c in f.classes for s in (c.metadata_src, c.type_annotation_map_src)),
               *(u.bind for u in f.metadata_uses)]
    return names | {w.decode() for src in sources if src for w in IDENTIFIER.findall(src.encode())}


def parsed(data: bytes, rel: str) -> tuple[ast.Module | None, tuple[str, int | None] | None]:
    """The syntax tree of a file's bytes, or why there is none (bad bytes, a syntax error)."""
    problem = decode_problem(data)
    if problem is not None:
        return None, problem
    try:
        return parse_source(data, rel), None
    except (SyntaxError, ValueError) as exc:
        tree = parse_newer_syntax(data, rel)
        return (tree, None) if tree is not None else (None, syntax_problem(data, exc))


def import_facts(rel: str, text: bytes, data: bytes) -> FileFacts | None:
    """The facts of a file read from its import lines alone (``text``, :func:`import_lines`):
    its import statements, each with the scope the lines around it show (:func:`_scope_of`), and
    the names the ones that run at module level bind. None when the lines do not read alone (a
    backslash continuation)."""
    stmts = read_import_lines(text, rel)
    if stmts is None:
        return None
    facts = FileFacts(rel, partial=True)
    rows = data.split(b"\n") if stmts else []
    for imp in stmts:
        scope = _scope_of(rows, imp.line - 1)
        facts.imports.append(replace(imp, scope=scope) if scope != "module" else imp)
        for name, binding in import_bindings(imp) if scope in ("module", "conditional", "type-checking") else ():
            # as the reader binds them: a module-level import wins over one in a block
            if scope == "module" or name not in facts.bindings:
                facts.bindings[name] = binding
    return facts


_HEADER = re.compile(rb"[ \t]*(async[ \t]+def|def|class|if[ \t]+(?:typing\.)?TYPE_CHECKING[ \t]*:)?")


def _scope_of(rows: list[bytes], index: int) -> str:
    """Where the statement on ``rows[index]`` is, from the headers of the blocks around it (the
    nearest less indented line, then the next...): "function" inside a ``def``, "class" in a class
    body, "type-checking" under ``if TYPE_CHECKING:``, "conditional" in another block (``if``,
    ``try``...) or when the lines say nothing clear, "module" at the top."""
    indent = len(rows[index]) - len(rows[index].lstrip(b" \t"))
    scope = "module"
    for row in reversed(rows[:index]):
        if indent == 0:
            break
        stripped = row.lstrip(b" \t")
        if not stripped.strip() or stripped.startswith(b"#"):
            continue
        level = len(row) - len(stripped)
        if level >= indent:
            continue
        indent = level
        header = _HEADER.match(row).group(1) or b""
        if header.endswith(b"def"):
            return "function"
        if header == b"class":
            scope = "class"
        elif header.startswith(b"if") and scope == "module":
            scope = "type-checking"
        elif scope == "module":
            scope = "conditional"
    return scope if indent == 0 else "conditional"


class WholeFacts(Mapping[str, FileFacts]):
    """The index's facts, where a file discovery read by its import lines alone is parsed whole
    the first time a reader asks for it: for readers that need what such a file defines (a type
    class a column names, a constant a default names), not only what it imports. The index is
    left as it is; a file that does not parse keeps its import-line facts."""

    def __init__(self, index: Index) -> None:
        self._index = index
        self._whole: dict[str, FileFacts] = {}

    def __getitem__(self, rel: str) -> FileFacts:
        facts = self._index.facts[rel]
        if not facts.partial:
            return facts
        if rel not in self._whole:
            try:
                tree, _ = parsed((self._index.root / rel).read_bytes(), rel)
            except OSError:
                tree = None
            self._whole[rel] = read_facts(rel, tree) if tree is not None else facts
        return self._whole[rel]

    def __iter__(self) -> Iterator[str]:
        return iter(self._index.facts)

    def __len__(self) -> int:
        return len(self._index.facts)


def settle(index: Index, files: set[str], changed: set[str] = frozenset()) -> None:
    """Parse whole the files of which discovery read only the import lines that the plan is about
    to change (among ``files``), or that import one of the ``changed`` files: one that does not
    parse, or cannot be read, becomes unparsable, as if discovery had parsed it."""
    resolver = Resolver(index.modules, index.facts)

    def imports_changed(rel: str) -> bool:
        f = index.facts[rel]
        return any(target in changed for imp in f.imports for target in imported_files(resolver, rel, imp))

    for rel in sorted(rel for rel in index.lazy if rel in files or imports_changed(rel)):
        words = index.lazy.pop(rel)
        try:
            _, problem = parsed((index.root / rel).read_bytes(), rel)
        except OSError as exc:
            problem = None
            index.unparsable[rel] = Unparsable(f"cannot be read ({exc.strerror})", None, "it cannot be read")
        else:
            if problem is not None:
                what, line = problem
                index.unparsable[rel] = Unparsable(f"does not parse ({what})", line, None, words)
        if rel in index.unparsable:
            del index.facts[rel]


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
