"""Verify a merge: the changed files compile, one base is in scope, the models import, the schema is the same.

unibase never imports user code in its own process. Every dynamic check runs in a subprocess
with the project's interpreter (``--python``), from the script :mod:`unibase.verify_child`, which
imports the modules that define the in-scope bases, models and Core tables (not the whole
application), and after every check the other modules the merge changed (shims, rewritten
importers, package ``__init__``s), and prints one JSON result. A changed module that cannot be
imported for a reason outside unibase (a package that is not installed, the same error in the
same module before the merge) leaves the import check "not proven" rather than passing.

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
project already had at ``against`` (the same error in the same module) is reported as ``pre-existing``: unibase must neither be
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from . import verify_child
from .discovery import Index, Symbol
from .gitops import Scratch, drop_worktrees, scratch_space
from .interrupts import deferred_sigint, pause_point
from .plan import Plan

if TYPE_CHECKING:
    from .check import Finding

PASS, FAIL, PRE_EXISTING, SKIPPED = "pass", "fail", "pre-existing", "skipped"
NOT_PROVEN = "not proven"  # a check that could not run for reasons outside unibase; not a failure
CHANGED_TIMEOUT = 60  # seconds for each changed module beyond the models

CHILD_TIMEOUT = 600  # seconds; a model module that hangs on import must not hang verify
TAIL_LINES = 40


class VerifyError(ValueError):
    """Bad input for verify (exit 2): the path, the revision or the interpreter does not exist."""


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: str  # "pass" | "fail" | "pre-existing" | "not proven" | "skipped"
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
    progress: Callable[[str], None] | None = None,
) -> VerifyReport:
    """Run every check on the project at ``root``; raise :class:`VerifyError` only on bad input.

    ``declared_from_against`` also accepts what the plan unibase makes for the tree at
    ``against`` declares (for ``unibase verify`` run on its own, without the applied plan).
    """
    root = Path(root).resolve()
    if not root.is_dir():
        raise VerifyError(f"{root} is not a directory; pass the path of the merged project")
    from .project import find_root

    root = find_root(root) or root  # the whole project, as discovery reads it
    python = _interpreter(python)
    note = progress or (lambda line: None)
    with _Session(root, python) as session:
        base, why_not = session.resolve_against(against)
        changed = session.changed_files()
        note(f"verify: reading the merged tree{f' and the tree at {base[:10]}' if base else ''}")
        new = _scan(root)
        old = None
        if base is not None:
            if session.old_root().is_dir():
                old = _scan(session.old_root())
            else:
                why_not = f"the project directory did not exist at {base[:10]}: nothing to compare the schema with"
        new.targets = _with_changed(new, changed)
        if old is not None:  # the same modules before the merge, where they existed
            old.targets = _with_changed(old, [rel for rel in changed or () if (session.old_root() / rel).is_file()])
        if old is not None and old.plan is not None and declared_from_against:
            declared = (*declared, *declared_from_plan(old.plan))
        checks = [_check_parse(session, changed), _check_single_base(new)]

        n = len(new.targets.modules)
        note(f"verify: importing the models in a subprocess ({n} module{'s' if n != 1 else ''})"
             + (", building the schema before the merge and comparing" if old is not None else ""))
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
        built: dict = {}
        if old_child is not None:
            built = session.finish_child(old_child)
            _mark_ready(ready, len(old_urls))
            if "crash" in built:
                why_not = f"the child process in the tree at {base[:10] if base else '?'} failed: {built['crash']}"
                old = None
            builds = built.get("builds") or []
        result = session.finish_child(new_child)
        import_check, import_error = _import_result(new, result, changed)
        roots = (str(root), str(session.old_root()) if old is not None else str(root))
        if import_error is not None and import_error.get("stage") != "child" and old is not None and base:
            # the same check on the tree before the merge: is this the project's own bug?
            probe = session.run_child(session.old_root(), replace(old.targets, changed=()),
                                      import_db=session.tmp / "probe.sqlite",
                                      combine=True)
            import_check = _pre_existing(import_check, import_error, probe, base, roots)
        elif import_check.status == PASS:
            import_check = _changed_result(import_check, new, result, built if old_child else None, base, roots)
        checks.append(import_check)

        compares = result.get("compares") or []
        for i, name in enumerate(schema_names):
            if old is None or base is None:
                checks.append(CheckResult(name, SKIPPED, why_not or "no revision to compare with"))
                continue
            build = builds[i] if i < len(builds) else {"error": {"stage": "child", "message": "no result"}}
            compare = compares[i] if i < len(compares) else None
            checks.append(_schema_result(name, base, build, compare, result, declared))

        if test_cmd:
            note(f"verify: running the project's tests ({test_cmd})")
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
        self.checkout = _main_checkout(root) if self.repo_top is not None else None
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

    def start_child(self, cwd: Path, targets: _Targets, *, import_db: Path | None = None, combine: bool = False,
                    builds: Sequence[str] = (), compares: Sequence[str] = (), ready_file: Path | None = None,
                    wait_for: Path | None = None) -> _Child:
        """Start :mod:`unibase.verify_child` with the project's interpreter in ``cwd``.

        ``builds``: database URLs to create the in-scope tables on (then ``ready_file`` is
        written); ``compares``: URLs to diff the metadata against, once ``wait_for`` exists.
        """
        # a copy in scratch space, run by path: the child's directory is never unibase's own
        # package, whose module names could shadow the project's
        script = self.tmp / "unibase_verify_child.py"
        if not script.exists():
            shutil.copyfile(verify_child.__file__, script)
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
            "changed": list(targets.changed),
            "changed_timeout": CHANGED_TIMEOUT,
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
    changed: tuple[str, ...] = ()  # the other changed modules, imported after the checks


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
    from .check import check_plan, scan
    from .planning import make_plan
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
    # Flask-SQLAlchemy objects given the canonical base as model_class: their db.Model classes are
    # on the merged metadata, so their modules are imported with the models
    unified = tuple(Symbol(b.file, b.name) for b in plan.bases if b.metadata.get("model_class")) if plan else ()
    return _Scan(root, index, in_scope, _targets(index, in_scope, unified), plan, error, findings)


def _targets(index: Index, in_scope: Sequence[Symbol], unified: Sequence[Symbol] = ()) -> _Targets:
    """The modules defining the in-scope bases, their models and Core tables (and the models of
    ``unified`` Flask-SQLAlchemy objects), importable from ``roots``."""
    scope = set(in_scope) | set(unified)
    base_files = [s.file for s in in_scope]
    model_files = sorted({m.symbol.file for m in index.models.values() if m.base in scope}
                         | {t.file for t in index.tables if t.base in scope})
    files = list(dict.fromkeys(base_files + model_files))
    roots: list[str] = []
    modules: list[str] = []
    for rel in files:
        name = _import_name(index, rel)
        if not name:
            continue  # the project root's own __init__.py: not importable by a dotted name
        parts = PurePosixPath(rel).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        # the directories module_name drops are the source root: ``backend/`` for ``backend/app/x.py``
        roots.append("/".join(parts[: len(parts) - len(name.split("."))]))
        modules.append(name)
    roots.append("")  # the project root last, for modules the models import from top-level files
    bases = tuple((_import_name(index, s.file), s.name) for s in in_scope if _import_name(index, s.file))
    return _Targets(tuple(dict.fromkeys(roots)), tuple(dict.fromkeys(modules)), bases)


def _import_name(index: Index, rel: str) -> str:
    """The dotted name that imports ``rel`` itself: the project's usual spelling, unless that
    goes through a symbolic link (``app.items`` for ``app/real_items.py``), which may lead out of
    the tree being checked; then the file's own name from the same root."""
    name = index.modules.module_name(rel)
    own = index.modules.dotted_names(rel)
    if not name or name in own:
        return name
    depth = len(name.split("."))
    return next((n for n in own if len(n.split(".")) == depth), own[-1] if own else name)


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
        second = sum(f.code == "UB101" for f in new.findings)
        what = f"{second + 1} declarative bases in scope" if second else "one base in scope is not proven"
        return CheckResult("single-base", FAIL, f"{what}: "
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


def _same_error(a: dict | None, b: dict | None, roots: Sequence[str]) -> bool:
    """One error in one module: the same stage, module, class and message (paths of the two
    trees aside)."""
    if not a or not b:
        return False

    def message(e: dict) -> str:
        text = _first_line(e.get("message") or "")
        for r in roots:
            text = text.replace(r, "<root>")
        return text

    return all(a.get(k) == b.get(k) for k in ("stage", "module", "error_class")) and message(a) == message(b)


def _pre_existing(check: CheckResult, error: dict, probe: dict, base: str, roots: Sequence[str]) -> CheckResult:
    """``pre-existing`` when the tree at ``against`` fails the same way in the same module."""
    errors = [probe.get("error")] + list(probe.get("errors", [])) + list(probe.get("package_inits", []))
    same = next((e for e in errors if _same_error(e, error, roots)), None)
    if same is None:
        before = "it imported cleanly" if not probe.get("error") and "crash" not in probe else (
            "it failed differently: " + (_error_text(probe["error"]) if probe.get("error") else probe["crash"]))
        return CheckResult(check.name, FAIL, f"{check.detail}\n(before the merge, at {base[:10]}, {before})")
    return CheckResult(check.name, PRE_EXISTING,
                       f"the project had this failure before the merge. after: {check.detail}\n"
                       f"before (at {base[:10]}): {_error_text(same)}")


def _with_changed(scan: _Scan, changed: Sequence[str] | None) -> _Targets:
    """The scan's targets plus every other changed module (shims, rewritten importers, package
    ``__init__``s), with the roots they import from."""
    if scan.index is None or not changed:
        return scan.targets
    roots, modules = list(scan.targets.roots), []
    for rel in changed:
        name = _import_name(scan.index, rel)
        parts = PurePosixPath(rel).with_suffix("").parts
        if not name or parts[-1] in ("__main__", "setup", "conftest") or name in scan.targets.modules:
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        root = "/".join(parts[: len(parts) - len(name.split("."))])
        if root not in roots:
            roots.insert(len(roots) - 1, root)  # the project root stays last
        modules.append(name)
    return replace(scan.targets, roots=tuple(roots), changed=tuple(dict.fromkeys(modules)))


def _outside(error: dict, scan: _Scan) -> str | None:
    """Why a module failed for a reason outside the project, or None: a missing package that is
    not one of the project's own."""
    missing = error.get("missing")
    if not missing or error.get("error_class") != "builtins.ModuleNotFoundError" or scan.index is None:
        return None
    if scan.index.modules.resolve(missing) or scan.index.modules.resolve(missing.partition(".")[0]):
        return None
    return f"the package {missing} is not installed"


def _changed_result(check: CheckResult, new: _Scan, result: dict, before: dict | None, base: str | None,
                    roots: Sequence[str]) -> CheckResult:
    """The import check once every other changed module was imported too: a new error in one of
    them fails it; a module that cannot be imported for reasons outside unibase (a missing
    package, the same error in the same module before the merge) is not proven."""
    entries = result.get("changed") or []
    before = before or {}
    old_entries = {e["module"]: e for e in before.get("changed") or []}
    # the tree before may have met the module's error earlier, as a package __init__ or a model module
    old_errors = [e.get("error") for e in old_entries.values()] + list(before.get("package_inits") or []) + list(
        before.get("errors") or [])
    failed, unproven = [], []
    for e in entries:
        error = e.get("error")
        if error is None:
            continue
        why = _outside(error, new)
        if why is None and any(_same_error({**error, "stage": ""}, {**old, "stage": ""}, roots)
                               for old in old_errors if old):
            why = f"it failed the same way before the merge, at {(base or '?')[:10]}"
        if why is None:
            was = old_entries.get(e["module"])
            then = ("it was not imported (it did not exist or was not importable)" if was is None
                    else "it imported" if not was.get("error") else "it failed differently: " + _error_text(was["error"]))
            failed.append(_error_text(error) + (f"\n(before the merge, at {base[:10]}, {then})" if base else ""))
        else:
            unproven.append(f"{e['module']} ({why}: {_first_line(error.get('message') or '')})")
    done = len(entries) - len(failed) - len(unproven)
    detail = check.detail + (f"; {done} other changed module(s) import" if entries else "")
    if failed:
        return CheckResult(check.name, FAIL, "a changed module does not import: " + "\n".join(failed))
    if unproven:
        return CheckResult(check.name, NOT_PROVEN, detail + "; not proven for " + "; ".join(unproven))
    return CheckResult(check.name, check.status, detail)


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


def _main_checkout(root: Path) -> Path | None:
    """The repository's main working tree (the user's checkout), also from a linked worktree."""
    try:
        common = Path(_git(root, "rev-parse", "--path-format=absolute", "--git-common-dir").strip())
    except (subprocess.CalledProcessError, OSError):
        return None
    return common.parent if common.name == ".git" else None


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


_MARKER = verify_child.MARKER


__all__ = [
    "CheckResult",
    "DeclaredChange",
    "VerifyError",
    "VerifyReport",
    "declared_from_plan",
    "verify_project",
]
