"""Real project layouts: where the project starts, which files are read, and how imports resolve.

Every test builds a small project of its own in a real git repository and runs the real CLI.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import git, make_repo, unibase

BASE = "from sqlalchemy.orm import declarative_base\n\n{name} = declarative_base()\n"


def model(import_line: str, base: str, cls: str, table: str) -> str:
    return (
        f"from sqlalchemy import Column, Integer, String\n{import_line}\n\n\n"
        f"class {cls}({base}):\n    __tablename__ = \"{table}\"\n    id = Column(Integer, primary_key=True)\n"
        f"    name = Column(String(50))\n"
    )


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def project(tmp_path: Path, files: dict[str, str], *, pyproject: bool = True) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    if pyproject:
        files = {"pyproject.toml": "[project]\nname = \"proj\"\nversion = \"0\"\n", **files}
    write(root, files)
    make_repo(root)
    return root


def plan_json(path: Path, *, cwd: Path | None = None) -> dict:
    proc = unibase("plan", str(path), "--json", cwd=cwd, check=0)
    return json.loads(proc.stdout)


def models_by_base(plan: dict) -> dict[str, list[str]]:
    return {f"{b['file']}:{b['name']}": sorted(m["name"] for m in b["models"]) for b in plan["bases"]}


def roots(plan: dict) -> set[str]:
    return {r["path"] for r in plan["roots"]}


def imports_cleanly(root: Path, *modules: str, path: tuple[str, ...] = (".",)) -> subprocess.CompletedProcess:
    code = (
        "import importlib, sys\n"
        f"sys.path[:0] = {[str(root / p) for p in path]!r}\n"
        f"for m in {list(modules)!r}:\n    importlib.import_module(m)\n"
        "from sqlalchemy.orm import configure_mappers\nconfigure_mappers()\n"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)


# --- module resolution by meaning -----------------------------------------------------------------


def test_a_top_folder_without_init_is_a_package(tmp_path):
    # ``api/`` and ``api/v1/`` have no __init__.py: Python imports them as namespace packages
    root = project(tmp_path, {
        "api/v1/models/__init__.py": "",
        "api/v1/models/base.py": BASE.format(name="Base"),
        "api/v1/models/widget.py": model("from api.v1.models.base import Base", "Base", "Widget", "widgets"),
        "api/v1/models/gadget.py": model("from api.v1.models.base import Base", "Base", "Gadget", "gadgets"),
        "api/v1/billing/base.py": BASE.format(name="BillingBase"),
        "api/v1/billing/invoice.py": model("from api.v1.billing.base import BillingBase", "BillingBase",
                                           "Invoice", "invoices"),
        "api/v1/billing/routes.py": "from api.v1.billing import invoice\n\nKINDS = [invoice.Invoice]\n",
    })
    plan = plan_json(root)
    assert models_by_base(plan) == {
        "api/v1/billing/base.py:BillingBase": ["Invoice"],
        "api/v1/models/base.py:Base": ["Gadget", "Widget"],
    }
    assert "." in roots(plan)
    assert any(op["op"] != "rewrite_imports" for op in plan["operations"])

    unibase("apply", str(root), "--branch", "merged", check=0)
    git(root, "checkout", "-q", "merged")
    done = imports_cleanly(root, "api.v1.models.widget", "api.v1.models.gadget", "api.v1.billing.invoice",
                           "api.v1.billing.routes")
    assert done.returncode == 0, done.stderr
    assert "one declarative base in scope" in unibase("check", str(root), check=0).stdout


def test_two_import_roots_in_one_repository(tmp_path):
    # the backend runs with backend/ on sys.path (``app.`` is a namespace package there); shared
    # code is imported from the repository root
    root = project(tmp_path, {
        "backend/app/db/base.py": BASE.format(name="Base"),
        "backend/app/models/user.py": model("from app.db.base import Base", "Base", "User", "users"),
        "backend/app/models/team.py": model("from app.db.base import Base", "Base", "Team", "teams"),
        "backend/app/main.py": "from app.models.user import User\nfrom shared.events import Event\n",
        "shared/__init__.py": "",
        "shared/db.py": BASE.format(name="SharedBase"),
        "shared/events.py": model("from shared.db import SharedBase", "SharedBase", "Event", "events"),
    })
    plan = plan_json(root)
    assert models_by_base(plan) == {
        "backend/app/db/base.py:Base": ["Team", "User"],
        "shared/db.py:SharedBase": ["Event"],
    }
    assert roots(plan) == {".", "backend"}
    human = unibase("plan", str(root), check=0).stdout
    assert "import roots:" in human and "backend (" in human

    unibase("apply", str(root), "--branch", "merged", check=0)
    changed = git(root, "diff", "--name-only", "main", "merged").split()
    assert "shared/db.py" in changed or "shared/events.py" in changed
    # the new imports spell the backend's modules as the project does (``app.``): under a second
    # name (``backend.app.``) the module would load twice, with a second Base
    for rel in changed:
        assert "backend.app" not in git(root, "show", f"merged:{rel}"), rel
    git(root, "checkout", "-q", "merged")
    done = imports_cleanly(root, "app.main", "shared.events", path=("backend", "."))
    assert done.returncode == 0, done.stderr


def test_a_monorepo_resolves_each_service_to_its_own_app(tmp_path):
    files = {}
    # ``ops-worker`` is no module name: its code runs with that folder itself on sys.path
    for service, classes in (("orders", ("Order", "Cart", "Line")), ("billing", ("Invoice",)), ("ops-worker", ("Job",))):
        files[f"services/{service}/app/db.py"] = BASE.format(name="Base")
        for cls in classes:
            files[f"services/{service}/app/{cls.lower()}.py"] = model(
                "from app.db import Base", "Base", cls, cls.lower() + "s")
    # only the billing service's app is a regular package
    files["services/billing/app/__init__.py"] = ""
    files["tools/report.py"] = "from app.db import Base\n\nprint(Base.metadata.tables)\n"
    plan = plan_json(project(tmp_path, files))
    assert models_by_base(plan) == {
        "services/billing/app/db.py:Base": ["Invoice"],
        "services/ops-worker/app/db.py:Base": ["Job"],
        "services/orders/app/db.py:Base": ["Cart", "Line", "Order"],
    }
    assert roots(plan) == {"services/billing", "services/orders", "services/ops-worker"}
    roles = {b["file"]: b["role"] for b in plan["bases"]}
    assert roles["services/ops-worker/app/db.py"] == "excluded"
    # nothing outside ops-worker/ runs with it on sys.path: no import is written for it elsewhere
    assert not any(op.get("file") == "tools/report.py" and "ops-worker" in json.dumps(op) for op in plan["operations"])


def test_an_import_as_near_to_two_files_follows_the_rest_of_the_project(tmp_path):
    root = project(tmp_path, {
        # a stale copy of the app beside the live one, both runnable from their own folder
        "archive/app/__init__.py": "",
        "archive/app/db.py": BASE.format(name="Base"),
        "web/app/__init__.py": "",
        "web/app/db.py": BASE.format(name="Base"),
        "web/app/settings.py": "DEBUG = False\n",
        "web/app/main.py": "from app.settings import DEBUG\nfrom app.db import Base\n",
        "web/app/models.py": model("from app.db import Base", "Base", "Widget", "widgets"),
        # as near to both: the other imports of the project only make sense with web/ on sys.path
        "tools/extra.py": model("from app.db import Base", "Base", "Extra", "extras"),
    })
    plan = plan_json(root)
    assert models_by_base(plan) == {"archive/app/db.py:Base": [], "web/app/db.py:Base": ["Extra", "Widget"]}


def test_a_src_layout_below_a_service_folder(tmp_path):
    root = project(tmp_path, {
        "services/worker/src/tasks/__init__.py": "",
        "services/worker/src/tasks/db/base.py": BASE.format(name="Base"),
        "services/worker/src/tasks/db/job.py": model("from tasks.db.base import Base", "Base", "Job", "jobs"),
        "services/worker/src/tasks/audit.py": BASE.format(name="AuditBase") + model("", "AuditBase", "Entry", "entries"),
        "services/worker/src/tasks/runner.py": "from tasks.db.job import Job\nfrom tasks.audit import Entry\n",
    })
    plan = plan_json(root)
    assert models_by_base(plan) == {
        "services/worker/src/tasks/audit.py:AuditBase": ["Entry"],
        "services/worker/src/tasks/db/base.py:Base": ["Job"],
    }
    assert roots(plan) == {"services/worker/src"}

    unibase("apply", str(root), "--branch", "merged", check=0)
    git(root, "checkout", "-q", "merged")
    done = imports_cleanly(root, "tasks.runner", "tasks.audit", path=("services/worker/src",))
    assert done.returncode == 0, done.stderr
    # the new imports are spelled as the project spells them
    for rel in ("services/worker/src/tasks/audit.py", "services/worker/src/tasks/runner.py"):
        text = (root / rel).read_text()
        assert "services.worker" not in text and "src.tasks" not in text, text


# --- which files are read -------------------------------------------------------------------------


VENV_FILES = {
    "app/__init__.py": "",
    "app/db.py": BASE.format(name="Base"),
    "app/models.py": model("from app.db import Base", "Base", "Widget", "widgets"),
    # a committed virtual environment under a name no list knows
    "pyenv311/pyvenv.cfg": "home = /usr/bin\n",
    "pyenv311/tools/orm_helpers.py": BASE.format(name="ToolBase"),
    "pyenv311/lib/python3.11/site-packages/vendored/db.py": BASE.format(name="VendorBase"),
}


def test_virtual_environments_and_ignored_folders_are_never_read(tmp_path):
    root = project(tmp_path, {**VENV_FILES, ".gitignore": "scratch/\n"})
    # untracked and ignored: not part of the project
    write(root, {"scratch/old_db.py": BASE.format(name="OldBase")})
    plan = plan_json(root)
    assert models_by_base(plan) == {"app/db.py:Base": ["Widget"]}
    assert "one declarative base in scope" in unibase("check", str(root), check=0).stdout


def test_outside_git_the_gitignore_files_are_honoured(tmp_path):
    root = tmp_path / "proj"
    write(root, {**VENV_FILES, ".gitignore": "/scratch\n*.tmp.py\n", "app/notes.tmp.py": BASE.format(name="TmpBase"),
                 "scratch/old_db.py": BASE.format(name="OldBase"),
                 "lib/.gitignore": "generated/\n", "lib/generated/db.py": BASE.format(name="GenBase")})
    plan = plan_json(root)
    assert models_by_base(plan) == {"app/db.py:Base": ["Widget"]}


def test_a_real_package_named_build_is_read(tmp_path):
    root = project(tmp_path, {
        "build/__init__.py": "",
        "build/db.py": BASE.format(name="BuildBase"),
        "build/recipe.py": model("from build.db import BuildBase", "BuildBase", "Recipe", "recipes"),
        "app/__init__.py": "",
        "app/db.py": BASE.format(name="Base"),
        "app/models.py": model("from app.db import Base", "Base", "Widget", "widgets"),
    })
    plan = plan_json(root)
    assert models_by_base(plan) == {"app/db.py:Base": ["Widget"], "build/db.py:BuildBase": ["Recipe"]}


def test_files_that_cannot_be_imported_are_listed_never_merged(tmp_path):
    root = project(tmp_path, {
        "app/__init__.py": "",
        "app/db.py": BASE.format(name="Base"),
        "app/models.py": model("from app.db import Base", "Base", "Widget", "widgets"),
        "app/extra.py": BASE.format(name="ExtraBase") + model("", "ExtraBase", "Gadget", "gadgets"),
        # exercises run as scripts: the folder name is not an identifier
        "0x0F-orm-exercises/model_state.py": BASE.format(name="Base") + model("", "Base", "State", "states"),
        "0x0F-orm-exercises/list_states.py": "from model_state import Base, State\n\nprint(State)\n",
        "app/(old)__init__.py": BASE.format(name="OldBase"),
    })
    plan = plan_json(root)
    roles = {f"{b['file']}:{b['name']}": b["role"] for b in plan["bases"]}
    # standalone programs: left alone, with the reason as evidence (README "Which bases are merged")
    assert roles["0x0F-orm-exercises/model_state.py:Base"] == "separate"
    assert roles["app/(old)__init__.py:OldBase"] == "separate"
    evidence = {f"{b['file']}:{b['name']}": " ".join(b["evidence"]) for b in plan["bases"]}
    assert "standalone script" in evidence["0x0F-orm-exercises/model_state.py:Base"]
    assert {roles["app/db.py:Base"], roles["app/extra.py:ExtraBase"]} == {"canonical", "merge"}
    touched = {f for op in plan["operations"] for key in ("file", "source", "target") if (f := op.get(key))}
    assert touched and not any(f.startswith("0x0F") or "(old)" in f for f in touched), touched
    assert "0x0F" not in json.dumps([op.get("spellings") for op in plan["operations"]])


# --- where the project starts ---------------------------------------------------------------------


def test_run_from_a_subdirectory_the_whole_project_is_read(tmp_path):
    root = project(tmp_path, {
        "src/pkg/__init__.py": "",
        "src/pkg/database/__init__.py": "",
        "src/pkg/database/main.py": BASE.format(name="Base"),
        "src/pkg/database/extra.py": BASE.format(name="ExtraBase"),
        "src/pkg/database/tables.py": model("from .extra import ExtraBase", "ExtraBase", "Gadget", "gadgets"),
        "src/pkg/models/__init__.py": "",
        "src/pkg/models/widget.py": model("from ..database.main import Base", "Base", "Widget", "widgets"),
        "src/pkg/service.py": "from .database.extra import ExtraBase\n\nTABLES = ExtraBase.metadata.tables\n",
    })
    here = root / "src" / "pkg" / "database"
    plan = plan_json(Path("."), cwd=here)
    assert Path(plan["root"]) == root.resolve()
    assert models_by_base(plan) == {"src/pkg/database/extra.py:ExtraBase": ["Gadget"],
                                    "src/pkg/database/main.py:Base": ["Widget"]}
    applied = unibase("apply", "--branch", "merged", cwd=here, check=0)
    assert "attempted relative import" not in applied.stdout + applied.stderr
    git(root, "checkout", "-q", "merged")
    assert "one declarative base in scope" in unibase("check", cwd=here, check=0).stdout
    done = imports_cleanly(root, "pkg.service", "pkg.models.widget", "pkg.database.tables", path=("src",))
    assert done.returncode == 0, done.stderr


def test_a_narrower_path_limits_what_changes(tmp_path):
    root = project(tmp_path, {
        "app/__init__.py": "",
        "app/db.py": BASE.format(name="Base"),
        "app/extra.py": BASE.format(name="ExtraBase") + model("", "ExtraBase", "Gadget", "gadgets"),
        "app/models.py": model("from app.db import Base", "Base", "Widget", "widgets"),
        "tools/__init__.py": "",
        "tools/db.py": BASE.format(name="ToolBase") + model("", "ToolBase", "Tool", "tools"),
    })
    plan = plan_json(root / "app")
    roles = {f"{b['file']}:{b['name']}": b["role"] for b in plan["bases"]}
    assert roles["tools/db.py:ToolBase"] == "excluded"
    assert {roles["app/db.py:Base"], roles["app/extra.py:ExtraBase"]} == {"canonical", "merge"}
    assert not any(f.startswith("tools/") for op in plan["operations"] for f in (op.get("file"), op.get("source"))
                   if f)


# --- nothing to merge, or not a project -----------------------------------------------------------


def test_a_tree_without_a_declarative_base_says_so(tmp_path):
    root = project(tmp_path, {"app/__init__.py": "", "app/main.py": "import os\n\nprint(os.getcwd())\n"})
    checked = unibase("check", str(root), check=0)
    assert "no declarative base found under" in checked.stdout
    assert "one declarative base in scope" not in checked.stdout
    assert "no declarative base found under" in unibase("plan", str(root), check=0).stdout
    planned = unibase("plan", str(root), "--json", check=0)
    assert json.loads(planned.stdout)["bases"] == []
    assert "no declarative base found under" in planned.stderr
    applied = unibase("apply", str(root), "--branch", "merged", check=0)
    assert "no declarative base found under" in applied.stdout
    assert "merged" not in git(root, "branch", "--list", "merged")


def test_a_path_that_is_not_a_project_is_refused(tmp_path):
    empty = tmp_path / "empty"
    (empty / "docs").mkdir(parents=True)
    (empty / "docs" / "index.md").write_text("# docs\n")
    for command in ("plan", "check", "apply"):
        for path in (empty, tmp_path / "missing"):
            proc = unibase(command, str(path), check=2)
            assert proc.stderr.startswith("error: ") and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
            assert "Traceback" not in proc.stderr


def test_git_lists_the_same_files_in_one_call_as_in_two(tmp_path, monkeypatch):
    """Without submodules git's list is made in one call: tracked files (a deleted one too), and
    untracked files not ignored, also from a folder below the work tree's top."""
    from unibase import project as project_module

    top = tmp_path / "repo"
    write(top, {"app/__init__.py": "", "app/models.py": "X = 1\n", "app/gone.py": "", ".gitignore": "ignored_*.py\n",
                "app/sub/deep.py": "", "other/tool.py": ""})
    make_repo(top)
    (top / "app" / "gone.py").unlink()
    write(top, {"app/new.py": "", "app/ignored_x.py": "", "app/sub/also_new.py": "", "app/data.txt": ""})
    calls = []
    real_run = subprocess.run
    monkeypatch.setattr(project_module.subprocess, "run", lambda *a, **k: calls.append(a[0]) or real_run(*a, **k))

    def listing(root, submodules):
        calls.clear()
        with monkeypatch.context() as m:
            if submodules:
                m.setattr(project_module, "_has_submodules", lambda root: True)
            names = sorted(project_module._git_files(root))
        return names, len(calls)

    for root in (top, top / "app"):
        one, two = listing(root, False), listing(root, True)
        assert one[1] == 1 and two[1] == 2
        assert one[0] == two[0]
        assert not any("ignored_x" in n for n in one[0]) and any(n.endswith("also_new.py") for n in one[0])
    (top / ".gitmodules").write_text("", encoding="utf-8")
    assert project_module._has_submodules(top / "app") is True
