"""Verify a merge: the changed files compile, one base is in scope, the models import, the schema is the same.

unibase never imports user code in its own process. Every dynamic check runs in a subprocess
with the project's interpreter (``--python``), from the script :data:`_CHILD_SOURCE`, which
imports *only* the modules that define the in-scope bases, models and Core tables (not the
whole application) and prints one JSON result.

Schema equivalence is proved against the tree before the merge (``against``), materialised
with ``git worktree add --detach`` and always removed afterwards:

1. a child in the *old* tree copies every table of every in-scope base into one fresh
   ``MetaData`` (so cross-base foreign keys resolve) and creates it on an empty database.
   It also diffs that metadata against its own database: whatever Alembic reports there is
   reflection noise, not a change, and is subtracted later;
2. a child in the *new* tree, started at the same time, runs the import check (import,
   ``configure_mappers()``, ``create_all()`` on SQLite), waits until the old database is
   built, and then runs Alembic's ``compare_metadata`` of the merged metadata against it,
   plus a comparison of the primary key, foreign key and unique constraint names that
   Alembic leaves out.

A difference passes only when the plan declared it (:class:`DeclaredChange`). A failure the
project already had at ``against`` is reported as ``pre-existing``: unibase must neither be
blamed for the project's own bugs nor hide them.
"""

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
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from .discovery import Index, Symbol
from .gitops import Scratch, drop_worktrees, scratch_space
from .interrupts import deferred_sigint, pause_point
from .plan import Plan

if TYPE_CHECKING:
    from .api import Finding

PASS, FAIL, PRE_EXISTING, SKIPPED = "pass", "fail", "pre-existing", "skipped"

CHILD_TIMEOUT = 600  # seconds; a model module that hangs on import must not hang verify
TAIL_LINES = 40


class VerifyError(ValueError):
    """Bad input for verify (exit 2): the path, the revision or the interpreter does not exist."""


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: str  # "pass" | "fail" | "pre-existing" | "skipped"
    detail: str


@dataclass(frozen=True)
class VerifyReport:
    checks: tuple[CheckResult, ...]
    against: str | None  # the commit the schema was compared with

    @property
    def ok(self) -> bool:
        return all(c.status != FAIL for c in self.checks)

    def check(self, name: str) -> CheckResult | None:
        return next((c for c in self.checks if c.name == name), None)


@dataclass(frozen=True)
class DeclaredChange:
    """A schema difference the plan announced, so verify accepts it.

    ``metadata-options``: the table takes the canonical metadata's option named in ``detail``
    (``naming_convention``: constraint and index names may differ, nothing else;
    ``type_annotation_map``: column types may differ too; ``schema``: anything on the table).
    ``duplicate-table`` / ``identical-duplicate-table``: one definition of the table won, so
    anything on that table may differ.
    """

    kind: str
    table: str
    detail: str = ""


def declared_from_plan(plan: Plan) -> tuple[DeclaredChange, ...]:
    out: list[DeclaredChange] = []
    for c in plan.conflicts:
        if c.kind == "metadata-options":
            option = str(c.options.get("option") or c.detail)
            out.extend(DeclaredChange(c.kind, str(t), option) for t in c.options.get("tables", ()))
        elif c.kind in ("duplicate-table", "identical-duplicate-table"):
            out.append(DeclaredChange(c.kind, c.subject, c.resolution or c.detail))
    return tuple(dict.fromkeys(out))


# --- the entry point ----------------------------------------------------------------------------


def verify_project(
    root: Path,
    *,
    against: str | None = None,
    python: str | None = None,
    test_cmd: str | None = None,
    declared: Sequence[DeclaredChange] = (),
    database_url: str | None = None,
    declared_from_against: bool = False,
) -> VerifyReport:
    """Run every check on the project at ``root``; raise :class:`VerifyError` only on bad input.

    ``declared_from_against`` also accepts what the plan unibase makes for the tree at
    ``against`` declares (for ``unibase verify`` run on its own, without the applied plan).
    """
    root = Path(root).resolve()
    if not root.is_dir():
        raise VerifyError(f"{root} is not a directory; pass the path of the merged project")
    python = _interpreter(python)
    with _Session(root, python) as session:
        base, why_not = session.resolve_against(against)
        changed = session.changed_files()
        new = _scan(root)
        old = None
        if base is not None:
            if session.old_root().is_dir():
                old = _scan(session.old_root())
            else:
                why_not = f"the project directory did not exist at {base[:10]}: nothing to compare the schema with"
        if old is not None and old.plan is not None and declared_from_against:
            declared = (*declared, *declared_from_plan(old.plan))
        checks = [_check_parse(session, changed), _check_single_base(new)]

        # the old database(s) first: the new tree's child compares against them
        schema_names = ["schema"] + ([f"schema-{_backend(database_url)}"] if database_url else [])
        old_urls: list[str] = []
        builds: list[dict] = []
        ready = session.tmp / "old-ready.json"
        old_child = None
        if old is not None:
            old_urls = [_sqlite_url(session.tmp / "old.sqlite")]
            if database_url:
                old_urls.append(session.scratch_database(database_url))
            old_child = session.start_child(session.old_root(), old.targets, builds=old_urls, ready_file=ready)
        # both trees' children run at once; the new one waits for the old databases to compare
        new_child = session.start_child(root, new.targets, import_db=session.tmp / "new.sqlite",
                                        compares=old_urls, wait_for=ready if old_urls else None)
        if old_child is not None:
            built = session.finish_child(old_child)
            _mark_ready(ready, len(old_urls))
            if "crash" in built:
                why_not = f"the child process in the tree at {base[:10] if base else '?'} failed: {built['crash']}"
                old = None
            builds = built.get("builds") or []
        result = session.finish_child(new_child)
        import_check, import_error = _import_result(new, result, changed)
        if import_error is not None and import_error.get("stage") != "child" and old is not None and base:
            # the same check on the tree before the merge: is this the project's own bug?
            probe = session.run_child(session.old_root(), old.targets, import_db=session.tmp / "probe.sqlite",
                                      combine=True)
            import_check = _pre_existing(import_check, import_error, probe, base)
        checks.append(import_check)

        compares = result.get("compares") or []
        for i, name in enumerate(schema_names):
            if old is None or base is None:
                checks.append(CheckResult(name, SKIPPED, why_not or "no revision to compare with"))
                continue
            build = builds[i] if i < len(builds) else {"error": {"stage": "child", "message": "no result"}}
            compare = compares[i] if i < len(compares) else None
            checks.append(_schema_result(name, base, build, compare, result, declared))

        checks.append(_check_tests(root, test_cmd))
    return VerifyReport(tuple(checks), base)


# --- the session: temp dir, worktree, scratch databases ------------------------------------------


class _Session(contextlib.AbstractContextManager):
    """Everything verify creates outside the project, removed on exit whatever happens."""

    def __init__(self, root: Path, python: str) -> None:
        self.root = root
        self.python = python
        self._stack = contextlib.ExitStack()
        self.scratch: Scratch = self._stack.enter_context(scratch_space(root, "verify"))
        self.tmp = self.scratch.path
        self.repo_top, self.prefix = _repo_of(root)
        self.base: str | None = None
        self._old_root: Path | None = None
        self._cleanups: list[Any] = []

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
        from .gitops import BASE_TRAILER, base_from_head

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
        return sorted({n for n in names if (self.root / n).is_file()})

    def old_root(self) -> Path:
        """The project as it was at ``against``, checked out once in a detached worktree."""
        if self._old_root is None:
            assert self.base is not None and self.repo_top is not None
            path = self.tmp / "against"
            self._cleanups.append(lambda: drop_worktrees(self.scratch, path))
            self.scratch.git(self.root, "worktree", "add", "--detach", "-f", str(path), self.base)
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

    def start_child(self, cwd: Path, targets: _Targets, *, import_db: Path | None = None, combine: bool = False,
                    builds: Sequence[str] = (), compares: Sequence[str] = (), ready_file: Path | None = None,
                    wait_for: Path | None = None) -> _Child:
        """Start :data:`_CHILD_SOURCE` with the project's interpreter in ``cwd``.

        ``builds``: database URLs to create the in-scope tables on (then ``ready_file`` is
        written); ``compares``: URLs to diff the metadata against, once ``wait_for`` exists.
        """
        script = self.tmp / "unibase_verify_child.py"
        if not script.exists():
            script.write_text(_CHILD_SOURCE, encoding="utf-8")
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
            "timeout": CHILD_TIMEOUT,
        }
        args_file.write_text(json.dumps(args), encoding="utf-8")
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}  # leave no __pycache__ in the user's tree
        out, err = self.tmp / f"out-{tag}.txt", self.tmp / f"err-{tag}.txt"
        # files, not pipes: a chatty model module must not block on a full pipe
        with open(out, "wb") as fout, open(err, "wb") as ferr:
            proc = subprocess.Popen([self.python, str(script), str(args_file)], cwd=cwd, stdout=fout, stderr=ferr,
                                    stdin=subprocess.DEVNULL, env=env)
        self._cleanups.append(lambda: _stop(proc))
        return _Child(proc, out, err, time.monotonic())

    def finish_child(self, child: _Child) -> dict:
        """The child's JSON result, or ``{"crash": ...}`` when it produced none."""
        try:
            child.proc.wait(timeout=max(1.0, CHILD_TIMEOUT - (time.monotonic() - child.started)))
        except subprocess.TimeoutExpired:
            _stop(child.proc)
            return {"crash": f"timed out after {CHILD_TIMEOUT} s importing the model modules"}
        stdout = child.out.read_text(encoding="utf-8", errors="replace")
        stderr = child.err.read_text(encoding="utf-8", errors="replace")
        _, sep, payload = stdout.rpartition(_MARKER)
        if not sep:
            return {"crash": f"{self.python} exited with {child.proc.returncode}: {_tail(stderr or stdout)}"}
        try:
            return json.loads(payload)
        except json.JSONDecodeError:
            return {"crash": f"unreadable result from {self.python}: {_tail(payload)}"}

    def run_child(self, cwd: Path, targets: _Targets, **kwargs: Any) -> dict:
        return self.finish_child(self.start_child(cwd, targets, **kwargs))


@dataclass(frozen=True)
class _Child:
    proc: subprocess.Popen
    out: Path
    err: Path
    started: float


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def _mark_ready(path: Path, count: int) -> None:
    """Release a child waiting for the old databases when the old tree's child wrote nothing."""
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"built": [False] * count}), encoding="utf-8")
        os.replace(tmp, path)


# --- the static part: what to import ---------------------------------------------------------------


@dataclass(frozen=True)
class _Targets:
    """What a child imports: dotted modules, where they import from, and which names are bases."""

    roots: tuple[str, ...]  # project-relative directories to put on sys.path ("" is the root)
    modules: tuple[str, ...]  # bases first, then models and Core tables
    bases: tuple[tuple[str, str], ...]  # (module, attribute) of every in-scope base


@dataclass
class _Scan:
    root: Path
    index: Index | None
    in_scope: tuple[Symbol, ...]
    targets: _Targets
    plan: Plan | None = None
    error: str | None = None  # why planning failed
    findings: list[Finding] = field(default_factory=list)


def _scan(root: Path) -> _Scan:
    from .api import check_plan, scan
    from .planner import make_plan
    from .settings import load_settings

    try:
        settings = load_settings(root)
        index = scan(settings)
    except (ValueError, OSError) as exc:
        return _Scan(root, None, (), _Targets(("",), (), ()), error=str(exc))
    plan = error = None
    findings: list[Finding] = []
    try:
        plan = make_plan(index, settings)
        findings = check_plan(plan)
        in_scope = tuple(Symbol(b.file, b.name) for b in plan.merged_bases())
    except ValueError as exc:  # PlanError: fall back to every base that is not test-local
        error = str(exc)
        in_scope = tuple(s for s, b in index.bases.items() if not b.test_local and b.kind != "flask_sqlalchemy")
    return _Scan(root, index, in_scope, _targets(index, in_scope), plan, error, findings)


def _targets(index: Index, in_scope: Sequence[Symbol]) -> _Targets:
    """The modules defining the in-scope bases, their models and Core tables, importable from ``roots``."""
    scope = set(in_scope)
    base_files = [s.file for s in in_scope]
    model_files = sorted({m.symbol.file for m in index.models.values() if m.base in scope}
                         | {t.file for t in index.tables if t.base in scope})
    files = list(dict.fromkeys(base_files + model_files))
    roots: list[str] = []
    modules: list[str] = []
    for rel in files:
        name = index.modules.module_name(rel)
        if not name:
            continue  # the project root's own __init__.py: not importable by a dotted name
        parts = PurePosixPath(rel).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        # the directories module_name drops are the source root: ``backend/`` for ``backend/app/x.py``
        roots.append("/".join(parts[: len(parts) - len(name.split("."))]))
        modules.append(name)
    roots.append("")  # the project root last, for modules the models import from top-level files
    bases = tuple((index.modules.module_name(s.file), s.name) for s in in_scope if index.modules.module_name(s.file))
    return _Targets(tuple(dict.fromkeys(roots)), tuple(dict.fromkeys(modules)), bases)


# --- checks ---------------------------------------------------------------------------------------


def _check_parse(session: _Session, changed: list[str] | None) -> CheckResult:
    from .project import iter_python_files

    files = changed if changed is not None else list(iter_python_files(session.root))
    scope = f"{len(files)} changed file(s)" if changed is not None else f"all {len(files)} file(s) (no revision to diff with)"
    failures, pre = [], []
    for rel in files:
        try:
            source = (session.root / rel).read_bytes()
        except OSError as exc:
            failures.append(f"{rel}:0: unreadable: {exc.strerror}")
            continue
        problem = _compile_error(source, rel)
        if problem is None:
            continue
        old = session.old_source(rel)
        if old is not None and _compile_error(old, rel) is not None:
            pre.append(problem)
        else:
            failures.append(problem)
    if failures:
        return CheckResult("parse", FAIL, "; ".join(failures))
    if pre:
        return CheckResult("parse", PRE_EXISTING, "did not compile before the merge either: " + "; ".join(pre))
    return CheckResult("parse", PASS, f"{scope} parse and compile")


def _compile_error(source: bytes, rel: str) -> str | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(source, rel, "exec", dont_inherit=True)
    except SyntaxError as exc:
        return f"{rel}:{exc.lineno or 0}: {type(exc).__name__}: {exc.msg}"
    except ValueError as exc:  # null bytes
        return f"{rel}:0: {exc}"
    return None


def _check_single_base(new: _Scan) -> CheckResult:
    if new.plan is None:
        return CheckResult("single-base", FAIL, f"could not plan the merged tree: {new.error}")
    if new.findings:
        return CheckResult("single-base", FAIL, f"{len(new.findings) + 1} declarative bases in scope: "
                           + "; ".join(f"{f.file}:{f.line}: {f.message}" for f in new.findings))
    bases = new.plan.merged_bases()
    unparsable = sorted(new.index.unparsable) if new.index else []
    note = f" (not analysed, they do not parse: {', '.join(unparsable)})" if unparsable else ""
    if not bases:
        return CheckResult("single-base", PASS, "no declarative base in scope" + note)
    b = bases[0]
    return CheckResult("single-base", PASS, f"one declarative base in scope: {b.file}:{b.name}{note}")


def _import_result(new: _Scan, result: dict, changed: list[str] | None) -> tuple[CheckResult, dict | None]:
    """The import check and, when it failed, the error that decides whether it is pre-existing."""
    if "crash" in result:
        return CheckResult("import", FAIL, result["crash"]), {"stage": "child", "error_class": "crash"}
    if not new.targets.modules:
        return CheckResult("import", SKIPPED, "no declarative base in scope: nothing to import"), None
    # a package __init__ that fails is the project's business unless the merge changed it
    changed_set = set(changed or ())
    inits = result.get("package_inits", [])
    blamed = [e for e in inits if e.get("file") in changed_set]
    error = next(iter(blamed), None) or result.get("error")
    if error is not None:
        more = [e for e in result.get("errors", []) if e is not error and e != error]
        extra = "".join(f"\n{_error_text(e)}" for e in more[:5])
        return CheckResult("import", FAIL, _error_text(error) + extra), error
    notes = [f"{e.get('file')} failed ({e['error_class'].rsplit('.', 1)[-1]}: "
             f"{_first_line(e['message'])}); imported the models without running it" for e in inits]
    mods = new.targets.modules
    detail = (f"{len(mods)} module(s) import ({', '.join(mods[:6])}{', ...' if len(mods) > 6 else ''}), "
              f"configure_mappers() succeeds, create_all() makes {result.get('tables', 0)} table(s) on SQLite")
    return CheckResult("import", PASS, detail + "".join(f"; note: {n}" for n in notes)), None


def _pre_existing(check: CheckResult, error: dict, probe: dict, base: str) -> CheckResult:
    """``pre-existing`` when the tree at ``against`` fails at the same stage with the same error class."""
    errors = [probe.get("error")] + list(probe.get("package_inits", []))
    same = next((e for e in errors if e and e.get("stage") == error.get("stage")
                 and e.get("error_class") == error.get("error_class")), None)
    if same is None:
        before = "it imported cleanly" if not probe.get("error") and "crash" not in probe else (
            "it failed differently: " + (_error_text(probe["error"]) if probe.get("error") else probe["crash"]))
        return CheckResult(check.name, FAIL, f"{check.detail}\n(before the merge, at {base[:10]}, {before})")
    return CheckResult(check.name, PRE_EXISTING,
                       f"the project had this failure before the merge. after: {check.detail}\n"
                       f"before (at {base[:10]}): {_error_text(same)}")


def _schema_result(name: str, base: str, build: dict, compare: dict | None, new_result: dict,
                   declared: Sequence[DeclaredChange]) -> CheckResult:
    where = f"at {base[:10]}"
    if build.get("error"):
        e = build["error"]
        text = _error_text(e)
        if e.get("stage") in ("import", "create_all"):
            hint = "; pass database_url to compare on PostgreSQL" if e.get("stage") == "create_all" and name == "schema" else ""
            return CheckResult(name, SKIPPED, f"could not build the schema {where}: {text}{hint}")
        return CheckResult(name, FAIL, f"could not build the schema {where}: {text}")
    if "crash" in new_result or new_result.get("error", {}).get("stage") == "import" or compare is None:
        return CheckResult(name, SKIPPED, "the merged models do not import (see import); the schema cannot be compared")
    if compare.get("error"):
        return CheckResult(name, FAIL, f"could not compare with the schema {where}: {_error_text(compare['error'])}")
    noise = {_key(d) for d in build.get("baseline", [])}
    diffs = _pair_renames([d for d in compare.get("diffs", []) if _key(d) not in noise])
    ignored = len(compare.get("diffs", [])) - len([d for d in compare.get("diffs", []) if _key(d) not in noise])
    unexpected = [d for d in diffs if not any(_covers(c, d) for c in declared)]
    accepted = [d for d in diffs if all(d is not u for u in unexpected)]
    notes = build.get("notes", [])
    tail = ""
    if accepted:
        tail += f"; {len(accepted)} declared difference(s): " + "; ".join(_describe(d) for d in accepted)
    if ignored:
        tail += f"; ignored {ignored} difference(s) Alembic also reports for the old schema against itself"
    if notes:
        tail += "; " + "; ".join(notes)
    if unexpected:
        lines = "\n".join(f"  - {_describe(d)}" for d in unexpected)
        return CheckResult(name, FAIL, f"{len(unexpected)} undeclared difference(s) between the schema {where} "
                           f"and the merged metadata:\n{lines}" + (f"\n{tail[2:]}" if tail else ""))
    tables = build.get("tables", 0)
    return CheckResult(name, PASS, f"the merged metadata matches the {tables} table(s) {where}" + tail)


def _check_tests(root: Path, test_cmd: str | None) -> CheckResult:
    if not test_cmd:
        return CheckResult("tests", SKIPPED, "no test command given")
    proc = subprocess.run(test_cmd, shell=True, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, errors="replace", stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        return CheckResult("tests", FAIL, f"`{test_cmd}` exited with {proc.returncode}:\n{_tail(proc.stdout)}")
    last = next((line for line in reversed(proc.stdout.splitlines()) if line.strip()), "")
    return CheckResult("tests", PASS, f"`{test_cmd}` passed" + (f": {last.strip()}" if last else ""))


# --- differences --------------------------------------------------------------------------------


def _key(d: dict) -> tuple:
    return (d.get("op"), d.get("table"), d.get("text"))


def _pair_renames(diffs: list[dict]) -> list[dict]:
    """A removed and an added index/constraint with the same columns is a rename."""
    removed: dict[tuple, list[dict]] = {}
    for d in diffs:
        if d.get("sig") and d["op"].startswith("remove_"):
            removed.setdefault((d["table"], json.dumps(d["sig"])), []).append(d)
    out, used = [], set()
    for d in diffs:
        if d.get("sig") and d["op"].startswith("add_"):
            twins = removed.get((d["table"], json.dumps(d["sig"])), [])
            twin = next((t for t in twins if id(t) not in used), None)
            if twin is not None:
                used.add(id(twin))
                what = d["op"][4:]
                out.append({"op": f"rename_{what}", "table": d["table"],
                            "text": f"{d['what']} on {d['table']}({', '.join(d['sig'][1])}) named "
                                    f"{twin.get('name')!r} before the merge, {d.get('name')!r} after"})
                continue
        out.append(d)
    return [d for d in out if id(d) not in used]


_NAMING_OPS = {"rename_index", "rename_constraint", "rename_fk"}


def _covers(change: DeclaredChange, diff: dict) -> bool:
    if change.table != diff.get("table"):
        return False
    if change.kind in ("duplicate-table", "identical-duplicate-table"):
        return True
    if change.kind == "metadata-options":
        if "schema" in change.detail:
            return True
        if diff["op"] in _NAMING_OPS:
            return True
        return "type_annotation_map" in change.detail and diff["op"] == "modify_type"
    return False


_EXPLAIN = {
    "add_": "only in the merged metadata",
    "remove_": "in the schema before the merge, missing from the merged metadata",
    "modify_": "before -> after",
    "rename_": "name changed",
}


def _describe(d: dict) -> str:
    op = d["op"]
    why = next((v for k, v in _EXPLAIN.items() if op.startswith(k)), "")
    return f"{op} {d['text']}" + (f" ({why})" if why and not op.startswith("rename_") else "")


# --- small helpers ------------------------------------------------------------------------------


def _interpreter(python: str | None) -> str:
    if not python:
        return sys.executable
    found = shutil.which(python)
    if found is None:
        raise VerifyError(f"--python {python} is not an executable; pass the project's interpreter")
    return found


def _backend(url: str) -> str:
    return re.split(r"[+:]", url, maxsplit=1)[0] or "database"


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def _repo_of(root: Path) -> tuple[Path | None, str]:
    try:
        top = _git(root, "rev-parse", "--show-toplevel").strip()
        prefix = _git(root, "rev-parse", "--show-prefix").strip().rstrip("/")
    except (subprocess.CalledProcessError, OSError):
        return None, ""
    return Path(top), prefix


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def _rev_parse(root: Path, rev: str) -> str | None:
    try:
        return _git(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").strip() or None
    except subprocess.CalledProcessError:
        return None


def _first_line(text: str) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""


def _error_text(e: dict) -> str:
    where = e.get("module") or ""
    stage = e.get("stage", "")
    head = f"{stage}" + (f" {where}" if where else "")
    cls = str(e.get("error_class", "")).rsplit(".", 1)[-1]
    text = f"{head}: {cls}: {e.get('message', '')}".strip()
    return text + (f" (at {e['location']})" if e.get("location") else "")


def _tail(text: str, lines: int = TAIL_LINES) -> str:
    return "\n".join((text or "").rstrip().splitlines()[-lines:])


# --- the child ------------------------------------------------------------------------------------

_MARKER = "\n@@unibase-verify-result@@\n"

# Runs inside the project's interpreter. Only the standard library, SQLAlchemy and (for the
# schema comparison) Alembic are imported besides the project's model modules. Its stdout is
# redirected to stderr while user code runs, so prints at import time cannot corrupt the result.
_CHILD_SOURCE = r'''
import importlib
import importlib.util
import json
import os
import sys
import traceback
import types
import warnings

MARKER = "\n@@unibase-verify-result@@\n"


def project_path(path):
    """``path`` relative to the project root (the working directory) when it is inside it."""
    if not path:
        return path
    rel = os.path.relpath(os.path.abspath(path), os.getcwd())
    return path if rel.startswith("..") else rel.replace(os.sep, "/")


def describe(exc, stage, module=None, file=None):
    """An exception as data, located at the deepest frame inside the project."""
    location = None
    for fr in reversed(traceback.extract_tb(exc.__traceback__)):
        rel = project_path(fr.filename)
        if rel != fr.filename:
            location = f"{rel}:{fr.lineno}"
            break
    if location is None and isinstance(exc, SyntaxError) and exc.filename:
        location = f"{project_path(exc.filename)}:{exc.lineno}"
    return {
        "stage": stage,
        "module": module,
        "file": project_path(file),
        "error_class": f"{type(exc).__module__}.{type(exc).__qualname__}",
        "message": str(exc)[:3000],
        "location": location,
    }


def import_chain(name, inits):
    """Import ``name``; a parent package whose __init__ raises is replaced by a bare package."""
    parts = name.split(".")
    for i in range(1, len(parts)):
        pkg = ".".join(parts[:i])
        if pkg in sys.modules:
            continue
        try:
            importlib.import_module(pkg)
        except (Exception, SystemExit) as exc:
            try:
                spec = importlib.util.find_spec(pkg)
            except (Exception, SystemExit):
                spec = None
            if spec is None or spec.submodule_search_locations is None:
                raise
            inits.append(describe(exc, "package-init", pkg, spec.origin))
            stub = types.ModuleType(pkg)
            stub.__path__ = list(spec.submodule_search_locations)
            stub.__spec__ = spec
            stub.__file__ = spec.origin
            stub.__package__ = pkg
            sys.modules[pkg] = stub
            if i > 1:
                setattr(sys.modules[".".join(parts[: i - 1])], parts[i - 1], stub)
    return importlib.import_module(name)


def base_metadata(module, attr):
    obj = sys.modules[module]
    for part in attr.split("."):
        obj = getattr(obj, part)
    md = getattr(obj, "metadata", None)
    if md is None:
        raise TypeError(f"{module}.{attr} has no metadata")
    return md


def final_name(const, dialect):
    name = const.name
    if name is None:
        return None
    try:
        return dialect.identifier_preparer.format_constraint(const, _alembic_quote=False)
    except Exception:
        return None if type(name).__name__ == "_NoneName" else str(name)


def columns_of(const):
    exprs = getattr(const, "expressions", None)
    if exprs is None:
        exprs = list(const.columns)
    return [getattr(e, "name", None) or str(e) for e in exprs]


def combine(metadatas, dialect, notes):
    """One MetaData holding a copy of every table, constraint names kept as they were."""
    from sqlalchemy import MetaData
    from sqlalchemy.sql.elements import conv

    if len(metadatas) == 1:
        return metadatas[0]
    target = MetaData()
    for md in metadatas:
        for table in md.tables.values():
            if table.key in target.tables:
                notes.append(f"table {table.key} is defined on more than one base; the first definition is used")
                continue
            names = {}
            for const in list(table.constraints) + list(table.indexes):
                names.setdefault((type(const).__name__, tuple(columns_of(const))), final_name(const, dialect))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                copy = table.to_metadata(target)
            # column-level unique=/index= are re-made on the copy with the target's (default)
            # naming convention: put back the names the source metadata gave them
            for const in list(copy.constraints) + list(copy.indexes):
                name = names.get((type(const).__name__, tuple(columns_of(const))))
                if name is not None and final_name(const, dialect) != name:
                    const.name = conv(name)
    return target


def type_text(t, dialect):
    try:
        return str(t.compile(dialect=dialect))
    except Exception:
        return repr(t)


def fk_target(fk):
    refs = [e.target_fullname for e in fk.elements]
    table = refs[0].rsplit(".", 1)[0].rsplit(".", 1)[-1] if refs else "?"
    return table, [r.rsplit(".", 1)[-1] for r in refs]


def named(name):
    return f"{name} " if name else ""


def serialise(item, dialect):
    op = item[0]
    if op in ("add_table", "remove_table"):
        t = item[1]
        return {"op": op, "table": t.name, "text": f"{t.fullname} ({', '.join(c.name for c in t.columns)})"}
    if op in ("add_column", "remove_column"):
        _, schema, tname, col = item
        null = "" if col.nullable else " NOT NULL"
        return {"op": op, "table": tname, "text": f"{tname}.{col.name} {type_text(col.type, dialect)}{null}"}
    if op in ("add_index", "remove_index"):
        idx = item[1]
        cols = columns_of(idx)
        name = final_name(idx, dialect)
        uniq = " UNIQUE" if idx.unique else ""
        return {"op": op, "table": idx.table.name, "name": name, "what": "index",
                "sig": ["index", cols, bool(idx.unique)],
                "text": f"index {named(name)}on {idx.table.name}({', '.join(cols)}){uniq}"}
    if op in ("add_constraint", "remove_constraint"):
        const = item[1]
        cols = columns_of(const)
        kind = type(const).__name__
        what = {"UniqueConstraint": "unique constraint", "CheckConstraint": "check constraint"}.get(kind, kind)
        name = final_name(const, dialect)
        return {"op": op, "table": const.table.name, "name": name, "what": what,
                "sig": [kind, cols], "text": f"{what} {named(name)}on {const.table.name}({', '.join(cols)})"}
    if op in ("add_fk", "remove_fk"):
        fk = item[1]
        cols = [c.name for c in fk.columns] if len(fk.columns) else list(fk.column_keys)
        rtable, rcols = fk_target(fk)
        name = final_name(fk, dialect)
        tname = fk.parent.name
        return {"op": op, "table": tname, "name": name, "what": "foreign key",
                "sig": ["fk", cols, rtable, rcols],
                "text": f"foreign key {named(name)}{tname}({', '.join(cols)}) -> {rtable}({', '.join(rcols)})"}
    if op.startswith("modify_"):
        _, schema, tname, cname, existing, old, new = item
        if op == "modify_type":
            old, new = type_text(old, dialect), type_text(new, dialect)
        return {"op": op, "table": tname, "text": f"{tname}.{cname}: {old} -> {new}"}
    target = item[1] if len(item) > 1 else None
    table = getattr(target, "name", None) if target is not None else None
    return {"op": op, "table": table, "text": repr(item[1:])[:500]}


def constraint_names(conn, md, reported):
    """Primary key, foreign key and unique constraint names that Alembic's autogenerate does not compare.

    ``reported``: (table, signature) of the constraints Alembic already reported.
    """
    from sqlalchemy import UniqueConstraint, inspect

    insp = inspect(conn)
    dialect = conn.dialect
    out = []

    def expected(name, default):
        if name is not None:
            return name
        if dialect.name == "sqlite":
            return None  # an unnamed constraint reflects as None there
        if dialect.name == "postgresql" and len(default) <= 63:
            return default
        return Ellipsis  # unknown: do not compare

    by_schema = {}
    for t in md.tables.values():
        if t.schema not in by_schema:
            by_schema[t.schema] = set(insp.get_table_names(schema=t.schema))
        if t.name not in by_schema[t.schema]:
            continue
        pk_cols = [c.name for c in t.primary_key.columns]
        if pk_cols:
            db = insp.get_pk_constraint(t.name, schema=t.schema).get("name")
            want = expected(final_name(t.primary_key, dialect), f"{t.name}_pkey")
            if want is not Ellipsis and db != want:
                out.append({"op": "rename_constraint", "table": t.name,
                            "text": f"primary key on {t.name}({', '.join(pk_cols)}) named {db!r} before the merge, {want!r} after"})
        db_fks = {}
        for f in insp.get_foreign_keys(t.name, schema=t.schema):
            db_fks[(tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]))] = f.get("name")
        for fk in t.foreign_key_constraints:
            cols = [c.name for c in fk.columns]
            rtable, rcols = fk_target(fk)
            key = (tuple(cols), rtable, tuple(rcols))
            if key not in db_fks:
                continue  # a lost or new foreign key: Alembic reports it
            want = expected(final_name(fk, dialect), f"{t.name}_{'_'.join(cols)}_fkey")
            if want is not Ellipsis and db_fks[key] != want:
                out.append({"op": "rename_fk", "table": t.name,
                            "text": f"foreign key {t.name}({', '.join(cols)}) -> {rtable}({', '.join(rcols)}) named "
                                    f"{db_fks[key]!r} before the merge, {want!r} after"})
        db_uqs = {tuple(u["column_names"]): u.get("name") for u in insp.get_unique_constraints(t.name, schema=t.schema)}
        for uq in t.constraints:
            if not isinstance(uq, UniqueConstraint):
                continue
            cols = columns_of(uq)
            if tuple(cols) not in db_uqs or (t.name, json.dumps(["UniqueConstraint", cols])) in reported:
                continue
            want = expected(final_name(uq, dialect), f"{t.name}_{'_'.join(cols)}_key")
            if want is not Ellipsis and db_uqs[tuple(cols)] != want:
                out.append({"op": "rename_constraint", "table": t.name,
                            "text": f"unique constraint on {t.name}({', '.join(cols)}) named "
                                    f"{db_uqs[tuple(cols)]!r} before the merge, {want!r} after"})
    return out


def compare(url, md):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            opts = {"compare_type": True, "compare_server_default": False,
                    "include_schemas": any(t.schema for t in md.tables.values())}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                raw = compare_metadata(MigrationContext.configure(conn, opts=opts), md)
            out = []
            for item in raw:
                for one in (item if isinstance(item, list) else [item]):
                    out.append(serialise(one, conn.dialect))
            reported = {(d["table"], json.dumps(d["sig"])) for d in out if d.get("sig")}
            out.extend(constraint_names(conn, md, reported))
            return out
    finally:
        engine.dispose()


def dialect_of(url):
    from sqlalchemy.engine import make_url

    return make_url(url).get_dialect()()


def run(args, result):
    sys.path[:0] = [r for r in args["roots"] if r not in sys.path]
    import sqlalchemy

    result["sqlalchemy"] = sqlalchemy.__version__
    inits = result["package_inits"] = []
    errors = []
    for name in args["modules"]:
        try:
            import_chain(name, inits)
        except (Exception, SystemExit) as exc:
            errors.append(describe(exc, "import", name))
    metadatas = []
    if not errors:
        for module, attr in args["bases"]:
            try:
                md = base_metadata(module, attr)
            except Exception as exc:
                errors.append(describe(exc, "import", f"{module}:{attr}"))
                continue
            if all(md is not m for m in metadatas):
                metadatas.append(md)
    if errors:
        result["error"] = errors[0]
        result["errors"] = errors
        for key in ("builds", "compares"):
            result[key] = [{"error": errors[0]} for _ in args[key]]
        return

    if args.get("import_db"):
        from sqlalchemy import create_engine
        from sqlalchemy.orm import configure_mappers
        from sqlalchemy.pool import NullPool

        try:
            configure_mappers()
        except Exception as exc:
            result["error"] = describe(exc, "configure_mappers")
        if "error" not in result:
            engine = create_engine("sqlite:///" + args["import_db"], poolclass=NullPool)
            try:
                if args.get("combine"):
                    # the tree before the merge: its bases are one database, built as one
                    combine(metadatas, engine.dialect, []).create_all(engine)
                else:
                    for md in metadatas:
                        md.create_all(engine)
                result["tables"] = sum(len(md.tables) for md in metadatas)
            except Exception as exc:
                result["error"] = describe(exc, "create_all")
            finally:
                engine.dispose()

    result["builds"] = []
    built = []
    for url in args["builds"]:
        build = {"notes": []}
        result["builds"].append(build)
        built.append(build_database(url, metadatas, build))
    if args.get("ready_file"):
        write_ready(args["ready_file"], [md is not None for md in built])
    for url, build, md in zip(args["builds"], result["builds"], built):
        if md is not None:
            try:
                # what Alembic reports for the old metadata against its own database is noise
                build["baseline"] = compare(url, md)
            except Exception as exc:
                build["error"] = describe(exc, "compare")

    result["compares"] = []
    ready = wait_ready(args["wait_for"], args.get("timeout", 600)) if args["compares"] and args.get("wait_for") else None
    for i, url in enumerate(args["compares"]):
        entry = {}
        result["compares"].append(entry)
        if ready is not None and not (i < len(ready) and ready[i]):
            entry["error"] = {"stage": "old", "error_class": "", "message": "the old database was not built"}
            continue
        try:
            md = combine(metadatas, dialect_of(url), [])
            entry["diffs"] = compare(url, md)
        except Exception as exc:
            entry["error"] = describe(exc, "compare")


def build_database(url, metadatas, build):
    """Create every in-scope table on ``url``; the metadata used, or None (``build["error"]`` says why)."""
    try:
        import alembic  # noqa: F401  (the comparison needs it; say so before building anything)
    except Exception as exc:
        build["error"] = describe(exc, "alembic")
        return None
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    try:
        engine = create_engine(url, poolclass=NullPool)
        with engine.connect():
            pass
    except Exception as exc:
        build["error"] = describe(exc, "connect")
        return None
    try:
        md = combine(metadatas, engine.dialect, build["notes"])
        md.create_all(engine)
        build["tables"] = len(md.tables)
        return md
    except Exception as exc:
        build["error"] = describe(exc, "create_all")
        return None
    finally:
        engine.dispose()


def write_ready(path, built):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump({"built": built}, fh)
    os.replace(tmp, path)


def wait_ready(path, timeout):
    import time

    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            return []
        time.sleep(0.02)
    with open(path, encoding="utf-8") as fh:
        return json.load(fh).get("built", [])


def main():
    with open(sys.argv[1], encoding="utf-8") as fh:
        args = json.load(fh)
    if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]
    real_stdout = sys.stdout
    sys.stdout = sys.stderr
    result = {}
    try:
        run(args, result)
    except BaseException as exc:
        result["crash"] = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-3000:]
    finally:
        sys.stdout = real_stdout
    real_stdout.write(MARKER + json.dumps(result, default=str))
    real_stdout.flush()


if __name__ == "__main__":
    main()
'''


__all__ = [
    "CheckResult",
    "DeclaredChange",
    "VerifyError",
    "VerifyReport",
    "declared_from_plan",
    "verify_project",
]
