"""Everything verify makes outside the project, removed on exit whatever happens: its scratch
folder, the worktree of the tree before the merge, scratch databases, and the child processes
that run :mod:`unibase.verify.child` with the project's interpreter."""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..gitops import Scratch, drop_worktrees, scratch_space
from ..interrupts import deferred_sigint, pause_point
from . import child as child_program
from . import overlap as overlap_module
from . import scratch as scratch_module
from . import forkserver, forks
from .report import VerifyError, last_lines

if TYPE_CHECKING:
    from .targets import Targets


CHANGED_TIMEOUT = 60  # seconds for each changed module beyond the models
CHILD_TIMEOUT = 600  # seconds; a model module that hangs on import must not hang verify
_MARKER = child_program.MARKER  # what precedes the child's JSON result on its stdout


class Session(contextlib.AbstractContextManager):
    """Everything verify creates outside the project, removed on exit whatever happens."""

    def __init__(self, root: Path, python: str) -> None:
        self.root = root
        self.python = python
        self._stack = contextlib.ExitStack()
        self.scratch: Scratch = self._stack.enter_context(scratch_space(root, "verify"))
        self.tmp = self.scratch.path
        self.repo_top, self.prefix, self.checkout = _repo_of(root)
        self.base: str | None = None
        self._old_root: Path | None = None
        self._cleanups: list[Any] = []
        self._server: forks.ForkServer | None = None
        self._forked: list[forks.Forked] = []
        if self.repo_top is not None and self.checkout is not None and self.repo_top != self.checkout:
            _localise_links(self.repo_top, (self.checkout,))  # a scratch worktree of apply's

    def __exit__(self, *exc: object) -> None:
        with deferred_sigint():  # a second Ctrl-C must not cut the cleanup short
            for cleanup in reversed(self._cleanups):
                with contextlib.suppress(Exception):
                    cleanup()
            self._stack.close()

    # -- against ----------------------------------------------------------------------------------

    def resolve_against(self, against: str | None) -> tuple[str | None, str | None]:
        """The commit before the merge, or None and the reason there is none."""
        if self.repo_top is None:
            if against:
                raise VerifyError(f"--against {against} needs a git repository, and {self.root} is not in one")
            return None, "not a git repository and no --against revision: nothing to compare the schema with"
        if against:
            sha = _rev_parse(self.root, against)
            if sha is None:
                raise VerifyError(f"--against {against} is not a commit of the repository at {self.repo_top}")
            self.base = sha
            return sha, None
        from ..gitops import BASE_TRAILER, base_from_head

        trailer = base_from_head(self.root)
        if not trailer:
            return None, (f"HEAD has no {BASE_TRAILER} trailer (not a unibase branch); "
                          "pass --against <revision before the merge> to compare the schema")
        sha = _rev_parse(self.root, trailer)
        if sha is None:
            return None, f"HEAD's {BASE_TRAILER}: {trailer} is not in this repository; pass --against"
        self.base = sha
        return sha, None

    def changed_files(self) -> list[str] | None:
        """Python files changed between ``against`` and the working tree (None: every file counts)."""
        if self.base is None:
            return None
        diff = _git(self.root, "diff", "-z", "--name-only", "--no-renames", "--diff-filter=d", "--relative",
                    self.base, "--")
        untracked = _git(self.root, "ls-files", "-z", "--others", "--exclude-standard")
        names = [n for n in (diff + untracked).split("\0") if n.endswith(".py")]
        # a symbolic link is another name of its target: the target is the file that changed
        return sorted({n for n in names if (self.root / n).is_file() and not (self.root / n).is_symlink()})

    def old_root(self) -> Path:
        """The project as it was at ``against``, checked out once in a detached worktree."""
        if self._old_root is None:
            assert self.base is not None and self.repo_top is not None
            path = self.tmp / "against"
            self._cleanups.append(lambda: drop_worktrees(self.scratch, path))
            self.scratch.git(self.root, "worktree", "add", "--detach", "-f", str(path), self.base)
            _localise_links(path, tuple(t for t in (self.repo_top, self.checkout) if t is not None))
            pause_point("verify-worktree-ready")
            self._old_root = path / self.prefix if self.prefix else path
        return self._old_root

    def old_source(self, rel: str) -> bytes | None:
        if self.base is None:
            return None
        try:
            return subprocess.run(["git", "show", f"{self.base}:./{rel}"], cwd=self.root, capture_output=True,
                                  check=True).stdout
        except subprocess.CalledProcessError:
            return None

    # -- databases --------------------------------------------------------------------------------

    def scratch_database(self, url: str) -> str:
        """A fresh database on the caller's server, dropped afterwards (or the URL itself, when empty)."""
        from sqlalchemy import create_engine, inspect
        from sqlalchemy.engine import make_url
        from sqlalchemy.pool import NullPool

        u = make_url(url)
        postgres = u.get_backend_name() == "postgresql"
        name = f"unibase_verify_{secrets.token_hex(6)}"
        quoted = f'"{name}"' if postgres else name
        admin = create_engine(u, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(f"CREATE DATABASE {quoted}")
        except Exception as exc:
            # no CREATEDB right (or no such statement): the given database must then be empty
            admin.dispose()
            try:
                with create_engine(u, poolclass=NullPool).connect() as conn:
                    tables = inspect(conn).get_table_names()
            except Exception as exc2:
                raise VerifyError(f"cannot connect to {u.render_as_string()}: {type(exc2).__name__}: {exc2}") from None
            if tables:
                raise VerifyError(
                    f"{u.render_as_string()} is not empty and unibase could not create a scratch database "
                    f"there ({type(exc).__name__}); pass the URL of an empty database"
                ) from None
            return url

        def drop() -> None:
            with admin.connect() as conn:
                try:  # FORCE (PostgreSQL 13+) also ends connections a child may have left behind
                    conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted}" + (" WITH (FORCE)" if postgres else ""))
                except Exception:
                    conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted}")
            admin.dispose()

        self._cleanups.append(drop)
        return u.set(database=name).render_as_string(hide_password=False)

    # -- children ---------------------------------------------------------------------------------

    def start_server(self) -> None:
        """From now on, fork each child from one process of the project's interpreter that
        imported SQLAlchemy and Alembic once (:mod:`unibase.verify.forkserver`), where it can;
        elsewhere, or when that process cannot fork them, each child is started on its own."""
        env = _child_env()
        if self._server is not None or not forks.usable(env):
            return
        try:
            server = forks.ForkServer(self.python, self._script(forkserver, "unibase_verify_forkserver.py"),
                                      self._script(child_program, "unibase_verify_child.py"), self.tmp, env,
                                      self.tmp / "forkserver-err.txt")
        except OSError:
            return
        self._cleanups.append(server.stop)
        self._server = server

    def _script(self, module: Any, name: str) -> Path:
        # a copy in scratch space, run by path: the child's directory is never unibase's own
        # package, whose module names could shadow the project's
        script = self.tmp / name
        if not script.exists():
            shutil.copyfile(module.__file__, script)
            if module is child_program:  # and the modules it loads from beside itself
                for beside in (scratch_module, overlap_module):
                    shutil.copyfile(beside.__file__, self.tmp / f"unibase_verify_{Path(beside.__file__).stem}.py")
        return script

    def _fork_server(self) -> forks.ForkServer | None:
        """The server, unless it died before forking anything more: the children it did not
        fork are then started on their own, now."""
        server = self._server
        if server is not None:
            while server.read(0):
                pass
            if server.gone:
                for forked in self._forked:
                    forked.fall_back()
                self._server = None
        return self._server

    def start_child(self, cwd: Path, targets: Targets, *, import_db: Path | None = None, combine: bool = False,
                    builds: Sequence[str] = (), compares: Sequence[str] = (), ready_file: Path | None = None,
                    wait_for: Path | None = None, statements: tuple[Path, Path] | None = None) -> Child:
        """Start :mod:`unibase.verify.child` with the project's interpreter in ``cwd``.

        ``builds``: database URLs to create the in-scope tables on (then ``ready_file`` is
        written); ``compares``: URLs to diff the metadata against, once ``wait_for`` exists;
        ``statements``: where this child writes the statements that create its tables and where
        the other tree's child writes its own (the tables both create alike are not compared).
        """
        script = self._script(child_program, "unibase_verify_child.py")
        tag = secrets.token_hex(4)
        args_file = self.tmp / f"args-{tag}.json"
        args = {
            "roots": [str(cwd / r) if r else str(cwd) for r in targets.roots],
            "modules": list(targets.modules),
            "bases": [list(b) for b in targets.bases],
            "import_db": str(import_db) if import_db else None,
            "combine": combine,
            "builds": list(builds),
            "compares": list(compares),
            "ready_file": str(ready_file) if ready_file else None,
            "wait_for": str(wait_for) if wait_for else None,
            "statements_to": str(statements[0]) if statements else None,
            "statements_from": str(statements[1]) if statements else None,
            "timeout": CHILD_TIMEOUT,
            "changed": list(targets.changed),
            "changed_timeout": CHANGED_TIMEOUT,
        }
        args_file.write_text(json.dumps(args), encoding="utf-8")
        env = _child_env()
        out, err = self.tmp / f"out-{tag}.txt", self.tmp / f"err-{tag}.txt"
        argv = [str(script), str(args_file)]

        def separately() -> subprocess.Popen:
            # files, not pipes: a chatty model module must not block on a full pipe
            with open(out, "wb") as fout, open(err, "wb") as ferr:
                return subprocess.Popen([self.python, *argv], cwd=cwd, stdout=fout, stderr=ferr,
                                        stdin=subprocess.DEVNULL, env=env)

        server = self._fork_server()
        proc: subprocess.Popen | forks.Forked
        if server is None:
            proc = separately()
        else:
            for path in (out, err):  # there to read even if the server goes before the child opens them
                path.write_bytes(b"")
            proc = forks.Forked(server, {"fork": tag, "cwd": str(cwd), "argv": argv, "out": str(out),
                                         "err": str(err), "env": env}, separately)
            self._forked.append(proc)
        self._cleanups.append(lambda: _stop(proc))
        return Child(proc, out, err, time.monotonic())

    def finish_child(self, child: Child, meanwhile: Callable[[], object] | None = None) -> dict:
        """The child's JSON result, or ``{"crash": ...}`` when it produced none; ``meanwhile`` is
        called every tenth of a second while it runs."""
        deadline = child.started + CHILD_TIMEOUT
        try:
            while meanwhile is not None and deadline - time.monotonic() > 0.1:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.proc.wait(timeout=0.1)
                    break
                meanwhile()
            child.proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _stop(child.proc)
            return {"crash": f"timed out after {CHILD_TIMEOUT} s importing the model modules"}
        stdout = child.out.read_text(encoding="utf-8", errors="replace")
        stderr = child.err.read_text(encoding="utf-8", errors="replace")
        _, sep, payload = stdout.rpartition(_MARKER)
        if not sep:
            return {"crash": f"{self.python} exited with {child.proc.returncode}: {last_lines(stderr or stdout)}"}
        try:
            return json.loads(payload)
        except json.JSONDecodeError:
            return {"crash": f"unreadable result from {self.python}: {last_lines(payload)}"}

    def run_child(self, cwd: Path, targets: Targets, **kwargs: Any) -> dict:
        return self.finish_child(self.start_child(cwd, targets, **kwargs))


@dataclass(frozen=True)
class Child:
    proc: subprocess.Popen | forks.Forked
    out: Path
    err: Path
    started: float


def _stop(proc: subprocess.Popen | forks.Forked) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def _child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}  # leave no __pycache__ in the user's tree


def mark_ready(path: Path, count: int) -> None:
    """Release a child waiting for the old databases when the old tree's child wrote nothing."""
    _mark(path, {"built": [False] * count})


def mark_no_statements(path: Path) -> None:
    """Release the old tree's child waiting for the merged tree's statements when that child
    ended without writing them."""
    _mark(path, {"tables": None})


def _mark(path: Path, data: dict) -> None:
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, path)


def interpreter(python: str | None) -> str:
    if not python:
        return sys.executable
    found = shutil.which(python)
    if found is None:
        raise VerifyError(f"--python {python} is not an executable; pass the project's interpreter")
    return found


def backend_name(url: str) -> str:
    return re.split(r"[+:]", url, maxsplit=1)[0] or "database"


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def _repo_of(root: Path) -> tuple[Path | None, str, Path | None]:
    """The repository's top, the project's directory in it, and the repository's main working
    tree (the user's checkout, also from a linked worktree; None for a bare common directory),
    from one ``git rev-parse``; (None, "", None) outside git."""
    try:
        out = _git(root, "rev-parse", "--show-toplevel", "--show-prefix", "--path-format=absolute", "--git-common-dir")
    except (subprocess.CalledProcessError, OSError):
        return None, "", None
    top, prefix, common = (out.split("\n") + ["", "", ""])[:3]
    common_dir = Path(common.strip())
    return Path(top.strip()), prefix.strip().rstrip("/"), common_dir.parent if common_dir.name == ".git" else None


def _localise_links(tree: Path, checkouts: tuple[Path, ...]) -> None:
    """In a scratch worktree, re-point the absolute links that lead into one of ``checkouts`` (the
    user's files) at the same path inside ``tree``, so the tree checked is the tree verified."""
    try:
        listing = _git(tree, "ls-files", "-s", "-z")
    except (subprocess.CalledProcessError, OSError):
        return
    tops = [c.resolve() for c in checkouts]
    for entry in listing.split("\0"):
        if not entry.startswith("120000 "):
            continue
        link = tree / entry.split("\t", 1)[1]
        try:
            target = Path(os.readlink(link))
        except OSError:
            continue
        if not target.is_absolute():
            continue
        for top in tops:
            if target == top or top in target.parents:
                local = tree / target.relative_to(top)
                link.unlink()
                link.symlink_to(os.path.relpath(local, link.parent))
                break


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def _rev_parse(root: Path, rev: str) -> str | None:
    try:
        return _git(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").strip() or None
    except subprocess.CalledProcessError:
        return None

