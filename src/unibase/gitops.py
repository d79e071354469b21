"""The git layer: a new branch, one commit per phase, the user's branch never touched.

Phases are committed in a temporary worktree on a detached HEAD; the branch is created only
once every phase is committed, so an apply interrupted before that leaves no branch and no
change in the user's working tree, and running apply again simply starts over. Verification runs
after the branch exists.

Scratch space lives where only unibase writes: ``<git-common-dir>/unibase/<pid>-<token>/``, one
entry per run, with a marker file naming the owning process and the repository. The owner holds
a lock on its marker for as long as it runs (the system releases it when the process dies, even
on SIGKILL, and a recycled pid cannot hold it), so a later run removes exactly the entries that
carry unibase's marker and whose owner is gone, with the worktrees registered inside them.
Nothing else is ever removed: not the system temporary directory, not an unmarked folder.

Every git command unibase runs that could start a hook runs with ``core.hooksPath`` pointed at an
empty directory of its scratch entry, with signing off and without automatic maintenance: the
user's hooks, signing keys, filesystem monitors and repository housekeeping are theirs, not part
of a merge.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import git

from .interrupts import deferred_sigint, pause_point

try:  # POSIX: liveness is a lock the owner holds; elsewhere, its pid
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

BASE_TRAILER = "Unibase-Base"
STEP_TRAILER = "Unibase-Step"

SCRATCH_HOME = "unibase"  # <git-common-dir>/unibase holds unibase's scratch entries and nothing else
MARKER = "unibase-scratch.json"  # names an entry's owner; present in every entry unibase may remove
NO_HOOKS = "no-hooks"  # an empty directory: core.hooksPath for unibase's own git commands
# maintenance.auto: a commit in the scratch worktree does not start the repository's housekeeping
# (``git maintenance run --auto``) once per phase; the user's own next commit still does
SAFE_CONFIG = ("core.hooksPath={hooks}", "commit.gpgsign=false", "tag.gpgsign=false", "core.fsmonitor=false",
               "maintenance.auto=false")


class GitError(RuntimeError):
    """The repository is not in a state apply can work from (exit 2)."""


class GitStepError(GitError):
    """A git command unibase ran failed (exit 2); the message names it and what git said."""

    def __init__(self, args: tuple[str, ...], stderr: str) -> None:
        lines = [line.strip() for line in stderr.splitlines() if line.strip()]
        detail = next((line for line in lines if line.startswith(("fatal:", "error:"))), None)
        detail = detail or next((line for line in reversed(lines) if not line.startswith("hint:")), "no message")
        words = [a for a in args if not a.startswith("-")][:2]
        command = " ".join(words) if words[:1] == ["worktree"] else "".join(words[:1])
        super().__init__(
            f"git {command} failed ({detail}); your branch and working tree are unchanged: fix what git reports "
            "and run the command again"
        )


@dataclass(frozen=True)
class RepoInfo:
    repo_root: Path
    prefix: str  # the project root relative to the repository root ("" when they are the same)
    head: str
    branch: str | None  # the user's branch (None on a detached HEAD)


def open_repo(root: Path) -> git.Repo | None:
    """The repository ``root`` is in, or None; close it (``repository``): GitPython keeps
    ``git cat-file`` processes and their pipes open for it until then."""
    try:
        return git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None


@contextlib.contextmanager
def repository(root: Path) -> Iterator[git.Repo | None]:
    """:func:`open_repo`, closed on exit: a process running many commands (an API user, a test
    session) must not keep a ``git cat-file`` process and three pipes per command until the
    garbage collector finds the repository object."""
    repo = open_repo(root)
    try:
        yield repo
    finally:
        if repo is not None:
            repo.close()


def in_repository(root: Path) -> bool:
    with repository(root) as repo:
        return repo is not None


def inspect(root: Path, branch: str, ignore: Iterable[Path] = ()) -> RepoInfo:
    """The repository state apply starts from; raises GitError when apply cannot start.

    ``ignore``: files that may be untracked or modified without making the tree dirty (the plan
    file being applied, which ``unibase plan --out`` wrote into the project).
    """
    with repository(root) as repo:
        if repo is None:
            raise GitError(f"{root} is not in a git repository; commit it to git first, or pass --no-git to write in place")
        return _inspect(repo, root, branch, ignore)


def _inspect(repo: git.Repo, root: Path, branch: str, ignore: Iterable[Path]) -> RepoInfo:
    repo_root = Path(repo.working_tree_dir or root).resolve()
    try:
        head = repo.head.commit.hexsha
    except ValueError:
        raise GitError("the repository has no commits yet; commit the project first") from None
    dirty = _dirty_paths(repo, repo_root, ignore)
    for path in dirty:
        reason = _unreadable(repo_root / path)
        if reason:
            raise GitError(f"{path} cannot be read ({reason}), so git cannot tell whether it changed; "
                           f"make it readable (chmod u+r {path}) or remove it, then run apply again")
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
    # --no-optional-locks: looking must not rewrite the user's index (nor start their post-index-change hook)
    status = _run(repo_root, ("--no-optional-locks", "status", "--porcelain", "--untracked-files=all"))
    out = [line[3:] for line in status.splitlines() if line[3:]]
    out = [p.split(" -> ")[-1].strip('"') for p in out]
    return [p for p in out if p not in skip]


def _unreadable(path: Path) -> str | None:
    """Why ``path`` cannot be read (git then reports it as changed), or None."""
    try:
        if path.is_dir() and not path.is_symlink():
            os.listdir(path)
        elif path.exists() and not path.is_symlink():
            with open(path, "rb"):
                pass
    except OSError as exc:
        return (exc.strerror or type(exc).__name__).lower()
    return None


def refuse_uncommittable(info: RepoInfo, paths: Iterable[str]) -> None:
    """Raise GitError before anything is written when the plan must change a file (``paths``,
    relative to the project root) that unibase cannot commit: inside a git submodule, or ignored."""
    rel = {(f"{info.prefix}/{p}" if info.prefix else p): p for p in paths}
    if not rel:
        return
    for line in _run(info.repo_root, ("ls-files", "-z", "--stage")).split("\0"):
        meta, _, sub = line.partition("\t")
        inside = next((p for p in rel if p.startswith(sub + "/")), None) if meta.startswith("160000 ") else None
        if inside is not None:
            shown = sub.removeprefix(info.prefix + "/") if info.prefix else sub
            raise GitError(f"{rel[inside]} is inside the git submodule {shown} and unibase cannot change files in a "
                           f"submodule: add {shown} to [tool.unibase] exclude, or run unibase inside the submodule")
    tracked = set(_run(info.repo_root, ("--literal-pathspecs", "ls-files", "-z", "--", *rel)).split("\0"))
    untracked = [p for p in rel if p not in tracked]
    if not untracked:
        return
    ignored = _run(info.repo_root, ("check-ignore", "-z", "--stdin"), ok=(0, 1),
                   input="\0".join(untracked) + "\0").split("\0")
    path = next((rel[p] for p in untracked if p in ignored), None)
    if path is not None and not (info.repo_root / info.prefix / path).exists():
        raise GitError(f"{path} is ignored by git but the plan must create it, so unibase cannot commit it: "
                       "change the .gitignore pattern that matches it, or add the files that need it to "
                       "[tool.unibase] exclude")
    if path is not None:
        raise GitError(f"{path} is ignored by git but the plan must change it, so unibase cannot commit the change: "
                       f"commit the file (git add -f {path}) or add it to [tool.unibase] exclude")


# --- scratch space ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Scratch:
    """One run's own directory, and an empty hooks directory for the git commands it runs."""

    path: Path
    repo: Path  # a directory of the repository, to run git from
    common: Path | None  # the repository's common git directory (None outside git)

    @property
    def hooks(self) -> Path:
        return self.path / NO_HOOKS

    def git(self, cwd: Path, *args: str, env: dict | None = None) -> str:
        """Run git without the user's hooks, signing or filesystem monitor; GitStepError on failure."""
        return _run(cwd, args, hooks=self.hooks, env=env)


def _run(cwd: Path, args: tuple[str, ...], *, hooks: Path | None = None, env: dict | None = None,
         ok: tuple[int, ...] = (0,), input: str | None = None) -> str:
    config = [c.format(hooks=hooks) for c in SAFE_CONFIG] if hooks is not None else []
    cmd = ["git", *(x for c in config for x in ("-c", c)), *args]
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, errors="replace", input=input,
                          stdin=subprocess.DEVNULL if input is None else None, env={**os.environ, **env} if env else None)
    if proc.returncode not in ok:
        raise GitStepError(args, proc.stderr)
    return proc.stdout


def git_common_dir(root: Path) -> Path | None:
    with repository(root) as repo:
        return Path(repo.common_dir).resolve() if repo is not None else None


@contextlib.contextmanager
def scratch_space(root: Path, kind: str) -> Iterator[Scratch]:
    """A new directory for one run, removed on exit whatever happens.

    In a git repository it is an entry of ``<git-common-dir>/unibase/`` (see the module doc), and
    the entries of killed runs are removed first; elsewhere it is a new temporary directory of
    this run's own.
    """
    common = git_common_dir(root)
    if common is None:
        scratch = Scratch(Path(tempfile.mkdtemp(prefix=f"unibase-{kind}-")), root, None)
        scratch.hooks.mkdir()
        try:
            yield scratch
        finally:
            with deferred_sigint():
                shutil.rmtree(scratch.path, ignore_errors=True)
        return
    lock = None
    try:
        with deferred_sigint():  # a Ctrl-C now must not leave an entry without its marker
            scratch, lock = _claim(root, common, kind)
        clean_stale_scratch(scratch)
        yield scratch
    finally:
        if lock is not None:
            with deferred_sigint():
                _remove_entry(scratch.path)
                os.close(lock)


def _claim(root: Path, common: Path, kind: str) -> tuple[Scratch, int]:
    """Make this run's entry; the marker is in place (and locked) before anyone can read it."""
    home = common / SCRATCH_HOME
    home.mkdir(exist_ok=True)
    entry = home / f"{os.getpid()}-{secrets.token_hex(6)}"
    entry.mkdir()
    fresh = entry / (MARKER + ".new")
    fd = os.open(fresh, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held until this run ends (or dies)
    owner = {"tool": "unibase", "kind": kind, "pid": os.getpid(), "started": _start_time(os.getpid()),
             "host": socket.gethostname(), "repository": str(root.resolve()), "git_dir": str(common)}
    os.write(fd, json.dumps(owner).encode("utf-8"))
    os.replace(fresh, entry / MARKER)
    (entry / NO_HOOKS).mkdir()
    return Scratch(entry, root, common), fd


def _start_time(pid: int) -> str:
    """When the process started (Linux: clock ticks since boot), to tell a recycled pid apart."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return str(time.time()) if pid == os.getpid() else ""


def _owner_gone(entry: Path) -> bool:
    """True only for an entry that carries unibase's marker and whose owner process is gone."""
    marker = entry / MARKER
    try:
        owner = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False  # not marked (or not ours): never removed
    if not isinstance(owner, dict) or owner.get("tool") != "unibase":
        return False
    if fcntl is None:  # pragma: no cover - Windows
        pid = owner.get("pid")
        return isinstance(pid, int) and not _alive(pid, str(owner.get("started", "")))
    try:
        fd = os.open(marker, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return False  # its owner holds the lock: alive
    finally:
        os.close(fd)
    return True


def _alive(pid: int, started: str) -> bool:  # pragma: no cover - the fallback without fcntl
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return not started or _start_time(pid) in ("", started)


def clean_stale_scratch(scratch: Scratch) -> None:
    """Remove the entries (and their registered worktrees) of unibase runs that were killed."""
    assert scratch.common is not None
    home = scratch.common / SCRATCH_HOME
    dead = [e for e in sorted(home.iterdir()) if e != scratch.path and e.is_dir() and _owner_gone(e)]
    for entry in dead:
        with deferred_sigint():
            drop_worktrees(scratch, entry)
            _remove_entry(entry)


def _registered_inside(common: Path, where: Path) -> list[tuple[Path, Path]]:
    """(worktree, admin directory) of each worktree registered in the repository whose directory is
    ``where`` or inside it, read from ``<common>/worktrees/*/gitdir`` (gitrepository-layout(5)), so a
    half-created or half-removed worktree is found too."""
    out = []
    admin = common / "worktrees"
    for d in sorted(admin.iterdir()) if admin.is_dir() else []:
        with contextlib.suppress(OSError):
            tree = Path((d / "gitdir").read_text(encoding="utf-8").strip()).parent
            if tree.resolve().is_relative_to(where.resolve()):
                out.append((tree, d))
    return out


def drop_worktrees(scratch: Scratch, where: Path) -> None:
    """Remove and unregister the worktrees unibase made at or inside ``where``, even broken ones:
    ``git worktree remove``; when git cannot, what ``git worktree prune`` would do, for these only
    (a plain prune would also forget the user's own worktrees on a drive that is not mounted)."""
    if scratch.common is None:
        return
    for tree, admin in _registered_inside(scratch.common, where):
        with contextlib.suppress(GitStepError):
            scratch.git(scratch.repo, "worktree", "remove", "--force", "--force", str(tree))
        if admin.exists():
            shutil.rmtree(tree, ignore_errors=True)
            shutil.rmtree(admin, ignore_errors=True)


def _remove_entry(entry: Path) -> None:
    """Remove an entry, its marker last (an entry is never left unmarked while it still holds files)."""
    for child in entry.iterdir() if entry.is_dir() else ():
        if child.name == MARKER:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                child.unlink()
    with contextlib.suppress(OSError):
        (entry / MARKER).unlink()
    with contextlib.suppress(OSError):
        entry.rmdir()


@dataclass(frozen=True)
class ScratchTree:
    """The detached worktree apply commits in: ``path`` its top, ``project`` the project inside it."""

    scratch: Scratch
    path: Path
    project: Path

    def git(self, *args: str, env: dict | None = None) -> str:
        return self.scratch.git(self.path, *args, env=env)

    @functools.cached_property
    def identity(self) -> dict[str, str]:
        """The author and committer unibase names when neither git's configuration nor the
        environment does; read once per run, since no phase changes the configuration."""
        configured = set()
        for line in _run(self.path, ("config", "--get-regexp", r"^user\.(name|email)$"), ok=(0, 1)).splitlines():
            key, _, value = line.partition(" ")
            if value.strip():
                configured.add(key)
        env = {}
        if "user.name" not in configured and "GIT_AUTHOR_NAME" not in os.environ:
            env.update(GIT_AUTHOR_NAME="unibase", GIT_COMMITTER_NAME="unibase")
        if "user.email" not in configured and "GIT_AUTHOR_EMAIL" not in os.environ:
            env.update(GIT_AUTHOR_EMAIL="unibase@localhost", GIT_COMMITTER_EMAIL="unibase@localhost")
        return env


@contextlib.contextmanager
def scratch_worktree(info: RepoInfo) -> Iterator[ScratchTree]:
    """A detached worktree at the user's HEAD in this run's scratch entry, removed (and
    unregistered) afterwards whatever happens, also when ``git worktree add`` itself fails."""
    with scratch_space(info.repo_root, "apply") as scratch:
        path = scratch.path / "tree"
        pause_point("scratch-created")
        try:
            scratch.git(info.repo_root, "worktree", "add", "--detach", str(path), info.head)
            pause_point("worktree-ready")
            yield ScratchTree(scratch, path, path / info.prefix if info.prefix else path)
        finally:
            with deferred_sigint():
                drop_worktrees(scratch, path)


def commit_phase(tree: ScratchTree, paths: list[str], subject: str, body: str, step: str, base: str) -> str:
    tree.git("add", "--", *paths)
    message = f"{subject}\n\n{body.rstrip()}\n\n{STEP_TRAILER}: {step}\n{BASE_TRAILER}: {base}\n"
    tree.git("commit", "--no-verify", "-q", "-m", message, env=tree.identity or None)
    return tree.git("rev-parse", "HEAD").strip()


def create_branch(tree: ScratchTree, info: RepoInfo, branch: str, sha: str) -> None:
    tree.scratch.git(info.repo_root, "branch", branch, sha)


def base_from_head(root: Path) -> str | None:
    """The commit a unibase branch started from, read from the trailer of HEAD's message."""
    with repository(root) as repo:
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
