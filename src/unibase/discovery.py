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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .fact_reader import read_facts
from .facts import FileFacts, ImportBinding
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
from .project import ModuleMap, iter_python_files, module_parts, symlink_aliases
from .reading import (  # noqa: F401  (re-exported)
    EVIDENCE_WORDS,
    SPEAKS_SQLA,
    SQLA_LITERALS,
    SQLA_WORDS,
    decode_problem,
    import_lines,
    import_words,
    parse_newer_syntax,
    parse_source,
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
                tree = parse_newer_syntax(data, rel)
                if tree is None:
                    problem = syntax_problem(data, exc)
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
        prelim = build(root, modules, facts, unparsable)
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
    index = build(root, modules, facts, unparsable)
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
