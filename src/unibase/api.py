"""The typed API behind the command line. No printing here: results are returned."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .check import Finding, check_plan, scan, without_cycle_collection  # noqa: F401  (re-exported)
from .interrupts import pause_point
from .plan import Plan
from .plan import plural as _plural
from .planning import make_plan
from .settings import Settings


def bases_under(plan: Plan) -> list:
    """The plan's bases inside the path the command was given (all of them without one)."""
    scope = plan.scope
    return [b for b in plan.bases if not scope or b.file.startswith(scope + "/")]


def plan_project(settings: Settings, progress: Callable[[int, int], None] | None = None) -> Plan:
    """Discover the project at ``settings.root`` and plan the merge of its bases (or take the plan
    the last run made, when the project has not changed since: :mod:`unibase.memo`)."""
    from . import memo

    remembered = memo.remembered_plan(settings)
    if remembered is not None:
        return remembered
    with memo.Trace() as trace:
        index = scan(settings, progress)
        with without_cycle_collection():
            the_plan = make_plan(index, settings)
    memo.remember_plan(settings, index, the_plan, trace)
    return the_plan


def decisions_from_plan(plan: Plan) -> tuple:
    """The per-table decisions a user wrote into a plan's duplicate-table conflicts.

    A conflict's ``options.decision`` is ``{"winner": "file:Class", "mode": "keep"|"union",
    "renames": [["old", "new"], ...]}``; a suggested rename with ``"confirmed": true`` counts too.
    """
    from .plan import PlanFormatError
    from .settings import TableDecision

    out = []
    for c in plan.conflicts:
        options = c.duplicate
        decision = options.decision if options else None
        if decision is None:
            continue
        if not decision.winner:
            raise PlanFormatError(f"the decision for table {c.subject} needs a \"winner\" (\"file:Class\")")
        renames = [*decision.renames, *options.confirmed_renames()]
        out.append(TableDecision(c.subject, decision.winner, decision.mode, tuple(dict.fromkeys(renames))))
    return tuple(out)


def plan_needs_replanning(plan: Plan) -> bool:
    """True when a user's decisions in the plan JSON are not yet reflected in its operations:
    a changed ``options.decision`` of a duplicated table, or a newly confirmed rename."""
    for c in plan.conflicts:
        options = c.duplicate
        if options is None:
            continue
        decision = options.decision
        if decision != options.planned_with:
            return True
        confirmed = options.confirmed_renames()
        if confirmed and (not decision or any(r not in decision.renames for r in confirmed)):
            return True
    return False


def relpath(root: Path, path: Path) -> str:
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


# --- apply ----------------------------------------------------------------------------------


class Interrupted(KeyboardInterrupt):
    """Ctrl-C after apply changed something: the message says what was left."""


@dataclass(frozen=True)
class CommittedPhase:
    step: str
    sha: str | None
    subject: str
    files: tuple[str, ...]


@dataclass(frozen=True)
class ApplyResult:
    phases: tuple  # tuple[runner.Phase, ...]
    committed: tuple[CommittedPhase, ...]
    branch: str | None
    base: str | None
    dry_run: bool
    verify_report: object | None = None  # verify.VerifyReport


SUBJECT_MAX = 72  # git's convention: the details go in the body


def phase_subject(phase, plan: Plan) -> str:
    """The commit subject of a phase: the most detailed wording its step gives that fits in 72
    characters, else the step's name."""
    return next(s for s in (*phase.step.subjects(phase), f"unibase: {phase.step.name}") if len(s) <= SUBJECT_MAX)


def phase_body(phase, describe) -> str:
    """What the subject leaves out: the step, every file the phase changes, every operation."""
    lines = [phase.step.summary, ""]
    lines += [f"- {describe(op)}" for op in phase.operations]
    lines += ["", f"Files ({len(phase.changes)}):"] + [f"  {c.path}" for c in phase.changes]
    return "\n".join(lines)


def apply_plan(
    settings: Settings,
    plan: Plan,
    *,
    branch: str | None = None,
    dry_run: bool = False,
    use_git: bool = True,
    describe=None,
    run_verify: bool = False,
    ignore: tuple[Path, ...] = (),
    progress: Callable[[str], None] | None = None,
) -> ApplyResult:
    """Apply ``plan`` to the project at ``settings.root``.

    With git, every phase is committed on a new branch made from HEAD; the user's branch and
    working tree are never modified. Without git, each phase is written in place, atomically.
    Raises ``runner.ApplyError``/``gitops.GitError`` (bad input, nothing written). ``ignore``
    names files that do not make the tree dirty (the plan file being applied). ``progress`` is
    told, one line at a time, what each phase did and which check verification runs.
    """
    from . import gitops, runner

    describe = describe or (lambda op: op.op)
    note = progress or (lambda line: None)
    root = settings.root
    branch = branch or settings.branch
    if use_git and not dry_run:
        info = gitops.inspect(root, branch, ignore)
    runner.check_fresh(root, plan)
    phases = runner.compute_phases(root, plan, settings.skip)
    changing = [p for p in phases if p.changes]
    if dry_run:
        return ApplyResult(tuple(phases), (), None, None, True)
    if use_git:
        gitops.refuse_uncommittable(info, [c.path for phase in phases for c in phase.changes])
    if changing:
        note(f"{_plural(len(changing), 'phase')} to apply, {_plural(len({c.path for p in changing for c in p.changes}), 'file')} "
             "to change")
    if not use_git:
        committed = []
        try:
            for phase in phases:
                if phase.changes:
                    runner.write_phase(root, phase)
                    committed.append(CommittedPhase(phase.step.code, None, phase_subject(phase, plan),
                                                    tuple(c.path for c in phase.changes)))
                    note(_phase_line(phase, "written", committed[-1].subject))
                    pause_point(f"written-{len(committed)}")
            report = _verify(settings, root, None, plan, note) if run_verify else None
        except KeyboardInterrupt as exc:
            if committed:
                files = sorted({f for c in committed for f in c.files})
                raise Interrupted(f"{len(committed)} phase(s) were already written in place ({', '.join(files)}), "
                                  "each file whole, and the later phases were not: review those files") from exc
            raise
        return ApplyResult(tuple(phases), tuple(committed), None, None, False, report)
    committed = []
    report = None
    created = False
    try:
        with gitops.scratch_worktree(info) as tree:
            sha = info.head
            for phase in phases:
                if not phase.changes:
                    continue
                runner.write_phase(tree.project, phase)
                subject = phase_subject(phase, plan)
                paths = [str(tree.project / c.path) for c in phase.changes]
                sha = gitops.commit_phase(tree, paths, subject, phase_body(phase, describe), phase.step.code, info.head)
                committed.append(CommittedPhase(phase.step.code, sha, subject, tuple(c.path for c in phase.changes)))
                note(_phase_line(phase, "committed", f"{sha[:10]} {subject}"))
                pause_point(f"committed-{len(committed)}")
            if committed:
                pause_point("before-branch")
                gitops.create_branch(tree, info, branch, sha)
                created = True
                pause_point("branch-created")
            if run_verify and committed:
                report = _verify(settings, tree.project, info.head, plan, note)
    except KeyboardInterrupt as exc:
        if created:
            raise Interrupted(f"branch {branch} was created with the complete merge but not verified; your branch "
                              f"is unchanged: run `unibase verify` on {branch}, or delete it (git branch -D {branch})") from exc
        raise
    return ApplyResult(tuple(phases), tuple(committed), branch if committed else None, info.head, False, report)


def _phase_line(phase, done: str, what: str) -> str:
    n = len(phase.changes)
    return f"{phase.step.code} {phase.step.name}, {n} file{'s' if n != 1 else ''} {done}: {what}"


def _verify(settings: Settings, root: Path, against: str | None, plan: Plan, note=None):
    from .verify import declared_from_plan, verify_project

    return verify_project(root, against=against, test_cmd=settings.test_cmd, declared=declared_from_plan(plan),
                          progress=note, cache_from=settings.root if settings.cache else None)
