"""All the command line prints: the consoles, one sentence on error, lines never read as Rich
markup, the plan (a duplicate table column by column), diffs, verify's checks, apply's progress."""

from __future__ import annotations

import sys
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """Exit with ``code`` after one sentence on stderr (plain text: never read as Rich markup)."""
    if err.is_terminal:
        err.print("[bold red]error:[/] ", end="")
        err.print(message, markup=False)
    else:
        err.print(f"error: {message}", markup=False)
    raise typer.Exit(code)


def count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def lines(text: list[str]) -> None:
    """Print each line as it is (never read as Rich markup)."""
    for line in text:
        out.print(line, markup=False)


def print_conflicts(conflicts, notes: bool = True) -> None:
    """Each conflict: a duplicate table column by column, the others as a wrapped sentence;
    ``notes``: also what to do about an open one."""
    from .screens import duplicate_rows, wrap

    width = out.width
    for c in conflicts:
        status = "[green]resolved[/]" if c.resolution else "[red]NEEDS A DECISION[/]"
        side_by_side = duplicate_rows(c)
        if side_by_side is None:
            # the first line leaves room for the status word; the others use the whole width
            label = "resolved" if c.resolution else "NEEDS A DECISION"
            first, *rest = wrap(f"{c.kind} {c.subject}: {c.detail}", width, " " * (len(label) + 3), "      ")
            out.print(f"  {status} {escape(first.lstrip())}")
            lines(rest)
        else:
            out.print(f"  {status} {escape(f'{c.kind} {c.subject}')}")
            out.print("    two definitions, column by column (* differs, + only one has it):", markup=False)
            print_side_by_side(*side_by_side)
            renames = c.duplicate.suggested_renames if c.duplicate else ()
            if renames:
                lines(wrap("suggested renames: " + ", ".join(f"{r.old} -> {r.new}" for r in renames),
                           width, "    ", "      "))
            note = trailing_note(c.detail)
            if note and notes and not c.resolution:
                label = "to decide" if note.startswith("pass ") else "why it needs a decision"
                if c.duplicate and c.duplicate.decidable:  # one side can win: the resolve dialogue offers it
                    note += "; or decide it in a terminal with `unibase resolve`"
                lines(wrap(f"{label}: {note}", width, "    ", "      "))
        if c.resolution:
            lines(wrap(f"-> {c.resolution}", width, "    ", "       "))


def print_decisions_needed(plan) -> None:
    """The closing sentence (stderr) of a plan with conflicts open, saying where to decide them."""
    n = len(plan.unresolved)
    where = "decisions go in the plan JSON, then `unibase apply --plan PLAN.json`"
    if any(c.duplicate and c.duplicate.decidable for c in plan.unresolved):
        where = "`unibase resolve` decides a duplicated table in a terminal; other " + where
    from .screens import KEEP, wrap

    # the counted words stay on the first line, whole: tests and scripts look for them
    counted = f"conflicts that need a decision: {n};".replace(" ", KEEP)
    for line in wrap(f"{counted} each says what to do ({where}).", err.width, "", "  "):
        err.print(line, markup=False)


def trailing_note(detail: str) -> str:
    """The text of the parenthesised note a conflict's detail ends with (nested parentheses kept)."""
    if not detail.endswith(")"):
        return ""
    depth = 0
    for i in range(len(detail) - 1, -1, -1):
        depth += {")": 1, "(": -1}.get(detail[i], 0)
        if depth == 0:
            return detail[i + 1:-1] if i > 0 and detail[i - 1] == " " else ""
    return ""


def print_side_by_side(headings: list[str], rows) -> None:
    from rich import box

    lines([f"    {'AB'[i]}: {h}" for i, h in enumerate(headings)])
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1), show_edge=False)
    table.add_column("", no_wrap=True)
    table.add_column("column", overflow="fold")
    table.add_column("A", overflow="fold", ratio=1)
    table.add_column("B", overflow="fold", ratio=1)
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    # rendered plain at the output's width, then printed without the cells' trailing padding
    console = Console(width=max(out.width - 4, 40), highlight=False, color_system=None)
    with console.capture() as captured:
        console.print(table)
    lines(["    " + line.rstrip() for line in captured.get().splitlines()])


def wrap_plain(text: str) -> list[str]:
    from .screens import wrap

    return [line for part in text.split("\n") for line in (wrap(part, out.width) if part else [""])]


def print_plan(plan, quiet: bool = False, verbose: bool = False) -> None:
    """The plan as a person reads it, at any width and in a pipe: one block per base (no path is
    ever cut), wrapped lists, conflicts column by column, and a closing summary line."""
    from .screens import base_block, cross_reference, operation_lines, summary, wrap

    width = out.width
    if not quiet:
        if plan.roots:
            roots = ", ".join(f"{r.path} ({r.imports} import{'s' if r.imports != 1 else ''})" for r in plan.roots)
            lines(wrap(f"import roots: {roots}", width))
        out.print(f"[bold]Declarative bases[/] ({len(plan.bases)}):")
        for b in plan.bases:
            lines(base_block(b, width, verbose))
        if plan.canonical:
            c = plan.canonical
            lines(wrap(f"canonical: {c.name} in {c.file} ({c.module})", width))
        if plan.cross_references:
            out.print("\n[bold]cross-base references[/] (broken until merged):")
            for r in plan.cross_references:
                lines(wrap(cross_reference(plan, r), width, "  ", "      "))
        heading, op_lines = operation_lines(plan, width, verbose)
        out.print("\n[bold]operations[/]" + escape(heading.removeprefix("operations")))
        lines(op_lines)
    conflicts = plan.unresolved if quiet else plan.conflicts
    if conflicts:
        out.print(f"\n[bold]conflicts[/] ({len(conflicts)}):")
        print_conflicts(conflicts)
    if plan.warnings and not quiet:
        out.print(f"\n[bold]warnings[/] ({len(plan.warnings)}):")
        for w in plan.warnings:
            where = f"{w.file}:{w.line}: " if w.file and w.line else (f"{w.file}: " if w.file else "")
            lines(wrap(f"{w.code} {where}{w.message}", width, "  ", "      "))
    if plan.bases:
        if not quiet:
            out.print("")
        lines(wrap(summary(plan).line(), width))

def print_diff(text: str) -> None:
    """A unified diff, coloured in a terminal, as it is in a pipe."""
    if not out.is_terminal:
        sys.stdout.write(text)
        return
    for line in text.splitlines():
        style = None
        if line.startswith(("+++", "---", "diff --git")):
            style = "bold"
        elif line.startswith("+"):
            style = "green"
        elif line.startswith("-"):
            style = "red"
        elif line.startswith("@@"):
            style = "cyan"
        out.print(line, style=style, markup=False)

def print_checks(report, quiet: bool = False) -> None:
    """Each check of a verify report, coloured by status (with ``quiet``, only the failures)."""
    colours = {"pass": "green", "fail": "red", "pre-existing": "yellow", "skipped": "dim"}
    for check in report.checks:
        if quiet and check.status != "fail":
            continue
        from .screens import wrap

        first, *more = (check.detail or "").split("\n")
        head, *rest = wrap(f"{check.status} {check.name}" + (f": {first}" if first else ""), out.width, "", "    ")
        colour = colours.get(check.status, "white")
        out.print(f"[{colour}]{check.status}[/]" + escape(head[len(check.status):]))
        lines(rest + more)  # the rest of a long detail (a test run's output) as it came

def progress(line: str) -> None:
    """One line of apply's progress (a phase committed, a verification stage), wrapped."""
    from .screens import wrap

    for part in wrap(line, out.width, "", "    "):
        out.print(part, markup=False, style="dim" if out.is_terminal else None)
