"""Verify a merge: the changed files compile, one base is in scope, the models import, the schema is the same.

unibase never imports user code in its own process. Every dynamic check runs in a subprocess
with the project's interpreter (``--python``), from the script :mod:`unibase.verify.child`, which
imports the modules that define the in-scope bases, models and Core tables (not the whole
application), and after every check the other modules the merge changed (shims, rewritten
importers, package ``__init__``s), and prints one JSON result. A changed module that cannot be
imported for a reason outside unibase (a package that is not installed, the same error in the
same module before the merge) leaves the import check "not proven" rather than passing.

Schema equivalence is proved against the tree before the merge (``against``), materialised
with ``git worktree add --detach`` and always removed afterwards:

1. a child in the *new* tree runs the import check (import, ``configure_mappers()``,
   ``create_all()`` on SQLite); before its ``create_all()`` it writes the statements that create
   each of its tables on SQLite (``CREATE TABLE`` with every column, type, default and named
   constraint, ``CREATE INDEX``, comments);
2. a child in the *old* tree, started once the old tree is read, copies every table of every
   in-scope base into one fresh ``MetaData`` (so cross-base foreign keys resolve), writes the
   same statements of its own, reads the new tree's, and creates on an empty SQLite database the
   tables the two trees create differently or that only it has (every table on a
   ``database_url``). It diffs that metadata against its own database: whatever Alembic reports
   there is reflection noise, not a change, and is subtracted later;
3. the new tree's child then waits until the old database is built and runs Alembic's
   ``compare_metadata`` of the merged metadata against it, plus a comparison of the primary
   key, foreign key and unique constraint names that Alembic leaves out.

A table both trees create by the same statements becomes the same table in both databases, so
both diffs would report the same of it and the noise would cancel it: on SQLite both diffs
leave it out (Alembic's ``include_name``/``include_object``), and the comparison costs what the
tables that changed cost. When either tree's statements are unknown (a table that does not
compile, a child that ended early), every table is compared as before.

A difference passes only when the plan declared it (:class:`DeclaredChange`). A failure the
project already had at ``against`` (the same error in the same module) is reported as ``pre-existing``: unibase must neither be
blamed for the project's own bugs nor hide them.

Where the platform forks, the children of one run fork from one process of the project's
interpreter that imported SQLAlchemy and Alembic once (``forkserver``), each importing its own
tree's modules after the fork; elsewhere each child is a process of its own. The report is the same.

The package: ``report`` (what verify returns), ``targets`` (a tree read and planned: what to
import), ``session`` (scratch space, the worktree before the merge, scratch databases, child
processes), ``forks`` (unibase's side of the fork server), ``checks`` (each check's result),
``child`` (the program run in the project's interpreter: the standard library, SQLAlchemy and
Alembic only, with ``scratch`` and ``overlap`` beside it: its scratch databases and files, and its
``create_all()`` run in a fork while it configures the mappers) and ``forkserver`` (the same,
forking ``child``). Both trees are read with the project's cache of what discovery read (read only):
their unchanged files are not parsed again. This module runs them in order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from .checks import (
    changed_result,
    check_parse,
    check_single_base,
    check_tests,
    import_result,
    pre_existing,
    schema_result,
)
from .report import PASS, SKIPPED, CheckResult, DeclaredChange, VerifyError, VerifyReport, declared_from_plan
from .session import Session, backend_name, interpreter, mark_no_statements, mark_ready, sqlite_url
from .targets import read_tree, with_changed

__all__ = [
    "CheckResult",
    "DeclaredChange",
    "VerifyError",
    "VerifyReport",
    "declared_from_plan",
    "verify_project",
]


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
    cache_from: Path | None = None,
) -> VerifyReport:
    """Run every check on the project at ``root``; raise :class:`VerifyError` only on bad input.

    ``declared_from_against`` also accepts what the plan unibase makes for the tree at
    ``against`` declares (for ``unibase verify`` run on its own, without the applied plan).
    ``cache_from``: the project whose cache of what discovery read (:mod:`unibase.cache`, read
    only) serves the unchanged files of both trees, which verify reads in its own checkouts.
    """
    root = Path(root).resolve()
    if not root.is_dir():
        raise VerifyError(f"{root} is not a directory; pass the path of the merged project")
    from ..project import find_root

    root = find_root(root) or root  # the whole project, as discovery reads it
    python = interpreter(python)
    note = progress or (lambda line: None)
    with Session(root, python) as session:
        base, why_not = session.resolve_against(against)
        changed = session.changed_files()
        note(f"verify: reading the merged tree{f' and the tree at {base[:10]}' if base else ''}")
        old_root = None
        if base is not None:
            if session.old_root().is_dir():
                old_root = session.old_root()
            else:
                why_not = f"the project directory did not exist at {base[:10]}: nothing to compare the schema with"
        schema_names = ["schema"] + ([f"schema-{backend_name(database_url)}"] if database_url else [])
        old_urls: list[str] = []
        builds: list[dict] = []
        ready = session.tmp / "old-ready.json"
        # the statements that create each tree's tables: the tables both trees create alike are
        # left out of both comparisons (each would report the same as the other)
        old_statements, new_statements = session.tmp / "old-statements.json", session.tmp / "new-statements.json"
        if old_root is not None:
            old_urls = [sqlite_url(session.tmp / "old.sqlite")]
            if database_url:
                old_urls.append(session.scratch_database(database_url))
            session.start_server()  # the children fork from it, sharing its imports
        new = read_tree(root, cache_from)
        new.targets = with_changed(new, changed)
        checks = [check_parse(session, changed), check_single_base(new)]

        n = len(new.targets.modules)
        note(f"verify: importing the models in a subprocess ({n} module{'s' if n != 1 else ''})"
             + (", building the schema before the merge and comparing" if old_root is not None else ""))
        # the merged tree's child first, which has the most to do (the import check, then the
        # comparison); the tree before the merge is read while it runs, and its child builds the
        # old database(s) that the merged tree's child waits for
        new_child = session.start_child(root, new.targets, import_db=session.tmp / "new.sqlite",
                                        compares=old_urls, wait_for=ready if old_urls else None,
                                        statements=(new_statements, old_statements) if old_urls else None)
        old = old_child = None
        if old_root is not None:
            old = read_tree(old_root, cache_from)
            # the same modules before the merge, where they existed
            old.targets = with_changed(old, [rel for rel in changed or () if (old_root / rel).is_file()])
            old_child = session.start_child(old_root, old.targets, builds=old_urls, ready_file=ready,
                                            statements=(old_statements, new_statements))
        if old is not None and old.plan is not None and declared_from_against:
            declared = (*declared, *declared_from_plan(old.plan))
        built: dict = {}
        if old_child is not None:
            # the old tree's child waits for the merged tree's statements: say there are none
            # if the merged tree's child ends without them
            built = session.finish_child(old_child, lambda: new_child.proc.poll() is not None
                                         and mark_no_statements(new_statements))
            mark_ready(ready, len(old_urls))
            if "crash" in built:
                why_not = f"the child process in the tree at {base[:10] if base else '?'} failed: {built['crash']}"
                old = None
            builds = built.get("builds") or []
        result = session.finish_child(new_child)
        import_check, import_error = import_result(new, result, changed)
        roots = (str(root), str(session.old_root()) if old is not None else str(root))
        if import_error is not None and import_error.get("stage") != "child" and old is not None and base:
            # the same check on the tree before the merge: is this the project's own bug?
            probe = session.run_child(session.old_root(), replace(old.targets, changed=()),
                                      import_db=session.tmp / "probe.sqlite",
                                      combine=True)
            import_check = pre_existing(import_check, import_error, probe, base, roots)
        elif import_check.status == PASS:
            import_check = changed_result(import_check, new, result, built if old_child else None, base, roots)
        checks.append(import_check)

        compares = result.get("compares") or []
        for i, name in enumerate(schema_names):
            if old is None or base is None:
                checks.append(CheckResult(name, SKIPPED, why_not or "no revision to compare with"))
                continue
            build = builds[i] if i < len(builds) else {"error": {"stage": "child", "message": "no result"}}
            compare = compares[i] if i < len(compares) else None
            checks.append(schema_result(name, base, build, compare, result, declared))

        if test_cmd:
            note(f"verify: running the project's tests ({test_cmd})")
        checks.append(check_tests(root, test_cmd))
    return VerifyReport(tuple(checks), base)
