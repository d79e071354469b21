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
from conftest import make_project, unibase, write_files


def project(root: Path, files: dict[str, str]) -> Path:
    return make_project(root, files)


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



def test_two_databases_that_define_the_same_table_differently_are_a_decision(tmp_path):
    """Each base binds its own engine, from its own setting, yet both map table ``widget_0``, with
    different columns: "two databases, or one?" comes before "which definition wins"."""
    root = two_settings(tmp_path / "p")
    with (root / "app/audit/db.py").open("a", encoding="utf-8") as f:
        f.write("\n\nclass AuditWidget(AuditBase):\n    __tablename__ = 'widget_0'\n"
                "    id = Column(Integer, primary_key=True)\n    note = Column(Integer)\n")
    from conftest import git
    git(root, "commit", "-qam", "audit copy of widget_0")
    data = plan(root, code=1)
    conflict = next(c for c in data["conflicts"] if c["kind"] == "separate-or-merge")
    assert "widget_0" in conflict["detail"] and "merge them into one database, or keep them apart?" in conflict["detail"]
    kept = plan(root, "--separate", "app/audit/db.py")
    assert roles(kept)["app/audit/db.py:AuditBase"] == "separate" and kept["operations"] == []


def test_overrides_from_pyproject(tmp_path):
    root = two_settings(tmp_path / "p", audit_fk="widget_0.id")
    (root / "pyproject.toml").write_text(
        "[project]\nname = 'app'\n\n[tool.unibase]\nmerge = ['app/audit/db.py:AuditBase']\n", encoding="utf-8")
    assert roles(plan(root))["app/audit/db.py:AuditBase"] == "merge"
    (root / "pyproject.toml").write_text(
        "[project]\nname = 'app'\n\n[tool.unibase]\nexclude-bases = ['app/audit/db.py']\n", encoding="utf-8")
    assert roles(plan(root))["app/audit/db.py:AuditBase"] == "separate"
    (root / "pyproject.toml").write_text(
        "[project]\nname = 'app'\n\n[tool.unibase]\nseparate = ['app/audit/db.py:AuditBase']\n", encoding="utf-8")
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
    asked = plan(tmp_path / "p", "--merge", "_archive/legacy/database.py")
    assert roles(asked)["_archive/legacy/database.py:Base"] in ("canonical", "merge")



def test_an_unimported_sub_package_beside_a_live_one_in_one_top_package_is_unreferenced(tmp_path):
    """``packages/`` is one package holding two applications: ``packages/shop`` (imported by the
    entry point) and ``packages/legacy`` (imported by nothing outside itself). The live one does
    not make its neighbour live."""
    def base_module(name: str, n: int, prefix: str) -> str:
        return textwrap.dedent("""
            from sqlalchemy import Column, ForeignKey, Integer
            from sqlalchemy.orm import declarative_base

            {name} = declarative_base()

        """).replace("{name}", name) + models(n, prefix, name)

    files = {
        "pyproject.toml": "[project]\nname = 'app'\n",
        "packages/__init__.py": "",
        "packages/shop/__init__.py": "",
        "packages/shop/models.py": base_module("Base", 3, "Widget"),
        "packages/shop/extra.py": base_module("ExtraBase", 1, "Gadget"),
        "packages/legacy/__init__.py": "",
        "packages/legacy/models.py": base_module("Base", 2, "Widget"),
        "packages/legacy/views.py": "from packages.legacy.models import Widget0\n",
        "main.py": "from packages.shop.models import Widget0\nfrom packages.shop.extra import Gadget0\n",
    }
    data = plan(project(tmp_path / "p", files))
    r = roles(data)
    assert r["packages/legacy/models.py:Base"] == "unreferenced", evidence(data, "packages/legacy/models.py:Base")
    assert "packages/legacy/" in evidence(data, "packages/legacy/models.py:Base")
    assert r["packages/shop/models.py:Base"] == "canonical" and r["packages/shop/extra.py:ExtraBase"] == "merge"


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


MAIN_DB = """
    from sqlalchemy import Column, ForeignKey, Integer, create_engine
    from sqlalchemy.orm import declarative_base

    from app.config import settings

    engine = create_engine(settings.database_url)
    Base = declarative_base()

    {models}


    def init_db():
        Base.metadata.create_all(engine)
"""


def main_db(files: dict[str, str], n: int = 3) -> dict[str, str]:
    """An app whose main base runs create_all on the engine of settings.database_url, plus ``files``."""
    return {
        "pyproject.toml": "[project]\nname = 'app'\n",
        "app/__init__.py": "",
        "app/config.py": SETTINGS,
        "app/db.py": MAIN_DB.replace("{models}", models(n, "Widget").replace("\n", "\n    ")),
        "tests/test_app.py": "import app.main\n",
        **files,
    }


def test_engine_made_in_the_bases_package_by_a_class_that_imports_it(tmp_path):
    files = main_db({
        "app/bridge/__init__.py": "",
        "app/bridge/models.py": """
            from sqlalchemy import Column, Integer
            from sqlalchemy.orm import declarative_base

            BridgeBase = declarative_base()


            class Link(BridgeBase):
                __tablename__ = "links"
                id = Column(Integer, primary_key=True)
        """,
        "app/bridge/store.py": """
            from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

            from .models import Link


            class StoreConfig:
                host = "localhost"

                def connection_string(self):
                    return f"postgresql+asyncpg://{self.host}/links"


            class LinkStore:
                def __init__(self, config=None):
                    self.config = config or StoreConfig()
                    self._engine = None

                async def connect(self):
                    self._engine = create_async_engine(self.config.connection_string())
                    self._sessions = async_sessionmaker(self._engine)

                async def count(self):
                    async with self._sessions() as session:
                        return await session.get(Link, 1)
        """,
        "app/main.py": "from app.db import init_db\nfrom app.bridge.store import LinkStore\n",
    })
    data = plan(project(tmp_path / "p", files))
    assert roles(data) == {"app/bridge/models.py:BridgeBase": "separate", "app/db.py:Base": "canonical"}
    assert data["operations"] == []
    why = evidence(data, "app/bridge/models.py:BridgeBase")
    assert "made in its package by app/bridge/store.py, which imports it" in why


def test_engine_made_beside_the_base_in_its_own_module(tmp_path):
    files = main_db({
        "app/audit/__init__.py": "",
        "app/audit/db.py": """
            from sqlalchemy import Column, Integer
            from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
            from sqlalchemy.orm import declarative_base

            from app.config import settings

            engine = create_async_engine(settings.audit_url)
            AuditSession = async_sessionmaker(engine)
            AuditBase = declarative_base()


            class Event(AuditBase):
                __tablename__ = "events"
                id = Column(Integer, primary_key=True)
        """,
        "app/main.py": "from app.db import init_db\nfrom app.audit.db import AuditSession, Event\n",
    })
    data = plan(project(tmp_path / "p", files))
    assert roles(data) == {"app/audit/db.py:AuditBase": "separate", "app/db.py:Base": "canonical"}
    why = evidence(data, "app/audit/db.py:AuditBase")
    assert "settings.audit_url (app/audit/db.py:7) is made in its own module" in why


def test_create_all_on_an_engine_a_function_returns(tmp_path):
    files = main_db({
        "app/auth_base.py": """
            from sqlalchemy.orm import declarative_base

            AuthBase = declarative_base()
        """,
        "app/auth_models.py": """
            from sqlalchemy import Column, Integer

            from app.auth_base import AuthBase


            class Account(AuthBase):
                __tablename__ = "accounts"
                id = Column(Integer, primary_key=True)


            class Token(AuthBase):
                __tablename__ = "tokens"
                id = Column(Integer, primary_key=True)
        """,
        "app/engines.py": """
            from sqlalchemy import create_engine

            from app.config import settings


            def get_auth_engine():
                if not hasattr(get_auth_engine, "cached"):
                    url = f"sqlite:///{settings.auth_db_path}"
                    get_auth_engine.cached = create_engine(url)
                return get_auth_engine.cached
        """,
        "app/init_auth.py": """
            from app.auth_base import AuthBase
            from app.engines import get_auth_engine


            def init_auth():
                engine = get_auth_engine()
                from app import auth_models  # noqa: F401
                AuthBase.metadata.create_all(bind=engine)
        """,
        "app/main.py": "from app.db import init_db\nfrom app.init_auth import init_auth\n",
    })
    files["app/config.py"] += "    auth_db_path = 'auth.db'\n"
    data = plan(project(tmp_path / "p", files))
    assert roles(data) == {"app/auth_base.py:AuthBase": "separate", "app/db.py:Base": "canonical"}
    why = evidence(data, "app/auth_base.py:AuthBase")
    assert "settings.auth_db_path (app/engines.py:9) by create_all (app/init_auth.py:8)" in why


ALEMBIC_ENV = """
    from alembic import context

    from {module} import {base}

    target_metadata = {base}.metadata


    def run_migrations_online():
        context.configure(target_metadata=target_metadata)
"""


def test_alembic_targets_the_big_base_and_the_app_engine_holds_the_small_one(tmp_path):
    """Alembic migrates the models' base; the app creates a second, small base on its main
    database setting: one database, merged (the bigger base stays canonical)."""
    files = main_db({
        "app/models/__init__.py": "",
        "app/models/base.py": "from sqlalchemy.orm import declarative_base\n\nModelBase = declarative_base()\n",
        "app/models/things.py": "from sqlalchemy import Column, ForeignKey, Integer\n\n"
                                "from app.models.base import ModelBase\n\n\n"
                                + models(5, "Thing", "ModelBase"),
        "alembic/env.py": ALEMBIC_ENV.replace("{module}", "app.models.things").replace("{base}", "ModelBase"),
        "app/main.py": "from app.db import init_db\nfrom app.models.things import Thing0\n",
    }, n=1)
    data = plan(project(tmp_path / "p", files))
    assert roles(data) == {"app/models/base.py:ModelBase": "canonical", "app/db.py:Base": "merge"}
    assert "the Alembic environment alembic/env.py targets its metadata" in evidence(data, "app/models/base.py:ModelBase")


def test_two_alembic_environments_are_two_databases(tmp_path):
    files = {
        "pyproject.toml": "[project]\nname = 'app'\n",
        "app/__init__.py": "",
        "app/models.py": "from sqlalchemy import Column, ForeignKey, Integer\nfrom sqlalchemy.orm import declarative_base\n\n"
                         "Base = declarative_base()\n\n\n" + models(3, "Widget"),
        "app/ledger.py": "from sqlalchemy import Column, ForeignKey, Integer\nfrom sqlalchemy.orm import declarative_base\n\n"
                         "LedgerBase = declarative_base()\n\n\n" + models(2, "Entry", "LedgerBase"),
        "app/main.py": "from app.models import Widget0\nfrom app.ledger import Entry0\n",
        "tests/test_app.py": "import app.main\n",
        "migrations/main/env.py": ALEMBIC_ENV.replace("{module}", "app.models").replace("{base}", "Base"),
        "migrations/ledger/env.py": ALEMBIC_ENV.replace("{module}", "app.ledger").replace("{base}", "LedgerBase"),
    }
    root = project(tmp_path / "p", files)
    data = plan(root)
    assert roles(data) == {"app/ledger.py:LedgerBase": "separate", "app/models.py:Base": "canonical"}
    assert "its own Alembic environment migrates it" in evidence(data, "app/ledger.py:LedgerBase")
    # one environment for both: one database
    (root / "migrations/ledger/env.py").unlink()
    (root / "migrations/main/env.py").write_text(textwrap.dedent(ALEMBIC_ENV).replace(
        "from {module} import {base}", "from app.models import Base\nfrom app.ledger import LedgerBase").replace(
        "{base}.metadata", "[Base.metadata, LedgerBase.metadata]"), encoding="utf-8")
    assert roles(plan(root)) == {"app/ledger.py:LedgerBase": "merge", "app/models.py:Base": "canonical"}


SERVICE = """
    from sqlalchemy import Column, Integer, create_engine
    from sqlalchemy.orm import declarative_base, sessionmaker

    Base = declarative_base()


    class {model}(Base):
        __tablename__ = "{table}"
        id = Column(Integer, primary_key=True)


    class {service}:
        def __init__(self, db_url):
            self.engine = create_engine(db_url)
            Base.metadata.create_all(self.engine)
            self.Session = sessionmaker(bind=self.engine)
"""


def test_services_with_engines_of_their_own_stay_apart_when_a_script_creates_both(tmp_path):
    def service(model: str, table: str, cls: str) -> str:
        return SERVICE.replace("{model}", model).replace("{table}", table).replace("{service}", cls)

    files = {
        "pyproject.toml": "[project]\nname = 'kit'\n",
        "kit/__init__.py": "",
        "kit/config.py": "DATABASE_URL = 'sqlite:///kit.db'\n",
        "kit/sessions.py": service("SessionRecord", "sessions", "SessionStore"),
        "kit/accounts.py": service("Account", "accounts", "AccountService"),
        "kit/app.py": "from kit.config import DATABASE_URL\nfrom kit.sessions import SessionStore\n"
                      "from kit.accounts import AccountService\n\n"
                      "store = SessionStore(DATABASE_URL)\naccounts = AccountService(DATABASE_URL)\n",
        "scripts/init_db.py": """
            from sqlalchemy import create_engine

            from kit.accounts import Base as AccountBase
            from kit.config import DATABASE_URL
            from kit.sessions import Base


            def init_db():
                engine = create_engine(DATABASE_URL)
                Base.metadata.create_all(engine)
                AccountBase.metadata.create_all(engine)
        """,
        "tests/test_kit.py": "import kit.app\n",
    }
    data = plan(project(tmp_path / "p", files))
    assert roles(data) == {"kit/accounts.py:Base": "separate", "kit/sessions.py:Base": "separate"}
    assert data["operations"] == [] and data["canonical"] is None
    assert "one deployment where their databases coincide" in evidence(data, "kit/sessions.py:Base")


# -- the pieces, through the API ------------------------------------------------------------------

from unibase.discovery import discover  # noqa: E402
from unibase.evidence import gather  # noqa: E402
from unibase.liveness import dead_folders, import_edges, standalone  # noqa: E402
from unibase.roles import _main_database_setting  # noqa: E402


@pytest.mark.parametrize("rel, reason", [
    pytest.param("app/models.py", None, id="package-module"),
    pytest.param("models.py", None, id="root-module"),
    pytest.param("my-service/app/db.py", None, id="package-below-a-service-folder"),
    pytest.param("0x0F-orm/model_state.py", "0x0F-orm/ is not a package name", id="exercise-folder"),
    pytest.param("scripts/6-create_tables.py", "6-create_tables.py is not a module name", id="script-name"),
])
def test_standalone_files(rel, reason):
    got = standalone(rel)
    assert (got is None) if reason is None else reason in got


@pytest.mark.parametrize("key, main", [
    pytest.param("setting:settings.database_url", True, id="database_url"),
    pytest.param("setting:settings.db_host+settings.db_name+settings.db_port", True, id="db-parts"),
    pytest.param("setting:sqlalchemy_database_uri", True, id="env-uri"),
    pytest.param("setting:settings.audit_url", False, id="audit"),
    pytest.param("setting:settings.master_sqlalchemy_database_uri", False, id="master"),
    pytest.param("setting:settings.database_url+settings.reports_url", False, id="one-named"),
    pytest.param("param:app/db.py:Store.__init__:url", False, id="argument"),
    pytest.param("url:sqlite:///app.db", False, id="literal"),
])
def test_main_database_setting(key, main):
    assert _main_database_setting(key) is main


def index(root: Path, files: dict[str, str]):
    return discover(write_files(root, files))


ONE_BASE = textwrap.dedent("""
    from sqlalchemy import Column, Integer, create_engine
    from sqlalchemy.orm import declarative_base

    {name} = declarative_base()


    class {name}Row({name}):
        __tablename__ = "{name}_rows"
        id = Column(Integer, primary_key=True)
""")


def test_one_literal_url_is_one_database(tmp_path):
    ix = index(tmp_path, {
        "a.py": ONE_BASE.replace("{name}", "A") + "\n\nA.metadata.create_all(create_engine('sqlite:///one.db'))\n",
        "b.py": ONE_BASE.replace("{name}", "B") + "\n\nB.metadata.create_all(create_engine('sqlite:///one.db'))\n",
        "c.py": ONE_BASE.replace("{name}", "C") + "\n\nC.metadata.create_all(create_engine('sqlite:///two.db'))\n",
        "d.py": ONE_BASE.replace("{name}", "D") + "\n\nD.metadata.create_all(create_engine('sqlite://'))\n",
        "e.py": ONE_BASE.replace("{name}", "E") + "\n\nE.metadata.create_all(create_engine('sqlite://'))\n",
    })
    ev = gather(ix)
    key = {s.name: {m.engine.key for m in ev.engines(s)} for s in ix.bases}
    assert key["A"] == key["B"] == {"url:sqlite:///one.db"} and key["C"] == {"url:sqlite:///two.db"}
    assert key["D"] != key["E"]  # every in-memory engine is a database of its own


def test_alembic_multidb_environment_names_one_database_per_key(tmp_path):
    ix = index(tmp_path, {
        "a.py": ONE_BASE.replace("{name}", "A"),
        "b.py": ONE_BASE.replace("{name}", "B"),
        "migrations/env.py": "from a import A\nfrom b import B\n\n"
                             "target_metadata = {'main': A.metadata, 'ledger': B.metadata}\n",
    })
    ev = gather(ix)
    keys = {s.name: [(m.engine.key, m.strength) for m in ev.engines(s)] for s in ix.bases}
    assert keys == {"A": [("alembic:migrations/env.py:'main'", "alembic")],
                    "B": [("alembic:migrations/env.py:'ledger'", "alembic")]}
    assert ev.proof(next(s for s in ix.bases if s.name == "A")) == []


def test_dead_folders_follow_imports_by_path(tmp_path):
    ix = index(tmp_path, {
        "app/__init__.py": "",
        "app/models.py": ONE_BASE.replace("{name}", "A"),
        "app/main.py": "from app.models import ARow\n",
        "run.py": "from app.main import ARow\n",
        "_old/legacy/__init__.py": "",
        "_old/legacy/models.py": ONE_BASE.replace("{name}", "B"),
        "tools/export.py": "from legacy.models import BRow\n",  # resolves only through a suffix
    })
    edges, _ = import_edges(ix)
    assert dead_folders(ix, ["app/models.py", "_old/legacy/models.py"], edges) == {"_old/legacy"}


def test_one_module_level_url_name_is_one_database(tmp_path):
    engine_of = "\n\n{name}.metadata.create_all(create_engine({url}))\n"
    ix = index(tmp_path, {
        "config.py": "import platform\n\nSHARED_URL = 'sqlite:///shared.db'\nBUILT_URL = platform.node()\n",
        "a.py": "from config import SHARED_URL\n" + ONE_BASE.replace("{name}", "A")
                + engine_of.replace("{name}", "A").replace("{url}", "SHARED_URL"),
        "b.py": "import config\n" + ONE_BASE.replace("{name}", "B")
                + engine_of.replace("{name}", "B").replace("{url}", "config.SHARED_URL"),
        "c.py": "from config import BUILT_URL\n" + ONE_BASE.replace("{name}", "C")
                + engine_of.replace("{name}", "C").replace("{url}", "BUILT_URL"),
        "d.py": "from config import BUILT_URL\n" + ONE_BASE.replace("{name}", "D")
                + engine_of.replace("{name}", "D").replace("{url}", "BUILT_URL"),
    })
    ev = gather(ix)
    key = {s.name: {m.engine.key for m in ev.engines(s)} for s in ix.bases}
    assert key["A"] == key["B"] == {"url:sqlite:///shared.db"}
    assert key["C"] == key["D"] == {"value:config.py:BUILT_URL"}


def test_per_user_databases_reached_through_a_function_local_import_keep_every_base_apart(tmp_path):
    # the app's data lives in one database per user, made by a manager method and created
    # through a function-local import; the auth database beside it has its own setting
    root = project(tmp_path / "p", {
        "app/__init__.py": "",
        "app/config.py": "class Settings:\n    auth_db_path = 'auth.db'\n    data_url = 'sqlite:///data.db'\n\n\n"
                         "settings = Settings()\n",
        "app/models/__init__.py": "",
        "app/models/data.py": """
            from sqlalchemy import Column, ForeignKey, Integer, create_engine
            from sqlalchemy.orm import declarative_base

            from app.config import settings

            engine = create_engine(settings.data_url)
            Base = declarative_base()

            {models}
        """.replace("{models}", models(3, "Site").replace("\n", "\n            ")),
        "app/models/auth.py": """
            from sqlalchemy import Column, ForeignKey, Integer
            from sqlalchemy.orm import declarative_base

            AuthBase = declarative_base()

            {models}
        """.replace("{models}", models(2, "Account", "AuthBase").replace("\n", "\n            ")),
        "app/manager.py": """
            from sqlalchemy import create_engine


            class DatabaseManager:
                def __init__(self):
                    self.engines = {}

                def url_for(self, user_id):
                    return f"sqlite:///user_{user_id}.db"

                def get_engine(self, user_id):
                    if user_id not in self.engines:
                        self.engines[user_id] = create_engine(self.url_for(user_id))
                    return self.engines[user_id]

                def init_user(self, user_id):
                    engine = self.get_engine(user_id)
                    from app.models import data as models
                    models.Base.metadata.create_all(bind=engine)
        """,
        "app/init_auth.py": """
            from sqlalchemy import create_engine

            from app.config import settings
            from app.models.auth import AuthBase


            def init_auth():
                engine = create_engine(f"sqlite:///{settings.auth_db_path}")
                AuthBase.metadata.create_all(bind=engine)
        """,
        "app/main.py": "from app.init_auth import init_auth\nfrom app.manager import DatabaseManager\n",
    })
    data = plan(root)
    assert roles(data) == {"app/models/auth.py:AuthBase": "separate", "app/models/data.py:Base": "separate"}
    assert data["operations"] == []
    why = evidence(data, "app/models/data.py:Base")
    assert "argument user_id of DatabaseManager.get_engine (app/manager.py:13) by create_all (app/manager.py:19)" in why
    assert "a database per instance" in why
