"""What planning reads: a file that is not SQLAlchemy code is never parsed whole, and no file is
parsed twice to find the evidence of databases. Counts of parses, never times."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from unibase import api
from unibase.discovery import DiscoverOptions, discover, import_lines, import_specs, read_import_lines, read_import_specs
from unibase.evidence import gather
from unibase.liveness import import_edges
from unibase.settings import load_settings


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return root


PROJECT = {
    "pyproject.toml": "[project]\nname = 'app'\n",
    "app/__init__.py": "",
    "app/db.py": """
        from sqlalchemy import create_engine
        from sqlalchemy.orm import DeclarativeBase

        engine = create_engine("sqlite:///app.db")

        class Base(DeclarativeBase):
            pass
    """,
    "app/models.py": """
        from sqlalchemy import Column, Integer
        from .db import Base

        class Widget(Base):
            __tablename__ = "widgets"
            id = Column(Integer, primary_key=True)
    """,
    "billing/__init__.py": "",
    "billing/db.py": """
        from sqlalchemy.orm import declarative_base

        Base = declarative_base()
    """,
    "billing/models.py": """
        from sqlalchemy import Column, Integer
        from .db import Base

        class Invoice(Base):
            __tablename__ = "invoices"
            id = Column(Integer, primary_key=True)
    """,
    "app/setup.py": """
        from app.db import Base, engine
        from billing.db import Base as BillingBase

        def create():
            Base.metadata.create_all(engine)
            BillingBase.metadata.create_all(engine)
    """,
    # imports the models, uses SQLAlchemy, holds nothing the evidence looks for
    "app/queries.py": """
        from sqlalchemy import select
        from app.models import Widget

        def widgets(session):
            return session.scalars(select(Widget)).all()
    """,
    # nothing to do with SQLAlchemy; its imports still count for what live code reaches
    "tools/report.py": """
        import os
        from app import helpers

        UNRELATED_MARKER = os.sep.join(["a", "b"])

        def main():
            return helpers.total([1, 2]), UNRELATED_MARKER
    """,
    "app/helpers.py": """
        def total(values):
            return sum(values)
    """,
    "tools/__init__.py": "",
}


@pytest.fixture
def parses(monkeypatch) -> Counter:
    """Every ``ast.parse`` of a whole source made while the test runs, by its bytes."""
    seen: Counter = Counter()
    real = ast.parse

    def spy(source, *args, **kwargs):
        if kwargs.get("mode", args[1] if len(args) > 1 else "exec") == "exec":
            seen[source if isinstance(source, bytes) else source.encode()] += 1
        return real(source, *args, **kwargs)

    monkeypatch.setattr(ast, "parse", spy)
    return seen


def test_a_file_that_is_not_sqlalchemy_code_is_never_parsed_whole(tmp_path, parses):
    root = write(tmp_path, PROJECT)
    plan = api.plan_project(load_settings(root))
    assert {b.name for b in plan.bases} == {"Base"} and len(plan.bases) == 2
    whole = [src for src in parses if b"UNRELATED_MARKER" in src]
    assert whole == [], "tools/report.py was parsed whole"
    # its import lines were read all the same: it reaches app/helpers.py
    edges, _ = import_edges(discover(root))
    assert "app/helpers.py" in edges["tools/report.py"]


def test_import_lines_are_parsed_once_per_run_and_not_again_when_unchanged(tmp_path, monkeypatch, parses):
    """Liveness needs the import statements of every file read by its import lines alone:
    discovery parses those lines once (a plan does not parse them again), and a later run takes
    them from the cache while the lines are unchanged."""
    root = write(tmp_path / "p", PROJECT)
    monkeypatch.setenv("UNIBASE_CACHE_DIR", str(tmp_path / "cache"))
    _, lines = import_lines((root / "tools/report.py").read_bytes())
    plan = api.plan_project(load_settings(root, cache=True))
    assert parses[lines] == 1
    parses.clear()
    again = api.plan_project(load_settings(root, cache=True))
    assert parses[lines] == 0
    assert again.to_json() == plan.to_json()
    edges, _ = import_edges(discover(root, DiscoverOptions(cache=True)))
    assert "app/helpers.py" in edges["tools/report.py"] and parses[lines] == 0
    # an edited import line is read again
    path = root / "tools/report.py"
    path.write_text(path.read_text(encoding="utf-8").replace("import os", "import os.path"), encoding="utf-8")
    _, edited = import_lines(path.read_bytes())
    edges, _ = import_edges(discover(root, DiscoverOptions(cache=True)))
    assert parses[edited] == 1 and "app/helpers.py" in edges["tools/report.py"]


def test_the_evidence_parses_only_files_that_can_hold_it(tmp_path, parses):
    """Discovery has read every SQLAlchemy file; the evidence of databases parses again only the
    files whose text can hold an engine, a bind or a base's metadata (bases, engine modules, the
    functions that call create_all), not every file that imports SQLAlchemy."""
    root = write(tmp_path, PROJECT)
    ix = discover(root)
    edges, _ = import_edges(ix)
    parses.clear()
    ev = gather(ix, edges)
    assert {m.engine.key for meetings in ev.meetings.values() for m in meetings} == {"url:sqlite:///app.db"}
    again = {rel for rel in ix.modules.files if parses[(root / rel).read_bytes()]}
    assert again <= {"app/db.py", "billing/db.py", "app/setup.py"}
    assert "app/models.py" not in again and "app/queries.py" not in again


@pytest.mark.parametrize("source, expected", [
    pytest.param('"""Usage:\n\n    from app import ghost\n"""\nimport os\n', [(5, None, "os")], id="docstring-example"),
    pytest.param("from app import (\n    one,\n    two,\n)\nx = 1\n", [(1, "app", "one")], id="parenthesised"),
    pytest.param("def f():\n    from .sub import thing as other\n", [(2, "sub", "thing")], id="function-local"),
    pytest.param("import a.b as c; print(c)\nimport d\n", [(1, None, "a.b"), (2, None, "d")], id="semicolon"),
])
def test_import_lines_alone(source, expected):
    words, lines = import_lines(source.encode())
    found = read_import_lines(lines, "x.py")
    assert [(i.line, i.module, i.names[0].name) for i in found] == expected
    assert read_import_specs(lines, "x.py") == import_specs(found)  # what liveness reads of them
    assert b"app" in words or "app" not in source


def test_import_lines_that_do_not_parse_alone_fall_back_to_the_whole_file(tmp_path):
    root = write(tmp_path, {
        "app/__init__.py": "",
        "app/target.py": "X = 1\n",
        "app/user.py": "from app.target import \\\n    X\n",
    })
    _, lines = import_lines((root / "app/user.py").read_bytes())
    assert read_import_lines(lines, "app/user.py") is None and read_import_specs(lines, "app/user.py") is None
    edges, _ = import_edges(discover(root))
    assert "app/target.py" in edges["app/user.py"]


def test_help_imports_no_heavy_library():
    code = ("import sys\nfrom unibase.cli import main\nsys.argv = ['unibase', '--help']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('libcst', 'sqlalchemy', 'alembic', 'git') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("text", [
    b"Base = declarative_base()", b"class Base(DeclarativeBase): pass", b"Base = reg.generate_base()",
    b"@as_declarative()", b"mapper_registry = registry()", b"    __tablename__ = 'x'", b"    __table__ = t",
    b"Base.metadata.create_all(e)", b"target_metadata = None", b"x: Mapped[int] = mapped_column()",
    b"t = Table('t', m)", b"from flask_sqlalchemy import SQLAlchemy",
])
def test_the_pre_filter_finds_every_word_of_its_expression(text):
    from unibase.discovery import SQLA_WORDS, speaks_sqlalchemy

    assert SQLA_WORDS.search(text) and speaks_sqlalchemy(text)
    assert not speaks_sqlalchemy(b"import os\n\ndef table(rows):\n    return rows\n")


def test_every_alternative_of_the_pre_filter_has_a_plain_word():
    """A word added to SQLA_WORDS needs its plain word in SQLA_LITERALS, or files using only it
    would never be parsed."""
    from unibase.discovery import SQLA_LITERALS, SQLA_WORDS

    for alternative in SQLA_WORDS.pattern.split(b"|"):
        plain = alternative.replace(b"\\b", b"").replace(b"\\", b"")
        assert any(word in plain for word in SQLA_LITERALS), alternative


# --- importers: their import lines, and more only where that can matter ---------------------------

IMPORTERS = {
    "pyproject.toml": "[project]\nname = 'app'\n",
    "app/__init__.py": "",
    "app/db.py": """
        from sqlalchemy.orm import DeclarativeBase

        class Base(DeclarativeBase):
            pass
    """,
    "app/mixins.py": """
        from sqlalchemy import Column, DateTime

        class Stamped:
            created = Column(DateTime)
    """,
    "app/text.py": """
        SLUG_MARKER = "-"

        def slug(value):
            return value.lower().replace(" ", SLUG_MARKER)
    """,
    "app/models.py": """
        from sqlalchemy import Column, Integer, String
        from app.db import Base
        from app.mixins import Stamped
        from app.text import slug

        class Widget(Stamped, Base):
            __tablename__ = "widgets"
            id = Column(Integer, primary_key=True)
            name = Column(String)

            def label(self):
                return slug(self.name)

        class Gadget(Base):
            __tablename__ = "gadgets"
            id = Column(Integer, primary_key=True)
    """,
    "billing/__init__.py": "",
    "billing/models.py": """
        from sqlalchemy import Column, Integer
        from sqlalchemy.orm import declarative_base

        Base = declarative_base()

        class Invoice(Base):
            __tablename__ = "invoices"
            id = Column(Integer, primary_key=True)
    """,
    # imports a model that stays where it is: nothing in it can change
    "app/routes.py": """
        from app.models import Widget

        ROUTES_MARKER = 1

        def widgets(session):
            return session.query(Widget).all()
    """,
    # imports a model the merge moves: its imports are rewritten
    "app/invoicing.py": """
        from billing.models import Invoice

        INVOICING_MARKER = 1

        def invoices(session):
            return session.query(Invoice).all()
    """,
    # subclasses of models in files that say nothing of SQLAlchemy: models all the same
    "app/special.py": """
        from app.models import Widget

        class SpecialWidget(Widget):
            pass
    """,
    "app/extra.py": """
        from app.models import Gadget
        from app.special import SpecialWidget

        class ExtraWidget(SpecialWidget):
            pass

        def gadgets(session):
            return session.query(Gadget).all()
    """,
}


def test_an_importer_is_parsed_whole_only_when_the_plan_rewrites_it(tmp_path, parses):
    root = write(tmp_path, IMPORTERS)
    plan = api.plan_project(load_settings(root, strategy="move"))
    assert plan.canonical.file == "app/db.py"
    rewritten = {op.file for op in plan.operations if op.op == "rewrite-imports"}
    assert "app/invoicing.py" in rewritten and "app/routes.py" not in rewritten
    assert [n for src, n in parses.items() if b"INVOICING_MARKER" in src] == [1]
    assert [src for src in parses if b"ROUTES_MARKER" in src] == [], "app/routes.py was parsed whole"


def test_what_an_importer_binds_is_read_from_its_import_lines(tmp_path, parses):
    root = write(tmp_path, IMPORTERS)
    ix = discover(root)
    routes = ix.facts["app/routes.py"]
    assert routes.partial and [i.module for i in routes.imports] == ["app.models"]
    assert ix.lazy["app/routes.py"] >= {b"Widget"}
    # what it binds resolves through its imports; what it defines is at least defined there
    from unibase.discovery import Resolver, Symbol

    resolver = Resolver(ix.modules, ix.facts)
    assert resolver.name("app/routes.py", "Widget") == Symbol("app/models.py", "Widget")
    assert resolver.name("app/routes.py", "widgets") == Symbol("app/routes.py", "widgets")


def test_subclasses_of_models_in_files_that_only_import_them_are_found(tmp_path, parses):
    """``app/extra.py`` first matters for importing ``Gadget`` (its import lines are read), then
    for subclassing ``SpecialWidget`` once that is known to be a model: it is parsed whole then."""
    root = write(tmp_path, IMPORTERS)
    ix = discover(root)
    from unibase.discovery import Symbol

    widget = Symbol("app/models.py", "Widget")
    assert ix.models[Symbol("app/special.py", "SpecialWidget")].parents == (widget,)
    assert ix.models[Symbol("app/extra.py", "ExtraWidget")].base == Symbol("app/db.py", "Base")
    assert not ix.facts["app/extra.py"].partial


def test_a_model_file_s_mixin_module_is_parsed_whole_and_its_helpers_by_import_lines(tmp_path, parses):
    root = write(tmp_path, IMPORTERS)
    ix = discover(root)
    from unibase.discovery import Symbol

    assert "created" in {c.attr for c in ix.models[Symbol("app/models.py", "Widget")].columns}
    assert [src for src in parses if b"SLUG_MARKER" in src] == [], "app/text.py was parsed whole"
    assert ix.facts["app/text.py"].partial


def test_the_scope_of_an_importer_s_imports_comes_from_the_lines_around_them(tmp_path):
    """A function-local import does not run when the module loads (no import cycle through it),
    one in a ``try`` block does: the import lines alone tell them apart by the blocks around them."""
    root = write(tmp_path, IMPORTERS | {"app/jobs.py": """
        from app.models import Widget

        try:
            import json
        except ImportError:
            json = None

        def later():
            from app.models import Gadget
            return Gadget, Widget
    """})
    jobs = discover(root).facts["app/jobs.py"]
    assert jobs.partial
    assert [(i.line, i.scope) for i in jobs.imports] == [(1, "module"), (4, "conditional"), (9, "function")]
    assert "json" in jobs.bindings and "Gadget" not in jobs.bindings


# --- a warm run: what the cache knows is neither searched nor resolved again ---------------------


def test_a_warm_run_searches_no_unchanged_file_that_does_not_speak_sqlalchemy(tmp_path, monkeypatch):
    """The cache keeps the import lines of the files that do not speak SQLAlchemy, keyed by their
    bytes: a warm run knows those files need no search. A file edited since is searched again,
    and found when it now defines a model."""
    from unibase import discovery

    searched: Counter = Counter()
    real = discovery.speaks_sqlalchemy

    def spy(data):
        searched[data] += 1
        return real(data)

    monkeypatch.setattr(discovery, "speaks_sqlalchemy", spy)
    monkeypatch.setenv("UNIBASE_CACHE_DIR", str(tmp_path / "cache"))
    root = write(tmp_path / "p", PROJECT)
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*.py"))
    plan = api.plan_project(load_settings(root, cache=True))
    assert {rel for rel in files if searched[(root / rel).read_bytes()]} == set(files)
    searched.clear()
    shutil.rmtree(tmp_path / "cache" / "plans")  # else the plan is the one remembered (unibase.memo): nothing is read
    again = api.plan_project(load_settings(root, cache=True))
    assert again.to_json() == plan.to_json()
    still = {rel for rel in files if searched[(root / rel).read_bytes()]}
    assert "tools/report.py" not in still and "app/helpers.py" not in still
    assert still == {rel for rel in files if real((root / rel).read_bytes())}  # those that speak it
    # an edited file is searched again: now it defines a model of app's base
    (root / "app/helpers.py").write_text(
        "from sqlalchemy import Column, Integer\nfrom app.db import Base\n\n\n"
        "class Total(Base):\n    __tablename__ = 'totals'\n    id = Column(Integer, primary_key=True)\n",
        encoding="utf-8")
    searched.clear()
    edited = api.plan_project(load_settings(root, cache=True))
    assert searched[(root / "app/helpers.py").read_bytes()] == 1
    assert "Total" in {m.name for b in edited.bases for m in b.models}


def test_the_import_graph_resolves_each_import_once_per_folder(tmp_path, monkeypatch):
    """The files of one folder share how their imports resolve: the import-cycle check looks each
    import up once per folder, not once per file that makes it (twelve files making it cost what
    two do)."""
    from unibase import cycles
    from unibase.resolver import Resolver

    looked_up: Counter = Counter()
    real = Resolver.module_file

    def spy(self, from_file, level, module):
        looked_up[(from_file.rpartition("/")[0], level, module)] += 1
        return real(self, from_file, level, module)

    def lookups(n: int) -> int:
        users = {f"app/user_{i}.py": "from app.db import Base\nfrom app import helpers\n" for i in range(n)}
        root = write(tmp_path / str(n), PROJECT | users)
        ix = discover(root)
        resolver = Resolver(ix.modules, ix.facts)
        looked_up.clear()
        monkeypatch.setattr(Resolver, "module_file", spy)
        graph = cycles.import_graph(resolver)
        monkeypatch.setattr(Resolver, "module_file", real)
        assert all(graph[rel] >= {"app/db.py", "app/__init__.py", "app/helpers.py"} for rel in users)
        # what a file runs is the same asked alone
        assert all(cycles.file_edges(resolver, rel) == graph[rel] for rel in graph)
        return looked_up[("app", 0, "app.db")]

    assert lookups(12) == lookups(2) > 0


def test_an_import_of_a_standard_library_name_a_project_module_shadows_reaches_it(tmp_path):
    """Liveness skips the imports whose first name no folder or module of the project has
    (``os``, ``typing``): one whose name a module beside the importer has is followed."""
    root = write(tmp_path, PROJECT | {
        "tools/json.py": "def dumps(value):\n    return str(value)\n",
        "tools/export.py": "import json\nimport os.path\nfrom typing import Any\nfrom json import dumps\n",
    })
    edges, names = import_edges(discover(root))
    assert edges["tools/export.py"] == {"tools/json.py"}
    assert names["tools/json.py"] >= {"*", "dumps"}
    assert "app/helpers.py" in edges["tools/report.py"]
