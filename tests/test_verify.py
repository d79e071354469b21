"""`unibase verify` on small real projects: real git repositories, real subprocesses, no mocks.

Every project starts as an "old" commit with two declarative bases (``blog`` has a foreign key
into the ``core`` base's ``users`` table, so ``BlogBase.metadata.create_all`` fails on its own)
and gets a "new" commit that merges them, correctly or with one deliberate mistake. The new
commit carries the ``Unibase-Base`` trailer, as ``unibase apply`` writes it.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import pg
from unibase.decisions import MetadataOptionChange
from unibase.plan import Conflict, Plan
from unibase.verify import DeclaredChange, VerifyError, declared_from_plan, verify_project

# --- projects ------------------------------------------------------------------------------------

CORE_OLD = """
    from sqlalchemy import Column, Integer, String
    from sqlalchemy.orm import declarative_base

    Base = declarative_base()


    class User(Base):
        __tablename__ = "users"
        id = Column(Integer, primary_key=True)
        name = Column(String(50), nullable=False)
        email = Column(String(100), unique=True)
"""

BLOG_OLD = """
    from sqlalchemy import Column, ForeignKey, Integer, MetaData, String
    from sqlalchemy.orm import declarative_base

    BlogBase = declarative_base(metadata=MetaData(naming_convention=NAMING))


    class Post(BlogBase):
        __tablename__ = "posts"
        id = Column(Integer, primary_key=True)
        title = Column(String(200))
        user_id = Column(Integer, ForeignKey("users.id"))


    class Tag(BlogBase):
        __tablename__ = "tags"
        id = Column(Integer, primary_key=True)
        label = Column(String(30), index=True)
"""

NAMING_NONE = "NAMING = None"
NAMING_CUSTOM = 'NAMING = {"ix": "idx_%(table_name)s_%(column_0_name)s", "fk": "fk_%(table_name)s_%(column_0_name)s"}'

# the correct merge: blog's models move into core on Base; blog.py is a re-export shim
CORE_NEW = """
    from sqlalchemy import Column, ForeignKey, Integer, String
    from sqlalchemy.orm import declarative_base

    Base = declarative_base()


    class User(Base):
        __tablename__ = "users"
        id = Column(Integer, primary_key=True)
        name = Column(String(50), nullable=False)
        email = Column(String(100), unique=True)


    class Post(Base):
        __tablename__ = "posts"
        id = Column(Integer, primary_key=True)
        title = Column(String(200))
        user_id = Column(Integer, ForeignKey("users.id"))


    class Tag(Base):
        __tablename__ = "tags"
        id = Column(Integer, primary_key=True)
        label = Column(String(30), index=True)
"""

BLOG_SHIM = """
    from .core import Base as BlogBase, Post, Tag

    __all__ = ["BlogBase", "Post", "Tag"]
"""


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def old_files(pkg: str = "app/models", naming: str = NAMING_NONE) -> dict[str, str]:
    return {
        f"{pkg.rsplit('/', 1)[0]}/__init__.py": "",
        f"{pkg}/__init__.py": "",
        f"{pkg}/core.py": dedent(CORE_OLD),
        f"{pkg}/blog.py": dedent(BLOG_OLD).replace("from sqlalchemy.orm import declarative_base\n",
                                                    f"from sqlalchemy.orm import declarative_base\n\n{naming}\n", 1),
    }


def new_files(pkg: str = "app/models", core: str = CORE_NEW) -> dict[str, str]:
    return {f"{pkg}/core.py": dedent(core), f"{pkg}/blog.py": dedent(BLOG_SHIM)}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def write(root: Path, files: dict[str, str | None]) -> None:
    for rel, text in files.items():
        path = root / rel
        if text is None:
            path.unlink()
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def make_project(root: Path, old: dict[str, str], new: dict[str, str | None] | None = None) -> str:
    """A git repository with ``old`` committed, then ``new`` committed on top with the trailer."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.name", "t")
    git(root, "config", "user.email", "t@example.com")
    write(root, old)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "before the merge")
    base = git(root, "rev-parse", "HEAD").strip()
    if new is not None:
        write(root, new)
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", f"unibase: move models\n\nUnibase-Step: UB001\nUnibase-Base: {base}\n")
    return base


def status(report) -> dict[str, str]:
    return {c.name: c.status for c in report.checks}


def detail(report, name: str) -> str:
    check = report.check(name)
    assert check is not None, f"no check {name}"
    return check.detail


# --- the happy path --------------------------------------------------------------------------------


def test_correct_merge_verifies(tmp_path):
    base = make_project(tmp_path / "p", old_files(), new_files())
    report = verify_project(tmp_path / "p")
    assert report.ok, report
    assert report.against == base
    assert status(report) == {"parse": "pass", "single-base": "pass", "import": "pass", "schema": "pass",
                              "tests": "skipped"}
    assert "3 table(s)" in detail(report, "schema")
    assert "app.models.core" in detail(report, "import")
    # the worktree of the old tree is gone
    assert len(git(tmp_path / "p", "worktree", "list").splitlines()) == 1


def test_unmerged_tree_fails_import_and_single_base(tmp_path):
    """Nothing merged: two bases in scope and the cross-base foreign key breaks create_all()."""
    make_project(tmp_path / "p", old_files(), {"README.md": "x\n"})
    report = verify_project(tmp_path / "p")
    assert not report.ok
    assert status(report)["single-base"] == "fail"
    assert status(report)["import"] == "fail"
    assert "NoReferencedTableError" in detail(report, "import")
    assert status(report)["schema"] == "pass"  # the tables themselves did not change


# --- broken merges ---------------------------------------------------------------------------------


def test_changed_column_type_fails(tmp_path):
    core = CORE_NEW.replace("title = Column(String(200))", "title = Column(String(100))")
    make_project(tmp_path / "p", old_files(), new_files(core=core))
    report = verify_project(tmp_path / "p")
    assert not report.ok
    assert status(report)["schema"] == "fail"
    assert "modify_type posts.title: VARCHAR(200) -> VARCHAR(100)" in detail(report, "schema")


def test_dropped_model_fails(tmp_path):
    core = CORE_NEW.split("\n\n\n    class Tag(Base):")[0] + "\n"
    files = new_files(core=core)
    files["app/models/blog.py"] = "from .core import Base as BlogBase, Post\n"
    make_project(tmp_path / "p", old_files(), files)
    report = verify_project(tmp_path / "p")
    assert status(report)["schema"] == "fail"
    text = detail(report, "schema")
    assert "remove_table tags (id, label)" in text
    assert "missing from the merged metadata" in text


def test_lost_foreign_key_fails(tmp_path):
    core = CORE_NEW.replace('user_id = Column(Integer, ForeignKey("users.id"))', "user_id = Column(Integer)")
    make_project(tmp_path / "p", old_files(), new_files(core=core))
    report = verify_project(tmp_path / "p")
    assert status(report)["schema"] == "fail"
    assert "remove_fk foreign key posts(user_id) -> users(id) (in the schema before the merge" in detail(report, "schema")


def test_naming_convention_change_needs_a_declaration(tmp_path):
    """blog's metadata named its index and foreign key; the merged (default) metadata does not."""
    old = old_files(naming=NAMING_CUSTOM)
    old["pyproject.toml"] = '[tool.unibase]\ntarget = "app/models/core.py"\n'
    make_project(tmp_path / "p", old, new_files())
    report = verify_project(tmp_path / "p")
    assert status(report)["schema"] == "fail"
    text = detail(report, "schema")
    assert "rename_index index on tags(label) named 'idx_tags_label' before the merge, 'ix_tags_label' after" in text
    assert "rename_fk foreign key posts(user_id) -> users(id) named 'fk_posts_user_id' before the merge, None after" in text

    declared = [DeclaredChange("metadata-options", t, "naming_convention") for t in ("posts", "tags")]
    report = verify_project(tmp_path / "p", declared=declared)
    assert report.ok, report
    assert status(report)["schema"] == "pass"
    assert "2 declared difference(s)" in detail(report, "schema")

    # the plan unibase makes for the old tree declares the same change
    report = verify_project(tmp_path / "p", declared_from_against=True)
    assert status(report)["schema"] == "pass", detail(report, "schema")


def test_declared_naming_does_not_hide_a_lost_column(tmp_path):
    core = CORE_NEW.replace("        title = Column(String(200))\n", "")
    make_project(tmp_path / "p", old_files(naming=NAMING_CUSTOM), new_files(core=core))
    declared = [DeclaredChange("metadata-options", t, "naming_convention") for t in ("posts", "tags")]
    report = verify_project(tmp_path / "p", declared=declared)
    assert status(report)["schema"] == "fail"
    text = detail(report, "schema")
    assert "1 undeclared difference(s)" in text and "remove_column posts.title VARCHAR(200)" in text


def test_declared_duplicate_table_allows_its_columns_to_differ(tmp_path):
    core = CORE_NEW.replace("title = Column(String(200))", "title = Column(String(200))\n        body = Column(String)")
    make_project(tmp_path / "p", old_files(), new_files(core=core))
    assert status(verify_project(tmp_path / "p"))["schema"] == "fail"
    report = verify_project(tmp_path / "p", declared=[DeclaredChange("duplicate-table", "posts", "")])
    assert status(report)["schema"] == "pass", detail(report, "schema")
    assert "add_column posts.body VARCHAR" in detail(report, "schema")


def test_unparsable_file_fails_parse(tmp_path):
    files = new_files()
    files["app/models/extra.py"] = "def broken(:\n    pass\n"
    make_project(tmp_path / "p", old_files(), files)
    report = verify_project(tmp_path / "p")
    assert status(report)["parse"] == "fail"
    assert detail(report, "parse").startswith("app/models/extra.py:1: SyntaxError")


# --- the project's own bugs -------------------------------------------------------------------------


def with_ghost(source: str) -> str:
    """A relationship to a class that does not exist: configure_mappers() raises."""
    source = re.sub(r"( +)email = Column\(String\(100\), unique=True\)\n",
                    lambda m: f'{m.group(0)}{m.group(1)}ghosts = relationship("Ghost")\n', source)
    return source.replace("import declarative_base\n", "import declarative_base, relationship\n")


def test_mapper_broken_before_the_merge_is_pre_existing(tmp_path):
    old = old_files()
    old["app/models/core.py"] = with_ghost(old["app/models/core.py"])
    make_project(tmp_path / "p", old, new_files(core=with_ghost(CORE_NEW)))
    report = verify_project(tmp_path / "p")
    assert status(report)["import"] == "pre-existing", detail(report, "import")
    assert report.ok
    text = detail(report, "import")
    assert text.count("configure_mappers: InvalidRequestError") == 2 and "'Ghost' failed to locate" in text
    assert status(report)["schema"] == "pass"  # the tables can still be compared


def test_mapper_broken_by_the_merge_fails(tmp_path):
    make_project(tmp_path / "p", old_files(), new_files(core=with_ghost(CORE_NEW)))
    report = verify_project(tmp_path / "p")
    assert status(report)["import"] == "fail"
    assert "configure_mappers" in detail(report, "import") and "imported cleanly" in detail(report, "import")


# --- layouts --------------------------------------------------------------------------------------


def test_src_layout_in_a_subdirectory_of_the_repository(tmp_path):
    """``src/`` is not a package: the models import as ``shop.models.*`` with ``src`` on sys.path.

    The project is ``services/shop`` inside a larger repository.
    """
    files = {f"services/shop/{k}": v for k, v in old_files("src/shop/models").items()}
    files["README.md"] = "monorepo\n"
    make_project(tmp_path / "repo", files, {f"services/shop/{k}": v for k, v in new_files("src/shop/models").items()})
    report = verify_project(tmp_path / "repo" / "services" / "shop")
    assert report.ok, report
    assert "shop.models.core" in detail(report, "import")
    assert "2 changed file(s)" in detail(report, "parse")
    assert "3 table(s)" in detail(report, "schema")


def test_backend_folder_root(tmp_path):
    files = old_files("backend/app/models")
    files["frontend/README.md"] = "not python\n"
    make_project(tmp_path / "p", files, new_files("backend/app/models"))
    report = verify_project(tmp_path / "p")
    assert report.ok, report
    assert "app.models.core" in detail(report, "import")


def test_heavy_package_init_is_not_needed(tmp_path):
    """The app's __init__ needs a module that is not installed; the models do not need the app."""
    files = old_files()
    files["app/__init__.py"] = "import a_web_framework_that_is_not_installed\n\napp = a_web_framework_that_is_not_installed.App()\n"
    make_project(tmp_path / "p", files, new_files())
    report = verify_project(tmp_path / "p")
    assert report.ok, report
    assert status(report)["import"] == "pass"
    assert "app/__init__.py failed (ModuleNotFoundError" in detail(report, "import")


def test_package_init_broken_by_the_merge_fails(tmp_path):
    files = new_files()
    files["app/__init__.py"] = "from .models.blog import Comment\n"
    make_project(tmp_path / "p", old_files(), files)
    report = verify_project(tmp_path / "p")
    assert status(report)["import"] == "fail"
    assert "package-init app: ImportError" in detail(report, "import")


def test_output_at_import_time_does_not_break_the_child(tmp_path):
    files = new_files()
    files["app/models/core.py"] = 'print("hello from the models")\nimport sys\nsys.stdout.write("{")\n' + files["app/models/core.py"]
    make_project(tmp_path / "p", old_files(), files)
    assert verify_project(tmp_path / "p").ok


def test_a_thread_a_model_module_leaves_running_does_not_hold_the_child(tmp_path):
    """The child leaves once its result is written: a thread that a model module started and
    that never ends (a scheduler, a connection keeper) must not keep verify waiting until the
    child times out."""
    files = new_files()
    files["app/models/core.py"] = ("import threading\n\nthreading.Thread(target=threading.Event().wait).start()\n"
                                   + files["app/models/core.py"])
    make_project(tmp_path / "p", old_files(), files)
    report = verify_project(tmp_path / "p")
    assert report.ok, [(c.name, c.status, c.detail) for c in report.checks]


# --- against, tests, plan -----------------------------------------------------------------------


def test_without_git_the_schema_check_is_skipped(tmp_path):
    write(tmp_path / "p", {**old_files(), **new_files()})
    report = verify_project(tmp_path / "p")
    assert report.ok and report.against is None
    assert status(report)["schema"] == "skipped"
    assert "not a git repository" in detail(report, "schema")
    assert "all 4 file(s)" in detail(report, "parse")


def test_explicit_against_and_bad_input(tmp_path):
    base = make_project(tmp_path / "p", old_files(), None)
    write(tmp_path / "p", new_files())  # uncommitted merge in the working tree
    report = verify_project(tmp_path / "p", against="HEAD")
    assert report.ok and report.against == base
    assert "2 changed file(s)" in detail(report, "parse")
    with pytest.raises(VerifyError, match="not a commit"):
        verify_project(tmp_path / "p", against="no-such-branch")
    with pytest.raises(VerifyError, match="not an executable"):
        verify_project(tmp_path / "p", python="/nonexistent/python3")


def test_no_trailer_skips_the_schema_check(tmp_path):
    make_project(tmp_path / "p", {**old_files(), **new_files()}, None)
    report = verify_project(tmp_path / "p")
    assert status(report)["schema"] == "skipped" and "Unibase-Base" in detail(report, "schema")


def test_test_command(tmp_path):
    make_project(tmp_path / "p", old_files(), new_files())
    report = verify_project(tmp_path / "p", test_cmd=f"{sys.executable} -c \"print('5 passed')\"")
    assert status(report)["tests"] == "pass" and "5 passed" in detail(report, "tests")
    report = verify_project(tmp_path / "p", test_cmd="echo one; echo two; exit 3")
    assert not report.ok
    assert status(report)["tests"] == "fail"
    assert "exited with 3" in detail(report, "tests") and detail(report, "tests").endswith("one\ntwo")


def test_declared_from_plan():
    conflicts = (
        Conflict("metadata-options", "BlogBase", "naming", "declared", (),
                 MetadataOptionChange("naming_convention", ("posts", "tags"), None, "{...}")),
        Conflict("duplicate-table", "messages", "differs", None),
        Conflict("identical-duplicate-table", "tags", "same", "keep one"),
        Conflict("class-name-collision", "Tag", "x", "rename"),
    )
    plan = Plan(root="/x", strategy="move", canonical=None, bases=(), operations=(), conflicts=conflicts,
                warnings=())
    assert declared_from_plan(plan) == (
        DeclaredChange("metadata-options", "posts", "naming_convention"),
        DeclaredChange("metadata-options", "tags", "naming_convention"),
        DeclaredChange("duplicate-table", "messages", "differs"),
        DeclaredChange("identical-duplicate-table", "tags", "keep one"),
    )


# --- PostgreSQL ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_url(request):
    server = pg.start()
    try:
        url = server.__enter__()
    except pg.Unavailable as exc:
        pytest.skip(f"PostgreSQL is not available: {exc}")
    request.addfinalizer(lambda: server.__exit__(None, None, None))
    return url


def test_schema_on_postgresql(tmp_path, postgres_url):
    make_project(tmp_path / "ok", old_files(naming=NAMING_CUSTOM), new_files())
    declared = [DeclaredChange("metadata-options", t, "naming_convention") for t in ("posts", "tags")]
    report = verify_project(tmp_path / "ok", database_url=postgres_url, declared=declared)
    assert report.ok, report
    assert status(report)["schema-postgresql"] == "pass"
    assert "3 table(s)" in detail(report, "schema-postgresql")

    # undeclared, the same naming change fails on PostgreSQL too (the foreign key's name)
    report = verify_project(tmp_path / "ok", database_url=postgres_url)
    assert status(report)["schema-postgresql"] == "fail"
    assert "'fk_posts_user_id' before the merge, 'posts_user_id_fkey' after" in detail(report, "schema-postgresql")


def test_schema_on_postgresql_fails_on_a_type_change(tmp_path, postgres_url):
    core = CORE_NEW.replace("name = Column(String(50), nullable=False)", "name = Column(String(50))")
    make_project(tmp_path / "p", old_files(), new_files(core=core))
    report = verify_project(tmp_path / "p", database_url=postgres_url)
    assert status(report)["schema-postgresql"] == "fail"
    assert "modify_nullable users.name: False -> True" in detail(report, "schema-postgresql")
    # the scratch databases are dropped again
    import sqlalchemy

    engine = sqlalchemy.create_engine(postgres_url)
    with engine.connect() as conn:
        names = [r[0] for r in conn.exec_driver_sql("SELECT datname FROM pg_database")]
    engine.dispose()
    assert not [n for n in names if n.startswith("unibase_verify_")]
