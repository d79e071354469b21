"""unibase never touches what is not its own: scratch space, the user's git hooks, clear refusals.

Every test drives the real CLI in a subprocess on a real git repository made in a temp dir. A run
is stopped at an exact phase with a named pause point (``UNIBASE_TEST_PAUSE_AT``, see
:mod:`unibase.interrupts`), never after a wall-clock delay.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import Paused, copy_project, env_for, git, make_repo, tree_state

MODELS = '''\
from sqlalchemy import Column, Integer, String
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class Widget(Base):
    __tablename__ = "widgets"
    id = Column(Integer, primary_key=True)
    name = Column(String(50))
'''

BILLING = '''\
from sqlalchemy import Column, ForeignKey, Integer
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class Invoice(Base):
    __tablename__ = "invoices"
    id = Column(Integer, primary_key=True)
    widget_id = Column(Integer, ForeignKey("widgets.id"))
'''

PYPROJECT = '[project]\nname = "shop"\nversion = "0"\n\n[tool.unibase]\ntarget = "app/models.py"\n'


def write_project(root: Path, *, billing_dir: str = "app", extra: dict[str, str] | None = None) -> Path:
    """Two bases: app/models.py (canonical) and billing.py (merged into it); committed on main."""
    files = {"pyproject.toml": PYPROJECT, "app/__init__.py": "", "app/models.py": MODELS,
             f"{billing_dir}/__init__.py": "", f"{billing_dir}/billing.py": BILLING, **(extra or {})}
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    if not (root / ".git").exists():
        make_repo(root)
    return root


@pytest.fixture
def project(tmp_path) -> Path:
    return write_project(tmp_path / "shop")


def apply(project: Path, *args: str, tmpdir: Path | None = None, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    return subprocess.run([*prefix, sys.executable, "-m", "unibase", "apply", str(project), *args],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, env=env_for(tmpdir), timeout=300)


def worktrees(project: Path) -> list[str]:
    return [line.split(" ", 1)[1] for line in git(project, "worktree", "list", "--porcelain").splitlines()
            if line.startswith("worktree ")]


def scratch_entries(project: Path) -> list[str]:
    home = project / ".git" / "unibase"
    return sorted(p.name for p in home.iterdir()) if home.is_dir() else []


def branch_exists(project: Path, branch: str) -> bool:
    return bool(git(project, "branch", "--list", branch).strip())


def assert_clean_refusal(proc: subprocess.CompletedProcess, project: Path, before: dict, *words: str) -> None:
    """Exit 2, one sentence naming what happened, no traceback, and nothing left behind."""
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for word in words:
        assert word in lines[0], lines[0]
    assert tree_state(project) == before
    assert worktrees(project) == [str(project)]
    assert scratch_entries(project) == []


# --- 1. scratch space: only unibase's own, marked entries are ever removed -------------------------


def test_folders_named_like_scratch_in_the_temp_dir_survive_an_apply(project, tmp_path):
    tmpdir = tmp_path / "tmp"
    lookalikes = ["unibase-2024-notes", "unibase-999999-myproject", "unibase-verify-999999-x"]
    for name in lookalikes:
        (tmpdir / name).mkdir(parents=True)
        (tmpdir / name / "notes.txt").write_text("mine\n")
    proc = apply(project, "--branch", "merged", tmpdir=tmpdir)  # with verify: its scratch too
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(os.listdir(tmpdir)) == sorted(lookalikes)
    for name in lookalikes:
        assert (tmpdir / name / "notes.txt").read_text() == "mine\n"
    assert worktrees(project) == [str(project)]
    assert scratch_entries(project) == []


def test_scratch_lives_in_the_git_directory_with_a_marker_naming_its_owner(project, tmp_path):
    run = Paused(project, "committed-1", "--branch", "merged", "--no-verify", tmpdir=tmp_path)
    try:
        (entry,) = scratch_entries(project)
        marker = (project / ".git" / "unibase" / entry / "unibase-scratch.json").read_text()
        assert f'"pid": {run.proc.pid}' in marker and '"tool": "unibase"' in marker
        assert str(project) in marker
        assert str(project / ".git" / "unibase" / entry / "tree") in worktrees(project)
    finally:
        done = run.resume()
    assert done.returncode == 0, done.stdout + done.stderr
    assert scratch_entries(project) == [] and worktrees(project) == [str(project)]


def test_a_killed_runs_scratch_is_cleaned_by_the_next_run(project, tmp_path):
    before = tree_state(project)
    killed = Paused(project, "committed-1", "--branch", "merged", "--no-verify", tmpdir=tmp_path).signal(signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL
    assert len(scratch_entries(project)) == 1 and len(worktrees(project)) == 2  # what the kill left
    assert not branch_exists(project, "merged")
    # entries that are not unibase's (no marker, or another tool's marker) are never removed
    home = project / ".git" / "unibase"
    (home / "123-unmarked").mkdir()
    (home / "456-foreign").mkdir()
    (home / "456-foreign" / "unibase-scratch.json").write_text('{"tool": "other"}')
    again = apply(project, "--branch", "merged", "--no-verify", tmpdir=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert worktrees(project) == [str(project)]
    assert scratch_entries(project) == ["123-unmarked", "456-foreign"]
    assert tree_state(project)["files"] == before["files"]


def _other_pid_namespace() -> tuple[str, ...]:
    """A command prefix that runs unibase in its own pid namespace (another container, as far as
    pids go), or skip."""
    for prefix in (("unshare", "--pid", "--fork"), ("unshare", "--user", "--map-root-user", "--pid", "--fork")):
        if shutil.which("unshare") and subprocess.run([*prefix, "true"], capture_output=True).returncode == 0:
            return prefix
    pytest.skip("cannot make a pid namespace here (unshare)")


def test_a_live_run_in_another_pid_namespace_keeps_its_scratch(project, tmp_path):
    """Two containers, one repository: a run cannot see the other's pid, and must still leave its
    scratch alone (liveness is the owner's lock, not a pid lookup)."""
    prefix = _other_pid_namespace()
    first = Paused(project, "worktree-ready", "--branch", "one", "--no-verify", tmpdir=tmp_path)
    try:
        (tree,) = worktrees(project)[1:]
        second = apply(project, "--branch", "two", "--no-verify", tmpdir=tmp_path, prefix=prefix)
        assert second.returncode == 0, second.stdout + second.stderr
        assert worktrees(project)[1:] == [tree] and (Path(tree) / "app" / "billing.py").is_file()
    finally:
        done = first.resume()
    assert done.returncode == 0, done.stdout + done.stderr
    assert git(project, "rev-parse", "one^{tree}") == git(project, "rev-parse", "two^{tree}")
    assert scratch_entries(project) == [] and worktrees(project) == [str(project)]


def test_two_concurrent_applies_on_two_clones_sharing_one_temp_dir(tmp_path):
    """The second run in another pid namespace when possible (two containers sharing /tmp)."""
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    one = write_project(tmp_path / "one" / "shop")
    two = tmp_path / "two" / "shop"
    git(tmp_path, "clone", "-q", str(one), str(two))
    try:
        prefix = _other_pid_namespace()
    except pytest.skip.Exception:
        prefix = ()
    first = Paused(one, "worktree-ready", "--branch", "merged", tmpdir=tmpdir)
    try:
        (tree,) = worktrees(one)[1:]
        second = apply(two, "--branch", "merged", tmpdir=tmpdir, prefix=prefix)
        assert second.returncode == 0, second.stdout + second.stderr
        assert (Path(tree) / "app" / "billing.py").is_file()
    finally:
        done = first.resume()
    assert done.returncode == 0, done.stdout + done.stderr
    assert git(one, "rev-parse", "merged^{tree}") == git(two, "rev-parse", "merged^{tree}")
    assert os.listdir(tmpdir) == []


# --- 2. the user's hooks never run, commits are never signed --------------------------------------

HOOKS = ["post-checkout", "prepare-commit-msg", "commit-msg", "pre-commit", "post-commit",
         "reference-transaction", "post-index-change"]


def failing_hooks(where: Path, log: Path) -> None:
    where.mkdir(parents=True, exist_ok=True)
    for hook in HOOKS:
        path = where / hook
        path.write_text(f"#!/bin/sh\necho {hook} \"$PWD\" >> '{log}'\nexit 1\n")
        path.chmod(0o755)


@pytest.mark.parametrize("via", ["hooks-dir", "core.hooksPath"])
def test_the_users_failing_hooks_never_run(project, tmp_path, via):
    log = tmp_path / "hooks-ran.log"
    if via == "hooks-dir":
        failing_hooks(project / ".git" / "hooks", log)
    else:
        failing_hooks(tmp_path / "team-hooks", log)
        git(project, "config", "core.hooksPath", str(tmp_path / "team-hooks"))
    proc = apply(project, "--branch", "merged")  # with verify: its worktree of the old tree too
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not log.exists(), log.read_text()
    assert worktrees(project) == [str(project)]
    assert int(git(project, "rev-list", "--count", "main..merged")) >= 1


def test_commits_are_never_signed(project):
    git(project, "config", "commit.gpgsign", "true")
    git(project, "config", "gpg.program", "false")  # any signing attempt fails
    proc = apply(project, "--branch", "merged", "--no-verify")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "gpgsig" not in git(project, "cat-file", "commit", "merged")


@pytest.mark.parametrize("configured", [False, True])
def test_every_commit_names_the_configured_identity_or_else_unibase(tmp_path, configured):
    """The identity is read once per apply; every phase's commit carries it (or unibase's own
    when neither git's configuration nor the environment names one)."""
    project = copy_project("knowledge_chipper", tmp_path / "kc")  # several phases
    env = {k: v for k, v in env_for().items() if not k.startswith(("GIT_AUTHOR_", "GIT_COMMITTER_"))}
    env.update(HOME=str(tmp_path / "home"), GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1")
    if configured:
        git(project, "config", "user.name", "Ada Maintainer")
        git(project, "config", "user.email", "ada@example.invalid")
    proc = subprocess.run([sys.executable, "-m", "unibase", "apply", str(project), "--branch", "merged", "--no-verify"],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    people = git(project, "log", "--format=%an <%ae>|%cn <%ce>", "main..merged").splitlines()
    expected = "Ada Maintainer <ada@example.invalid>" if configured else "unibase <unibase@localhost>"
    assert len(people) >= 2 and set(people) == {f"{expected}|{expected}"}


def packs(project: Path) -> list[str]:
    return sorted(p.name for p in (project / ".git" / "objects" / "pack").glob("*.pack"))


def test_apply_never_starts_the_repositorys_housekeeping(tmp_path):
    """Two packs over ``gc.autoPackLimit``: any ``git maintenance run --auto`` (which a plain
    commit starts) would repack them into one. Apply's commits leave the repository's packs alone."""
    project = copy_project("knowledge_chipper", tmp_path / "kc")  # several phases
    git(project, "repack", "-d", "-q")
    (project / "NOTES.txt").write_text("a second pack\n", encoding="utf-8")
    git(project, "add", "NOTES.txt")
    git(project, "commit", "-q", "-m", "notes")
    git(project, "repack", "-d", "-q")
    git(project, "config", "gc.autoPackLimit", "1")
    git(project, "config", "gc.autoDetach", "false")
    before = packs(project)
    assert len(before) == 2
    proc = apply(project, "--branch", "merged", "--no-verify")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert int(git(project, "rev-list", "--count", "main..merged")) >= 2
    assert packs(project) == before


def test_a_failing_git_step_says_so_and_leaves_no_worktree(project):
    """A checkout filter that fails makes `git worktree add` fail: one sentence, nothing registered."""
    (project / ".gitattributes").write_text("app/billing.py filter=broken\n")
    git(project, "add", ".gitattributes")
    git(project, "commit", "-q", "-m", "attributes")
    git(project, "config", "filter.broken.clean", "cat")
    git(project, "config", "filter.broken.smudge", "false")
    git(project, "config", "filter.broken.required", "true")
    before = tree_state(project)
    proc = apply(project, "--branch", "merged", "--no-verify")
    assert_clean_refusal(proc, project, before, "git worktree add failed", "filter", "unchanged", "run the command again")


# --- 3. messages that say what happened and what to do ------------------------------------------


def test_an_ignored_file_is_not_the_projects_and_is_left_alone(tmp_path):
    """git's own file list is what is read: an ignored module is never read nor changed."""
    local = "from app.billing import Invoice\n\n\ndef first(session):\n    return session.query(Invoice).first()\n"
    project = write_project(tmp_path / "shop", extra={".gitignore": "app/local.py\n", "app/local.py": local})
    proc = apply(project, "--branch", "merged", "--no-verify")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (project / "app/local.py").read_text(encoding="utf-8") == local
    assert "app/local.py" not in git(project, "diff", "--name-only", "main", "merged")


def test_a_file_the_plan_must_create_at_an_ignored_path(tmp_path):
    """The migration the plan writes would land where .gitignore says no: refused before writing."""
    project = copy_project("warehouse", tmp_path / "warehouse")
    (project / ".gitignore").write_text("migrations/versions/*.py\n", encoding="utf-8")
    git(project, "add", ".gitignore")
    git(project, "commit", "-q", "-m", "ignore new revisions")
    before = tree_state(project)
    proc = apply(project, "--prefer", "warehouse/db/models.py", "--branch", "merged", "--no-verify")
    assert_clean_refusal(proc, project, before, "migrations/versions/", "is ignored by git but the plan must create it",
                         ".gitignore", "[tool.unibase] exclude")


def test_a_base_inside_a_git_submodule(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "__init__.py").write_text("")
    (lib / "billing.py").write_text(BILLING)
    make_repo(lib)
    project = tmp_path / "shop"
    write_project(project, billing_dir="unused")
    shutil.rmtree(project / "unused")
    git(project, "rm", "-r", "-q", "unused")
    git(project, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(lib), "vendor")
    git(project, "commit", "-q", "-m", "vendor")
    before = tree_state(project)
    proc = apply(project, "--branch", "merged", "--no-verify")
    assert_clean_refusal(proc, project, before, "vendor/billing.py is inside the git submodule vendor",
                         "cannot change files in a submodule", "exclude", "inside the submodule")


def _without_root_privileges() -> tuple[str, ...]:
    """Root reads any file: drop the capabilities that let it, or skip."""
    if os.geteuid() != 0:
        return ()
    caps = "-dac_override,-dac_read_search"
    prefix = ("setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}")
    if shutil.which("setpriv") and subprocess.run([*prefix, "true"], capture_output=True).returncode == 0:
        return prefix
    pytest.skip("running as root without setpriv: every file is readable")


def test_an_unreadable_file_is_named_as_unreadable_not_as_a_change(project):
    prefix = _without_root_privileges()
    (project / "notes.txt").write_text("private\n")
    git(project, "add", "notes.txt")
    git(project, "commit", "-q", "-m", "notes")
    before = tree_state(project)
    (project / "notes.txt").chmod(0)
    try:
        proc = apply(project, "--branch", "merged", "--no-verify", prefix=prefix)
    finally:
        (project / "notes.txt").chmod(0o644)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    (line,) = [line for line in proc.stderr.splitlines() if line.strip()]
    assert "notes.txt cannot be read" in line and "chmod u+r notes.txt" in line, line
    assert "uncommitted changes" not in line
    assert not branch_exists(project, "merged") and worktrees(project) == [str(project)]
    assert tree_state(project)["files"] == before["files"]


@pytest.mark.parametrize("point", ["scratch-created", "worktree-ready", "committed-1", "before-branch"])
def test_ctrl_c_before_the_branch_exists_says_nothing_was_changed(project, point):
    before = tree_state(project)
    proc = Paused(project, point, "--branch", "merged").signal(signal.SIGINT)
    assert proc.returncode == 130, proc.stdout + proc.stderr
    assert proc.stderr.strip() == "interrupted: nothing was changed"
    assert tree_state(project) == before
    assert scratch_entries(project) == []


@pytest.mark.parametrize("point", ["branch-created", "verify-worktree-ready"])
def test_ctrl_c_after_the_branch_exists_says_what_was_left(project, point):
    before = tree_state(project)
    proc = Paused(project, point, "--branch", "merged").signal(signal.SIGINT)
    assert proc.returncode == 130, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    (line,) = [line for line in proc.stderr.splitlines() if line.strip()]
    assert line.startswith("interrupted: branch merged was created") and "git branch -D merged" in line, line
    after = tree_state(project)
    assert after["files"] == before["files"] and after["head"] == before["head"]
    assert branch_exists(project, "merged")
    assert worktrees(project) == [str(project)] and scratch_entries(project) == []


def test_without_git_verify_scratch_is_its_own_temp_dir_removed_afterwards(tmp_path):
    project = tmp_path / "shop"
    project.mkdir()
    write_project(project)
    shutil.rmtree(project / ".git")
    tmpdir = tmp_path / "tmp"
    (tmpdir / "unibase-2024-notes").mkdir(parents=True)
    proc = apply(project, "--no-git", tmpdir=tmpdir)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "pass schema" in proc.stdout or "skipped schema" in proc.stdout
    assert os.listdir(tmpdir) == ["unibase-2024-notes"]


def test_ctrl_c_without_git_names_the_files_already_written(tmp_path):
    project = tmp_path / "shop"
    project.mkdir()
    write_project(project)
    shutil.rmtree(project / ".git")
    proc = Paused(project, "written-1", "--no-git", "--no-verify").signal(signal.SIGINT)
    assert proc.returncode == 130, proc.stdout + proc.stderr
    (line,) = [line for line in proc.stderr.splitlines() if line.strip()]
    assert line.startswith("interrupted: 1 phase(s) were already written in place (") and "app/models.py" in line, line
