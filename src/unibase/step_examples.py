"""The example of every step: two small projects and what each step's phase changes in them.

``steps.py`` gives each step its part; ``tests/test_steps.py`` plans each project and runs the
real codemods on it, and checks that the step's phase changes exactly these files from exactly
these texts to exactly these texts; ``unibase explain UB00x`` prints them. Changing what a step
does therefore means changing its example here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping


@dataclass(frozen=True)
class Example:
    """A project, and the files the step's phase changes in it: ``before`` as earlier phases left
    a file (when they changed it; else it is the project's file), ``after`` as the phase leaves
    it. A file the step creates is shown by an excerpt (``excerpt``): the new file holds it.
    ``context`` names project files that explain shows first, as what leads to the change."""

    project: Mapping[str, str]
    after: Mapping[str, str]
    before: Mapping[str, str] = field(default_factory=dict)
    excerpt: bool = False
    context: tuple[str, ...] = ()

    def file_before(self, rel: str) -> str:
        return self.before.get(rel, self.project.get(rel, ""))


# --- app: a second base (billing) to merge into app/models.py -----------------------------------

APP_MODELS = '''\
from sqlalchemy import Column, Integer, String
from sqlalchemy.orm import declarative_base, relationship

from .domain import Service

Base = declarative_base()


class User(Base):
    __tablename__ = "users"
    id = Column(Integer, primary_key=True)
    name = Column(String)
    invoices = relationship("app.billing.Invoice")

    def served_by(self, service: Service) -> str:
        return service.name
'''

# a domain layer: merged, app.billing imports app.models, which imports this module
APP_DOMAIN = '''\
from .billing import Invoice


class Service:
    name = "billing"

    def total(self, invoice: Invoice) -> int:
        return invoice.id
'''

APP_BILLING = '''\
from sqlalchemy import Column, ForeignKey, Integer
from sqlalchemy.orm import declarative_base

BillingBase = declarative_base()


class Invoice(BillingBase):
    __tablename__ = "invoices"
    id = Column(Integer, primary_key=True)
    user_id = Column(Integer, ForeignKey("users.id"))
'''

APP_SERVICE = '''\
from .billing import BillingBase, Invoice
from .models import Base


def setup(engine):
    Base.metadata.create_all(engine)
    BillingBase.metadata.create_all(engine)
    return Invoice
'''

APP_WEB = '''\
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()
'''

APP = MappingProxyType({
    "pyproject.toml": '[tool.unibase]\ntarget = "app/models.py"\n',
    "app/__init__.py": "",
    "app/models.py": APP_MODELS,
    "app/billing.py": APP_BILLING,
    "app/domain.py": APP_DOMAIN,
    "app/service.py": APP_SERVICE,
    "app/web.py": APP_WEB,
})

APP_MODELS_MERGED = APP_MODELS.replace("Column, Integer, String\n", "Column, ForeignKey, Integer, String\n", 1) + '''

# --- moved from app/billing.py by unibase (UB001) ---
class Invoice(Base):
    __tablename__ = "invoices"
    id = Column(Integer, primary_key=True)
    user_id = Column(Integer, ForeignKey("users.id"))
'''

APP_SERVICE_UNIFIED = '''\
from .models import Base, Invoice


def setup(engine):
    Base.metadata.create_all(engine)
    Base.metadata.create_all(engine)
    return Invoice
'''

MERGE_MODELS = Example(APP, after={
    "app/billing.py": '''\
# These names now live in app/models.py; re-exported so old imports keep working (unibase).
from .models import Base as BillingBase, Invoice

__all__ = ["BillingBase", "Invoice"]
''',
    "app/models.py": APP_MODELS_MERGED,
})

# the domain layer's import of Service would close app.billing -> app.models -> app.domain ->
# app.billing at run time; only an annotation uses it, so it goes under TYPE_CHECKING
APP_MODELS_DEFERRED = "from typing import TYPE_CHECKING\n\n" + APP_MODELS_MERGED.replace(
    "\nfrom .domain import Service\n", "\nif TYPE_CHECKING:\n    from .domain import Service\n", 1).replace(
    "service: Service)", 'service: "Service")', 1)

REWRITE_IMPORTS = Example(APP, before={"app/models.py": APP_MODELS_MERGED}, after={
    "app/domain.py": APP_DOMAIN.replace("from .billing import", "from .models import", 1),
    "app/models.py": APP_MODELS_DEFERRED,
    "app/service.py": APP_SERVICE_UNIFIED,
})

REWRITE_STRINGS = Example(
    APP,
    before={"app/models.py": APP_MODELS_DEFERRED},
    after={"app/models.py": APP_MODELS_DEFERRED.replace('"app.billing.Invoice"', '"app.models.Invoice"')},
)

COLLAPSE_METADATA = Example(
    APP,
    before={"app/service.py": APP_SERVICE_UNIFIED},
    after={"app/service.py": APP_SERVICE_UNIFIED.replace("    Base.metadata.create_all(engine)\n", "", 1)},
)

UNIFY_FLASK_MODEL = Example(APP, after={"app/web.py": '''\
from flask_sqlalchemy import SQLAlchemy

from .models import Base

db = SQLAlchemy(model_class=Base)
'''})


# --- shop: table orders defined twice, the decision kept in pyproject.toml ----------------------

SHOP_REPORT = '''\
from .legacy import Order


def new_order(customer):
    order = Order(customer_ref=customer)
    print(order.customer_ref)
    return order


def show(order):
    return order.customer_ref
'''

SHOP = MappingProxyType({
    "pyproject.toml": '''\
[tool.unibase]
target = "shop/models.py"

[tool.unibase.decisions.orders]
winner = "shop/models.py:Order"
renames = [["customer_ref", "customer_id"]]
''',
    "shop/__init__.py": "",
    "shop/models.py": '''\
from sqlalchemy import Column, Integer, String
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class Order(Base):
    __tablename__ = "orders"
    id = Column(Integer, primary_key=True)
    customer_id = Column(Integer)
''',
    "shop/legacy.py": '''\
from sqlalchemy import Column, Integer, String
from sqlalchemy.orm import declarative_base

LegacyBase = declarative_base()


class Order(LegacyBase):
    __tablename__ = "orders"
    id = Column(Integer, primary_key=True)
    customer_ref = Column(Integer)
    note = Column(String(50))
''',
    "shop/report.py": SHOP_REPORT,
})

RENAME_COLUMNS = Example(
    SHOP,
    context=("pyproject.toml",),
    before={"shop/report.py": SHOP_REPORT.replace("from .legacy", "from .models")},
    after={"shop/report.py": '''\
from .models import Order


def new_order(customer):
    order = Order(customer_id=customer)
    print(order.customer_id)
    return order


def show(order):
    # TODO(unibase): customer_ref is now customer_id
    return order.customer_ref
'''},
)

WRITE_MIGRATION = Example(SHOP, excerpt=True, context=("shop/models.py", "shop/legacy.py"), after={"migrations/unibase_c2e3fe31e381_merge_orders.py": '''\
    if orders.exists:
        with op.batch_alter_table("orders") as batch:
            if orders.should_rename("customer_ref", "customer_id"):
                batch.alter_column("customer_ref", new_column_name="customer_id")
            if orders.lacks("customer_id"):
                batch.add_column(sa.Column("customer_id", sa.Integer(), nullable=True))
            if orders.lacks("note"):
                batch.add_column(sa.Column("note", sa.String(50), nullable=True))
'''})
