"""verify imports every module the merge changed, and says "not proven" where it cannot tell
(issue 16, item 9). Each case: two commits in a real git repository (the tree before, a merged
tree written by hand) and ``unibase verify --against`` through the real CLI."""

from __future__ import annotations

from pathlib import Path

from conftest import git, make_repo, unibase

MODELS = (
    "from sqlalchemy import Column, Integer\nfrom sqlalchemy.orm import declarative_base\n\n"
    "Base = declarative_base()\n\n\n"
    'class Note(Base):\n    __tablename__ = "notes"\n    id = Column(Integer, primary_key=True)\n'
)


def _two_commits(tmp_path: Path, before: dict[str, str], after: dict[str, str]) -> Path:
    project = tmp_path / "proj"
    for rel, text in before.items():
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_text(text, encoding="utf-8")
    make_repo(project)
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
    assert "not proven import" in proc.stdout and "unibase_missing_pkg_16 is not installed" in proc.stdout
    assert "pass import" not in proc.stdout


def test_a_changed_module_that_failed_the_same_way_before_is_not_proven(tmp_path):
    service = "from app.models import Note\n\nraise RuntimeError('needs the production settings')\n"
    project = _two_commits(
        tmp_path,
        {"app/__init__.py": "", "app/models.py": MODELS, "app/service.py": service},
        {"app/service.py": "# the service\n" + service},
    )
    proc = unibase("verify", str(project), "--against", "HEAD~1", check=0)
    assert "not proven import" in proc.stdout and "failed the same way before the merge" in proc.stdout


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
