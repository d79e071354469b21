"""Which bases are merged: roles decided from evidence, through the real CLI on small projects.

Each project is our own code: two databases built from two settings, per-driver databases made
from constructor arguments, bases on one shared MetaData beside one on its own engine, an archive
folder nothing live imports, two databases that nevertheless share a foreign key, and overrides
from the command line and from pyproject.toml.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from conftest import make_repo, unibase


def project(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    make_repo(root)
    return root


def plan(root: Path, *args: str, code: int = 0) -> dict:
    proc = unibase("plan", str(root), "--json", *args)
    assert proc.returncode == code, f"exit {proc.returncode}\n{proc.stderr}\n{proc.stdout[-2000:]}"
    return json.loads(proc.stdout)


def roles(data: dict) -> dict[str, str]:
    return {f"{b['file']}:{b['name']}": b["role"] for b in data["bases"]}


def evidence(data: dict, key: str) -> str:
    return " | ".join(next(b["evidence"] for b in data["bases"] if f"{b['file']}:{b['name']}" == key))


def models(n: int, prefix: str, base: str = "Base", fk: str | None = None) -> str:
    out = []
    for i in range(n):
        extra = f"\n    ref_id = Column(Integer, ForeignKey({fk!r}))" if fk and i == 0 else ""
        out.append(f"class {prefix}{i}({base}):\n    __tablename__ = '{prefix.lower()}_{i}'\n"
                   f"    id = Column(Integer, primary_key=True){extra}\n")
    return "\n\n".join(out)


SETTINGS = """
    class Settings:
        database_url = "sqlite:///main.db"
        audit_url = "sqlite:///audit.db"


    settings = Settings()
"""


def two_settings(root: Path, audit_fk: str | None = None) -> Path:
    return project(root, {
        "pyproject.toml": "[project]\nname = 'app'\n",
        "app/__init__.py": "",
        "app/config.py": SETTINGS,
        "app/db.py": """
            from sqlalchemy import Column, ForeignKey, Integer, create_engine
            from sqlalchemy.orm import declarative_base

            from app.config import settings

            engine = create_engine(settings.database_url)
            Base = declarative_base()

            {models}


            def init_db():
                Base.metadata.create_all(engine)
        """.replace("{models}", models(3, "Widget").replace("\n", "\n            ")),
        "app/audit/__init__.py": "",
        "app/audit/db.py": """
            from sqlalchemy import Column, ForeignKey, Integer
            from sqlalchemy.ext.asyncio import create_async_engine
            from sqlalchemy.orm import declarative_base

            from app.config import settings

            AuditBase = declarative_base()

            {models}


            def get_audit_engine():
                return create_async_engine(settings.audit_url)


            async def init_audit():
                engine = get_audit_engine()
                async with engine.begin() as conn:
                    await conn.run_sync(AuditBase.metadata.create_all)
        """.replace("{models}", models(2, "Event", "AuditBase", audit_fk).replace("\n", "\n            ")),
        "app/main.py": "from app.db import init_db\nfrom app.audit.db import init_audit\n",
        "tests/test_app.py": "from app.main import init_db\n",
    })


def test_two_settings_two_databases(tmp_path):
    data = plan(two_settings(tmp_path / "p"))
    assert roles(data) == {"app/audit/db.py:AuditBase": "separate", "app/db.py:Base": "canonical"}
    assert data["operations"] == []
    why = evidence(data, "app/audit/db.py:AuditBase")
    assert "engine from settings.audit_url (app/audit/db.py:" in why and "create_all (app/audit/db.py:" in why
    assert "separate:" in why


def test_cross_base_fk_between_two_databases_is_a_decision(tmp_path):
    root = two_settings(tmp_path / "p", audit_fk="widget_0.id")
    data = plan(root, code=1)
    conflict = next(c for c in data["conflicts"] if c["kind"] == "separate-or-merge")
    assert conflict["resolution"] is None
    assert "merge them into one database, or keep them apart?" in conflict["detail"]
    assert conflict["options"] == {"merge": "--merge app/audit/db.py:AuditBase",
                                   "separate": "--separate app/audit/db.py:AuditBase"}
    merged = plan(root, "--merge", "app/audit/db.py:AuditBase")
    assert roles(merged) == {"app/audit/db.py:AuditBase": "merge", "app/db.py:Base": "canonical"}
    assert merged["operations"]
    kept = plan(root, "--separate", "app/audit/db.py")
    assert roles(kept) == {"app/audit/db.py:AuditBase": "separate", "app/db.py:Base": "canonical"}
    assert kept["operations"] == []
    proc = unibase("apply", str(root), "--dry-run")
    assert proc.returncode == 1, proc.stderr


def test_overrides_from_pyproject(tmp_path):
    root = two_settings(tmp_path / "p", audit_fk="widget_0.id")
    (root / "pyproject.toml").write_text(
        "[project]\nname = 'app'\n\n[tool.unibase]\nmerge = ['app/audit/db.py:AuditBase']\n", encoding="utf-8")
    assert roles(plan(root))["app/audit/db.py:AuditBase"] == "merge"
    (root / "pyproject.toml").write_text(
        "[project]\nname = 'app'\n\n[tool.unibase]\nexclude-bases = ['app/audit/db.py']\n", encoding="utf-8")
    assert roles(plan(root))["app/audit/db.py:AuditBase"] == "separate"


DRIVER = """
    from sqlalchemy import Column, Integer, create_engine
    from sqlalchemy.orm import declarative_base, sessionmaker

    Base = declarative_base()

    {models}


    class {cls}:
        def __init__(self, conn, **config):
            self.engine = create_engine(conn, **config)
            Base.metadata.bind = self.engine
            Base.metadata.create_all()
            self.Session = sessionmaker(bind=self.engine)
"""


def test_per_driver_engines_from_constructor_arguments(tmp_path):
    files = {"pyproject.toml": "[project]\nname = 'store'\n", "store/__init__.py": ""}
    for i, name in enumerate(("index", "alias", "auth")):
        files[f"store/{name}/__init__.py"] = ""
        files[f"store/{name}/driver.py"] = DRIVER.replace(
            "{models}", models(3 - i, name.capitalize()).replace("\n", "\n    ")).replace("{cls}", f"{name.capitalize()}Driver")
    files["store/app.py"] = "from store.index.driver import IndexDriver\nfrom store.alias.driver import AliasDriver\n" \
                            "from store.auth.driver import AuthDriver\n"
    files["tests/test_store.py"] = "import store.app\n"
    data = plan(project(tmp_path / "p", files))
    assert set(roles(data).values()) == {"separate"}
    assert data["canonical"] is None and data["operations"] == []
    assert "constructor argument conn of IndexDriver" in evidence(data, "store/index/driver.py:Base")


def test_shared_metadata_merges_and_own_engine_stays_apart(tmp_path):
    files = {
        "pyproject.toml": "[project]\nname = 'shop'\n",
        "shop/__init__.py": "",
        "shop/meta.py": "from sqlalchemy import MetaData\n\nshared = MetaData()\n",
        "shop/app.py": "import shop.orders, shop.stock, shop.users, shop.billing, shop.reports\n",
        "tests/test_shop.py": "import shop.app\n",
        "shop/reports.py": """
            from sqlalchemy import Column, Integer, MetaData, create_engine
            from sqlalchemy.orm import declarative_base

            from shop.config import REPORTS_URL

            reports_engine = create_engine(REPORTS_URL)
            ReportBase = declarative_base(metadata=MetaData())

            {models}


            def init():
                ReportBase.metadata.create_all(reports_engine)
        """.replace("{models}", models(5, "Report", "ReportBase").replace("\n", "\n            ")),
        "shop/config.py": "REPORTS_URL = 'sqlite:///reports.db'\n",
    }
    for i, name in enumerate(("orders", "stock", "users", "billing")):
        files[f"shop/{name}.py"] = f"""
            from sqlalchemy import Column, ForeignKey, Integer
            from sqlalchemy.orm import declarative_base

            from shop.meta import shared

            {name.capitalize()}Base = declarative_base(metadata=shared)

            {{models}}
        """.replace("{models}", models(2, name.capitalize(), f"{name.capitalize()}Base").replace("\n", "\n            "))
    data = plan(project(tmp_path / "p", files))
    r = roles(data)
    assert r.pop("shop/reports.py:ReportBase") == "separate"
    assert sorted(r.values()) == ["canonical", "merge", "merge", "merge"]
    assert data["canonical"]["file"] != "shop/reports.py"
    assert "shared MetaData shop/meta.py:shared" in evidence(data, "shop/users.py:UsersBase")


def test_archive_nothing_live_imports_is_unreferenced(tmp_path):
    files = {
        "pyproject.toml": "[project]\nname = 'app'\n",
        "app/__init__.py": "",
        "app/models.py": """
            from sqlalchemy import Column, ForeignKey, Integer
            from sqlalchemy.orm import declarative_base

            Base = declarative_base()

            {models}
        """.replace("{models}", models(2, "Widget").replace("\n", "\n            ")),
        "app/extra.py": """
            from sqlalchemy import Column, ForeignKey, Integer
            from sqlalchemy.orm import declarative_base

            ExtraBase = declarative_base()

            {models}
        """.replace("{models}", models(1, "Gadget", "ExtraBase").replace("\n", "\n            ")),
        "app/main.py": "from app.models import Widget0\nfrom app.extra import Gadget0\n",
        "tests/test_app.py": "from app.main import Widget0\n",
        "_archive/legacy/__init__.py": "",
        "_archive/legacy/database.py": """
            from sqlalchemy import Column, ForeignKey, Integer
            from sqlalchemy.orm import declarative_base

            Base = declarative_base()

            {models}
        """.replace("{models}", models(6, "Widget").replace("\n", "\n            ")),
        "_archive/legacy/api.py": "from legacy.database import Widget0\n",
        # a stale script: `legacy.database` only matches the archive through a suffix
        "scripts/export.py": "from legacy.database import Widget0\n",
    }
    data = plan(project(tmp_path / "p", files))
    r = roles(data)
    assert r["_archive/legacy/database.py:Base"] == "unreferenced"
    assert r["app/models.py:Base"] == "canonical" and r["app/extra.py:ExtraBase"] == "merge"
    assert "_archive/legacy/" in evidence(data, "_archive/legacy/database.py:Base")
    assert all("_archive" not in f for op in data["operations"] for f in (op.get("file"), op.get("source")) if f)


STANDALONE_MODEL = """
    from sqlalchemy import Column, Integer, String
    from sqlalchemy.orm import declarative_base

    Base = declarative_base()


    class Widget(Base):
        __tablename__ = "widgets"
        id = Column(Integer, primary_key=True)
        name = Column(String(64))
"""

STANDALONE_SCRIPT = """
    import sys

    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from {module} import Base, Widget

    if __name__ == "__main__":
        engine = create_engine("sqlite:///" + sys.argv[1])
        Base.metadata.create_all(engine)
        with Session(engine) as session:
            print(session.query(Widget).count())
"""


def test_standalone_scripts_in_a_folder_that_is_not_a_package_are_left_alone(tmp_path):
    files = {
        "README.md": "exercises\n",
        "0x01-sql-exercises/widget_model.py": STANDALONE_MODEL,
        "0x01-sql-exercises/widget_model_v2.py": STANDALONE_MODEL.replace("String(64)", "String(128)"),
        "0x01-sql-exercises/1-list_widgets.py": STANDALONE_SCRIPT.replace("{module}", "widget_model"),
        "0x01-sql-exercises/2-count_widgets.py": STANDALONE_SCRIPT.replace("{module}", "widget_model_v2"),
    }
    data = plan(project(tmp_path / "p", files))
    assert roles(data) == {"0x01-sql-exercises/widget_model.py:Base": "separate",
                           "0x01-sql-exercises/widget_model_v2.py:Base": "separate"}
    assert data["canonical"] is None and data["operations"] == []
    assert not [c for c in data["conflicts"] if c["resolution"] is None]
    why = evidence(data, "0x01-sql-exercises/widget_model.py:Base")
    assert "a standalone script:" in why and "0x01-sql-exercises/" in why


def test_a_standalone_script_copying_the_apps_table_is_not_merged_into_it(tmp_path):
    root = two_settings(tmp_path / "p")
    (root / "tools/one-off").mkdir(parents=True)
    (root / "tools/one-off/widget_model.py").write_text(
        textwrap.dedent(STANDALONE_MODEL).replace("widgets", "widget_0"), encoding="utf-8")
    (root / "tools/one-off/export.py").write_text(
        textwrap.dedent(STANDALONE_SCRIPT).replace("{module}", "widget_model"), encoding="utf-8")
    from conftest import git
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "a one-off script")
    data = plan(root)
    r = roles(data)
    assert r["tools/one-off/widget_model.py:Base"] == "separate"
    assert r["app/db.py:Base"] == "canonical"
    assert all("tools/one-off" not in str(op) for op in data["operations"])
