"""What ``check`` finds, and the scan every command starts from: one module that ``api`` and
``verify`` both import (``verify`` checks the merged tree the way ``check`` does), so neither
imports the other."""

from __future__ import annotations

import gc
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .discovery import DiscoverOptions, Index, discover
from .plan import Plan
from .settings import Settings, SettingsError


@contextmanager
def without_cycle_collection():
    """Discovery and planning make hundreds of thousands of small objects (syntax trees, facts)
    that hold no reference cycles: the cyclic garbage collector would walk them again and again,
    a quarter to a third of the time on a large tree, to free nothing. It runs again afterwards.

    In a process that runs one command and ends (:data:`unibase.process.one_command`), what was
    made meanwhile is moved to the oldest generation unvisited: most of it lives on (the index,
    the plan), and the young generations' next collections would walk all of it at once (on a
    large tree, more time than planning takes). Not in a process that goes on (an API user, a
    test session): whatever else lived then would be moved too, where garbage (a process's pipes)
    waits for a full collection, which such moves make rarer."""
    from . import process

    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if process.one_command:
                gc.freeze()  # every object tracked now, to the permanent generation...
                gc.unfreeze()  # ...and from there to the oldest one: none is visited
            gc.enable()


def scan(settings: Settings, progress: Callable[[int, int], None] | None = None,
         cache_from: Path | None = None) -> Index:
    """Discover the whole project (a narrower path limits what changes, never what is read);
    ``cache_from``: see :class:`DiscoverOptions`."""
    with without_cycle_collection():
        index = discover(settings.root, DiscoverOptions(exclude=settings.exclude, cache=settings.cache,
                                                        cache_from=cache_from), progress)
    if not index.scanned:
        raise SettingsError(f"{settings.root} is not a Python project (no Python files are read there); "
                            "pass the path of a project directory")
    return index


@dataclass(frozen=True)
class Finding:
    """One line of ``unibase check``: ``file:line:col: code message`` (codes in :mod:`unibase.rules`)."""

    file: str
    line: int
    col: int
    code: str
    message: str


def check_plan(plan: Plan) -> list[Finding]:
    """What keeps one base from being the only one in scope, each at the line that shows it: every
    base to be merged beyond the canonical one (UB101), every foreign key (UB102) and relationship
    string (UB103) that crosses between bases being merged, every table they define twice (UB104)
    and every possible base discovery did not understand (UB105). Separate bases are no findings."""
    from .planning import NOT_UNDERSTOOD

    lines = _SourceLines(Path(plan.root))
    findings = [Finding(w.file or "", w.line or 0, lines.col(w.file, w.line), "UB105", w.message)
                for w in plan.warnings if w.code == NOT_UNDERSTOOD]
    in_scope = plan.merged_bases()
    if len(in_scope) > 1:
        canonical = next((b for b in in_scope if b.role == "canonical"), in_scope[0])
        findings += [
            Finding(b.file, b.line, lines.col(b.file, b.line, b.name), "UB101",
                    f"declarative base {b.name} ({_plural(len(b.models), 'model')}) is a second base in scope; "
                    f"`unibase apply` merges it into {canonical.file}:{canonical.name}")
            for b in in_scope if b is not canonical
        ]
    merged = {f"{b.file}:{b.name}" for b in in_scope}
    for r in plan.cross_references:
        if r.from_base not in merged or r.to_base not in merged:
            continue
        to_name = r.to_base.rsplit(":", 1)[-1]
        if r.kind == "foreign-key":
            findings.append(Finding(r.file, r.line, lines.col(r.file, r.line, r.target), "UB102",
                                    f"foreign key {r.source} -> {r.target} names a table of {to_name} ({r.to_base}): "
                                    "NoReferencedTableError until the bases are merged"))
        else:
            what = {"secondary": "secondary table", "annotation": "annotation"}.get(r.kind, "relationship")
            findings.append(Finding(r.file, r.line, lines.col(r.file, r.line, r.target.rsplit(".", 1)[-1]), "UB103",
                                    f"{what} {r.source} -> {r.target} names a {'table' if r.kind == 'secondary' else 'class'} "
                                    f"of {to_name} ({r.to_base}): it cannot be found until the bases are merged"))
    for c in plan.conflicts if len(in_scope) > 1 else ():
        if c.kind in ("duplicate-table", "identical-duplicate-table") and len(c.locations) >= 2:
            file, _, line = c.locations[0].rpartition(":")
            how = "identically (merged automatically)" if c.kind.startswith("identical") else (
                "differently" + ("" if c.resolution else " (needs a decision: see `unibase plan`)"))
            # the class line is where the location points; the table's name is a few lines below
            row, col = lines.find(file, int(line), f'"{c.subject}"') or lines.find(file, int(line), f"'{c.subject}'") \
                or (int(line), lines.col(file, int(line)))
            findings.append(Finding(file, row, col, "UB104",
                                    f"table {c.subject} is also defined at {c.locations[1]}, {how}"))
    return sorted(findings, key=lambda f: (f.file, f.line, f.col, f.code))


class _SourceLines:
    """The 1-based column of a name on a line of a project file (of its first character if absent)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files: dict[str, list[str]] = {}

    def lines(self, file: str) -> list[str]:
        if file not in self.files:
            try:
                self.files[file] = (self.root / file).read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                self.files[file] = []
        return self.files[file]

    def find(self, file: str, line: int, text: str, span: int = 40) -> tuple[int, int] | None:
        """The first (line, column) of ``text`` at or below ``line``, within ``span`` lines."""
        for row, source in enumerate(self.lines(file)[line - 1:line - 1 + span], start=line):
            if text in source:
                return row, source.index(text) + 1
        return None

    def col(self, file: str | None, line: int | None, name: str | None = None) -> int:
        if not file or not line:
            return 1
        source = self.lines(file)
        text = source[line - 1] if 0 < line <= len(source) else ""
        for needle in ((f'"{name}', f"'{name}", name) if name else ()):
            at = text.find(needle)
            if at >= 0:
                return at + 1
        return len(text) - len(text.lstrip()) + 1


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")
