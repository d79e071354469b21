"""The command line: the commands, their options and their help, a thin Typer layer. What a
command does lives in its own module (:mod:`unibase.applying`, :mod:`unibase.lint`,
:mod:`unibase.resolve`, :mod:`unibase.demo`); what it prints in :mod:`unibase.output`."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

import typer

# what a command needs beyond its options is imported when it runs: `--help` and `check` start
# without the planner's rendering, the codemods, LibCST, SQLAlchemy, Alembic or GitPython
from .cli_inputs import no_collection_at_exit, reports_interrupt
from .lint import OUTPUT_FORMATS, gh as _gh  # noqa: F401  (_gh: tests escape annotations with it)
from .settings import STRATEGIES

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
NoCacheOpt = typer.Option(False, "--no-cache", help="Read every file again instead of reusing what the last run read "
                                                   "of unchanged files (UNIBASE_NO_CACHE=1 does the same).")


def _version(value: bool) -> None:
    if value:
        from . import __version__
        from .output import out

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
    no_collection_at_exit()


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
    no_cache: bool = NoCacheOpt,
) -> None:
    """Show the bases, models, references, operations and risks.

    Changes nothing. Exit 1 while a conflict needs a decision.

    PATH: the project directory (default: the current directory).
    """
    from . import api
    from .cli_inputs import make_plan, settings_for, write_file
    from .output import err, out, print_decisions_needed, print_plan

    settings = settings_for(path, target=target, strategy=strategy, prefer=prefer, merge=merge, separate=separate,
                         mode=mode, renames=False if no_renames else None, cache=not no_cache)
    the_plan = make_plan(settings, quiet)
    if out_file is not None:
        write_file(out_file, the_plan.to_json(), "plan")
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
        print_decisions_needed(the_plan)
        raise typer.Exit(1)


@app.command()
@reports_interrupt
def check(
    path: Path = PathArg,
    output_format: str = typer.Option("text", "--output-format", metavar=f"[{'|'.join(OUTPUT_FORMATS)}]",
                                      show_default=False, help="text (default), json, or github (workflow annotations)."),
    quiet: bool = QuietOpt,
    no_cache: bool = NoCacheOpt,
) -> None:
    """Lint: one finding per line, exit 1 while more than one base is in scope.

    Each finding is `path:line:col: UB1xx message`; `unibase explain UB101` explains a rule.
    Bases that are separate on purpose (another database) are not findings. A CI and
    pre-commit gate.

    PATH: the project directory (default: the current directory).
    """
    from . import lint

    lint.run(path, output_format, quiet, cache=not no_cache)


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
    no_cache: bool = NoCacheOpt,
) -> None:
    """Apply the plan: one commit per phase on a new branch.

    With --dry-run, print the full diff instead and write nothing.

    PATH: the project directory (default: the current directory).
    """
    from . import applying

    applying.run(path, plan_file=plan_file, branch=branch, dry_run=dry_run, diff_out=diff_out, no_verify=no_verify,
                 report_file=report_file, no_git=no_git, target=target, strategy=strategy, skip=skip, prefer=prefer,
                 merge=merge, separate=separate, mode=mode, no_renames=no_renames, quiet=quiet, verbose=verbose,
                 cache=not no_cache)


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
    from .cli_inputs import settings_for
    from .gitops import GitError
    from .output import err, fail, print_checks
    from .verify import VerifyError, verify_project

    settings = settings_for(path, test_cmd=test_cmd)
    try:
        # standalone, the changes the plan declared are re-derived from the tree before the merge
        if python and os.sep in python:  # a path from the current directory; kept unresolved (a venv's link)
            python = os.path.abspath(python)
        report = verify_project(settings.root, against=against, python=python, test_cmd=settings.test_cmd,
                                database_url=database_url, declared_from_against=True,
                                cache_from=settings.root if settings.cache else None)
    except (VerifyError, GitError) as exc:
        fail(str(exc))
    print_checks(report, quiet)
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
    no_cache: bool = NoCacheOpt,
) -> None:
    """Draw the bases, their models and the references that cross between them.

    Each base is a cluster of its models; a foreign key or relationship that crosses bases
    (broken until they are merged) is a red dotted edge; bases left as they are (separate
    databases) are drawn apart. Changes nothing.

    PATH: the project directory (default: the current directory).
    """
    from . import graph as graph_mod
    from .cli_inputs import make_plan, settings_for
    from .output import fail

    if format_ not in GRAPH_FORMATS:
        fail(f"unknown graph format {format_!r}; use one of: {', '.join(GRAPH_FORMATS)}")
    settings = settings_for(path, target=target, merge=merge, separate=separate, cache=not no_cache)
    the_plan = make_plan(settings, quiet=True)
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

    resolve_mod.run(path, target, merge, separate)


@app.command()
def explain(code: str = typer.Argument(..., metavar="CODE", show_default=False, hidden=True)) -> None:
    """Explain a step (UB001...), a check rule (UB101...) or a warning (W001...), with an example."""
    from .explain import explanation, unknown_code
    from .output import fail, out

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

    demo_mod.run(scenario, keep)


def main() -> None:
    """The commands without replay (the console script and ``python -m unibase`` start in
    :func:`unibase.launch.main`, which replays a remembered run)."""
    from . import process

    process.one_command = True
    app(prog_name="unibase")


if __name__ == "__main__":  # ``python -m unibase.cli``: every command as Typer parses it, without replay
    main()
