"""``unibase resolve``: decide each duplicated table in a terminal, and keep the decisions.

A table two merged bases define differently needs a person to say which definition wins.
For each such conflict of the plan, the dialogue shows both definitions column by column,
asks for the winner, for each suggested column rename, and for the mode (``union``: the
winner gains the other definition's extra columns; ``keep``: it does not), then plans again
with that decision and shows what it does: the planner's account, the merged class as apply
will write it, and the migration. Accepted decisions are written under
``[tool.unibase.decisions.TABLE]`` in ``pyproject.toml`` (what :mod:`unibase.settings` reads),
so they survive re-planning and are committed and reviewed like code.

What it does not do: edit a ``pyproject.toml`` whose decisions are written in another TOML
form (an inline table); it then prints the lines to add by hand and writes nothing.
"""

from __future__ import annotations

import ast
import json
import os
import re
import tempfile
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from .decisions import DuplicateDecision, DuplicateTable, TableDefinition
from .plan import Conflict, Plan, WriteMigration
from .settings import Settings, TableDecision

NO_TTY = ("resolve asks questions and needs a terminal; without one, pass --prefer FILE (with --mode and "
          "--no-renames) to plan and apply, or write the decision under [tool.unibase.decisions.TABLE] in "
          "pyproject.toml")


class ResolveError(ValueError):
    """The decisions cannot be written safely; the message says what to do instead."""


# --- what a conflict offers ---------------------------------------------------------------------


def duplicate_conflicts(plan: Plan) -> list[Conflict]:
    """The conflicts of tables two bases define differently, each with two definitions."""
    return [c for c in plan.conflicts if c.duplicate is not None and len(c.duplicate.definitions) == 2]


def decidable(conflict: Conflict) -> bool:
    """False when the plan offers no decision (both definitions are on bases being merged)."""
    return conflict.duplicate is not None and conflict.duplicate.decidable


def _other(options: DuplicateTable, winner: TableDefinition) -> TableDefinition:
    return next(d for d in options.definitions if d is not winner)


def applicable_renames(options: DuplicateTable, winner: TableDefinition) -> list[tuple[str, str]]:
    """The suggested renames (a column of the other definition that is the winner's, renamed)
    that apply when ``winner`` wins: the new name is the winner's column, the old one the other's."""
    winner_cols, loser_cols = set(winner.column_attrs()), set(_other(options, winner).column_attrs())
    return [(r.old, r.new) for r in options.suggested_renames if r.old in loser_cols and r.new in winner_cols]


def gained_columns(options: DuplicateTable, winner: TableDefinition, renames: list[tuple[str, str]]) -> list[str]:
    """The columns of the other definition the winner lacks (after the renames): what union adds."""
    winner_cols = set(winner.column_attrs())
    renamed = {old for old, _ in renames}
    return [a for a in _other(options, winner).column_attrs() if a not in winner_cols and a not in renamed]


def with_decision(settings: Settings, decision: TableDecision) -> Settings:
    """``settings`` whose decision for ``decision.table`` is ``decision`` (the others kept)."""
    others = tuple(d for d in settings.decisions if d.table != decision.table)
    return replace(settings, decisions=(decision, *others))


def conflict_for(plan: Plan, table: str) -> Conflict | None:
    return next((c for c in duplicate_conflicts(plan) if c.subject == table), None)


# --- the preview: the merged class and the migration --------------------------------------------


@dataclass(frozen=True)
class Preview:
    conflict: Conflict | None  # the table's conflict in the plan made with the decision
    merged_class: str | None  # the winner's class as apply writes it
    merged_file: str | None
    original_class: str | None  # the winner's class as it is now
    migration_file: str | None
    migration: tuple[str, ...]  # what the migration does to the table (its docstring's account)
    problem: str | None = None  # why apply could not compute the preview


def preview(plan: Plan, table: str, winner: str) -> Preview:
    """What apply would write for ``table`` under ``plan``: the winning class (``file:Class``)
    after every phase, and the migration's account of the table."""
    from .runner import ApplyError, compute_phases

    conflict = conflict_for(plan, table)
    migration_file, migration = _migration(plan, table)
    file, name = winner.rsplit(":", 1)
    try:
        original = _class_source((Path(plan.root) / file).read_bytes(), name, table)
    except OSError:
        original = None
    try:
        phases = compute_phases(Path(plan.root), plan)
    except ApplyError as exc:
        return Preview(conflict, None, None, original, migration_file, migration, str(exc))
    final: dict[str, bytes] = {}
    for phase in phases:
        final.update((c.path, c.after) for c in phase.changes)
    # the class keeps its file unless a move took it: look there first, then in every file changed
    order = [file] + sorted(f for f in final if f != file)
    for path in order:
        data = final.get(path)
        if data is None:
            try:
                data = (Path(plan.root) / path).read_bytes()
            except OSError:
                continue
        source = _class_source(data, name, table)
        if source is not None:
            return Preview(conflict, source, path, original, migration_file, migration)
    return Preview(conflict, None, None, original, migration_file, migration)


def _class_source(data: bytes, name: str, table: str) -> str | None:
    text = data.decode("utf-8", errors="replace")
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == name and _maps(node, table):
            first = min([d.lineno for d in node.decorator_list] + [node.lineno])
            return "\n".join(text.splitlines()[first - 1:node.end_lineno])
    return None


def _maps(node: ast.ClassDef, table: str) -> bool:
    for stmt in node.body:
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target] if isinstance(stmt, ast.AnnAssign) else []
        value = getattr(stmt, "value", None)
        if any(isinstance(t, ast.Name) and t.id == "__tablename__" for t in targets):
            return isinstance(value, ast.Constant) and value.value == table
    return False


def _migration(plan: Plan, table: str) -> tuple[str | None, tuple[str, ...]]:
    """The migration file of the plan and its account of what it does to ``table``."""
    from .report import migration_account

    op = next((op for op in plan.operations if isinstance(op, WriteMigration)), None)
    return (op.file, migration_account(op.content, table)) if op else (None, ())


# --- pyproject.toml -------------------------------------------------------------------------------


def toml_section(decision: TableDecision) -> str:
    """``[tool.unibase.decisions.TABLE]`` with the decision's keys, as settings.py reads them."""
    key = decision.table if re.fullmatch(r"[A-Za-z0-9_-]+", decision.table) else json.dumps(decision.table)
    lines = [f"[tool.unibase.decisions.{key}]", f"winner = {json.dumps(decision.winner)}",
             f"mode = {json.dumps(decision.mode)}"]
    renames = ", ".join(f"[{json.dumps(a)}, {json.dumps(b)}]" for a, b in decision.renames)
    lines.append(f"renames = [{renames}]")
    return "\n".join(lines) + "\n"


_HEADER = re.compile(r"^\s*\[(?!\[)(?P<key>[^\]]*)\]\s*(#.*)?$")


def _header_path(line: str) -> tuple[str, ...] | None:
    """The key path of a ``[table]`` header line, or None when the line is not one."""
    m = _HEADER.match(line.rstrip("\r\n"))
    if not m:
        return None
    try:
        data = tomllib.loads(f"[{m['key']}]\n")
    except tomllib.TOMLDecodeError:
        return None
    path: list[str] = []
    while isinstance(data, dict) and len(data) == 1:
        key, data = next(iter(data.items()))
        path.append(key)
    return tuple(path)


def with_decisions(text: str, decisions: list[TableDecision]) -> str:
    """``text`` (a pyproject.toml) with a ``[tool.unibase.decisions.TABLE]`` section per decision:
    an existing section of that table is replaced, a new one appended. Raises ``ResolveError``
    when the result would not mean exactly the old file plus these decisions."""
    tables = {d.table for d in decisions}
    newline = "\r\n" if "\r\n" in text else "\n"
    kept: list[str] = []
    dropping = False
    for line in text.splitlines(keepends=True):
        path = _header_path(line) if line.lstrip().startswith("[") else None
        if path is not None:
            dropping = len(path) == 4 and path[:3] == ("tool", "unibase", "decisions") and path[3] in tables
        if not dropping:
            kept.append(line)
    result = "".join(kept).rstrip() + newline
    if result.strip():
        result += newline
    result += newline.join(toml_section(d).rstrip("\n") + newline for d in decisions)
    expected = _parse(text)
    decided = expected.setdefault("tool", {}).setdefault("unibase", {}).setdefault("decisions", {})
    for d in decisions:
        decided[d.table] = {"winner": d.winner, "mode": d.mode, "renames": [list(r) for r in d.renames]}
    try:
        ok = tomllib.loads(result) == expected
    except tomllib.TOMLDecodeError:
        ok = False
    if not ok:
        raise ResolveError("pyproject.toml keeps its decisions in a form resolve does not edit (an inline "
                           "table); add these lines to it by hand:\n\n" + "\n".join(toml_section(d) for d in decisions))
    return result


def _parse(text: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ResolveError(f"pyproject.toml is not valid TOML ({exc}); fix it and run resolve again") from exc


def write_decisions(root: Path, decisions: list[TableDecision]) -> Path:
    """Write ``decisions`` into ``root/pyproject.toml`` (created if missing), atomically."""
    pyproject = root / "pyproject.toml"
    try:
        text = pyproject.read_bytes().decode("utf-8") if pyproject.exists() else ""
    except (OSError, UnicodeDecodeError) as exc:
        raise ResolveError(f"cannot read {pyproject} ({exc}); fix it and run resolve again") from exc
    new = with_decisions(text, decisions)
    fd, tmp = tempfile.mkstemp(prefix=".pyproject.", suffix=".unibase-tmp", dir=root)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(new.encode("utf-8"))
        if pyproject.exists():
            os.chmod(tmp, pyproject.stat().st_mode & 0o7777)
        os.replace(tmp, pyproject)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ResolveError(f"cannot write {pyproject} ({exc.strerror}); nothing was changed") from exc
    return pyproject


# --- the dialogue -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dialogue:
    """The terminal: ``say`` prints lines, ``show`` prints a conflict column by column, ``ask``
    returns one of ``choices`` (the default on an empty answer)."""

    say: Callable[[list[str]], None]
    show: Callable[[Conflict], None]
    ask: Callable[[str, list[str], str], str]
    width: int


def decide(settings: Settings, plan: Plan, io: Dialogue, replan: Callable[[Settings], Plan]) -> list[TableDecision]:
    """Ask about every duplicated table of ``plan``; return the decisions the user accepted."""
    from .output import trailing_note
    from .screens import wrap

    conflicts = duplicate_conflicts(plan)
    accepted: list[TableDecision] = []
    for n, conflict in enumerate(conflicts, 1):
        io.say(["", f"table {conflict.subject} ({n} of {len(conflicts)}):"])
        io.show(conflict)
        if not decidable(conflict):
            io.say(wrap("resolve cannot decide this table: " + trailing_note(conflict.detail), io.width, "  ", "    "))
            continue
        current = conflict.duplicate.decision
        while True:
            decision = _ask_decision(conflict, current, io)
            if decision is None:
                io.say(["  left undecided"])
                break
            settings = with_decision(settings, decision)
            shown = preview(replan(settings), conflict.subject, decision.winner)
            if shown.conflict is None or shown.conflict.resolution is None:
                why = trailing_note(shown.conflict.detail) if shown.conflict else "the table is no longer in conflict"
                io.say(wrap(f"this decision does not settle {conflict.subject}: {why}", io.width, "  ", "    "))
                current = None
                continue
            _show_preview(shown, io)
            io.say(["  y writes it to pyproject.toml, n leaves the table undecided, c chooses again"])
            answer = io.ask("keep this decision?", ["y", "n", "c"], "y")
            if answer == "y":
                accepted.append(decision)
                break
            if answer == "n":
                settings = replace(settings, decisions=tuple(d for d in settings.decisions if d.table != decision.table))
                io.say(["  left undecided"])
                break
            current = DuplicateDecision.of(decision)
    return accepted


def _ask_decision(conflict: Conflict, current: DuplicateDecision | None, io: Dialogue) -> TableDecision | None:
    from .screens import wrap

    options = conflict.duplicate
    definitions = options.definitions
    ids = [d.id for d in definitions]
    default = "AB"[ids.index(current.winner)] if current and current.winner in ids else "A"
    io.say(wrap(f"which definition wins? A keeps {ids[0]}, B keeps {ids[1]}, s leaves the table undecided",
                io.width, "  ", "    "))
    answer = io.ask("winner", ["A", "B", "s"], default)
    if answer == "s":
        return None
    winner = definitions["AB".index(answer)]
    renames = []
    confirmed = list(current.renames) if current else []
    for old, new in applicable_renames(options, winner):
        was = (old, new) in confirmed or not current
        io.say(wrap(f"suggested rename: {old} -> {new} (the other definition's {old} is {new}: its uses are renamed "
                    f"and the migration renames the column)", io.width, "  ", "    "))
        if io.ask(f"rename {old} -> {new}?", ["y", "n"], "y" if was else "n") == "y":
            renames.append((old, new))
    gained = gained_columns(options, winner, renames)
    other = "B" if answer == "A" else "A"
    union = f"union: {answer} also gets {', '.join(gained)} from {other}" if gained else \
        f"union: {answer} gets nothing more from {other} but its other members"
    io.say(wrap(f"mode? {union}; keep: only {answer}'s columns (uses of the others are marked for review)",
                io.width, "  ", "    "))
    mode = io.ask("mode", ["union", "keep"], (current.mode if current else None) or "union")
    return TableDecision(conflict.subject, winner.id, mode, tuple(renames))


def _show_preview(shown: Preview, io: Dialogue) -> None:
    from .screens import wrap

    io.say([""] + wrap(f"-> {shown.conflict.resolution}", io.width, "  ", "     "))
    if shown.merged_class:
        io.say([""] + wrap(f"the merged class, in {shown.merged_file} (+ added, - removed):", io.width, "  ", "    ")
               + [part for line in _marked(shown.original_class or "", shown.merged_class)
                  for part in fold_code(line, io.width, "  ")])
    elif shown.problem:
        io.say(wrap(f"no preview of the merged class: {shown.problem}", io.width, "  ", "    "))
    if shown.migration_file:
        io.say([""] + wrap(f"the migration, {shown.migration_file}:", io.width, "  ", "    "))
        for line in shown.migration or ("  (nothing for this table)",):
            indent = "  " + line[:len(line) - len(line.lstrip())]
            io.say(wrap(line.strip(), io.width, indent))
    io.say([""])


def fold_code(line: str, width: int, prefix: str = "") -> list[str]:
    """A diff line (``+ ``, ``- `` or two spaces, then the code) shown after ``prefix`` within
    ``width``: as it is when it fits, else cut (between words when it can) into pieces that end
    with `` \\`` and go on one level deeper than the code."""
    if len(prefix + line) <= width:
        return [prefix + line]
    import textwrap

    code = line[2:]
    indent = " " * (len(prefix) + 2) + code[:len(code) - len(code.lstrip())] + "    "
    pieces = textwrap.wrap(prefix + line, width=max(width, 40) - 2, subsequent_indent=indent,
                           break_on_hyphens=False, replace_whitespace=False)
    return [p + " \\" for p in pieces[:-1]] + pieces[-1:]


def _marked(before: str, after: str) -> list[str]:
    """``after`` line by line, each added line marked ``+``, with ``before``'s removed lines as ``-``."""
    import difflib

    return [line.rstrip() for line in difflib.ndiff(before.splitlines(), after.splitlines())
            if not line.startswith("? ")]


# --- the command ------------------------------------------------------------------------------------


def run(path: Path, target: str | None, merge: list[str], separate: list[str]) -> None:
    """The whole of ``unibase resolve`` (see its help): refuse without a terminal, ask, write."""
    import sys

    import click
    import typer

    from .cli_inputs import make_plan, settings_for
    from .output import count, err, fail, lines, out, print_conflicts, wrap_plain
    from .screens import summary

    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        fail(NO_TTY)
    settings = settings_for(path, target=target, merge=merge, separate=separate)
    the_plan = make_plan(settings)
    if not duplicate_conflicts(the_plan):
        out.print("no table is defined differently by two bases: nothing to decide", markup=False)
        return
    io = Dialogue(say=lines, show=lambda c: print_conflicts([c], notes=False), ask=_ask, width=out.width)
    try:
        accepted = decide(settings, the_plan, io, lambda s: make_plan(s, quiet=True))
    except click.exceptions.Abort:
        err.print("\ninterrupted: nothing was written", markup=False)
        raise typer.Exit(130) from None
    if accepted:
        try:
            pyproject = write_decisions(settings.root, accepted)
        except ResolveError as exc:
            fail(str(exc))
        tables = ", ".join(d.table for d in accepted)
        lines(wrap_plain(f"\n{count(len(accepted), 'decision')} written to {pyproject} ({tables}); commit it so the "
                         "decisions are reviewed with the code, then run `unibase apply`."))
        settings = settings_for(path, target=target, merge=merge, separate=separate)  # as plan and apply read them
        the_plan = make_plan(settings, quiet=True)
    else:
        out.print("\nno decision written", markup=False)
    lines(wrap_plain(summary(the_plan).line()))
    if the_plan.unresolved:
        raise typer.Exit(1)


def _ask(question: str, choices: list[str], default: str) -> str:
    import click

    return click.prompt(f"  {question}", type=click.Choice(choices, case_sensitive=False), default=default,
                        show_choices=True)
