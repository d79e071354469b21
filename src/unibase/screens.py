"""What the human output says, as plain lines and Rich tables for the CLI to print.

Nothing here prints. Every line is made to read at 80 columns and in a CI log: a path is
never cut (it stays whole on its line, and long lines wrap between words), a list of names
wraps between names, never inside one.
"""

from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass
from pathlib import Path

from .decisions import ColumnDefinition
from .plan import BaseEntry, Conflict, MoveModels, Plan


def wrap(text: str, width: int, indent: str = "", hanging: str | None = None) -> list[str]:
    """``text`` wrapped between words (a path or a name is never split), first line after
    ``indent``, the others after ``hanging`` (default: ``indent`` and two spaces)."""
    hanging = indent + "  " if hanging is None else hanging
    lines = textwrap.wrap(text, width=max(width, 40), initial_indent=indent, subsequent_indent=hanging,
                          break_long_words=False, break_on_hyphens=False) or [indent.rstrip()]
    return [line.replace(KEEP, " ") for line in lines]


KEEP = "\xa0"  # a space ``wrap`` never breaks at: "Name (table)" stays on one line


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def base_block(b: BaseEntry, width: int, verbose: bool = False) -> list[str]:
    """One base, whole: role, name and where on the first line (where on the next when it does not
    fit), then what it holds and why."""
    lines = [f"  {b.role:<12} {b.name}  {b.file}:{b.line}"]
    if len(lines[0]) > width:  # a long path on a line of its own, whole
        lines = [f"  {b.role:<12} {b.name}", f"{' ' * 15}{b.file}:{b.line}"]
    facts = f"{b.kind}, {_plural(len(b.models), 'model')}, {_plural(b.importers, 'importer')}"
    lines += wrap(facts, width, " " * 15, " " * 17)
    if b.models:
        names = ", ".join(m.name + (f"{KEEP}({m.table})" if m.table else "") for m in b.models)
        lines += wrap(f"models: {names}", width, " " * 15, " " * 17)
        if verbose:
            lines += [f"{' ' * 17}{m.file}:{m.line}: {m.name}" for m in b.models]
    if getattr(b, "strategy_reason", None):  # move or rebase, and why (or the canonical module's size)
        lines += wrap(f"strategy: {b.strategy_reason}", width, " " * 15, " " * 17)
    for e in b.evidence if verbose else b.evidence[:2]:
        lines += wrap(f"- {e}", width, " " * 15, " " * 17)
    if not verbose and len(b.evidence) > 2:
        lines.append(f"{' ' * 15}(and {len(b.evidence) - 2} more: -v shows them)")
    return lines


def cross_reference(plan: Plan, r) -> str:
    """A reference that crosses bases, the bases named as briefly as they stay unambiguous."""
    names = [b.name for b in plan.bases]

    def label(key: str) -> str:
        name = key.rpartition(":")[2]
        return name if names.count(name) == 1 else key

    return f"{r.file}:{r.line}: {r.kind} {r.source} -> {r.target} ({label(r.from_base)} -> {label(r.to_base)})"


LISTED_OPERATIONS = 20  # more than this are grouped by step (-v lists each one)


def operation_lines(plan: Plan, width: int, verbose: bool = False) -> tuple[str, list[str]]:
    """The heading and the lines of the plan's operations: each on its own (wrapped) when there
    are few or with ``verbose``, else one line per step with its counts, so a plan of a
    hundred files still fits on a screen."""
    ops = plan.operations
    if verbose or len(ops) <= LISTED_OPERATIONS:
        return f"operations ({len(ops)}):", [
            line for op in ops for line in wrap(f"{op.step} {op.op}: {op.describe()}", width, "  ", "      ")]
    from .steps import step as step_of

    lines = []
    for code in dict.fromkeys(op.step for op in ops):
        group = [op for op in ops if op.step == code]
        kinds: dict[str, int] = {}
        for op in group:
            kinds[op.op] = kinds.get(op.op, 0) + 1
        files = {f for op in group for f in op.files()}
        name = step.name if (step := step_of(code)) else ""
        what = ", ".join(f"{n} {kind}" for kind, n in kinds.items() if kind != name)  # not "rewrite-imports" twice
        text = f"{code} {name}: " + (f"{what} in " if what else "") + _plural(len(files), "file")
        moves = [op for op in group if isinstance(op, MoveModels)]
        moved = sum(len(op.classes) for op in moves)
        if moved:
            targets = ", ".join(dict.fromkeys(op.target for op in moves))
            text += f"; {_plural(moved, 'model')} into {targets}"
        lines += wrap(text, width, "  ", "      ")
    return f"operations ({len(ops)}, by step; -v lists each one):", lines


@dataclass(frozen=True)
class Summary:
    bases_before: int
    bases_after: int
    left_apart: int
    files_changed: int
    canonical_lines: int | None
    conflicts_open: int

    def line(self) -> str:
        parts = [f"{self.bases_before} base{'s' if self.bases_before != 1 else ''} -> {self.bases_after}"]
        if self.left_apart:
            parts[0] += f" ({self.left_apart} more left as they are)"
        parts.append(f"{_plural(self.files_changed, 'file')} changed")
        if self.canonical_lines is not None:
            parts.append(f"canonical module ~{self.canonical_lines:,} lines")
        parts.append(f"{_plural(self.conflicts_open, 'conflict')} open")
        return ", ".join(parts)


def summary(plan: Plan) -> Summary:
    merged = plan.merged_bases()
    files = {f for op in plan.operations for f in op.files()}
    return Summary(len(merged), min(len(merged), 1), len(plan.bases) - len(merged), len(files),
                   canonical_lines(plan), len(plan.unresolved))


def canonical_lines(plan: Plan) -> int | None:
    """About how long the canonical module is after the merge: its lines now, plus the classes,
    helpers and imports the moves bring (each with the blank lines between definitions)."""
    if plan.canonical is None:
        return None
    root = Path(plan.root)
    total = _line_count(root / plan.canonical.file)
    if total is None:
        return None
    for op in plan.operations:
        if isinstance(op, MoveModels) and op.target == plan.canonical.file:
            spans = _definition_spans(root / op.source)
            total += len(op.imports) + sum(spans.get(name, 0) + 2 for name in (*op.classes, *op.helpers))
    return total


def _line_count(path: Path) -> int | None:
    try:
        return len(path.read_bytes().splitlines())
    except OSError:
        return None


def _definition_spans(path: Path) -> dict[str, int]:
    try:
        tree = ast.parse(path.read_bytes())
    except (OSError, SyntaxError, ValueError):
        return {}
    spans: dict[str, int] = {}
    for node in tree.body:
        first = min([d.lineno for d in getattr(node, "decorator_list", [])] + [node.lineno])
        size = (node.end_lineno or node.lineno) - first + 1
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            spans[node.name] = size
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for t in node.targets if isinstance(node, ast.Assign) else [node.target]:
                if isinstance(t, ast.Name):
                    spans[t.id] = size
    return spans


# --- a duplicate table, column by column --------------------------------------------------------


def column_cell(col: ColumnDefinition | None) -> str:
    """One column as a short phrase: type, keys, nullability, default, index, unique."""
    if col is None:
        return "-"
    parts = [col.type or "?"]
    if col.attr and col.attr != col.name:
        parts.append(f"attribute {col.attr}")
    if col.primary_key:
        parts.append("primary key")
    if col.foreign_key:
        parts.append(f"FK {col.foreign_key}")
    if str(col.nullable) == "False" and not col.primary_key:
        parts.append("not null")
    if col.default:
        parts.append(f"default {col.default}")
    if col.index:
        parts.append("index")
    if col.unique:
        parts.append("unique")
    return ", ".join(parts)


def duplicate_rows(conflict: Conflict) -> tuple[list[str], list[tuple[str, str, str, str]]] | None:
    """The two definitions of a duplicated table side by side: their headings and, per column,
    (mark, column, first definition, second definition); the mark is ``*`` where they differ
    and ``+`` where only one defines the column. None when the conflict has no definitions."""
    defs = conflict.duplicate.definitions if conflict.duplicate else ()
    if len(defs) != 2:
        return None
    headings = [f"{d.file}:{d.line} {d.class_name}" for d in defs]
    by_name = [{c.name: c for c in d.columns} for d in defs]
    names = list(dict.fromkeys([*by_name[0], *by_name[1]]))
    rows = []
    for name in names:
        a, b = by_name[0].get(name), by_name[1].get(name)
        cells = column_cell(a), column_cell(b)
        mark = "+" if a is None or b is None else ("*" if cells[0] != cells[1] else "")
        rows.append((mark, name, *cells))
    for label, shown in (("__table_args__", lambda d: d.table_args or ""),
                         ("relationships", lambda d: ", ".join(f"{r.attr} -> {r.target or r.secondary}"
                                                               for r in d.relationships)),
                         ("methods", lambda d: ", ".join(d.methods))):
        values = [shown(d) for d in defs]
        if any(values):
            rows.append(("*" if values[0] != values[1] else "", label, values[0] or "-", values[1] or "-"))
    return headings, rows
