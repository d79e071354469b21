"""The command line: a thin Typer layer over :mod:`unibase.api`. All printing lives here."""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import NoReturn, Optional

import typer
from rich.console import Console
from rich.markup import escape
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

MergeOpt = typer.Option([], "--merge", help="FILE[:NAME] of a base to merge whatever the evidence says; repeatable.")
SeparateOpt = typer.Option([], "--separate", help="FILE[:NAME] of a base to leave alone (another database); repeatable.")
PathArg = typer.Argument(Path("."), help="The project directory (default: the current directory).")

BAD_INPUT_ERRORS = (SettingsError, PlanError, PlanFormatError)


def fail(message: str, code: int = 2) -> NoReturn:
    """Exit with ``code`` after one sentence on stderr (plain text: never read as Rich markup)."""
    if err.is_terminal:
        err.print("[bold red]error:[/] ", end="")
        err.print(message, markup=False)
    else:
        err.print(f"error: {message}", markup=False)
    raise typer.Exit(code)


def reports_interrupt(command):
    """Ctrl-C ends the command with exit 130 and one line saying what was left (no traceback)."""

    @functools.wraps(command)
    def run(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except KeyboardInterrupt as exc:
            left = str(exc) if isinstance(exc, api.Interrupted) else "nothing was changed"
            err.print(f"interrupted: {left}", markup=False)
            raise typer.Exit(130) from None

    return run


def _write(path: Path, text: str, what: str) -> None:
    try:
        path.write_text(text, encoding="utf-8", errors="surrogateescape")
    except OSError as exc:
        fail(f"cannot write the {what} to {path} ({exc.strerror}); pass a path in an existing, writable directory")


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
    if plan.roots:
        roots = ", ".join(f"{r.path} ({r.imports} import{'s' if r.imports != 1 else ''})" for r in plan.roots)
        out.print(f"import roots: {roots}", markup=False)
    table = Table(title="Declarative bases", show_lines=False)
    for col in ("role", "base", "where", "kind", "models", "importers", "evidence"):
        table.add_column(col, overflow="fold")
    for b in plan.bases:
        table.add_row(b.role, b.name, f"{b.file}:{b.line}", b.kind, str(len(b.models)), str(b.importers),
                      escape("\n".join(b.evidence)))
    out.print(table)
    if canonical:
        out.print(f"canonical: [bold]{escape(canonical.name)}[/] in {escape(canonical.file)} ({escape(canonical.module)})")
    for b in plan.bases:
        if b.models:
            names = ", ".join(m.name + (f" ({m.table})" if m.table else "") for m in b.models)
            out.print(f"  {b.file}:{b.name}: {names}", markup=False)
    if plan.cross_references:
        out.print("\n[bold]cross-base references[/] (broken until merged):")
        for r in plan.cross_references:
            out.print(f"  {r.file}:{r.line}: {r.kind} {r.source} -> {r.target} ({r.from_base} -> {r.to_base})", markup=False)
    out.print(f"\n[bold]operations[/] ({len(plan.operations)}):")
    for op in plan.operations:
        out.print(f"  {op.step} {op.op}: {describe(op)}", markup=False)
    if plan.conflicts:
        out.print(f"\n[bold]conflicts[/] ({len(plan.conflicts)}):")
        for c in plan.conflicts:
            status = "[green]resolved[/]" if c.resolution else "[red]NEEDS A DECISION[/]"
            out.print(f"  {status} {escape(f'{c.kind} {c.subject}: {c.detail}')}")
            if c.resolution:
                out.print(f"      -> {c.resolution}", markup=False)
    if plan.warnings:
        out.print(f"\n[bold]warnings[/] ({len(plan.warnings)}):")
        for w in plan.warnings:
            where = f"{w.file}:{w.line}: " if w.file and w.line else (f"{w.file}: " if w.file else "")
            out.print(f"  {w.code} {where}{w.message}", markup=False)


def describe(op) -> str:
    from . import plan as p

    if isinstance(op, p.MoveModels):
        extra = f" with {', '.join(op.helpers)}" if op.helpers else ""
        extra += f" (copying module state {', '.join(op.copied)})" if op.copied else ""
        drop = f"; drop duplicates {', '.join(d[0] for d in op.drop)}" if op.drop else ""
        return f"move {', '.join(op.classes) or 'nothing'}{extra} from {op.source} into {op.target}; shim {op.source}{drop}"
    if isinstance(op, p.MergeDuplicate):
        return f"{op.file}: {op.class_name} gains {len(op.statements)} member(s) of the deleted {op.table} definition"
    if isinstance(op, p.RenameColumnUses):
        return f"{op.file}: " + ", ".join(f"{a} -> {b}" for a, b in op.renames) + (
            f"; review {', '.join(a for a, _ in op.todo_attributes)}" if op.todo_attributes else "")
    if isinstance(op, p.WriteMigration):
        return f"write {op.file}"
    if isinstance(op, p.ExtractBase):
        return f"{op.file}: name the anonymous base of {op.class_name} {op.new_name}"
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
@reports_interrupt
def plan(
    path: Path = PathArg,
    target: Optional[str] = typer.Option(None, "--target", help="FILE[:NAME] of the base to keep."),
    strategy: Optional[str] = typer.Option(None, "--strategy", help="move (default) or rebase."),
    json_: bool = typer.Option(False, "--json", help="Print the plan as JSON and nothing else."),
    out_file: Optional[Path] = typer.Option(None, "--out", help="Write the plan JSON to this file."),
    prefer: list[str] = typer.Option([], "--prefer", help="FILE or MODULE whose definition of a duplicated table wins; repeatable."),
    merge: list[str] = MergeOpt,
    separate: list[str] = SeparateOpt,
) -> None:
    """Show every base, model, cross-base reference, operation and risk; change nothing."""
    settings = _settings(path, target=target, strategy=strategy, prefer=prefer, merge=merge, separate=separate)
    the_plan = _plan(settings)
    if out_file is not None:
        _write(out_file, the_plan.to_json(), "plan")
    if json_:
        sys.stdout.write(the_plan.to_json())
    else:
        print_plan(the_plan)
        if out_file is not None:
            out.print(f"\nplan written to {out_file}", markup=False)
    if not api.bases_under(the_plan):
        (err if json_ else out).print(f"no declarative base found under {path}", markup=False)
    if the_plan.unresolved:
        # on stderr, so also with --json: stdout stays JSON only
        err.print(
            f"{len(the_plan.unresolved)} conflict(s) need a decision; each says what to do "
            "(decisions go in the plan JSON, then `unibase apply --plan PLAN.json`).",
            markup=False,
        )
        raise typer.Exit(1)


@app.command()
@reports_interrupt
def check(path: Path = PathArg) -> None:
    """Fail (exit 1) while more than one declarative base is in scope: a CI / pre-commit gate."""
    settings = _settings(path)
    the_plan = _plan(settings)
    if not api.bases_under(the_plan):
        out.print(f"no declarative base found under {path}", markup=False)
        return
    findings = api.check_plan(the_plan)
    for f in findings:
        out.print(f"{f.file}:{f.line}: {f.message}", markup=False)
    separate = [f for f in findings if f.code == "base"]
    if separate:
        err.print(f"{len(separate) + 1} declarative bases are in scope; run `unibase plan` to see how to merge them.")
        raise typer.Exit(1)
    if findings:
        err.print(f"{len(findings)} possible declarative base(s) not understood, so one base in scope is not proven; "
                  "make them plain `declarative_base()` or `DeclarativeBase` subclasses, or exclude their files.")
        raise typer.Exit(1)
    out.print("one declarative base in scope")


def _load_plan(settings, plan_file: Optional[Path]) -> Plan:
    if plan_file is None:
        return _plan(settings)
    try:
        text = plan_file.read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"cannot read the plan {plan_file} ({exc.strerror}); pass the path of a plan written by `unibase plan --out`")
    try:
        the_plan = Plan.from_json(text)
    except PlanFormatError as exc:
        fail(f"{plan_file}: {exc}; write a fresh one with `unibase plan --out`")
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        fail(f"{plan_file}: the plan is malformed ({type(exc).__name__}: {exc}); write a fresh one with `unibase plan --out`")
    if not isinstance(the_plan.root, str):
        fail(f"{plan_file}: the plan's root is not a path; write a fresh one with `unibase plan --out`")
    if Path(the_plan.root).resolve() != settings.root:
        fail(f"the plan {plan_file} was made for {the_plan.root}, not {settings.root}; plan this project again")
    return the_plan


def git_errors() -> tuple[type[BaseException], ...]:
    import git

    return (git.GitCommandError,)


def _git_message(exc) -> str:
    lines = [line.strip() for line in str(getattr(exc, "stderr", "") or exc).splitlines() if line.strip()]
    return (lines[-1] if lines else type(exc).__name__).removeprefix("stderr: ").strip("'")


def print_diff(text: str) -> None:
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


@app.command()
@reports_interrupt
def apply(
    path: Path = PathArg,
    plan_file: Optional[Path] = typer.Option(None, "--plan", help="Apply this plan JSON instead of planning now."),
    branch: Optional[str] = typer.Option(None, "--branch", help="Branch to create (default: unibase/merge-bases)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the full diff, phase by phase; write nothing."),
    diff_out: Optional[Path] = typer.Option(None, "--diff-out", help="With --dry-run: write a patch `git apply` accepts."),
    no_verify: bool = typer.Option(False, "--no-verify", help="Do not run `unibase verify` after applying."),
    no_git: bool = typer.Option(False, "--no-git", help="Write in place in a directory that is not a git repository."),
    target: Optional[str] = typer.Option(None, "--target", help="FILE[:NAME] of the base to keep (when planning now)."),
    strategy: Optional[str] = typer.Option(None, "--strategy", help="move (default) or rebase (when planning now)."),
    skip: list[str] = typer.Option([], "--skip", help="Skip a step by code (UB001-UB006); repeatable."),
    prefer: list[str] = typer.Option([], "--prefer", help="FILE or MODULE whose definition of a duplicated table wins; repeatable."),
    merge: list[str] = MergeOpt,
    separate: list[str] = SeparateOpt,
) -> None:
    """Apply the plan: one commit per phase on a new branch, or the full diff with --dry-run."""
    from . import gitops, runner
    from .steps import STEP_CODES

    for code in skip:
        if code.upper() not in STEP_CODES:
            fail(f"unknown step {code}; the steps are {', '.join(STEP_CODES)}")
    settings = _settings(path, target=target, strategy=strategy, skip=[s.upper() for s in skip], prefer=prefer,
                         merge=merge, separate=separate)
    the_plan = _load_plan(settings, plan_file)
    if plan_file is not None and api.plan_needs_replanning(the_plan):
        # decisions written into the plan JSON: plan again with them (after checking freshness)
        from dataclasses import replace

        from . import runner as runner_mod

        try:
            decisions = api.decisions_from_plan(the_plan)
            if decisions:
                runner_mod.check_fresh(settings.root, the_plan)
                settings = replace(settings, decisions=decisions)
                the_plan = _plan(settings)
        except (PlanFormatError, runner_mod.ApplyError) as exc:
            fail(str(exc))
    if the_plan.unresolved:
        for c in the_plan.unresolved:
            out.print(f"  {c.kind} {c.subject}: {c.detail}", markup=False)
        err.print(
            f"{len(the_plan.unresolved)} conflict(s) need a decision; each says what to do "
            "(decisions go in the plan JSON, then `unibase apply --plan PLAN.json`)."
        )
        raise typer.Exit(1)
    if no_git and not dry_run and gitops.open_repo(settings.root) is not None:
        fail("--no-git writes in place, but this project is in a git repository; drop --no-git to work on a branch")
    try:
        result = api.apply_plan(
            settings, the_plan, branch=branch, dry_run=dry_run, use_git=not no_git,
            describe=describe, run_verify=not no_verify and not dry_run,
            ignore=(plan_file,) if plan_file is not None else (),
        )
    except (runner.ApplyError, gitops.GitError) as exc:
        fail(str(exc))
    except git_errors() as exc:
        fail(f"git failed ({_git_message(exc)}); your branch and working tree are unchanged: fix what git reports "
             "and run apply again")
    if dry_run:
        patch = "".join(runner.phase_diff(p) for p in result.phases)
        for phase in result.phases:
            if not phase.changes:
                continue
            header = f"# {phase.step.code} {phase.step.name}: {api.phase_subject(phase, the_plan)}"
            if out.is_terminal:
                out.print(header, style="bold magenta", markup=False)
            else:
                sys.stdout.write(header + "\n")
            print_diff(runner.phase_diff(phase))
        if diff_out is not None:
            _write(diff_out, patch, "patch")
        if not patch:
            err.print("nothing to change")
        return
    if not result.committed:
        if not api.bases_under(the_plan):
            out.print(f"nothing to change: no declarative base found under {path}", markup=False)
        else:
            out.print("nothing to change: one declarative base is already in scope")
        return
    for c in result.committed:
        where = f"{c.sha[:10]} " if c.sha else ""
        out.print(f"{where}{c.subject} ({len(c.files)} file(s))", markup=False)
    if result.branch:
        out.print(f"\nbranch {result.branch} created from {result.base[:10]}; your branch is unchanged.", markup=False)
        out.print(f"review it with: git log -p {result.base[:10]}..{result.branch}", markup=False)
    report = result.verify_report
    if report is not None:
        print_report(report)
        if not report.ok:
            err.print("verification failed; the branch is left for inspection and your branch is unchanged.")
            raise typer.Exit(1)


def print_report(report) -> None:
    colours = {"pass": "green", "fail": "red", "pre-existing": "yellow", "skipped": "dim"}
    for check in report.checks:
        status = f"[{colours.get(check.status, 'white')}]{check.status}[/]"
        out.print(f"{status} {check.name}", end="")
        out.print(f": {check.detail}" if check.detail else "", markup=False)


@app.command()
@reports_interrupt
def verify(
    path: Path = PathArg,
    against: Optional[str] = typer.Option(None, "--against", help="Revision before the merge (default: from the branch's commits)."),
    python: Optional[str] = typer.Option(None, "--python", help="The project's own interpreter (default: this one)."),
    test_cmd: Optional[str] = typer.Option(None, "--test-cmd", help="Run the project's tests with this command."),
    database_url: Optional[str] = typer.Option(None, "--database-url", help="Also compare schemas on this (empty) database."),
) -> None:
    """Prove the merged schema is the same schema: parse, one base, imports, mappers, Alembic diff."""
    from .gitops import GitError
    from .verify import VerifyError, verify_project

    settings = _settings(path, test_cmd=test_cmd)
    try:
        # standalone, the changes the plan declared are re-derived from the tree before the merge
        report = verify_project(settings.root, against=against, python=python, test_cmd=settings.test_cmd,
                                database_url=database_url, declared_from_against=True)
    except (VerifyError, GitError) as exc:
        fail(str(exc))
    print_report(report)
    if not report.ok:
        failed = ", ".join(c.name for c in report.checks if c.status == "fail")
        err.print(f"verification failed ({failed}); see the details above.")
        raise typer.Exit(1)


@app.command()
def explain(code: str = typer.Argument(..., help="A step code, e.g. UB001.")) -> None:
    """Print what a step does, with a before/after example."""
    from .steps import STEP_CODES, step

    s = step(code)
    if s is None:
        fail(f"unknown step {code}; the steps are {', '.join(STEP_CODES)}")
    out.print(f"{s.code} {s.name}", style="bold", markup=False)
    out.print(s.summary, markup=False)
    out.print("\nbefore:", style="bold")
    out.print(s.before, markup=False)
    out.print("after:", style="bold")
    out.print(s.after, markup=False)


@app.command()
@reports_interrupt
def demo(
    scenario: str = typer.Argument("knowledge_chipper", help="Which bundled scenario to run."),
    keep: Optional[Path] = typer.Option(None, "--dir", help="Where to put the demo project (default: a new temporary directory)."),
) -> None:
    """Copy a bundled scenario to a temporary git repository and run plan, apply and verify there."""
    from . import demo as demo_mod

    try:
        project = demo_mod.prepare(scenario, keep)
    except demo_mod.DemoError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot make the demo project in {keep} ({exc.strerror}); pass a new or empty directory with --dir")
    out.print(f"demo project: {project}", markup=False)
    settings = _settings(project)
    the_plan = _plan(settings)
    print_plan(the_plan)
    if the_plan.unresolved:
        fail("this scenario has conflicts that need a decision; see `unibase plan` there", 1)
    from . import gitops, runner

    try:
        result = api.apply_plan(settings, the_plan, describe=describe, run_verify=True)
    except (runner.ApplyError, gitops.GitError) as exc:
        fail(str(exc))
    out.print("")
    for c in result.committed:
        out.print(f"{(c.sha or '')[:10]} {c.subject}", markup=False)
    if result.verify_report is not None:
        out.print("")
        print_report(result.verify_report)
    out.print(f"\nlook at it: cd {project} && git log --stat {settings.branch}", markup=False)
    if result.verify_report is not None and not result.verify_report.ok:
        raise typer.Exit(1)


def main() -> None:
    app()
