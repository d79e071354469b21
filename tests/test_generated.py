"""Property tests: unibase merges random multi-base projects drawn by tests/genproject.py.

Each example is a project of 2-5 declarative bases of every kind, with models, cross-base
foreign keys and relationships, identical duplicate tables, class-name collisions, helpers,
mixins, importers in every import form, a ``create_all`` entry and its own tests, committed
on ``main`` in a temporary git repository. ``unibase plan`` must succeed and ``unibase apply``
must commit the merge on a branch without touching ``main``; on the branch every file parses,
every module imports, one registry holds every table, Alembic finds no difference with the
schema before the merge, the project's tests pass, and a second plan has nothing to do.

The default profile is the CI one: a fixed number of examples, derandomized. The long one
draws thousands of fresh examples:

    UNIBASE_HYPOTHESIS_PROFILE=long .venv/bin/python -m pytest tests/test_generated.py -p no:cacheprovider

``UNIBASE_HYPOTHESIS_EXAMPLES=N`` sets the number of examples of either profile. The merge
property is drawn in four parts (``test_unibase_merges_generated_project[0]`` to ``[3]``),
each with its own fixed seed in the CI profile; to replay one part of a long run, select it
with ``-k`` and pass the seed it printed with ``--hypothesis-seed``.

Every tree is imported in fresh processes forked from one server that has SQLAlchemy, Alembic
and pytest loaded already, so no example pays for those imports; the tree before the merge is
checked while unibase plans and applies, the merged tree's schema and its tests side by side.
"""

from __future__ import annotations

import ast
import json
import multiprocessing
import os
import sys
import tempfile
import traceback
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, note, seed, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from conftest import git, make_repo, tree_state
from genproject import GeneratedProject, projects, write_project
from unibase.cli import app

settings.register_profile(
    "unibase-ci",
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    # an example takes a second or two: shrinking one would take minutes, and the failing
    # project's files are printed in full (and derandomized runs reproduce it) anyway
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "unibase-long",
    max_examples=5000,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROFILE = "unibase-" + os.environ.get("UNIBASE_HYPOTHESIS_PROFILE", "ci")
EXAMPLES = int(os.environ.get("UNIBASE_HYPOTHESIS_EXAMPLES", "0")) or settings.get_profile(PROFILE).max_examples
# the merge property runs in parts of equal size, so the slowest test of the suite is a quarter
# of it and the workers share it
SHARDS = 4
MERGE_SHARD = settings(settings.get_profile(PROFILE), max_examples=-(-EXAMPLES // SHARDS))
SELF_CHECK = settings(settings.get_profile(PROFILE), max_examples=max(10, EXAMPLES // 20))

BRANCH = "unibase/generated"
RUNNER = CliRunner()
PROBE_TIMEOUT = 300


def unibase(*args: object):
    """The real command line, in this process."""
    return RUNNER.invoke(app, [str(a) for a in args])


# --- the probe: one forked process per tree --------------------------------------------------------

_FORK = multiprocessing.get_context("forkserver")
# pytest imports some of its plugins only when it runs: load them once, in the server
_FORK.set_forkserver_preload(["sqlalchemy.orm", "alembic.autogenerate", "pytest", "test_generated", "pdb", "unittest",
                              "_pytest.junitxml", "_pytest.unittest", "_pytest.skipping", "_pytest.helpconfig"])


def _start_fork_server() -> None:
    """Start the server with this directory importable: it does not inherit ``sys.path``, and
    a module it cannot import is silently not preloaded."""
    from multiprocessing import forkserver

    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(Path(__file__).parent), saved) if p)
    try:
        forkserver.ensure_running()
    finally:
        if saved is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = saved


class Probe:
    """A tree being imported and checked in a forked process; :meth:`result` waits for it."""

    def __init__(self, root: Path, mode: str, db: Path, out: Path) -> None:
        _start_fork_server()
        self.out = out
        self.process = _FORK.Process(target=probe, args=(str(root), mode, str(db), str(out)))
        self.process.start()

    def __enter__(self) -> Probe:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join()

    def result(self) -> dict:
        self.process.join(PROBE_TIMEOUT)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
            return {"crash": f"no result after {PROBE_TIMEOUT} s"}
        if not self.out.exists():
            return {"crash": f"the probe exited with {self.process.exitcode} and wrote nothing"}
        return json.loads(self.out.read_text(encoding="utf-8"))


def probe(root: str, mode: str, db: str, out: str) -> None:
    """Import every module of the tree at ``root`` and describe its schema, in a fresh process.

    ``old``: also build the schema of every base on the SQLite file ``db`` (all tables in one
    MetaData, as one database) and record what Alembic reports for it against itself.
    ``new``: configure the mappers, create the tables and compare the metadata with ``db``.
    ``tests``: only call every test function of ``tests/test_models.py``, in order (they take
    no fixtures; this skips pytest's start-up). ``pytest``: only run the tests with pytest.
    """
    result: dict = {}
    log = Path(out).with_suffix(".log")
    with open(log, "w", encoding="utf-8") as fh:
        os.dup2(fh.fileno(), 1)
        os.dup2(fh.fileno(), 2)
    try:
        sys.dont_write_bytecode = True
        os.chdir(root)
        sys.path.insert(0, root)
        _probe(Path(root), mode, db, result)
    except BaseException:
        result["crash"] = traceback.format_exc()
    sys.stdout.flush()
    sys.stderr.flush()
    result["log"] = log.read_text(encoding="utf-8", errors="replace")[-6000:]
    tmp = Path(out).with_suffix(".tmp")
    tmp.write_text(json.dumps(result), encoding="utf-8")
    os.replace(tmp, out)


def _probe(root: Path, mode: str, db: str, result: dict) -> None:
    import gc
    import importlib
    import warnings

    from sqlalchemy import MetaData, create_engine
    from sqlalchemy.orm import configure_mappers, registry

    if mode == "tests":
        result["tests"] = call_tests(root / "tests" / "test_models.py")
        return
    if mode == "pytest":
        os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        code = pytest.main(["-q", "-p", "no:cacheprovider", "--tb=short", "-W", "ignore::DeprecationWarning", "tests"])
        result["tests"] = {"failed": [] if code == 0 else [f"pytest exited with {int(code)}"]}
        return
    preloaded = [o for o in gc.get_objects() if isinstance(o, (MetaData, registry))]
    errors = {}
    for name in tree_modules(root):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                importlib.import_module(name)
        except BaseException:
            errors[name] = traceback.format_exc(limit=-4)
    result["import_errors"] = errors
    if errors:
        return
    known = {id(o) for o in preloaded}  # alive, so no project object can reuse one of these ids
    ours = [o for o in gc.get_objects() if isinstance(o, (MetaData, registry)) and id(o) not in known]
    registries = [o for o in ours if isinstance(o, registry)]
    metadatas = [o for o in ours if isinstance(o, MetaData) and (o.tables or any(r.metadata is o for r in registries))]
    result["registries"] = len(registries)
    result["metadatas"] = len(metadatas)
    result["tables"] = sorted({name for md in metadatas for name in md.tables})
    env = sys.modules.get("migrations.env")
    if env is not None:  # Alembic's target_metadata: how many metadatas, and all of them the project's
        targets = env.target_metadata if isinstance(env.target_metadata, (list, tuple)) else [env.target_metadata]
        ours_only = all(any(t is m for m in metadatas) for t in targets)
        result["target_metadata"] = [len({id(t) for t in targets}), ours_only]
    schema = MetaData()
    for md in metadatas:
        for table in md.tables.values():
            if table.name not in schema.tables:
                table.to_metadata(schema)
    engine = create_engine(f"sqlite:///{db}")
    if mode == "old":
        schema.create_all(engine)
        result["diffs"] = schema_diff(engine, schema)
        return
    try:
        configure_mappers()
        for md in metadatas:
            md.create_all(create_engine("sqlite://"))
    except Exception:
        result["mappers"] = traceback.format_exc(limit=-4)
    result["diffs"] = schema_diff(engine, schema)


def call_tests(path: Path) -> dict:
    """Import the test module and call each ``test_*`` function; the failures with their tracebacks."""
    import importlib.util
    import warnings

    warnings.simplefilter("ignore", DeprecationWarning)
    spec = importlib.util.spec_from_file_location("test_models", path)
    module = importlib.util.module_from_spec(spec)
    failed, passed = [], 0
    try:
        spec.loader.exec_module(module)
    except Exception:
        return {"passed": 0, "failed": [f"importing {path.name}:\n{traceback.format_exc(limit=-6)}"]}
    for name, test in vars(module).items():
        if name.startswith("test_") and callable(test):
            try:
                test()
                passed += 1
            except Exception:
                failed.append(f"{name}:\n{traceback.format_exc(limit=-6)}")
    return {"passed": passed, "failed": failed}


def tree_modules(root: Path) -> list[str]:
    """The dotted name of every module of the tree, the tests aside."""
    out = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if rel.parts[0] in ("tests", ".git") or any(p.startswith(".") for p in rel.parts):
            continue
        parts = list(rel.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        if parts:
            out.append(".".join(parts))
    return out


def schema_diff(engine, metadata) -> list[str]:
    """Alembic's differences between the database at ``engine`` and ``metadata``, as text."""
    import warnings

    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with engine.connect() as conn, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        items = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    flat = [d for item in items for d in (item if isinstance(item, list) else [item])]
    return sorted(describe_diff(d) for d in flat)


def describe_diff(d: tuple) -> str:
    op, *rest = d
    if op.endswith("_table"):
        return f"{op} {rest[0].name}"
    if op.endswith("_column"):
        _, table, col = rest
        return f"{op} {table}.{col.name} {col.type!r} nullable={col.nullable}"
    if op.endswith("_index"):
        idx = rest[0]
        return f"{op} {idx.name} on {idx.table.name}({', '.join(c.name for c in idx.columns)}) unique={idx.unique}"
    if op.endswith("_constraint"):
        c = rest[0]
        return f"{op} {type(c).__name__} {c.name} on {c.table.name}({', '.join(col.name for col in c.columns)})"
    if op.endswith("_fk"):
        fk = rest[0]
        return f"{op} {fk.parent.name}({', '.join(c.name for c in fk.columns)}) -> {fk.referred_table.name}"
    if op.startswith("modify_"):
        _, table, column, _, old, new = rest
        return f"{op} {table}.{column}: {old!r} -> {new!r}"
    return repr(d)


# --- the properties ------------------------------------------------------------------------------


def tail(text: str, lines: int = 60) -> str:
    return "\n".join(text.splitlines()[-lines:])


def branches_without(state: dict, branch: str) -> dict:
    lines = state.get("branches", "").splitlines(keepends=True)
    return {**state, "branches": "".join(line for line in lines if not line.startswith(f"refs/heads/{branch} "))}


STRATEGIES = st.sampled_from(("move", "move", "move", "rebase"))


def merge_one(project: GeneratedProject, strategy: str) -> None:
    note(project.listing())
    with tempfile.TemporaryDirectory(prefix="unibase-gen-") as tmp:
        check_merge(project, Path(tmp), strategy)


@pytest.mark.long
@pytest.mark.parametrize("shard", range(SHARDS))
def test_unibase_merges_generated_project(shard: int):
    """The examples are drawn in ``SHARDS`` parts that pytest-xdist runs side by side; in the
    CI profile each part has a fixed seed of its own, so every run draws the same projects."""
    run = MERGE_SHARD(given(projects(), STRATEGIES)(merge_one))
    if MERGE_SHARD.derandomize:
        run = seed(shard)(run)
    run()


def check_merge(project: GeneratedProject, tmp: Path, strategy: str = "move") -> None:
    """The whole property for one project, in the scratch directory ``tmp``."""
    root = write_project(project.files, tmp / "project")
    make_repo(root)
    with Probe(root, "old", tmp / "old.sqlite", tmp / "old.json") as old:
        before = tree_state(root)
        planned = unibase("plan", root, "--json", "--strategy", strategy)
        assert planned.exit_code in (0, 1), planned.stderr + planned.stdout
        plan = json.loads(planned.stdout)
        note(f"plan: {json.dumps(plan, indent=1)[:6000]}")
        found = sorted((b["file"], b["name"]) for b in plan["bases"] if b["role"] in ("canonical", "merge"))
        assert found == sorted(project.bases), "the plan does not see exactly the project's bases"
        unresolved = {(c["kind"], c["subject"]) for c in plan["conflicts"] if c["resolution"] is None}
        expected = project.decisions(strategy)
        assert unresolved <= expected, f"conflicts that should not need a decision: {unresolved - expected}"
        assert unresolved or not project.must_decide(strategy), f"no decision asked for {expected}"
        if unresolved:
            assert planned.exit_code == 1, "plan must exit 1 while a conflict needs a decision"
            refused = unibase("apply", root, "--branch", BRANCH, "--strategy", strategy)
            assert refused.exit_code == 1, refused.stdout + refused.stderr
            assert "need a decision" in refused.stderr, f"no clear message: {refused.stderr}"
            assert tree_state(root) == before, "a refused apply changed something"
            return
        assert planned.exit_code == 0, planned.stderr

        applied = unibase("apply", root, "--branch", BRANCH, "--no-verify", "--strategy", strategy)
        assert applied.exit_code == 0, applied.stderr + applied.stdout
        assert branches_without(tree_state(root), BRANCH) == before, "apply changed the user's branch or working tree"
        subjects = git(root, "log", "--format=%s", f"main..{BRANCH}").splitlines()
        assert subjects and all(s.startswith("unibase: ") for s in subjects), f"unexpected commits: {subjects}"

        merged = tmp / "merged"
        git(root, "worktree", "add", "-q", "--detach", str(merged), BRANCH)
        for path in merged.rglob("*.py"):
            ast.parse(path.read_text(encoding="utf-8"), str(path))
        before_merge = old.result()
    assert "crash" not in before_merge, before_merge["crash"]
    assert not before_merge["import_errors"], f"generator bug: the original tree does not import: {before_merge}"
    assert before_merge["tables"] == sorted(project.tables), "generator bug: unexpected tables"
    if project.spec.alembic_env:
        assert before_merge["target_metadata"] == [len(project.bases), True], "generator bug: env.py"

    with (Probe(merged, "new", tmp / "old.sqlite", tmp / "new.json") as new,
          Probe(merged, "tests", tmp / "old.sqlite", tmp / "tests.json") as tests):
        again = unibase("plan", merged, "--json")
        assert again.exit_code == 0, again.stderr
        assert json.loads(again.stdout)["operations"] == [], "a second plan still has operations"
        checked = unibase("check", merged)
        assert checked.exit_code == 0, checked.stdout + checked.stderr
        after = new.result()
        tested = tests.result()
    assert "crash" not in after, after["crash"]
    assert not after["import_errors"], "\n".join(after["import_errors"].values())
    assert "mappers" not in after, after["mappers"]
    assert after["registries"] == 1 and after["metadatas"] == 1, (
        f"{after['registries']} registries and {after['metadatas']} metadatas after the merge")
    assert after["tables"] == before_merge["tables"], "the merged metadata does not hold the same tables"
    if project.spec.alembic_env:
        assert after["target_metadata"] == [1, True], f"env.py's target_metadata: {after['target_metadata']}"
    noise = set(before_merge["diffs"])
    assert [d for d in after["diffs"] if d not in noise] == [], "the merged schema differs from the old one"
    assert "crash" not in tested, tested["crash"]
    failures = tested["tests"]["failed"]
    assert not failures, f"{len(failures)} of the project's tests fail after the merge:\n" + "\n".join(failures[:3])
    assert tested["tests"]["passed"] > 0, "no test of the project ran"


@SELF_CHECK
@given(projects(cross_base=False))
def test_generated_tests_pass_when_nothing_crosses_bases(project: GeneratedProject):
    """The generator's own check: without cross-base references the project is healthy as
    drawn, so its tests pass before any merge (a failure here is a generator bug)."""
    with tempfile.TemporaryDirectory(prefix="unibase-gen-") as tmp:
        root = write_project(project.files, Path(tmp) / "project")
        with Probe(root, "pytest", Path(tmp) / "unused.sqlite", Path(tmp) / "out.json") as probe_:
            result = probe_.result()
        assert "crash" not in result, result["crash"]
        assert not result["tests"]["failed"], tail(result["log"])


def test_forked_probes_see_a_fresh_interpreter(tmp_path):
    """Two trees that define the same module names do not see each other."""
    for name, table in (("one", "alpha"), ("two", "beta")):
        write_project({"pkg/__init__.py": "", "pkg/models.py": (
            "from sqlalchemy import Column, Integer\nfrom sqlalchemy.orm import declarative_base\n\n"
            f"Base = declarative_base()\n\n\nclass Row(Base):\n    __tablename__ = \"{table}\"\n"
            "    id = Column(Integer, primary_key=True)\n")}, tmp_path / name)
    results = [Probe(tmp_path / name, "old", tmp_path / f"{name}.sqlite", tmp_path / f"{name}.json").result()
               for name in ("one", "two")]
    assert [r["tables"] for r in results] == [["alpha"], ["beta"]]
    assert [r["registries"] for r in results] == [1, 1]
