"""Move or rebase, per secondary base (``--strategy auto``, the default).

- **move** (models and the helpers they need go into the canonical module, the old module becomes
  a re-export shim) when the base and its models are siblings of the canonical module, in one
  folder, and the canonical module stays readable: at most :data:`MOVE_MAX_LINES` lines once the
  moved classes are in (pylint's ``max-module-lines`` default: beyond it a module counts as too
  long). Also when only a move can merge the base: a table it shares with another merged base (a
  move deletes the copy) or a class name another merged class has (a move renames it).
- **rebase** (the base's definition becomes an import of the canonical base; every class stays
  where it is) when the base or one of its models lives in another folder (another package, a
  plugin, another service: moving them would make the core module import-and-own their tables),
  or when a move would push the canonical module past :data:`MOVE_MAX_LINES`.

``--strategy move`` / ``--strategy rebase`` force one for every base. Each choice comes with its
reason and, for moves, the size the canonical module reaches; sizes count the moved classes' own
lines (the helpers they take along are added to the reported size once the moves are planned).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from .discovery import BaseInfo, Index, Symbol

MOVE_MAX_LINES = 1000


@dataclass(frozen=True)
class Choice:
    strategy: str  # "move" | "rebase"
    reason: str


def lines_of(ix: Index, rel: str) -> int:
    try:
        return len((ix.root / rel).read_bytes().splitlines())
    except OSError:
        return 0


def span(ix: Index, rel: str, names: set[str]) -> int:
    """Lines the top-level definitions ``names`` of ``rel`` take in another module (two blank
    lines before each)."""
    f = ix.facts.get(rel)
    return sum(end - start + 3 for name, start, end, _ in (f.top_level if f else ()) if name in names)


def _classes(ix: Index, b: BaseInfo) -> dict[str, set[str]]:
    """file -> the classes a move of ``b`` takes from it (models and abstract classes)."""
    out: dict[str, set[str]] = {}
    for m in ix.models_of(b.symbol):
        out.setdefault(m.symbol.file, set()).add(m.symbol.name)
    for s, base in ix.abstract_classes.items():
        if base == b.symbol and s != b.symbol:
            out.setdefault(s.file, set()).add(s.name)
    return out


def _only_a_move(ix: Index, b: BaseInfo, registry: set[Symbol]) -> str | None:
    """Why only a move can merge ``b`` (a shared table, a class name another merged class has)."""
    others = [m for m in ix.models.values() if m.base in registry and m.base != b.symbol]
    mine = ix.models_of(b.symbol)
    tables = sorted({m.table for m in mine if m.table and not m.inherits_table}
                    & {m.table for m in others if m.table and not m.inherits_table})
    if tables:
        return f"it maps table {tables[0]}, which another merged base maps too: only a move deletes the copy"
    names = sorted({m.symbol.name for m in mine} & {m.symbol.name for m in others})
    if names:
        return (f"its class {names[0]} has the name of another merged class: only a move renames it "
                "(one registry cannot resolve one name twice)")
    return None


def choose(ix: Index, target: str, registry: set[Symbol], merging: list[BaseInfo], forced: str
           ) -> tuple[dict[Symbol, Choice], int]:
    """The strategy of each base in ``merging`` and the estimated size of ``target`` after the
    moves. ``registry``: every base whose models end up in the one registry (canonical included)."""
    home = PurePosixPath(target).parent
    size = lines_of(ix, target)
    out: dict[Symbol, Choice] = {}
    for b in sorted(merging, key=lambda b: (b.symbol.file, b.line)):
        classes = _classes(ix, b)
        files = {b.symbol.file, *classes}
        moved = sum(span(ix, f, names) for f, names in classes.items() if f != target)
        away = sorted(str(PurePosixPath(f).parent) for f in files if PurePosixPath(f).parent != home)
        if forced in ("move", "rebase"):
            choice = Choice(forced, f"{forced}: as asked (--strategy {forced})")
        elif why := _only_a_move(ix, b, registry):
            choice = Choice("move", f"move: {why}")
        elif away:
            choice = Choice("rebase", f"rebase: it lives in {away[0]}/, another package than {home}/ (a plugin or "
                                      f"another part of the project): its models stay there, on the canonical base")
        elif size + moved > MOVE_MAX_LINES:
            choice = Choice("rebase", f"rebase: moving its models would make {target} about {size + moved} lines, "
                                      f"over {MOVE_MAX_LINES}")
        else:
            choice = Choice("move", f"move: a sibling of {target} in {home}/; {target} grows to about "
                                    f"{size + moved} lines")
        if choice.strategy == "move":
            size += moved
        out[b.symbol] = choice
    return out, size
