"""Planning parts on tiny projects, asserted as operation lists (nothing is applied or imported).

Each test reads one part of :mod:`unibase.planning`: what moves with what, duplicates, rebase,
the order of moves, imports, strings, collapse, the anonymous canonical base, and the one
source cache."""

from __future__ import annotations

import collections
import inspect
from pathlib import Path

import pytest
from conftest import write_files

from unibase.check import scan
from unibase.plan import (
    CollapseMetadataCalls,
    ExtractBase,
    MergeDuplicate,
    ModuleSpelling,
    MoveModels,
    RebaseBase,
    Rename,
    RewriteImports,
    RewriteStrings,
    WriteMigration,
)
from unibase.planning import make_plan
from unibase.settings import Settings

BASE = """
from sqlalchemy import Column, Integer, String
from sqlalchemy.orm import DeclarativeBase, relationship


class {name}(DeclarativeBase):
    pass
"""

WIDGETS = """

class Widget(Base):
    __tablename__ = "widget"
    id = Column(Integer, primary_key=True)
    name = Column(String(20))


class Gadget(Base):
    __tablename__ = "gadget"
    id = Column(Integer, primary_key=True)


class Part(Base):
    __tablename__ = "part"
    id = Column(Integer, primary_key=True)
"""

INVOICE = """
from sqlalchemy import Column, Integer
from billing.db import BillingBase


class Invoice(BillingBase):
    __tablename__ = "invoice"
    id = Column(Integer, primary_key=True)
"""

# a class on billing's base that maps app's table ``widget`` as app does
THING = """
from sqlalchemy import String


class Thing(BillingBase):
    __tablename__ = "widget"
    id = Column(Integer, primary_key=True)
    name = Column(String(20))
"""


def project(tmp_path: Path, **extra: str) -> Path:
    """``app/db.py`` (the canonical base, three models) and ``billing`` (a base, one model), plus
    ``extra`` files (``billing__models_py`` spells ``billing/models.py``)."""
    files = {
        "app/__init__.py": "",
        "app/db.py": BASE.format(name="Base") + WIDGETS,
        "billing/__init__.py": "",
        "billing/db.py": BASE.format(name="BillingBase"),
        "billing/models.py": INVOICE,
    }
    files.update({k.replace("__", "/").replace("_py", ".py"): v for k, v in extra.items()})
    return write_files(tmp_path, files)


def plan_of(root: Path, **settings):
    s = Settings(root=root, **settings)
    return make_plan(scan(s), s)


def kinds(plan) -> list[str]:
    return [type(op).__name__ for op in plan.operations]


def test_moves_one_operation_per_file_then_imports(tmp_path):
    root = project(tmp_path, billing__service_py="from billing.models import Invoice\n")
    plan = plan_of(root, strategy="move")
    assert kinds(plan) == ["MoveModels", "MoveModels", "RewriteImports", "RewriteImports"]
    base_move, invoice_move = plan.operations[:2]
    assert (base_move.source, base_move.classes, base_move.target) == ("billing/db.py", (), "app/db.py")
    assert (invoice_move.source, invoice_move.classes, invoice_move.target_base) == (
        "billing/models.py", ("Invoice",), "Base")
    assert plan.operations[3] == RewriteImports(
        file="billing/service.py",
        spellings=(ModuleSpelling(0, "billing.models", "billing/models.py", 0, "app.db"),),
        renames=(Rename("billing/models.py", "Invoice", "app/db.py", "Invoice"),),
        base_names=("Base", "BillingBase"), canonical_name="Base")
    assert plan.conflicts == ()


def test_rebase_keeps_every_class_in_place(tmp_path):
    rebase = RebaseBase(file="billing/db.py", name="BillingBase", target="app/db.py", target_name="Base",
                        import_from="app.db", import_level=0)
    # billing/db.py keeps a helper: importing it may be what maps its models, so its importers stay
    root = project(tmp_path, billing__db_py=BASE.format(name="BillingBase") + "\n\nSCHEMA = 'billing'\n")
    assert plan_of(root, strategy="rebase").operations == (rebase,)
    # a module that holds nothing but the base becomes a shim: its importers import the canonical base
    plan = plan_of(project(tmp_path / "only_the_base"), strategy="rebase")
    assert kinds(plan) == ["RebaseBase", "RewriteImports"] and plan.operations[0] == rebase
    assert plan.operations[1].file == "billing/models.py"
    assert plan.operations[1].renames == (Rename("billing/db.py", "BillingBase", "app/db.py", "Base"),)


def test_a_class_name_taken_in_the_target_moves_renamed(tmp_path):
    root = project(tmp_path, billing__models_py=INVOICE + '''

class Gadget(BillingBase):
    __tablename__ = "billing_gadget"
    id = Column(Integer, primary_key=True)
''')
    plan = plan_of(root, strategy="move")
    move = next(op for op in plan.operations if isinstance(op, MoveModels) and op.classes)
    assert move.classes == ("Invoice", "Gadget")
    assert move.renames == (("Gadget", "ModelsGadget"),) and move.string_renames == move.renames
    assert [(c.kind, c.subject) for c in plan.conflicts] == [("class-name-collision", "Gadget")]


def test_an_identical_duplicate_is_dropped_for_the_kept_class(tmp_path):
    root = project(tmp_path, billing__models_py=INVOICE + THING)
    plan = plan_of(root, strategy="move")
    move = next(op for op in plan.operations if isinstance(op, MoveModels) and op.source == "billing/models.py")
    assert move.classes == ("Invoice",)
    assert move.drop == (("Thing", "Widget", "app.db", 0),)
    assert [(c.kind, c.subject) for c in plan.conflicts] == [("identical-duplicate-table", "widget")]


def test_a_decided_duplicate_merges_members_and_writes_a_migration(tmp_path):
    root = project(tmp_path, billing__models_py=INVOICE + THING + "    code = Column(String(5))\n")
    undecided = plan_of(root, strategy="move")
    assert not any(isinstance(op, (MergeDuplicate, WriteMigration)) for op in undecided.operations)
    assert [(c.kind, c.resolution) for c in undecided.conflicts] == [("duplicate-table", None)]
    plan = plan_of(root, strategy="move", prefer=("app/db.py",))
    assert kinds(plan)[0] == "MergeDuplicate" and kinds(plan)[-1] == "WriteMigration"
    merged = plan.operations[0]
    assert (merged.file, merged.class_name, merged.table) == ("app/db.py", "Widget", "widget")
    assert merged.statements == ("code = Column(String(5))\n",)
    assert plan.conflicts[0].resolution.startswith("keep app/db.py:Widget (union); it gains code")


def test_moves_run_after_the_moves_that_place_what_they_need(tmp_path):
    # billing's models import Product from shop; billing merges first, so its move must wait
    root = project(tmp_path, billing__models_py=INVOICE.replace(
        "from billing.db", "from shop.models import Product\nfrom billing.db").replace(
        "primary_key=True)", "primary_key=True)\n    product = relationship(Product)").replace(
        "import Column, Integer", "import Column, Integer\nfrom sqlalchemy.orm import relationship"),
        shop__init___py="", shop__models_py=BASE.format(name="ShopBase") + '''

class Product(ShopBase):
    __tablename__ = "product"
    id = Column(Integer, primary_key=True)
''')
    plan = plan_of(root, strategy="move")
    moves = [op.source for op in plan.operations if isinstance(op, MoveModels)]
    assert moves.index("shop/models.py") < moves.index("billing/models.py")
    billing = next(op for op in plan.operations if isinstance(op, MoveModels) and op.source == "billing/models.py")
    assert "Product" not in " ".join(billing.imports)  # placed in the target by shop's move


def test_strings_naming_a_moved_class_by_module_follow_it(tmp_path):
    root = project(tmp_path, app__db_py=BASE.format(name="Base") + WIDGETS + '''

class Order(Base):
    __tablename__ = "order"
    id = Column(Integer, primary_key=True)
    invoice = relationship("billing.models.Invoice")
''')
    plan = plan_of(root, strategy="move")
    assert [op for op in plan.operations if isinstance(op, RewriteStrings)] == [
        RewriteStrings("app/db.py", (("billing.models.Invoice", "app.db.Invoice"),))]


def test_create_all_once_per_base_collapses(tmp_path):
    root = project(tmp_path, main_py='''
from app.db import Base
from billing.db import BillingBase


def setup(engine):
    Base.metadata.create_all(engine)
    BillingBase.metadata.create_all(engine)
''')
    plan = plan_of(root, strategy="move")
    assert [op for op in plan.operations if isinstance(op, CollapseMetadataCalls)] == [
        CollapseMetadataCalls("main.py", ("Base", "BillingBase"), 1)]


def test_an_anonymous_canonical_base_is_named_first(tmp_path):
    root = project(tmp_path, app__db_py='''
from sqlalchemy import Column, Integer
from sqlalchemy.orm import declarative_base


class BaseModel(declarative_base()):
    __abstract__ = True
    id = Column(Integer, primary_key=True)


class Widget(BaseModel):
    __tablename__ = "widget"


class Gadget(BaseModel):
    __tablename__ = "gadget"


class Part(BaseModel):
    __tablename__ = "part"
''')
    plan = plan_of(root, strategy="move")
    assert plan.operations[0] == ExtractBase(file="app/db.py", class_name="BaseModel", new_name="Base")
    assert {op.target_base for op in plan.operations if isinstance(op, MoveModels)} == {"Base"}
    assert [w.code for w in plan.warnings] == ["W015"]


@pytest.mark.parametrize("strategy", ["move", "rebase"])
def test_planning_reads_each_file_at_most_once(tmp_path, monkeypatch, strategy):
    """Planning's own reads go through one cache (discovery and the role evidence read before it)."""
    root = project(tmp_path, billing__models_py=INVOICE + THING + "    code = Column(String(5))\n",
                   main_py="from app.db import Base\nfrom billing.db import BillingBase\n\n"
                   "Base.metadata.create_all(None)\nBillingBase.metadata.create_all(None)\n")
    settings = Settings(root=root, strategy=strategy, prefer=("app/db.py",))
    index = scan(settings)
    reads: collections.Counter[str] = collections.Counter()
    for method in ("read_bytes", "read_text"):
        original = getattr(Path, method)

        def counted(self, *args, original=original, **kwargs):
            caller = inspect.currentframe().f_back.f_globals.get("__name__", "")
            if caller.startswith("unibase.planning"):
                reads[str(self)] += 1
            return original(self, *args, **kwargs)

        monkeypatch.setattr(Path, method, counted)
    plan = make_plan(index, settings)
    assert plan.operations and reads
    assert {f: n for f, n in reads.items() if n > 1} == {}
