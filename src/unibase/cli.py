"""The command line: a thin Typer layer over :mod:`unibase.api`. All printing lives here."""

from __future__ import annotations

import functools
import json
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from . import api
from .output import count as _count, err, fail, lines as _lines, out, print_conflicts, wrap_plain
from .plan import Plan, PlanFormatError
from .planning import PlanError
from .settings import STRATEGIES, SettingsError, load_settings

app = typer.Typer(
    no_args_is_help=True,
    # plain Click-style help: `--target FILE[:NAME]`, flags without a metavar, readable in a pipe
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Merge the declarative bases of a SQLAlchemy project into one, reviewably and provably.",
)

PathArg = typer.Argument(Path("."), metavar="PATH", show_default=False, hidden=True)  # described in the help text
TargetOpt = typer.Option(None, "--target", metavar="FILE[:NAME]", help="The base to keep (default: the one with the most models).")
StrategyOpt = typer.Option(None, "--strategy", metavar=f"[{'|'.join(STRATEGIES)}]",
                           help="auto (default): move sibling modules' models into the canonical module, rebase "
                                "other packages' in place; move or rebase: the same for every base.")
PreferOpt = typer.Option([], "--prefer", metavar="FILE_OR_MODULE",
                         help="Whose definition of a duplicated table wins; repeatable.")
MergeOpt = typer.Option([], "--merge", metavar="FILE[:NAME]", help="A base to merge whatever the evidence says; repeatable.")
SeparateOpt = typer.Option([], "--separate", metavar="FILE[:NAME]", help="A base to leave alone (another database); repeatable.")
ModeOpt = typer.Option(None, "--mode", metavar="[union|keep]",
                       help="With --prefer: union (default) gives the winner the other side's extra columns; keep does not.")
NoRenamesOpt = typer.Option(False, "--no-renames", help="With --prefer: do not apply the plan's suggested column renames.")
QuietOpt = typer.Option(False, "-q", "--quiet", help="Print only what needs attention and the summary.")
VerboseOpt = typer.Option(False, "-v", "--verbose", help="Print more detail (every base's evidence, every check).")
# the options that plan the merge: meaningless with --plan, which applies a plan already made
PLANNING_OPTIONS = ("--target", "--strategy", "--prefer", "--merge", "--separate", "--mode", "--no-renames")


def _version(value: bool) -> None:
    if value:
        from . import __version__

        out.print(f"unibase {__version__}", markup=False)
        raise typer.Exit()


@app.callback()
def main_options(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """Merge the declarative bases of a SQLAlchemy project into one, reviewably and provably.

    PATH, for every command that takes one, is the project directory (default: the current
    directory); the project root is found upward from it.
    """


BAD_INPUT_ERRORS = (SettingsError, PlanError, PlanFormatError)



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
        settings = load_settings(path, **overrides)
    except SettingsError as exc:
        fail(str(exc))
    # a file given on the command line is relative to the current directory (pyproject.toml's
    # are relative to the root): one the current directory has is named from the root
    given = {k: v for k, v in overrides.items() if k in ("target", "merge", "separate", "prefer") and v}
    settings = replace(settings, **{k: _from_cwd(v, settings.root) if isinstance(v, str)
                                    else tuple(_from_cwd(x, settings.root) for x in v) for k, v in given.items()})
    for prefer in settings.prefer:
        if _looks_like_path(prefer) and not _exists_in(settings.root, prefer):
            fail(f"--prefer {prefer}: no such file in {settings.root}; pass a file of the project "
                 "(relative to its root) or a dotted module name")
    return settings


def _from_cwd(spec: str, root: Path) -> str:
    """``FILE[:NAME]`` with FILE relative to the current directory, as a path from ``root``
    (unchanged when the current directory has no such file under ``root``)."""
    file, colon, name = spec.rpartition(":")
    if not colon or "/" in name:
        file, colon, name = spec, "", ""
    here = (Path.cwd() / file).resolve()
    if not here.is_file() or not here.is_relative_to(root):
        return spec
    return here.relative_to(root).as_posix() + colon + name


def _looks_like_path(value: str) -> bool:
    return "/" in value or "\\" in value or value.endswith(".py")


def _exists_in(root: Path, value: str) -> bool:
    rel = value.strip().strip("/")
    here = (Path.cwd() / value).resolve()
    if (root / rel).exists() or (here.exists() and here.is_relative_to(root)):
        return True
    return next(root.glob("**/" + rel), None) is not None  # a path's tail (`chat/models.py`) matches too


def _plan(settings, quiet: bool = False) -> Plan:
    try:
        if out.is_terminal and not quiet:
            from rich.progress import Progress

            with Progress(transient=True, console=err) as progress:
                task = progress.add_task("scanning", total=None)
                return api.plan_project(settings, lambda i, n: progress.update(task, completed=i, total=n))
        return api.plan_project(settings)
    except BAD_INPUT_ERRORS as exc:
        fail(str(exc))


def print_plan(plan: Plan, quiet: bool = False, verbose: bool = False) -> None:
    """The plan as a person reads it, at any width and in a pipe: one block per base (no path is
    ever cut), wrapped lists, conflicts column by column, and a closing summary line."""
    from .screens import base_block, operation_lines, summary, wrap

    width = out.width
    if not quiet:
        if plan.roots:
            roots = ", ".join(f"{r.path} ({r.imports} import{'s' if r.imports != 1 else ''})" for r in plan.roots)
            _lines(wrap(f"import roots: {roots}", width))
        out.print(f"[bold]Declarative bases[/] ({len(plan.bases)}):")
        for b in plan.bases:
            _lines(base_block(b, width, verbose))
        if plan.canonical:
            c = plan.canonical
            out.print(f"canonical: [bold]{escape(c.name)}[/] in {escape(c.file)} ({escape(c.module)})")
        if plan.cross_references:
            out.print("\n[bold]cross-base references[/] (broken until merged):")
            for r in plan.cross_references:
                _lines(wrap(f"{r.file}:{r.line}: {r.kind} {r.source} -> {r.target} ({r.from_base} -> {r.to_base})",
                            width, "  ", "      "))
        heading, op_lines = operation_lines(plan, width, verbose)
        out.print("\n[bold]operations[/]" + escape(heading.removeprefix("operations")))
        _lines(op_lines)
    conflicts = plan.unresolved if quiet else plan.conflicts
    if conflicts:
        out.print(f"\n[bold]conflicts[/] ({len(conflicts)}):")
        print_conflicts(conflicts)
    if plan.warnings and not quiet:
        out.print(f"\n[bold]warnings[/] ({len(plan.warnings)}):")
        for w in plan.warnings:
            where = f"{w.file}:{w.line}: " if w.file and w.line else (f"{w.file}: " if w.file else "")
            _lines(wrap(f"{w.code} {where}{w.message}", width, "  ", "      "))
    if plan.bases:
        if not quiet:
            out.print("")
        _lines(wrap(summary(plan).line(), width))


def describe(op) -> str:
    return op.describe()


@app.command()
@reports_interrupt
def plan(
    path: Path = PathArg,
    target: Optional[str] = TargetOpt,
    strategy: Optional[str] = StrategyOpt,
    json_: bool = typer.Option(False, "--json", help="Print the plan as JSON and nothing else."),
    out_file: Optional[Path] = typer.Option(None, "--out", metavar="PLAN.json", help="Also write the plan JSON to this file."),
    prefer: list[str] = PreferOpt,
    merge: list[str] = MergeOpt,
    separate: list[str] = SeparateOpt,
    mode: Optional[str] = ModeOpt,
    no_renames: bool = NoRenamesOpt,
    quiet: bool = QuietOpt,
    verbose: bool = VerboseOpt,
) -> None:
    """Show the bases, models, references, operations and risks.

    Changes nothing. Exit 1 while a conflict needs a decision.

    PATH: the project directory (default: the current directory).
    """
    settings = _settings(path, target=target, strategy=strategy, prefer=prefer, merge=merge, separate=separate,
                         mode=mode, renames=False if no_renames else None)
    the_plan = _plan(settings, quiet)
    if out_file is not None:
        _write(out_file, the_plan.to_json(), "plan")
    if json_:
        sys.stdout.write(the_plan.to_json())
    else:
        print_plan(the_plan, quiet, verbose)
        if out_file is not None and not quiet:
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


OUTPUT_FORMATS = ("text", "json", "github")


@app.command()
@reports_interrupt
def check(
    path: Path = PathArg,
    output_format: str = typer.Option("text", "--output-format", metavar=f"[{'|'.join(OUTPUT_FORMATS)}]",
                                      show_default=False, help="text (default), json, or github (workflow annotations)."),
    quiet: bool = QuietOpt,
) -> None:
    """Lint: one finding per line, exit 1 while more than one base is in scope.

    Each finding is `path:line:col: UB1xx message`; `unibase explain UB101` explains a rule.
    Bases that are separate on purpose (another database) are not findings. A CI and
    pre-commit gate.

    PATH: the project directory (default: the current directory).
    """
    if output_format not in OUTPUT_FORMATS:
        fail(f"unknown output format {output_format!r}; use one of: {', '.join(OUTPUT_FORMATS)}")
    settings = _settings(path)
    the_plan = _plan(settings, quiet or output_format != "text")
    findings = api.check_plan(the_plan) if api.bases_under(the_plan) else []
    shown = [replace(f, file=_shown_path(settings.root, f.file)) for f in findings]
    if output_format == "json":
        sys.stdout.write(json.dumps([{"code": f.code, "name": rule_name(f.code), "file": f.file, "line": f.line,
                                      "col": f.col, "message": f.message} for f in shown], indent=2) + "\n")
    for f in shown if output_format != "json" else ():
        if output_format == "github":
            sys.stdout.write(f"::error file={_gh(f.file, True)},line={f.line},col={f.col},"
                             f"title={f.code} {rule_name(f.code)}::{_gh(f'{f.code} {f.message}')}\n")
        else:
            out.print(f"{f.file}:{f.line}:{f.col}: {f.code} {f.message}", markup=False)
    if not findings:
        if output_format == "text" and not quiet:
            out.print("one declarative base in scope" if api.bases_under(the_plan)
                      else f"no declarative base found under {path}", markup=False)
        return
    second = sum(f.code == "UB101" for f in findings)
    if second:
        err.print(f"{_count(len(findings), 'finding')}: {second + 1} declarative bases are in scope; "
                  "run `unibase plan` to see how to merge them.", markup=False)
    else:
        codes = sorted({f.code for f in findings})
        what = "a possible declarative base is not understood" if codes == ["UB105"] else "one base is not proven"
        err.print(f"{_count(len(findings), 'finding')}: {what}; `unibase explain {codes[0]}` says how to fix it.",
                  markup=False)
    raise typer.Exit(1)


def rule_name(code: str) -> str:
    from .rules import rule

    found = rule(code)
    return found.name if found else ""



def _shown_path(root: Path, file: str) -> str:
    """A finding's path as linters print it: relative to the current directory when the file is
    under it (so editors and CI annotations find it), else relative to the project root."""
    if not file:
        return file
    try:
        return (root / file).relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return file


def _gh(text: str, prop: bool = False) -> str:
    """Escape a workflow-command value (GitHub's rules: %, CR, LF; also : and , in properties)."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text


def _load_plan(settings, plan_file: Optional[Path], quiet: bool = False) -> Plan:
    if plan_file is None:
        return _plan(settings, quiet)
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
    plan_file: Optional[Path] = typer.Option(None, "--plan", metavar="PLAN.json", help="Apply this plan instead of planning now."),
    branch: Optional[str] = typer.Option(None, "--branch", metavar="NAME", help="Branch to create (default: unibase/merge-bases)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the full diff, phase by phase; write nothing."),
    diff_out: Optional[Path] = typer.Option(None, "--diff-out", metavar="FILE", help="With --dry-run: also write a patch `git apply` accepts."),
    no_verify: bool = typer.Option(False, "--no-verify", help="Do not run `unibase verify` after applying."),
    report_file: Optional[Path] = typer.Option(None, "--report", metavar="FILE.md",
                                               help="Also write a Markdown report for the pull request."),
    no_git: bool = typer.Option(False, "--no-git", help="Write in place in a directory that is not a git repository."),
    target: Optional[str] = TargetOpt,
    strategy: Optional[str] = StrategyOpt,
    skip: list[str] = typer.Option([], "--skip", metavar="CODE", help="Skip a step (UB001-UB007); repeatable."),
    prefer: list[str] = PreferOpt,
    merge: list[str] = MergeOpt,
    separate: list[str] = SeparateOpt,
    mode: Optional[str] = ModeOpt,
    no_renames: bool = NoRenamesOpt,
    quiet: bool = QuietOpt,
    verbose: bool = VerboseOpt,
) -> None:
    """Apply the plan: one commit per phase on a new branch.

    With --dry-run, print the full diff instead and write nothing.

    PATH: the project directory (default: the current directory).
    """
    from . import gitops, runner
    from .steps import STEP_CODES

    if diff_out is not None and not dry_run:
        fail("--diff-out writes the patch of a dry run; add --dry-run, or drop --diff-out to apply on a branch")
    if report_file is not None and not report_file.resolve().parent.is_dir():
        fail(f"--report {report_file}: no such directory {report_file.parent}; pass a path in an existing directory")
    if plan_file is not None:
        given = [name for name, value in zip(PLANNING_OPTIONS, (target, strategy, prefer, merge, separate, mode, no_renames))
                 if value]
        if given:
            fail(f"{given[0]} plans the merge, but --plan applies a plan already made; drop {given[0]}, "
                 f"or plan again with it (`unibase plan {given[0]} ... --out PLAN.json`)")
    for code in skip:
        if code.upper() not in STEP_CODES:
            fail(f"unknown step {code}; the steps are {', '.join(STEP_CODES)}")
    settings = _settings(path, target=target, strategy=strategy, skip=[s.upper() for s in skip], prefer=prefer,
                         merge=merge, separate=separate, mode=mode, renames=False if no_renames else None)
    the_plan = _load_plan(settings, plan_file, quiet)
    if plan_file is not None and api.plan_needs_replanning(the_plan):
        # decisions written into the plan JSON: plan again with them (after checking freshness)
        from dataclasses import replace

        from . import runner as runner_mod

        try:
            decisions = api.decisions_from_plan(the_plan)
            if decisions:
                runner_mod.check_fresh(settings.root, the_plan)
                # the plan JSON's decisions first, then those kept in pyproject.toml for other tables
                decided = {d.table for d in decisions}
                settings = replace(settings, decisions=decisions + tuple(
                    d for d in settings.decisions if d.table not in decided))
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
            ignore=tuple(f for f in (plan_file, report_file) if f is not None),
            progress=None if quiet or dry_run else _progress,
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
        _write_report(report_file, the_plan, result, settings.root)
        return
    if not result.committed:
        if not api.bases_under(the_plan):
            out.print(f"nothing to change: no declarative base found under {path}", markup=False)
        else:
            out.print("nothing to change: one declarative base is already in scope")
        return
    for c in result.committed if verbose else ():  # each phase was reported as it was made
        _lines([f"{c.step} {(c.sha or '')[:10]}".rstrip() + ":"] + [f"    {f}" for f in c.files])
    if result.branch:
        out.print(f"{'' if quiet else chr(10)}branch {result.branch} created from {result.base[:10]}; your branch is unchanged.",
                  markup=False)
        if not quiet:
            out.print(f"review it with: git log -p {result.base[:10]}..{result.branch}", markup=False)
    report = result.verify_report
    if report is not None:
        print_report(report, quiet)
    if not quiet:
        from .screens import wrap

        files = len({f for c in result.committed for f in c.files})
        verified = "" if report is None else (", verified" if report.ok else ", verification FAILED")
        _lines(wrap(f"{_count(len(result.committed), 'phase')} {'committed' if result.branch else 'written'}, "
                    f"{_count(files, 'file')} changed{verified}", out.width))
    _write_report(report_file, the_plan, result, settings.root)
    if report is not None:
        if not report.ok:
            err.print("verification failed; the branch is left for inspection and your branch is unchanged.")
            raise typer.Exit(1)


def _write_report(path: Optional[Path], the_plan: Plan, result, root: Path) -> None:
    if path is None:
        return
    from .report import render

    _write(path, render(the_plan, result, root.name), "report")
    out.print(f"report written to {path}", markup=False)


def _progress(line: str) -> None:
    from .screens import wrap

    for part in wrap(line, out.width, "", "    "):
        out.print(part, markup=False, style="dim" if out.is_terminal else None)


def print_report(report, quiet: bool = False) -> None:
    colours = {"pass": "green", "fail": "red", "pre-existing": "yellow", "skipped": "dim"}
    for check in report.checks:
        if quiet and check.status != "fail":
            continue
        from .screens import wrap

        first, *more = (check.detail or "").split("\n")
        head, *rest = wrap(f"{check.status} {check.name}" + (f": {first}" if first else ""), out.width, "", "    ")
        colour = colours.get(check.status, "white")
        out.print(f"[{colour}]{check.status}[/]" + escape(head[len(check.status):]))
        _lines(rest + more)  # the rest of a long detail (a test run's output) as it came


@app.command()
@reports_interrupt
def verify(
    path: Path = PathArg,
    against: Optional[str] = typer.Option(None, "--against", metavar="REV", help="Revision before the merge (default: from the branch's commits)."),
    python: Optional[str] = typer.Option(None, "--python", metavar="EXE", help="The project's own interpreter (default: this one)."),
    test_cmd: Optional[str] = typer.Option(None, "--test-cmd", metavar="CMD", help="Run the project's tests with this command."),
    database_url: Optional[str] = typer.Option(None, "--database-url", metavar="URL", help="Also compare schemas on this (empty) database."),
    quiet: bool = QuietOpt,
) -> None:
    """Prove the merged schema is the same schema.

    Checks that every file parses, one base is in scope, the models import and map, and
    Alembic finds no difference with the schema before the merge.

    PATH: the project directory (default: the current directory).
    """
    from .gitops import GitError
    from .verify import VerifyError, verify_project

    settings = _settings(path, test_cmd=test_cmd)
    try:
        # standalone, the changes the plan declared are re-derived from the tree before the merge
        if python and os.sep in python:  # a path from the current directory; kept unresolved (a venv's link)
            python = os.path.abspath(python)
        report = verify_project(settings.root, against=against, python=python, test_cmd=settings.test_cmd,
                                database_url=database_url, declared_from_against=True)
    except (VerifyError, GitError) as exc:
        fail(str(exc))
    print_report(report, quiet)
    if not report.ok:
        failed = ", ".join(c.name for c in report.checks if c.status == "fail")
        err.print(f"verification failed ({failed}); see the details above.")
        raise typer.Exit(1)


GRAPH_FORMATS = ("mermaid", "dot")


@app.command()
@reports_interrupt
def graph(
    path: Path = PathArg,
    format_: str = typer.Option("mermaid", "--format", metavar=f"[{'|'.join(GRAPH_FORMATS)}]", show_default=False,
                                help="mermaid (default; GitHub renders it in a ```mermaid block) or dot (Graphviz)."),
    after: bool = typer.Option(False, "--after", help="Draw the planned result instead of the project as it is."),
    target: Optional[str] = TargetOpt,
    merge: list[str] = MergeOpt,
    separate: list[str] = SeparateOpt,
) -> None:
    """Draw the bases, their models and the references that cross between them.

    Each base is a cluster of its models; a foreign key or relationship that crosses bases
    (broken until they are merged) is a red dotted edge; bases left as they are (separate
    databases) are drawn apart. Changes nothing.

    PATH: the project directory (default: the current directory).
    """
    from . import graph as graph_mod

    if format_ not in GRAPH_FORMATS:
        fail(f"unknown graph format {format_!r}; use one of: {', '.join(GRAPH_FORMATS)}")
    settings = _settings(path, target=target, merge=merge, separate=separate)
    the_plan = _plan(settings, quiet=True)
    drawn = graph_mod.build(the_plan, after=after)
    sys.stdout.write(graph_mod.mermaid(drawn) if format_ == "mermaid" else graph_mod.dot(drawn))


@app.command()
@reports_interrupt
def resolve(
    path: Path = PathArg,
    target: Optional[str] = TargetOpt,
    merge: list[str] = MergeOpt,
    separate: list[str] = SeparateOpt,
) -> None:
    """Decide each table two bases define differently, in a terminal.

    Shows both definitions column by column, asks which one wins, which suggested renames to
    take and whether the winner gains the other's columns (union) or not (keep), previews
    the merged class and the migration, and writes the decisions under
    [tool.unibase.decisions.TABLE] in pyproject.toml, where plan and apply read them.

    PATH: the project directory (default: the current directory).
    """
    from . import resolve as resolve_mod

    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        fail(resolve_mod.NO_TTY)
    settings = _settings(path, target=target, merge=merge, separate=separate)
    the_plan = _plan(settings)
    if not resolve_mod.duplicate_conflicts(the_plan):
        out.print("no table is defined differently by two bases: nothing to decide", markup=False)
        return
    io = resolve_mod.Dialogue(say=_lines, show=lambda c: print_conflicts([c], notes=False), ask=_ask, width=out.width)
    import click

    try:
        accepted = resolve_mod.decide(settings, the_plan, io, lambda s: _plan(s, quiet=True))
    except click.exceptions.Abort:
        err.print("\ninterrupted: nothing was written", markup=False)
        raise typer.Exit(130) from None
    if accepted:
        try:
            pyproject = resolve_mod.write_decisions(settings.root, accepted)
        except resolve_mod.ResolveError as exc:
            fail(str(exc))
        tables = ", ".join(d.table for d in accepted)
        _lines(wrap_plain(f"\n{_count(len(accepted), 'decision')} written to {pyproject} ({tables}); commit it so the "
                          "decisions are reviewed with the code, then run `unibase apply`."))
        settings = _settings(path, target=target, merge=merge, separate=separate)  # as plan and apply read them
        the_plan = _plan(settings, quiet=True)
    else:
        out.print("\nno decision written", markup=False)
    from .screens import summary

    _lines(wrap_plain(summary(the_plan).line()))
    if the_plan.unresolved:
        raise typer.Exit(1)


def _ask(question: str, choices: list[str], default: str) -> str:
    import click

    return click.prompt(f"  {question}", type=click.Choice(choices, case_sensitive=False), default=default,
                        show_choices=True)


@app.command()
def explain(code: str = typer.Argument(..., metavar="CODE", show_default=False, hidden=True)) -> None:
    """Explain a step (UB001...), a check rule (UB101...) or a warning (W001...), with an example."""
    from .explain import explanation, unknown_code

    e = explanation(code)
    if e is None:
        fail(unknown_code(code))
    out.print(e.title, style="bold", markup=False)
    out.print(e.summary, markup=False)
    out.print()
    for heading, text in e.sections:
        out.print(f"{heading}:", style="bold", markup=False)
        out.print(text, markup=False)


@app.command()
@reports_interrupt
def demo(
    scenario: str = typer.Argument("knowledge_chipper", metavar="SCENARIO", show_default=False, hidden=True),
    keep: Optional[Path] = typer.Option(None, "--dir", metavar="DIR", help="Where to put the demo project (default: a new temporary directory)."),
) -> None:
    """Run plan, apply and verify on a bundled example project.

    SCENARIO (default: knowledge_chipper) is copied to a new git repository first.
    """
    from . import demo as demo_mod

    try:
        project = demo_mod.prepare(scenario, keep)
    except demo_mod.DemoError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot make the demo project in {keep} ({exc.strerror}); pass a new or empty directory with --dir")
    out.print(f"demo project: {project}", markup=False)
    settings = _settings(project)
    before = demo_mod.run_tests(project)
    print_demo_tests(before, "before the merge")
    the_plan = _plan(settings)
    print_plan(the_plan)
    if the_plan.unresolved:
        fail("this scenario has conflicts that need a decision; see `unibase plan` there", 1)
    from . import gitops, runner

    if before.command:  # verify runs the same tests on the merged branch
        settings = replace(settings, test_cmd=before.command)
    out.print("")
    try:
        result = api.apply_plan(settings, the_plan, describe=describe, run_verify=True, progress=_progress)
    except (runner.ApplyError, gitops.GitError) as exc:
        fail(str(exc))
    report = result.verify_report
    if report is not None:
        out.print("")
        print_report(report)
        tests = next((c for c in report.checks if c.name == "tests"), None)
        if tests is not None and before.command:
            after = "pass" if tests.status == "pass" else "still fail"
            failed = f"{_count(len(before.failures), 'test')} failed before the merge" if before.returncode else \
                "the tests passed before the merge too"
            _lines(wrap_plain(f"\nthe project's own tests: {failed}; after it, on {settings.branch}, they {after} "
                              f"({tests.detail.rsplit(': ', 1)[-1]})."))
    out.print(f"\nlook at it: cd {project} && git log --stat {settings.branch}", markup=False)
    if report is not None and not report.ok:
        raise typer.Exit(1)


def print_demo_tests(run, when: str) -> None:
    from .demo import exception_name

    if run.returncode is None:
        _lines(wrap_plain(f"{when}: the project's own tests are not run here (pytest is not installed; "
                          "`pip install pytest` to see them fail before the merge and pass after it)"))
        return
    if run.returncode == 0:
        _lines(wrap_plain(f"{when}, the project's own tests pass ({run.summary})"))
        return
    causes = sorted({exception_name(f) for f in run.failures})
    _lines(wrap_plain(f"{when}, the project's own tests fail with {', '.join(causes) or 'errors'} ({run.summary}):"))
    for f in run.failures:
        _lines(wrap_plain(f"  {f.split(' - ', 1)[0]}: {exception_name(f)}"))


def main() -> None:
    app(prog_name="unibase")  # also under `python -m unibase`
