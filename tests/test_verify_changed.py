"""verify imports every module the merge changed, and says "not proven" where it cannot tell
(issue 16, item 9). Each case: two commits in a real git repository (the tree before, a merged
tree written by hand) and ``unibase verify --against`` through the real CLI."""

from __future__ import annotations

from pathlib import Path

from conftest import git, make_project, unibase

MODELS = (
    "from sqlalchemy import Column, Integer\nfrom sqlalchemy.orm import declarative_base\n\n"
    "Base = declarative_base()\n\n\n"
    'class Note(Base):\n    __tablename__ = "notes"\n    id = Column(Integer, primary_key=True)\n'
)


def _two_commits(tmp_path: Path, before: dict[str, str], after: dict[str, str]) -> Path:
    project = make_project(tmp_path / "proj", before)
    for rel, text in after.items():
        (project / rel).write_text(text, encoding="utf-8")
    git(project, "commit", "-q", "-am", "merged")
    return project


def test_a_changed_importer_that_no_longer_imports_fails_verify(tmp_path):
    project = _two_commits(
        tmp_path,
        {"app/__init__.py": "", "app/models.py": MODELS,
         "app/service.py": "from app.models import Note\n\n\ndef make():\n    return Note()\n"},
        {"app/service.py": "from app.models import Note, Task\n\n\ndef make():\n    return Note()\n"},
    )
    proc = unibase("verify", str(project), "--against", "HEAD~1")
    assert proc.returncode == 1, proc.stdout
    assert "fail import" in proc.stdout and "app.service" in proc.stdout and "Task" in proc.stdout


def test_a_changed_module_needing_a_missing_package_is_not_proven(tmp_path):
    service = "import unibase_missing_pkg_16\nfrom app.models import Note\n\n\ndef make():\n    return Note()\n"
    project = _two_commits(
        tmp_path,
        {"app/__init__.py": "", "app/models.py": MODELS, "app/service.py": service},
        {"app/service.py": service.replace("Note()", "Note(id=1)")},
    )
    proc = unibase("verify", str(project), "--against", "HEAD~1", check=0)
    text = " ".join(proc.stdout.split())  # verify's lines wrap at the terminal's width
    assert "not proven import" in text and "unibase_missing_pkg_16 is not installed" in text
    assert "pass import" not in proc.stdout


def test_a_changed_module_that_failed_the_same_way_before_is_not_proven(tmp_path):
    service = "from app.models import Note\n\nraise RuntimeError('needs the production settings')\n"
    project = _two_commits(
        tmp_path,
        {"app/__init__.py": "", "app/models.py": MODELS, "app/service.py": service},
        {"app/service.py": "# the service\n" + service},
    )
    proc = unibase("verify", str(project), "--against", "HEAD~1", check=0)
    text = " ".join(proc.stdout.split())  # verify's lines wrap at the terminal's width
    assert "not proven import" in text and "failed the same way before the merge" in text


def test_pre_existing_means_the_same_error_in_the_same_module(tmp_path):
    """Before: ``app.b`` failed. After: ``app.a`` fails too, with the same exception class. The
    new failure is the merge's, not "pre-existing"."""
    broken = MODELS.replace("Base = declarative_base()\n", "from app.a import Base\n").replace(
        "from sqlalchemy.orm import declarative_base\n", "").replace('"notes"', '"tasks"').replace("Note", "Task")
    project = _two_commits(
        tmp_path,
        {"app/__init__.py": "", "app/a.py": MODELS, "app/b.py": broken + "\nraise RuntimeError('b is broken')\n"},
        {"app/a.py": MODELS + "\nraise RuntimeError('a is broken')\n"},
    )
    proc = unibase("verify", str(project), "--against", "HEAD~1")
    assert proc.returncode == 1, proc.stdout
    assert "fail import" in proc.stdout and "a is broken" in proc.stdout and "pre-existing" not in proc.stdout


MAIN = (
    "from sqlalchemy import Column, Integer\nfrom sqlalchemy.orm import declarative_base\n\n"
    "Base = declarative_base()\n\n\n"
    'class User(Base):\n    __tablename__ = "users"\n    id = Column(Integer, primary_key=True)\n\n\n'
    'class Team(Base):\n    __tablename__ = "teams"\n    id = Column(Integer, primary_key=True)\n'
)


def _applied(tmp_path: Path, files: dict[str, str]) -> str:
    project = make_project(tmp_path / "proj", files)
    # every model moves into app/main.py (what these checks are about)
    return unibase("apply", str(project), "--target", "app/main.py", "--branch", "merged", "--strategy", "move",
                   check=0).stdout


def test_a_declared_naming_convention_covers_association_tables_and_unnamed_constraints(tmp_path):
    """The merged base's tables take the canonical naming convention: the association table's
    keys and the ``unique=True`` constraint get names, which the plan declares; verify passes."""
    naming = ('NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s", "pk": "pk_%(table_name)s",\n'
              '          "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}\n')
    main = MAIN.replace("Column, Integer", "Column, Integer, MetaData").replace(
        "Base = declarative_base()\n", naming + "Base = declarative_base(metadata=MetaData(naming_convention=NAMING))\n")
    out = _applied(tmp_path, {
        "app/__init__.py": "", "app/main.py": main,
        "app/other.py": (
            "from sqlalchemy import Column, ForeignKey, Integer, String, Table\n"
            "from sqlalchemy.orm import declarative_base, relationship\n\nBase = declarative_base()\n\n"
            'post_tags = Table(\n    "post_tags",\n    Base.metadata,\n'
            '    Column("post_id", ForeignKey("posts.id"), primary_key=True),\n'
            '    Column("tag_id", ForeignKey("tags.id"), primary_key=True),\n)\n\n\n'
            'class Tag(Base):\n    __tablename__ = "tags"\n    id = Column(Integer, primary_key=True)\n'
            "    label = Column(String(20), unique=True)\n\n\n"
            'class Post(Base):\n    __tablename__ = "posts"\n    id = Column(Integer, primary_key=True)\n'
            "    tags = relationship(Tag, secondary=post_tags)\n"
        ),
    })
    assert "pass schema" in out and "'pk_post_tags' after" in out and "'uq_tags_label' after" in out
    assert out.count("'uq_tags_label' after") == 1


def test_an_indexed_column_with_a_second_index_is_compared(tmp_path):
    """``Column(index=True)`` and ``Index("...", col)`` are two indexes on one column: the tree
    before the merge is built with both names, so the schema is compared, not skipped."""
    out = _applied(tmp_path, {
        "app/__init__.py": "", "app/main.py": MAIN,
        "app/other.py": (
            "from sqlalchemy import Column, Index, Integer, String\nfrom sqlalchemy.orm import declarative_base\n\n"
            "Base = declarative_base()\n\n\n"
            'class Post(Base):\n    __tablename__ = "posts"\n'
            '    __table_args__ = (Index("idx_posts_slug_lookup", "slug"),)\n'
            "    id = Column(Integer, primary_key=True)\n    slug = Column(String(20), index=True)\n"
        ),
    })
    assert "pass schema: the merged metadata matches the 3 table(s)" in out


def test_a_package_init_that_failed_before_as_a_parent_is_not_proven(tmp_path):
    """Before the merge ``app.auth``'s ``__init__`` failed while the models under it were
    imported (a parent package, run first); after it, the models live elsewhere and the
    rewritten ``__init__`` is imported on its own: the same error, so not proven, not failed."""
    out = _applied(tmp_path, {
        "app/__init__.py": "", "app/main.py": MAIN,
        "app/auth/__init__.py": "from app.auth.models import Base, Token\n\nraise RuntimeError('needs production settings')\n",
        "app/auth/models.py": (
            "from sqlalchemy import Column, Integer\nfrom sqlalchemy.orm import declarative_base\n\n"
            'Base = declarative_base()\n\n\nclass Token(Base):\n    __tablename__ = "tokens"\n'
            "    id = Column(Integer, primary_key=True)\n"
        ),
    })
    out = " ".join(out.split())  # verify's lines wrap at the terminal's width
    assert "not proven import" in out and "app.auth (it failed the same way before the merge" in out
