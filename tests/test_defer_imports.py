"""A new import cycle closed by an import only annotations need is broken, not refused (issue 16,
item 3): a domain layer between two bases, through the real CLI in real git repositories.

``app.models`` (canonical) imports ``Service`` from ``app.domain`` for one method's annotation;
``app.domain`` imports ``Invoice`` from ``app.billing`` for its constructor's annotation. Merged,
``app.billing`` is a shim of ``app.models``: ``app.models -> app.domain -> app.billing ->
app.models`` unless an import of the cycle stops running.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import git, make_project, unibase

MODELS = '''\
from sqlalchemy import Column, Integer, String
from sqlalchemy.orm import declarative_base

from app.domain import Service

Base = declarative_base()


class User(Base):
    __tablename__ = "users"
    id = Column(Integer, primary_key=True)
    name = Column(String)

    def served_by(self, service: Service) -> str:
        return service.describe()
'''
BILLING = '''\
from sqlalchemy import Column, Integer
from sqlalchemy.orm import declarative_base

BillingBase = declarative_base()


class Invoice(BillingBase):
    __tablename__ = "invoices"
    id = Column(Integer, primary_key=True)
'''
DOMAIN = '''\
from app.billing import Invoice


class Service:
    def __init__(self, owner: Invoice | None = None) -> None:
        self.owner = owner

    def describe(self) -> str:
        return "service"
'''


def _project(tmp_path: Path, models: str = MODELS) -> Path:
    return make_project(tmp_path / "proj", {
        "pyproject.toml": '[tool.unibase]\ntarget = "app/models.py"\n',
        "app/__init__.py": "",
        "app/models.py": models,
        "app/billing.py": BILLING,
        "app/domain.py": DOMAIN,
    })


def test_a_domain_layer_cycle_merges_with_the_import_under_type_checking(tmp_path):
    project = _project(tmp_path)
    plan = json.loads(unibase("plan", str(project), "--json", "--strategy", "move", check=0).stdout)
    assert not [c for c in plan["conflicts"] if c["resolution"] is None]
    deferred = [o for o in plan["operations"] if o["op"] == "defer-imports"]
    assert [(o["file"], o["imports"], o["step"]) for o in deferred] == [
        ("app/models.py", ["from app.domain import Service"], "UB002")]
    listed = " ".join(unibase("plan", str(project), "--strategy", "move", check=0).stdout.split())
    assert "app/models.py: from app.domain import Service only under TYPE_CHECKING" in listed
    assert "import cycle app.billing -> app.models -> app.domain -> app.billing" in listed

    unibase("apply", str(project), "--branch", "merged", "--strategy", "move", check=0)
    merged = tmp_path / "merged"
    git(project, "worktree", "add", "-q", "--detach", str(merged), "merged")
    text = (merged / "app" / "models.py").read_text(encoding="utf-8")
    assert "if TYPE_CHECKING:\n    from app.domain import Service\n" in text
    assert 'def served_by(self, service: "Service") -> str:' in text
    assert "class Invoice(Base):" in text
    for first in ("app.models", "app.domain", "app.billing"):  # whichever module a program imports first
        check = (f"import {first}\nimport app.domain, app.models\n"
                 "assert app.models.User().served_by(app.domain.Service(app.models.Invoice())) == 'service'\n")
        proc = subprocess.run([sys.executable, "-c", check], cwd=merged, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
    # planned again on the merged tree: nothing left to do
    again = json.loads(unibase("plan", str(merged), "--json", check=0).stdout)
    assert again["operations"] == []


@pytest.mark.parametrize(("models", "why"), [
    (MODELS.replace("        return service.describe()\n", "        return service.describe()\n\n\n"
                    "DEFAULT_SERVICE = Service\n"), "used at run time"),
    (MODELS.replace("    def served_by", "    @staticmethod\n    def helper(service: Service) -> None:\n"
                    "        pass\n\n    def served_by").replace("def served_by(self, service: Service)",
                                                                  "def served_by(self, service)"),
     "a decorated function's annotation"),
    (MODELS.replace("from sqlalchemy.orm import declarative_base\n",
                    "from dataclasses import dataclass\n\nfrom sqlalchemy.orm import declarative_base\n")
     + "\n\n@dataclass\nclass Job:\n    service: Service\n", "a class-level annotation"),
    (MODELS + '\n\n__all__ = ["User", "Service"]\n', "re-exported"),
    (MODELS.replace("def served_by(self, service: Service)", "def served_by(self, service)")
     + "\n\ndef describe(service: Service) -> str:\n    return 'x'\n\n\nHANDLERS = [describe]\n",
     "a function handed around, whose signature may be read"),
])
def test_a_cycle_no_import_of_which_can_stop_running_is_refused(tmp_path, models, why):
    project = _project(tmp_path, models)
    planned = unibase("plan", str(project), "--strategy", "move")
    assert planned.returncode == 1, why
    assert "import-cycle" in planned.stdout and "defer-imports" not in planned.stdout, why
    said = " ".join(planned.stdout.split())
    assert "app.billing -> app.models -> app.domain -> app.billing" in said, why
    assert "every import of it is needed at run time" in said, why
    applied = unibase("apply", str(project), "--branch", "merged", "--strategy", "move")
    assert applied.returncode == 1 and "need a decision" in applied.stderr
    assert "merged" not in git(project, "branch", "--list")
    assert (project / "app" / "models.py").read_text(encoding="utf-8") == models
