"""The typed API behind the command line. No printing here: results are returned."""

from __future__ import annotations

import gc
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .discovery import DiscoverOptions, Index, discover
from .interrupts import pause_point
from .plan import Plan
from .planner import make_plan
from .settings import Settings, SettingsError


@contextmanager
def without_cycle_collection():
    """Discovery and planning make hundreds of thousands of small objects (syntax trees, facts)
    that hold no reference cycles: the cyclic garbage collector would walk them again and again,
    a quarter to a third of the time on a large tree, to free nothing. It runs again afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def scan(settings: Settings, progress: Callable[[int, int], None] | None = None) -> Index:
    """Discover the whole project (a narrower path limits what changes, never what is read)."""
    with without_cycle_collection():
        index = discover(settings.root, DiscoverOptions(exclude=settings.exclude), progress)
    if not index.scanned:
        raise SettingsError(f"{settings.root} is not a Python project (no Python files are read there); "
                            "pass the path of a project directory")
    return index


def bases_under(plan: Plan) -> list:
    """The plan's bases inside the path the command was given (all of them without one)."""
    scope = plan.scope
    return [b for b in plan.bases if not scope or b.file.startswith(scope + "/")]


def plan_project(settings: Settings, progress: Callable[[int, int], None] | None = None) -> Plan:
    """Discover the project at ``settings.root`` and plan the merge of its bases."""
    index = scan(settings, progress)
    with without_cycle_collection():
        return make_plan(index, settings)


def decisions_from_plan(plan: Plan) -> tuple:
    """The per-table decisions a user wrote into a plan's duplicate-table conflicts.

    A conflict's ``options.decision`` is ``{"winner": "file:Class", "mode": "keep"|"union",
    "renames": [["old", "new"], ...]}``; a suggested rename with ``"confirmed": true`` counts too.
    """
    from .plan import PlanFormatError
    from .settings import TableDecision

    out = []
    for c in plan.conflicts:
        decision = c.options.get("decision") if c.kind == "duplicate-table" else None
        if not decision:
            continue
        if not isinstance(decision, dict) or "winner" not in decision:
            raise PlanFormatError(f"the decision for table {c.subject} needs a \"winner\" (\"file:Class\")")
        renames = [tuple(r) for r in decision.get("renames", [])]
        renames += [(r["from"], r["to"]) for r in c.options.get("suggested_renames", []) if r.get("confirmed")]
        out.append(TableDecision(c.subject, decision["winner"], decision.get("mode", "union"),
                                 tuple(dict.fromkeys(renames))))
    return tuple(out)


def plan_needs_replanning(plan: Plan) -> bool:
    """True when a user's decisions in the plan JSON are not yet reflected in its operations:
    a changed ``options.decision`` of a duplicated table, or a newly confirmed rename."""
    for c in plan.conflicts:
        if c.kind != "duplicate-table":
            continue
        decision, planned = c.options.get("decision"), c.options.get("planned_with")
        if decision != planned:
            return True
        confirmed = [[r["from"], r["to"]] for r in c.options.get("suggested_renames", []) if r.get("confirmed")]
        if confirmed and (not decision or any(r not in decision.get("renames", []) for r in confirmed)):
            return True
    return False


@dataclass(frozen=True)
class Finding:
    file: str
    line: int
    message: str
    code: str = "base"  # "base": a separate base in scope; else the plan warning's code


def check_plan(plan: Plan) -> list[Finding]:
    """One finding per base beyond the first that is in scope (not separate, not test-local), and
    one per possible base discovery did not understand: with those, one base is not proven."""
    from .planner import NOT_UNDERSTOOD

    unknown = [Finding(w.file or "", w.line or 0, w.message, w.code) for w in plan.warnings if w.code == NOT_UNDERSTOOD]
    in_scope = plan.merged_bases()
    if len(in_scope) <= 1:
        return unknown
    canonical = next((b for b in in_scope if b.role == "canonical"), in_scope[0])
    return unknown + [
        Finding(
            b.file,
            b.line,
            f"declarative base {b.name} ({len(b.models)} models) is separate from "
            f"{canonical.file}:{canonical.name}; merge it with `unibase apply`",
        )
        for b in in_scope
        if b is not canonical
    ]


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


def phase_subject(phase, plan: Plan) -> str:
    from pathlib import PurePosixPath

    from .plan import MoveModels, RebaseBase

    code = phase.step.code
    n_files = len(phase.changes)
    if code == "UB001":
        moves = [o for o in phase.operations if isinstance(o, MoveModels)]
        if moves:
            count = sum(len(o.classes) for o in moves)
            dropped = sum(len(o.drop) for o in moves)
            stems = [PurePosixPath(o.source).stem for o in moves]
            target = PurePosixPath(moves[0].target).name
            ambiguous = len(set(stems)) < len(stems) or PurePosixPath(target).stem in stems
            sources = ", ".join(dict.fromkeys(o.source if ambiguous else PurePosixPath(o.source).stem for o in moves))
            if ambiguous:
                target = moves[0].target
            what = []
            if count:
                what.append(f"move {count} models")
            if dropped:
                what.append(f"merge {dropped} duplicated table definition(s)")
            return f"unibase: {' and '.join(what) or 'turn into shims'} from {sources} into {target}"
        rebases = [o for o in phase.operations if isinstance(o, RebaseBase)]
        target = rebases[0].target if rebases else "?"
        return f"unibase: point {len(rebases)} base(s) at the canonical Base in {target}"
    if code == "UB002":
        return f"unibase: point imports in {n_files} file(s) at the canonical module"
    if code == "UB003":
        return f"unibase: rewrite relationship strings in {n_files} file(s)"
    if code == "UB004":
        return f"unibase: collapse metadata calls in {n_files} file(s)"
    if code == "UB005":
        return f"unibase: rename uses of merged columns in {n_files} file(s)"
    if code == "UB006":
        return f"unibase: write the migration {phase.changes[0].path if phase.changes else ''}".rstrip()
    return f"unibase: {phase.step.name}"


def phase_body(phase, describe) -> str:
    lines = [phase.step.summary, ""]
    lines += [f"- {describe(op)}" for op in phase.operations]
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
) -> ApplyResult:
    """Apply ``plan`` to the project at ``settings.root``.

    With git, every phase is committed on a new branch made from HEAD; the user's branch and
    working tree are never modified. Without git, each phase is written in place, atomically.
    Raises ``runner.ApplyError``/``gitops.GitError`` (bad input, nothing written). ``ignore``
    names files that do not make the tree dirty (the plan file being applied).
    """
    from . import gitops, runner

    describe = describe or (lambda op: op.op)
    root = settings.root
    branch = branch or settings.branch
    if use_git and not dry_run:
        info = gitops.inspect(root, branch, ignore)
    runner.check_fresh(root, plan)
    phases = runner.compute_phases(root, plan, settings.skip)
    if dry_run:
        return ApplyResult(tuple(phases), (), None, None, True)
    if not use_git:
        committed = []
        try:
            for phase in phases:
                if phase.changes:
                    runner.write_phase(root, phase)
                    committed.append(CommittedPhase(phase.step.code, None, phase_subject(phase, plan),
                                                    tuple(c.path for c in phase.changes)))
                    pause_point(f"written-{len(committed)}")
            report = _verify(settings, root, None, plan) if run_verify else None
        except KeyboardInterrupt as exc:
            if committed:
                files = sorted({f for c in committed for f in c.files})
                raise Interrupted(f"{len(committed)} phase(s) were already written in place ({', '.join(files)}), "
                                  "each file whole, and the later phases were not: review those files") from exc
            raise
        return ApplyResult(tuple(phases), tuple(committed), None, None, False, report)
    gitops.refuse_uncommittable(info, [c.path for phase in phases for c in phase.changes])
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
                pause_point(f"committed-{len(committed)}")
            if committed:
                pause_point("before-branch")
                gitops.create_branch(tree, info, branch, sha)
                created = True
                pause_point("branch-created")
            if run_verify and committed:
                report = _verify(settings, tree.project, info.head, plan)
    except KeyboardInterrupt as exc:
        if created:
            raise Interrupted(f"branch {branch} was created with the complete merge but not verified; your branch "
                              f"is unchanged: run `unibase verify` on {branch}, or delete it (git branch -D {branch})") from exc
        raise
    return ApplyResult(tuple(phases), tuple(committed), branch if committed else None, info.head, False, report)


def _verify(settings: Settings, root: Path, against: str | None, plan: Plan):
    from .verify import declared_from_plan, verify_project

    return verify_project(root, against=against, test_cmd=settings.test_cmd, declared=declared_from_plan(plan))
