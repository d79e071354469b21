"""``unibase apply``: refuse what makes no sense, plan (or read the plan), apply it phase by
phase, print what happened, verify, and write the report."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import typer

from . import api
from .cli_inputs import git_errors, git_message, load_plan, make_plan, settings_for, write_file
from .output import (count, err, fail, lines, out, print_checks, print_conflicts, print_decisions_needed, print_diff,
                     progress)
from .plan import PlanFormatError

# the options that plan the merge: meaningless with --plan, which applies a plan already made
PLANNING_OPTIONS = ("--target", "--strategy", "--prefer", "--merge", "--separate", "--mode", "--no-renames")


def run(path: Path, *, plan_file: Path | None, branch: str | None, dry_run: bool, diff_out: Path | None,
        no_verify: bool, report_file: Path | None, no_git: bool, target: str | None, strategy: str | None,
        skip: list[str], prefer: list[str], merge: list[str], separate: list[str], mode: str | None,
        no_renames: bool, quiet: bool, verbose: bool, cache: bool = True) -> None:
    """The whole of ``unibase apply`` (see its help)."""
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
    settings = settings_for(path, target=target, strategy=strategy, skip=[s.upper() for s in skip], prefer=prefer,
                         merge=merge, separate=separate, mode=mode, renames=False if no_renames else None,
                            cache=cache)
    the_plan = load_plan(settings, plan_file, quiet)
    if plan_file is not None and api.plan_needs_replanning(the_plan):
        # decisions written into the plan JSON: plan again with them (after checking freshness)
        try:
            decisions = api.decisions_from_plan(the_plan)
            if decisions:
                runner.check_fresh(settings.root, the_plan)
                # the plan JSON's decisions first, then those kept in pyproject.toml for other tables
                decided = {d.table for d in decisions}
                settings = replace(settings, decisions=decisions + tuple(
                    d for d in settings.decisions if d.table not in decided))
                the_plan = make_plan(settings)
        except (PlanFormatError, runner.ApplyError) as exc:
            fail(str(exc))
    if the_plan.unresolved:
        print_conflicts(the_plan.unresolved)
        print_decisions_needed(the_plan)
        raise typer.Exit(1)
    if no_git and not dry_run and gitops.in_repository(settings.root):
        fail("--no-git writes in place, but this project is in a git repository; drop --no-git to work on a branch")
    try:
        result = api.apply_plan(
            settings, the_plan, branch=branch, dry_run=dry_run, use_git=not no_git,
            describe=lambda op: op.describe(), run_verify=not no_verify and not dry_run,
            ignore=tuple(f for f in (plan_file, report_file) if f is not None),
            progress=None if quiet or dry_run else progress,
        )
    except (runner.ApplyError, gitops.GitError) as exc:
        fail(str(exc))
    except git_errors() as exc:
        fail(f"git failed ({git_message(exc)}); your branch and working tree are unchanged: fix what git reports "
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
            write_file(diff_out, patch, "patch")
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
        lines([f"{c.step} {(c.sha or '')[:10]}".rstrip() + ":"] + [f"    {f}" for f in c.files])
    if result.branch:
        out.print(f"{'' if quiet else chr(10)}branch {result.branch} created from {result.base[:10]}; your branch is unchanged.",
                  markup=False)
        if not quiet:
            out.print(f"review it with: git log -p {result.base[:10]}..{result.branch}", markup=False)
    report = result.verify_report
    if report is not None:
        print_checks(report, quiet)
    if not quiet:
        from .screens import wrap

        files = len({f for c in result.committed for f in c.files})
        verified = "" if report is None else (", verified" if report.ok else ", verification FAILED")
        lines(wrap(f"{count(len(result.committed), 'phase')} {'committed' if result.branch else 'written'}, "
                   f"{count(files, 'file')} changed{verified}", out.width))
    _write_report(report_file, the_plan, result, settings.root)
    if report is not None:
        if not report.ok:
            err.print("verification failed; the branch is left for inspection and your branch is unchanged.")
            raise typer.Exit(1)


def _write_report(path: Path | None, the_plan, result, root: Path) -> None:
    if path is None:
        return
    from .report import render

    write_file(path, render(the_plan, result, root.name), "report")
    out.print(f"report written to {path}", markup=False)
