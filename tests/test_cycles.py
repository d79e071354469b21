"""A merge never makes a new import cycle (issue 16, item 3): found statically, before writing.

Each case: a small project in a real git repository and the real CLI.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import git, make_project, unibase

MAIN = (
    "from sqlalchemy import Column, Integer\nfrom sqlalchemy.orm import declarative_base\n\n"
    "Base = declarative_base()\n\n\n"
    'class User(Base):\n    __tablename__ = "users"\n    id = Column(Integer, primary_key=True)\n\n\n'
    'class Team(Base):\n    __tablename__ = "teams"\n    id = Column(Integer, primary_key=True)\n'
)
# a domain layer that imports the canonical module
DOMAIN = (
    "from app.main import User\n\n\n"
    "class Project:\n    def __init__(self, name: str, owner: User | None) -> None:\n"
    "        self.name = name\n        self.owner = owner\n"
)


def _other(method: str) -> str:
    return (
        "from sqlalchemy import Column, Integer, String\nfrom sqlalchemy.orm import declarative_base\n\n"
        "from app.domain import Project\n\nBase = declarative_base()\n\n\n"
        'class Note(Base):\n    __tablename__ = "notes"\n    id = Column(Integer, primary_key=True)\n'
        f"    project_name = Column(String(40))\n\n{method}"
    )


def _project(tmp_path: Path, files: dict[str, str]) -> Path:
    return make_project(tmp_path / "proj", files)


def test_an_import_used_only_in_annotations_goes_under_type_checking(tmp_path):
    """``Project`` (whose module imports the canonical one) is used by the moved class only in a
    method's annotation: importing it at the top of the canonical module would be a cycle."""
    project = _project(tmp_path, {
        "app/__init__.py": "",
        "app/main.py": MAIN,
        "app/domain.py": DOMAIN,
        "app/other.py": _other("    def attach(self, project: Project) -> None:\n        self.project_name = project.name\n"),
    })
    unibase("apply", str(project), "--branch", "merged", check=0)
    merged = tmp_path / "merged"
    git(project, "worktree", "add", "-q", "--detach", str(merged), "merged")
    check = ("import app.domain, app.main as m, app.other\n"
             "n = m.Note(); n.attach(app.domain.Project('p', None)); assert n.project_name == 'p'\n")
    proc = subprocess.run([sys.executable, "-c", check], cwd=merged, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    text = (merged / "app" / "main.py").read_text(encoding="utf-8")
    assert "if TYPE_CHECKING:\n    from app.domain import Project" in text


def test_a_plan_that_makes_a_new_import_cycle_is_refused(tmp_path):
    """The moved method calls ``Project()``: its import must run, and the canonical module
    would import the domain layer that imports it, and the domain layer needs ``User`` at run
    time too (a default owner): no import of the cycle can stop running. The plan names the
    cycle and writes nothing."""
    project = _project(tmp_path, {
        "app/__init__.py": "",
        "app/main.py": MAIN,
        "app/domain.py": DOMAIN + "\n\nDEFAULT_OWNER = User\n",
        "app/other.py": _other("    def project(self):\n        return Project(self.project_name, None)\n"),
    })
    planned = unibase("plan", str(project))
    assert planned.returncode == 1
    assert "import-cycle" in planned.stdout and "app.main -> app.domain -> app.main" in planned.stdout
    applied = unibase("apply", str(project), "--branch", "merged")
    assert applied.returncode == 1 and "need a decision" in applied.stderr
    assert "merged" not in git(project, "branch", "--list")


def test_an_import_inside_a_function_makes_no_cycle(tmp_path):
    """``app.domain`` imports the moved class only inside a function: that import does not run
    when the module is imported, so the merge goes ahead."""
    project = _project(tmp_path, {
        "app/__init__.py": "",
        "app/main.py": MAIN,
        "app/domain.py": "class Project:\n    def __init__(self, name, owner):\n        self.name = name\n\n\n"
                         "def notes():\n    from app.other import Note\n    return Note\n",
        "app/other.py": _other("    def project(self):\n        return Project(self.project_name, None)\n"),
    })
    unibase("apply", str(project), "--branch", "merged", check=0)


def test_an_outside_import_used_only_in_annotations_goes_under_type_checking(tmp_path):
    """``rich.console.Console`` (a package outside the project, not the standard library) is used
    by the moved class only in a method's annotation: it goes under ``if TYPE_CHECKING:`` in
    the canonical module rather than being imported at its top; ``datetime`` (the standard
    library) stays where imports run."""
    project = _project(tmp_path, {
        "app/__init__.py": "",
        "app/main.py": MAIN,
        "app/other.py": (
            "import datetime\n\nfrom rich.console import Console\n"
            "from sqlalchemy import Column, Integer, String\nfrom sqlalchemy.orm import declarative_base\n\n"
            "Base = declarative_base()\n\n\n"
            'class Note(Base):\n    __tablename__ = "notes"\n    id = Column(Integer, primary_key=True)\n'
            "    title = Column(String(40))\n\n"
            "    def show(self, console: Console, when: datetime.date) -> None:\n"
            "        console.print(self.title, when)\n"
        ),
    })
    unibase("apply", str(project), "--strategy", "move", "--branch", "merged", check=0)
    merged = tmp_path / "merged"
    git(project, "worktree", "add", "-q", "--detach", str(merged), "merged")
    check = ("import datetime, io, app.main as m, app.other\nfrom rich.console import Console\n"
             "out = io.StringIO(); m.Note(title='t').show(Console(file=out), datetime.date(2020, 1, 2))\n"
             "assert out.getvalue().strip() == 't 2020-01-02'\n")
    proc = subprocess.run([sys.executable, "-c", check], cwd=merged, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    text = (merged / "app" / "main.py").read_text(encoding="utf-8")
    head, _, block = text.partition("if TYPE_CHECKING:\n")
    assert "from rich.console import Console" in block and "rich" not in head, text
    assert "import datetime" in head, text


def test_a_rebase_that_would_close_an_import_cycle_makes_the_other_base_canonical(tmp_path):
    """The default canonical module imports a service layer that imports a model of the other
    base: rebasing that base onto it would close a cycle. The other base becomes canonical
    instead (the plan says why), and the merged tree imports in either order."""
    project = _project(tmp_path, {
        "app/__init__.py": "",
        "app/main.py": "from app.service import Helper\n" + MAIN,
        "app/service.py": "from app.other import Note\n\n\nclass Helper:\n    note_class = Note\n",
        "app/other.py": (
            "from sqlalchemy import Column, Integer\nfrom sqlalchemy.orm import declarative_base\n\n"
            "Base = declarative_base()\n\n\n"
            'class Note(Base):\n    __tablename__ = "notes"\n    id = Column(Integer, primary_key=True)\n'),
    })
    planned = json.loads(unibase("plan", str(project), "--strategy", "rebase", "--json", check=0).stdout)
    assert planned["canonical"]["file"] == "app/other.py" and planned["conflicts"] == []
    canonical = next(b for b in planned["bases"] if b["role"] == "canonical")
    assert "making Base in app/main.py canonical would close an import cycle" in canonical["evidence"][0]
    forced = unibase("plan", str(project), "--strategy", "rebase", "--target", "app/main.py", "--json")
    assert forced.returncode == 1 and "import-cycle" in forced.stdout  # a base the user names is kept
    unibase("apply", str(project), "--branch", "merged", "--strategy", "rebase", "--no-verify", check=0)
    merged = tmp_path / "merged"
    git(project, "worktree", "add", "-q", "--detach", str(merged), "merged")
    for first, second in (("app.main", "app.other"), ("app.other", "app.main")):
        check = f"import {first}, {second}, app.service\nassert app.main.Base is app.other.Base\n"
        proc = subprocess.run([sys.executable, "-c", check], cwd=merged, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr


def test_a_shim_for_a_dropped_duplicate_that_closes_an_import_cycle_is_refused(tmp_path):
    """``crm.Account`` is an identical duplicate of ``catalog.models.Account``: its module becomes a
    shim importing the kept class from ``catalog.models`` (not from the canonical base's module),
    which imports the domain layer that imports ``crm``: the plan names the cycle."""
    account = 'class Account({base}):\n    __tablename__ = "accounts"\n    id = Column(Integer, primary_key=True)\n'
    project = _project(tmp_path, {
        "app/__init__.py": "",
        "app/catalog/__init__.py": "",
        "app/catalog/db.py": "from sqlalchemy.orm import declarative_base\n\nBase = declarative_base()\n",
        "app/catalog/models.py": (
            "from sqlalchemy import Column, Integer\n\nfrom app.catalog.db import Base\nfrom app.domain import Service\n\n\n"
            + account.format(base="Base")
            + '\n\nclass Tag(Base):\n    __tablename__ = "tags"\n    id = Column(Integer, primary_key=True)\n'),
        "app/crm.py": ("from sqlalchemy import Column, Integer\nfrom sqlalchemy.orm import declarative_base\n\n"
                       "Base = declarative_base()\n\n\n" + account.format(base="Base")),
        "app/domain.py": "from app.crm import Account\n\n\nclass Service:\n    account_class = Account\n",
    })
    planned = unibase("plan", str(project), "--strategy", "move", "--target", "app/catalog/db.py", "--json")
    assert planned.returncode == 1, planned.stdout + planned.stderr
    cycle = [c for c in json.loads(planned.stdout)["conflicts"] if c["kind"] == "import-cycle"]
    assert len(cycle) == 1 and all(m in cycle[0]["detail"] for m in ("app.catalog.models", "app.domain", "app.crm"))


def test_signature_only_names_what_nothing_reads_at_run_time():
    """Parameter, return and local annotations of plain functions and methods are never read;
    a decorated function's, a class-level annotation and a function handed around are."""
    import ast

    from unibase import cycles

    tree = ast.parse(
        "import functools\n"
        "@functools.cache\ndef cached(a: A) -> None: pass\n"
        "class K:\n    b: B\n    def m(self, c: C) -> D:\n        e: E = 1\n        return e\n"
        "def plain(h: H) -> None: pass\n"
        "def run():\n    return plain(1)\n"
        "def handler(f: F) -> None: pass\n"
        "HANDLERS = [handler]\n"
        "def default(g: G = G()) -> None: pass\n"
    )
    assert cycles.passed_around(tree) == {"handler"}
    assert cycles.signature_only(tree.body, frozenset(cycles.passed_around(tree))) == {"C", "D", "E", "H"}
