"""Reading files cheaply: the byte pre-filter that finds the files that speak SQLAlchemy, the
import lines of every other file, and parsing (with its problems: bad bytes, syntax errors,
syntax newer than this interpreter)."""

from __future__ import annotations

import ast
import bisect
import io
import os
import re
import tokenize
import warnings
from collections.abc import Iterable
from pathlib import Path

from .cache import read_file  # noqa: F401  (re-exported: discovery reads with it)
from .facts import ImportStmt, import_stmt

# --- pre-filter -------------------------------------------------------------------------------

SQLA_WORDS = re.compile(
    rb"declarative_base|DeclarativeBase|generate_base|as_declarative|registry|__tablename__|__table__"
    rb"|\.metadata|target_metadata|mapped_column|\bTable\(|flask_sqlalchemy"
)

# a word each alternative of SQLA_WORDS contains: a file with none of them cannot match, and
# looking for plain words is several times faster than running the expression over every file
# (each a search of the whole file: "eclarative" stands for the three declarative words)
SQLA_LITERALS = (b"eclarative", b"generate_base", b"registry", b"__table", b"metadata", b"mapped_column",
                 b"Table(", b"flask_sqlalchemy")


def speaks_sqlalchemy(data: bytes) -> bool:
    """The byte pre-filter: the file's text uses a word only SQLAlchemy code uses (SQLA_WORDS)."""
    return any(word in data for word in SQLA_LITERALS) and SQLA_WORDS.search(data) is not None


# an import line with the newline before it: a pattern that starts with a plain character is
# searched for several times faster than one that starts with ``^`` (run on ``b"\n" + data``)
IMPORT_LINES = re.compile(
    rb"\n[ \t]*(?:from[ \t]+[\w.]+[ \t]+import[ \t]*(?:\([^)]*\)|[^\n]*)|import[ \t][^\n]*)"
)
IDENTIFIER = re.compile(rb"[A-Za-z_]\w*")


def import_words(data: bytes) -> frozenset[bytes]:
    """Every identifier on the file's import lines (``from a.b import (C, D as E)``)."""
    return frozenset(IDENTIFIER.findall(b" ".join(IMPORT_LINES.findall(b"\n" + data))))


CLASS_HEADER = re.compile(rb"^[ \t]*class[ \t]+\w+[ \t]*\(|^[ \t]*@", re.M)
HEADER_END = re.compile(rb":[ \t]*(?:#[^\n]*)?\r?$", re.M)


def class_header_words(data: bytes) -> frozenset[bytes]:
    """Every identifier in the file's class headers (``class A(B, mixins.C):``) and decorator
    lines: what its classes can subclass or be mapped by. Read from the text, it errs on the side
    of more words (a header in a docstring counts; a header whose colon ends no line reads on to
    the next colon that does)."""
    words: set[bytes] = set()
    for m in CLASS_HEADER.finditer(data):
        if m.group().endswith(b"@"):
            end = data.find(b"\n", m.end())
        else:
            found = HEADER_END.search(data, m.end())
            end = found.start() if found else -1
        words.update(IDENTIFIER.findall(data, m.end(), end if end >= 0 else len(data)))
    return frozenset(words)


TRIPLE_QUOTES = re.compile(rb'"""|\'\'\'')


def import_lines(data: bytes) -> tuple[frozenset[bytes], bytes]:
    """The words of the file's import lines (:func:`import_words`), and those lines alone as a
    small module, each at its own line number (blank lines between), for
    :func:`read_import_lines`. Lines inside a triple-quoted string (an example in a docstring)
    are left out of the module."""
    # each match starts at the newline before its line: in ``data``, at the line's first byte
    matches = list(IMPORT_LINES.finditer(b"\n" + data))
    words = frozenset(IDENTIFIER.findall(b" ".join(m.group() for m in matches)))
    # the quotes before the last import line are all that can hide one in a string
    quotes = [m.start() for m in TRIPLE_QUOTES.finditer(data, 0, matches[-1].start())] if matches else []
    pieces: list[bytes] = []
    pos = 0
    for m in matches:
        if bisect.bisect(quotes, m.start()) % 2:
            continue
        pieces.append(b"\n" * data.count(b"\n", pos, m.start()) + m.group()[1:].lstrip())
        pos = m.end() - 1
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


class Mentions:
    """Which of EVIDENCE_WORDS the text of each file of the project contains: noted for the files
    discovery reads further than their import lines, read again on demand for the others (the
    evidence asks about few files; searching every file of a large tree for the four words costs
    more than reading those few twice). A file that cannot be read contains none."""

    def __init__(self, root: Path, files: Iterable[str]) -> None:
        self._root = str(root)
        self._files = frozenset(files)
        self._found: dict[str, frozenset[bytes]] = {}

    def note(self, rel: str, data: bytes) -> None:
        self._found[rel] = frozenset(w for w in EVIDENCE_WORDS if w in data)

    def may_hold(self, rel: str, word: bytes) -> bool:
        """False when the file's text cannot hold ``word`` (one of EVIDENCE_WORDS)."""
        if word not in EVIDENCE_WORDS:
            return True
        if rel not in self._found:
            data = b""
            if rel in self._files:
                try:
                    data = read_file(os.path.join(self._root, rel))
                except OSError:
                    pass
            self.note(rel, data)
        return word in self._found[rel]


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


def syntax_problem(data: bytes, exc: Exception) -> tuple[str, int | None]:
    if (marker := CONFLICT_MARKER.search(data)) is not None:
        return "has merge-conflict markers", _line_at(data, marker.start())
    lineno = getattr(exc, "lineno", None)
    return f"{type(exc).__name__}: {getattr(exc, 'msg', exc)}", lineno or None


def parse_source(data: bytes, path: str) -> ast.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(data, filename=path)


def parse_newer_syntax(data: bytes, path: str) -> ast.Module | None:
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
