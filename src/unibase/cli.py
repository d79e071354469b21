"""The command line: a thin Typer layer over :mod:`unibase.api`. All printing lives here."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn, Optional

import typer
from rich.console import Console
from rich.table import Table

from . import api
from .plan import Plan, PlanFormatError
from .planner import PlanError
from .settings import SettingsError, load_settings

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Merge the declarative bases of a SQLAlchemy project into one, reviewably and provably.",
)

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

PathArg = typer.Argument(Path("."), help="The project directory (default: the current directory).")

BAD_INPUT_ERRORS = (SettingsError, PlanError, PlanFormatError)


def fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}" if err.is_terminal else f"error: {message}")
    raise typer.Exit(code)


def _settings(path: Path, **overrides):
    try:
        return load_settings(path, **overrides)
    except SettingsError as exc:
        fail(str(exc))


def _plan(settings) -> Plan:
    try:
        if out.is_terminal:
            from rich.progress import Progress

            with Progress(transient=True, console=err) as progress:
                task = progress.add_task("scanning", total=None)
                return api.plan_project(settings, lambda i, n: progress.update(task, completed=i, total=n))
        return api.plan_project(settings)
    except BAD_INPUT_ERRORS as exc:
        fail(str(exc))


def print_plan(plan: Plan) -> None:
    canonical = plan.canonical
    table = Table(title="Declarative bases", show_lines=False)
    for col in ("role", "base", "where", "kind", "models", "importers"):
        table.add_column(col)
    for b in plan.bases:
        table.add_row(b.role, b.name, f"{b.file}:{b.line}", b.kind, str(len(b.models)), str(b.importers))
    out.print(table)
    if canonical:
        out.print(f"canonical: [bold]{canonical.name}[/] in {canonical.file} ({canonical.module})")
    for b in plan.bases:
        if b.models:
            names = ", ".join(m.name + (f" ({m.table})" if m.table else "") for m in b.models)
            out.print(f"  {b.file}:{b.name}: {names}")
    if plan.cross_references:
        out.print("\n[bold]cross-base references[/] (broken until merged):")
        for r in plan.cross_references:
            out.print(f"  {r.file}:{r.line}: {r.kind} {r.source} -> {r.target} ({r.from_base} -> {r.to_base})")
    out.print(f"\n[bold]operations[/] ({len(plan.operations)}):")
    for op in plan.operations:
        out.print(f"  {op.step} {op.op}: {describe(op)}")
    if plan.conflicts:
        out.print(f"\n[bold]conflicts[/] ({len(plan.conflicts)}):")
        for c in plan.conflicts:
            status = "[green]resolved[/]" if c.resolution else "[red]NEEDS A DECISION[/]"
            out.print(f"  {status} {c.kind} {c.subject}: {c.detail}")
            if c.resolution:
                out.print(f"      -> {c.resolution}")
    if plan.warnings:
        out.print(f"\n[bold]warnings[/] ({len(plan.warnings)}):")
        for w in plan.warnings:
            where = f"{w.file}:{w.line}: " if w.file and w.line else (f"{w.file}: " if w.file else "")
            out.print(f"  {w.code} {where}{w.message}")


def describe(op) -> str:
    from . import plan as p

    if isinstance(op, p.MoveModels):
        extra = f" with {', '.join(op.helpers)}" if op.helpers else ""
        drop = f"; drop duplicates {', '.join(a for a, _ in op.drop)}" if op.drop else ""
        return f"move {', '.join(op.classes) or 'nothing'}{extra} from {op.source} into {op.target}; shim {op.source}{drop}"
    if isinstance(op, p.RebaseBase):
        return f"{op.file}: {op.name} becomes an import of {op.target}:{op.target_name}"
    if isinstance(op, p.RewriteImports):
        mods = ", ".join(sorted({s.module or "." for s in op.spellings}))
        return f"{op.file}: imports from {mods}"
    if isinstance(op, p.RewriteStrings):
        return f"{op.file}: " + ", ".join(f"{a} -> {b}" for a, b in op.replacements)
    if isinstance(op, p.CollapseMetadataCalls):
        return f"{op.file}: {op.calls} redundant metadata call(s) on {', '.join(op.names)}"
    return ""


@app.command()
def plan(
    path: Path = PathArg,
    target: Optional[str] = typer.Option(None, "--target", help="FILE[:NAME] of the base to keep."),
    strategy: Optional[str] = typer.Option(None, "--strategy", help="move (default) or rebase."),
    json_: bool = typer.Option(False, "--json", help="Print the plan as JSON and nothing else."),
    out_file: Optional[Path] = typer.Option(None, "--out", help="Write the plan JSON to this file."),
) -> None:
    """Show every base, model, cross-base reference, operation and risk; change nothing."""
    settings = _settings(path, target=target, strategy=strategy)
    the_plan = _plan(settings)
    if out_file is not None:
        out_file.write_text(the_plan.to_json(), encoding="utf-8")
    if json_:
        sys.stdout.write(the_plan.to_json())
    else:
        print_plan(the_plan)
        if out_file is not None:
            out.print(f"\nplan written to {out_file}")
    if the_plan.unresolved:
        if not json_:
            err.print(
                f"{len(the_plan.unresolved)} conflict(s) need a decision: edit the plan JSON "
                "(or pass --prefer) and run `unibase apply --plan PLAN.json`."
            )
        raise typer.Exit(1)


@app.command()
def check(path: Path = PathArg) -> None:
    """Fail (exit 1) while more than one declarative base is in scope: a CI / pre-commit gate."""
    settings = _settings(path)
    findings = api.check_plan(_plan(settings))
    for f in findings:
        out.print(f"{f.file}:{f.line}: {f.message}")
    if findings:
        err.print(f"{len(findings) + 1} declarative bases are in scope; run `unibase plan` to see how to merge them.")
        raise typer.Exit(1)
    out.print("one declarative base in scope")


def main() -> None:
    app()
