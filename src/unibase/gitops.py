"""The git layer: a new branch, one commit per phase, the user's branch never touched.

Phases are committed in a temporary worktree on a detached HEAD; the branch is created only
once every phase is committed, so an apply interrupted before that leaves no branch and no
change in the user's working tree, and running apply again simply starts over (after removing
what a killed run left in the temporary directory). Verification runs after the branch exists.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import git

BASE_TRAILER = "Unibase-Base"
STEP_TRAILER = "Unibase-Step"


class GitError(RuntimeError):
    """The repository is not in a state apply can work from (exit 2)."""


@dataclass(frozen=True)
class RepoInfo:
    repo_root: Path
    prefix: str  # the project root relative to the repository root ("" when they are the same)
    head: str
    branch: str | None  # the user's branch (None on a detached HEAD)


def open_repo(root: Path) -> git.Repo | None:
    try:
        return git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None


def inspect(root: Path, branch: str, ignore: Iterable[Path] = ()) -> RepoInfo:
    """The repository state apply starts from; raises GitError when apply cannot start.

    ``ignore``: files that may be untracked or modified without making the tree dirty (the plan
    file being applied, which ``unibase plan --out`` wrote into the project).
    """
    repo = open_repo(root)
    if repo is None:
        raise GitError(f"{root} is not in a git repository; commit it to git first, or pass --no-git to write in place")
    repo_root = Path(repo.working_tree_dir or root).resolve()
    try:
        head = repo.head.commit.hexsha
    except ValueError:
        raise GitError("the repository has no commits yet; commit the project first") from None
    dirty = _dirty_paths(repo, repo_root, ignore)
    if dirty:
        shown = ", ".join(dirty[:3]) + (f" and {len(dirty) - 3} more" if len(dirty) > 3 else "")
        raise GitError(f"the working tree has uncommitted changes ({shown}); commit or stash them first")
    try:
        repo.git.check_ref_format("--branch", branch)
    except git.GitCommandError:
        raise GitError(f"{branch!r} is not a valid branch name; pass another with --branch") from None
    heads = [h.name for h in repo.heads]
    if branch in heads:
        raise GitError(f"branch {branch} already exists; delete it or pass another name with --branch")
    clash = next((h for h in heads if h.startswith(branch + "/") or branch.startswith(h + "/")), None)
    if clash is not None:
        raise GitError(f"branch {branch} cannot be created beside the existing branch {clash}; pass another name with --branch")
    user_branch = None if repo.head.is_detached else repo.active_branch.name
    prefix = root.resolve().relative_to(repo_root).as_posix()
    return RepoInfo(repo_root, "" if prefix == "." else prefix, head, user_branch)


def _dirty_paths(repo: git.Repo, repo_root: Path, ignore: Iterable[Path]) -> list[str]:
    """Modified, staged and untracked paths (relative to the repository root), minus ``ignore``."""
    skip = set()
    for p in ignore:
        try:
            skip.add(Path(p).resolve().relative_to(repo_root).as_posix())
        except ValueError:
            continue
    out = [line[3:] for line in repo.git.status("--porcelain", "--untracked-files=all").splitlines() if line[3:]]
    out = [p.split(" -> ")[-1].strip('"') for p in out]
    return [p for p in out if p not in skip]


SCRATCH = re.compile(r"^unibase-(?:verify-)?(\d+)-")


def scratch_dir(kind: str = "") -> Path:
    """A new scratch directory named after this process, so a later run can tell whether the
    process that made it is still alive (``unibase-[verify-]<pid>-...``)."""
    return Path(tempfile.mkdtemp(prefix=f"unibase-{kind + '-' if kind else ''}{os.getpid()}-"))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_scratch(repo: git.Repo) -> None:
    """Remove the scratch worktrees and directories of unibase runs that were killed (their
    process is gone): ``git worktree prune`` alone keeps a worktree whose directory exists."""
    with contextlib.suppress(git.GitCommandError):
        for line in repo.git.worktree("list", "--porcelain").splitlines():
            if not line.startswith("worktree "):
                continue
            path = Path(line.split(" ", 1)[1])
            m = SCRATCH.match(path.parent.name)
            if m and not _alive(int(m.group(1))):
                with contextlib.suppress(git.GitCommandError):
                    repo.git.worktree("remove", "--force", "--force", str(path))
                shutil.rmtree(path.parent, ignore_errors=True)
    for entry in Path(tempfile.gettempdir()).glob("unibase-*"):
        m = SCRATCH.match(entry.name)
        if m and entry.is_dir() and not _alive(int(m.group(1))):
            shutil.rmtree(entry, ignore_errors=True)
    with contextlib.suppress(git.GitCommandError):
        repo.git.worktree("prune")


@contextlib.contextmanager
def scratch_worktree(info: RepoInfo) -> Iterator[tuple[git.Repo, Path]]:
    """A detached worktree at the user's HEAD, removed afterwards whatever happens."""
    repo = git.Repo(info.repo_root)
    clean_stale_scratch(repo)
    parent = scratch_dir()
    path = parent / "tree"
    repo.git.worktree("add", "--detach", str(path), info.head)
    try:
        yield git.Repo(path), path / info.prefix if info.prefix else path
    finally:
        with contextlib.suppress(git.GitCommandError):
            repo.git.worktree("remove", "--force", str(path))
        shutil.rmtree(parent, ignore_errors=True)
        with contextlib.suppress(git.GitCommandError):
            repo.git.worktree("prune")


def commit_phase(worktree: git.Repo, paths: list[str], subject: str, body: str, step: str, base: str) -> str:
    worktree.git.add("--", *paths)
    message = f"{subject}\n\n{body.rstrip()}\n\n{STEP_TRAILER}: {step}\n{BASE_TRAILER}: {base}\n"
    env = {}
    reader = worktree.config_reader()
    if not reader.has_option("user", "name"):
        env.update(GIT_AUTHOR_NAME="unibase", GIT_COMMITTER_NAME="unibase")
    if not reader.has_option("user", "email"):
        env.update(GIT_AUTHOR_EMAIL="unibase@localhost", GIT_COMMITTER_EMAIL="unibase@localhost")
    worktree.git.commit("--no-verify", "-q", "-m", message, env=env or None)
    return worktree.head.commit.hexsha


def create_branch(info: RepoInfo, branch: str, sha: str) -> None:
    repo = git.Repo(info.repo_root)
    repo.git.branch(branch, sha)


def base_from_head(root: Path) -> str | None:
    """The commit a unibase branch started from, read from the trailer of HEAD's message."""
    repo = open_repo(root)
    if repo is None:
        return None
    try:
        message = repo.head.commit.message
    except ValueError:
        return None
    for line in str(message).splitlines():
        if line.startswith(f"{BASE_TRAILER}:"):
            return line.split(":", 1)[1].strip()
    return None
