"""An interrupted apply leaves the user's repository as it was, and apply can simply be run again.

`apply` commits each phase in a temporary detached worktree and creates the branch only at the
end (gitops.scratch_worktree / api.apply_plan); every phase is written atomically
(runner.write_phase). These tests interrupt it everywhere they can and check the user's side:

* in-process: an exception (Ctrl-C or a failing ``os.replace``) at every phase boundary and
  inside each phase, through monkeypatching;
* out-of-process: SIGKILL of the real ``python -m unibase apply`` stopped at each named pause
  point (``UNIBASE_TEST_PAUSE_AT``, see unibase.interrupts): scratch entry made, worktree checked
  out, after each commit, before the branch, after it, during verify. Nothing depends on timing:
  the run waits at the point until the test kills it.

After each interruption the user's branch, HEAD, branches, ``git status`` and the bytes of every
file are identical to before, no branch was created, and a second real
``unibase apply --branch b --no-verify`` succeeds, produces exactly the tree a clean apply
produces, and leaves no scratch entry (``.git/unibase``), no registered worktree and nothing in the
temporary directory. Each second apply runs in the background while the next case is
interrupted, to keep the suite short.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import subprocess
import sys
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import Paused, copy_project, env_for, git, tree_state, unibase

PROJECT = "knowledge_chipper"


# --- shared helpers ---------------------------------------------------------------------------


_POOL = ThreadPoolExecutor(max_workers=1)  # one second apply at a time, beside the next interruption


def second_apply(project: Path, tmpdir: Path, branch: str = "b") -> Future:
    """Start ``unibase apply PROJECT --branch BRANCH --no-verify`` in the background (it runs while
    the next case is being interrupted); the future's result is the finished process."""
    args = [sys.executable, "-m", "unibase", "apply", str(project), "--branch", branch, "--no-verify"]
    return _POOL.submit(subprocess.run, args, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                        env=env_for(tmpdir), timeout=600)


def scratch_entries(project: Path) -> list[str]:
    home = project / ".git" / "unibase"
    return sorted(os.listdir(home)) if home.is_dir() else []


def worktrees(project: Path) -> list[str]:
    return [line.split(" ", 1)[1] for line in git(project, "worktree", "list", "--porcelain").splitlines()
            if line.startswith("worktree ")]


def user_side(state: dict) -> dict:
    """Everything of tree_state the user sees on their own side: files, status, HEAD, branches."""
    return {k: v for k, v in state.items() if k != "worktrees"}


def diff_files(before: dict, after: dict) -> list[str]:
    """Files lost, added or changed between two tree_state snapshots."""
    a, b = before["files"], after["files"]
    return sorted(p for p in a.keys() | b.keys() if a.get(p) != b.get(p))


def branch_tree(project: Path, branch: str) -> tuple[str, int]:
    return (git(project, "rev-parse", f"{branch}^{{tree}}").strip(),
            int(git(project, "rev-list", "--count", f"main..{branch}").strip()))


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The tree and commit count of an uninterrupted apply."""
    project = copy_project(PROJECT, tmp_path_factory.mktemp("reference") / PROJECT)
    unibase("apply", str(project), "--branch", "b", "--no-verify", check=0)
    tree, commits = branch_tree(project, "b")
    assert commits >= 2, "the fixture should need several phases to make this test meaningful"
    return {"tree": tree, "commits": commits}


def assert_second_apply_succeeds(case: dict, reference: dict, branch: str = "b") -> None:
    project = case["project"]
    proc = case["second"].result()
    assert proc.returncode == 0, f"second apply failed:\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert branch_tree(project, branch) == (reference["tree"], reference["commits"]), "second apply made another tree"
    after = tree_state(project)
    assert diff_files(case["before"], after) == []
    assert after["symbolic"] == "refs/heads/main" and after["head"] == case["before"]["head"]
    assert after["status"] == case["before"]["status"]


# --- 1. injected failures, in process -----------------------------------------------------------


def phase_sizes() -> list[int]:
    """The number of files of each phase that writes something, on a fresh copy of the fixture."""
    from unibase import api, runner
    from unibase.settings import load_settings

    with tempfile.TemporaryDirectory() as tmp:
        project = copy_project(PROJECT, Path(tmp) / PROJECT, init_git=False)
        settings = load_settings(project)
        plan = api.plan_project(settings)
        return [len(p.changes) for p in runner.compute_phases(project, plan, settings.skip) if p.changes]


SIZES = phase_sizes()


def injection_points() -> list[tuple[str, str, int, int]]:
    """(id, kind, phase number (1-based), index) for every place an apply is interrupted."""
    points = []
    start = 0
    for k, n in enumerate(SIZES, 1):
        points.append((f"before-write-phase{k}", "write_phase", k, 0))
        for j in sorted({2, n} if n >= 2 else {1}):  # after one file was replaced; at the last one
            points.append((f"os.replace-phase{k}-file{j}of{n}", "os.replace", k, start + j))
        points.append((f"commit-phase{k}-after-git-add", "commit_phase", k, 0))
        start += n
    points.append(("before-create-branch", "create_branch", len(SIZES) + 1, 0))
    return points


POINTS = injection_points()


class Injected(KeyboardInterrupt):
    """A Ctrl-C raised by the test (a BaseException: cleanup must not depend on `except Exception`)."""


def interrupt_in_process(project: Path, tmpdir: Path, kind: str, phase: int, index: int) -> dict:
    """Run api.apply_plan on ``project`` with one failure injected; return what was observed."""
    from unibase import api, gitops, runner
    from unibase.settings import load_settings

    settings = load_settings(project)
    plan = api.plan_project(settings)
    seen: dict = {"replaced": 0}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tempfile, "tempdir", str(tmpdir))
        original_scratch = gitops.scratch_worktree

        @contextlib.contextmanager
        def spy_scratch(info):
            # look at the scratch worktree as the failure unwinds through it, before its removal
            with original_scratch(info) as tree:
                seen["worktree"] = tree.path
                try:
                    yield tree
                except BaseException:
                    seen["wt_status"] = git(tree.path, "status", "--porcelain", "--untracked-files=all")
                    seen["wt_commits"] = int(git(tree.path, "rev-list", "--count", f"{info.head}..HEAD"))
                    raise

        mp.setattr(gitops, "scratch_worktree", spy_scratch)
        if kind == "write_phase":
            original_write, calls = runner.write_phase, [0]

            def write_phase(root, ph):
                calls[0] += 1
                if calls[0] == phase:
                    raise Injected(kind)
                return original_write(root, ph)

            mp.setattr(runner, "write_phase", write_phase)
        elif kind == "os.replace":
            original_replace = os.replace

            def replace(src, dst, *a, **kw):
                if Path(src).name.startswith(".unibase-"):
                    seen["replaced"] += 1
                    if seen["replaced"] == index:
                        raise OSError(errno.ENOSPC, "No space left on device (injected)", str(dst))
                return original_replace(src, dst, *a, **kw)

            mp.setattr(os, "replace", replace)
        elif kind == "commit_phase":
            original_commit, calls = gitops.commit_phase, [0]

            def commit_phase(tree, paths, *a, **kw):
                calls[0] += 1
                if calls[0] == phase:
                    tree.git("add", "--", *paths)  # staged, not committed
                    raise Injected(kind)
                return original_commit(tree, paths, *a, **kw)

            mp.setattr(gitops, "commit_phase", commit_phase)
        elif kind == "create_branch":
            def create_branch(*a, **kw):
                raise Injected(kind)

            mp.setattr(gitops, "create_branch", create_branch)
        try:
            api.apply_plan(settings, plan, branch="b", run_verify=False)
        except BaseException as exc:  # noqa: BLE001 - Injected is a KeyboardInterrupt
            seen["raised"] = exc
        else:
            seen["raised"] = None
    return seen


@pytest.fixture(scope="module")
def injected(tmp_path_factory):
    """Every injection point interrupted in process; each second apply started in the background."""
    cases = {}
    for point_id, kind, phase, index in POINTS:
        base = tmp_path_factory.mktemp(point_id)
        project = copy_project(PROJECT, base / PROJECT)
        tmpdir = base / "tmp"
        tmpdir.mkdir()
        before = tree_state(project)
        seen = interrupt_in_process(project, tmpdir, kind, phase, index)
        after_raw = tree_state(project)
        git(project, "worktree", "prune")
        after = tree_state(project)
        cases[point_id] = {"project": project, "tmpdir": tmpdir, "kind": kind, "phase": phase, "before": before,
                           "after_raw": after_raw, "after": after, "leftovers": sorted(os.listdir(tmpdir)),
                           "entries": scratch_entries(project), "worktrees": worktrees(project), **seen,
                           "second": second_apply(project, tmpdir)}
    return cases


@pytest.mark.parametrize("point", [p[0] for p in POINTS])
def test_injected_failure_leaves_repository_untouched(injected, point):
    from unibase.runner import ApplyError

    case = injected[point]
    if case["kind"] == "os.replace":
        assert isinstance(case["raised"], ApplyError), case["raised"]
        assert "rolled back" in str(case["raised"])
    else:
        assert isinstance(case["raised"], Injected), case["raised"]
    # the user's side: every file, status, HEAD, branches (no branch b) and worktrees, even before a prune
    assert diff_files(case["before"], case["after_raw"]) == []
    assert case["after_raw"] == case["before"]
    assert case["after"] == case["before"]
    # (seen before the second apply started: its own worktree may be registered by now)
    assert case["worktrees"] == [str(case["project"])]
    # the scratch worktree and its scratch entry are gone; nothing was left in the temp dir
    assert not case["worktree"].exists()
    assert case["entries"] == []
    assert case["leftovers"] == []


@pytest.mark.parametrize("point", [p[0] for p in POINTS if p[1] != "commit_phase"])
def test_failed_phase_is_rolled_back_in_the_scratch_worktree(injected, point):
    """When the failure unwinds, the scratch worktree holds exactly the phases committed so far:
    a phase that failed part-way left no file replaced and no temporary file behind."""
    case = injected[point]
    assert case["wt_commits"] == case["phase"] - 1
    assert case["wt_status"] == ""


@pytest.mark.parametrize("point", [p[0] for p in POINTS])
def test_second_apply_after_injected_failure_succeeds(injected, reference, point):
    assert_second_apply_succeeds(injected[point], reference)


# --- 2. SIGKILL of the real process at named pause points ----------------------------------------


def kill_at(project: Path, tmpdir: Path, point: str) -> dict:
    """Start the real apply, let it reach ``point``, SIGKILL it there; what it left."""
    base = git(project, "rev-parse", "HEAD").strip()
    run = Paused(project, point, "--branch", "b", tmpdir=tmpdir)
    dirs = [Path(w) for w in worktrees(project)[1:]]
    commits = None
    if dirs and (dirs[0] / ".git").exists():
        commits = int(git(dirs[0], "rev-list", "--count", f"{base}..HEAD").strip())
    proc = run.signal(signal.SIGKILL)
    return {"killed": proc.returncode == -signal.SIGKILL, "worktrees_at_kill": dirs, "commits": commits,
            "entries_after_kill": scratch_entries(project),
            "branch_b": bool(git(project, "branch", "--list", "b").strip())}


BEFORE_BRANCH = ["scratch-created", "worktree-ready", *[f"committed-{k}" for k in range(1, len(SIZES) + 1)],
                 "before-branch"]
AFTER_BRANCH = ["branch-created", "verify-worktree-ready"]


@pytest.fixture(scope="module")
def killed(tmp_path_factory):
    """Every pause point killed, one fresh repository each; each second apply started in the background."""
    cases = {}
    for point in BEFORE_BRANCH + AFTER_BRANCH:
        base = tmp_path_factory.mktemp(point)
        project = copy_project(PROJECT, base / PROJECT)
        tmpdir = base / "tmp"
        tmpdir.mkdir()
        before = tree_state(project)
        hit = kill_at(project, tmpdir, point)
        after_kill = tree_state(project)
        git(project, "worktree", "prune")
        after_prune = tree_state(project)
        second = second_apply(project, tmpdir, "b" if point in BEFORE_BRANCH else "b2")
        cases[point] = {"project": project, "tmpdir": tmpdir, "before": before, "after_kill": after_kill,
                        "after_prune": after_prune, **hit, "second": second}
    return cases


@pytest.mark.parametrize("point", BEFORE_BRANCH)
def test_sigkill_leaves_user_side_untouched(killed, point):
    case = killed[point]
    assert case["killed"]
    assert len(case["entries_after_kill"]) == 1, "the killed run's scratch entry is left for the next run"
    if point.startswith("committed-"):
        assert case["commits"] == int(point.split("-")[1])
    assert not case["branch_b"], "an interrupted apply created the branch"
    assert diff_files(case["before"], case["after_kill"]) == []
    assert user_side(case["after_kill"]) == user_side(case["before"])
    assert user_side(case["after_prune"]) == user_side(case["before"])


@pytest.mark.parametrize("point", BEFORE_BRANCH)
def test_second_apply_after_sigkill_succeeds(killed, reference, point):
    assert_second_apply_succeeds(killed[point], reference)


@pytest.mark.parametrize("point", AFTER_BRANCH)
def test_sigkill_after_the_branch_leaves_a_complete_branch(killed, reference, point):
    """The branch is created after the last commit and before verify: a kill then leaves branch b
    complete (same tree as an uninterrupted apply), the user's side untouched, and
    `apply --branch b` refuses (exit 2) until b is deleted; another branch name works."""
    case = killed[point]
    assert case["killed"]
    project = case["project"]
    assert case["branch_b"]
    assert branch_tree(project, "b") == (reference["tree"], reference["commits"])
    assert diff_files(case["before"], case["after_kill"]) == []
    assert user_side(case["after_prune"]) == {**user_side(case["before"]), "branches": case["after_prune"]["branches"]}
    again = unibase("apply", str(project), "--branch", "b", "--no-verify", check=2)
    assert "already exists" in again.stderr + again.stdout
    assert_second_apply_succeeds(case, reference, branch="b2")


@pytest.mark.parametrize("point", BEFORE_BRANCH + AFTER_BRANCH)
def test_next_apply_removes_what_a_killed_run_left(killed, point):
    """The next apply removes the killed run's scratch entry and unregisters its worktrees; the
    temporary directory stays empty (scratch never lives there)."""
    case = killed[point]
    case["second"].result()  # the next apply has run too
    project = case["project"]
    assert (worktrees(project), scratch_entries(project), os.listdir(case["tmpdir"])) == ([str(project)], [], [])
