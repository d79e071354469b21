"""benchmarks/corpus.py end to end on a mirror of our own: a bare git repository holding a small
two-base project, scored against a manifest with expectations that hold and one that does not."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap

import pytest

from conftest import REPO, git

sys.path.insert(0, str(REPO / "benchmarks"))
import corpus  # noqa: E402

FILES = {
    "app/__init__.py": "",
    "app/models.py": """
        from sqlalchemy import Integer, String
        from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


        class Base(DeclarativeBase):
            pass


        class Widget(Base):
            __tablename__ = "widgets"
            id: Mapped[int] = mapped_column(Integer, primary_key=True)
            name: Mapped[str] = mapped_column(String(50))


        class Gadget(Base):
            __tablename__ = "gadgets"
            id: Mapped[int] = mapped_column(Integer, primary_key=True)
        """,
    "app/billing.py": """
        from sqlalchemy import Integer
        from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


        class BillingBase(DeclarativeBase):
            pass


        class Invoice(BillingBase):
            __tablename__ = "invoices"
            id: Mapped[int] = mapped_column(Integer, primary_key=True)
            total: Mapped[int] = mapped_column(Integer)
        """,
    # imports a third-party package that is installed nowhere: the probe must stand it in
    "app/services.py": """
        import acme_payments_sdk
        from acme_payments_sdk.retry import backoff

        from app.billing import Invoice
        from app.models import Widget

        client = acme_payments_sdk.Client(key="k")


        @backoff(3)
        def charge(invoice: Invoice, widget: Widget) -> None:
            client.charge(invoice.total)
        """,
}

COMMIT_PLACEHOLDER = "@COMMIT@"

MANIFEST = """
[[project]]
name = "shop"
repo = "acme/shop"
commit = "@COMMIT@"
expert = "merge the billing base into the main one"
imports = [".:app.services"]

[project.expect]
plan_exit = 0
apply_exit = 0
check_exit = 0
second_plan_ops = 0
no_operations = false
bases_found_min = 3
metadatas_after = 1
imports_after = true

[[project.expect.bases]]
base = "app/models.py:Base"
min_models = 2
roles = ["canonical", "merge"]
why = "the main base"

[[project.expect.bases]]
base = "app/billing.py:BillingBase"
min_models = 1
roles = ["canonical", "merge"]
why = "one database, one engine"
"""


def manifest(path, commit: str, *, drop: tuple[str, ...] = (), repo: str = "acme/shop"):
    """MANIFEST for ``commit``, without the lines that start with a key in ``drop``."""
    lines = [ln for ln in MANIFEST.replace(COMMIT_PLACEHOLDER, commit).replace("acme/shop", repo).splitlines()
             if not ln.startswith(drop)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_corpus(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "benchmarks" / "corpus.py"), *args], capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=600)


@pytest.fixture(scope="module")
def mirror(tmp_path_factory):
    """``MIRRORS/acme+shop/repo``, a bare repository, and the commit holding the project."""
    root = tmp_path_factory.mktemp("corpus")
    src = root / "src"
    for rel, text in FILES.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    (src / "assets").mkdir()
    (src / "assets" / "logo.bin").write_bytes(bytes(range(256)))
    git(src, "init", "-q", "-b", "main")
    git(src, "add", "-A")
    git(src, "commit", "-q", "-m", "shop")
    commit = git(src, "rev-parse", "HEAD").strip()
    mirrors = root / "mirrors"
    bare = mirrors / "acme+shop" / "repo"
    git(root, "clone", "-q", "--bare", str(src), str(bare))
    # snapshots may lack their largest files: this one lacks the logo's blob (a loose object)
    blob = git(src, "rev-parse", f"{commit}:assets/logo.bin").strip()
    (bare / "objects" / blob[:2] / blob[2:]).unlink()
    return mirrors, commit, root


@pytest.fixture(scope="module")
def scored(mirror):
    mirrors, commit, root = mirror
    proc = run_corpus("--mirrors", str(mirrors), "--manifest", str(manifest(root / "corpus.toml", commit)), "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_counts_held_and_failed_expectations(scored):
    (row,) = scored
    assert row["name"] == "shop"
    assert (row["held"], row["total"]) == (9, 10), row["failures"]
    assert row["failures"] == ["the plan found 2 base(s), expected at least 3."]


def test_reports_exits_operations_and_timings(scored):
    (row,) = scored
    assert row["exits"] == {"plan": 0, "apply": 0, "check": 0, "plan2": 0}
    assert row["branch"] is True and row["operations"] > 0 and row["second_plan_ops"] == 0
    assert row["compile"]["errors"] == [] and row["compile"]["compiled"] >= 1
    assert {"floor", "plan", "apply", "check", "plan2", "imports_before", "imports_after"} <= row["timings"].keys()
    assert row["ratios"]["plan"] == row["timings"]["plan"] / row["timings"]["floor"]
    assert {"floor", "plan", "apply", "check", "plan2"} <= row["cpu_timings"].keys()


def test_files_absent_from_the_mirror_are_left_out_and_noted(scored):
    (row,) = scored
    assert row["notes"] == ["1 file(s) absent from the mirror were left out (assets/logo.bin)"]


def test_imports_with_stand_ins_before_and_after(scored):
    (row,) = scored
    before, after = row["imports"]["before"], row["imports"]["after"]
    for probe in (before, after):
        assert probe["modules"] == {"app.services": None}
        assert probe["stand_ins"] == ["acme_payments_sdk"]
        assert probe["configure_mappers"] is None
        assert all(made["error"] is None for made in probe["create_all"])
    assert (before["metadatas"], after["metadatas"]) == (2, 1)
    assert sorted(m["tables"] for m in before["create_all"]) == [1, 2]
    assert [m["tables"] for m in after["create_all"]] == [3]


def test_scorecard_is_the_default_output(mirror, tmp_path):
    mirrors, commit, _ = mirror
    # without the import probe (the JSON test covers it): plan, apply, check and the second plan
    path = manifest(tmp_path / "corpus.toml", commit, drop=("bases_found_min", "imports", "metadatas_after"))
    proc = run_corpus("--mirrors", str(mirrors), "--manifest", str(path), "--only", "shop")
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"│ shop +│ +7/7 │", proc.stdout), proc.stdout
    assert "7/7 expectations held on 1 project(s)." in proc.stdout


def test_missing_mirror_is_one_sentence(tmp_path):
    path = manifest(tmp_path / "corpus.toml", "0" * 40, repo="acme/absent")
    proc = run_corpus("--mirrors", str(tmp_path / "mirrors"), "--manifest", str(path))
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.strip() == (f"error: the mirror of acme/absent (shop) is missing: expected a git directory at "
                                   f"{tmp_path / 'mirrors' / 'acme+absent' / 'repo'}.")


def test_manifest_with_an_unknown_expectation_is_bad_input(mirror, tmp_path):
    mirrors, commit, _ = mirror
    path = manifest(tmp_path / "corpus.toml", commit)
    path.write_text(path.read_text().replace("plan_exit = 0", "plan_exitt = 0"))
    proc = run_corpus("--mirrors", str(mirrors), "--manifest", str(path))
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr.strip() == f"error: manifest {path}: project shop has unknown keys plan_exitt."


# --- the import probe alone (no unibase): stand-ins, protected names, engines -------------------

PROBE_FILES = {
    "pkg/__init__.py": "",
    "pkg/db/__init__.py": "",
    "pkg/db/database.py": """
        import os

        from acme_settings import settings
        from sqlalchemy import create_engine
        from sqlalchemy.orm import declarative_base

        engine = create_engine(f"postgresql://{settings.user}@{settings.host}:{settings.port}/app")
        Base = declarative_base()
        LOGS = os.path.join(settings.BASE_DIR, "logs")
        os.makedirs(LOGS, exist_ok=True)
        """,
    "pkg/models.py": """
        from sqlalchemy import Column, Integer

        from pkg.db.database import Base


        class Widget(Base):
            __tablename__ = "widgets"
            id = Column(Integer, primary_key=True)
        """,
    # the import a broken rewrite would leave: ``db`` is a folder of ``pkg``, not a top-level package
    "pkg/broken.py": """
        from db.database import Base
        """,
}


def probe(tree, protected: list[str], *modules: str) -> dict:
    out = tree.parent / "probe.json"
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "import_probe.py"), str(out), str(tree),
                           json.dumps(protected), *modules], capture_output=True, text=True, cwd=tree, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(out.read_text())


@pytest.fixture
def probe_tree(tmp_path):
    tree = tmp_path / "tree"
    for rel, text in PROBE_FILES.items():
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return tree


def test_probe_stands_in_and_makes_failing_engines_on_sqlite(probe_tree):
    result = probe(probe_tree, ["pkg"], ".:pkg.models")
    assert result["modules"] == {"pkg.models": None}
    assert result["stand_ins"] == ["acme_settings"]
    assert len(result["engines_on_sqlite"]) == 1 and result["engines_on_sqlite"][0].startswith("postgresql://")
    assert result["metadatas"] == 1 and result["configure_mappers"] is None
    assert result["create_all"] == [{"tables": 1, "error": None}]
    assert sorted(p.name for p in probe_tree.rglob("*") if p.is_dir()) == ["db", "pkg"]  # logs went to scratch


def test_probe_serves_no_stand_in_for_a_protected_name(probe_tree):
    assert probe(probe_tree, ["pkg"], ".:pkg.broken")["modules"]["pkg.broken"] is None  # hidden by a stand-in
    result = probe(probe_tree, ["pkg", "db"], ".:pkg.broken")
    assert result["modules"]["pkg.broken"].startswith("ModuleNotFoundError: No module named 'db'")
    assert "db" not in result["stand_ins"]


def test_after_the_merge_a_project_name_gets_a_stand_in_only_if_it_got_one_before(probe_tree, tmp_path):
    """``celery`` (also a module of the project) stood in before, so it may after; ``db`` (a folder
    of the project) did not, so the import the branch broke fails as a missing module."""
    (probe_tree / "pkg" / "celery.py").write_text("import celery\n\napp = celery.Celery('pkg')\n")
    (probe_tree / "pkg" / "broken.py").unlink()
    models = probe_tree / "pkg" / "models.py"
    models.write_text("import celery\n\n" + models.read_text())
    git(probe_tree, "init", "-q", "-b", "main")
    git(probe_tree, "add", "-A")
    git(probe_tree, "commit", "-q", "-m", "before")
    base = git(probe_tree, "rev-parse", "HEAD").strip()
    git(probe_tree, "checkout", "-q", "-b", corpus.BRANCH)
    models.write_text(models.read_text().replace("from pkg.db.database import", "from db.database import"))
    git(probe_tree, "commit", "-q", "-am", "after")
    git(probe_tree, "checkout", "-q", "main")

    results = corpus.probe_before_and_after({"imports": [".:pkg.models"]}, probe_tree, base, True, tmp_path, 120)
    before, after = results["before"], results["after"]
    assert before["modules"] == {"pkg.models": None}
    assert before["stand_ins"] == ["acme_settings", "celery"]
    assert after["modules"]["pkg.models"].startswith("ModuleNotFoundError: No module named 'db'")
    assert after["stand_ins"] == ["celery"]  # the import stopped at ``db``, before the settings
