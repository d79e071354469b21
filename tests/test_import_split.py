"""An import UB002 splits (some names moved, some stay) keeps the module's import order: the
line of the moved names goes to its sorted place in the leading block, the names that stay
where they were (issue 16, item 8). Through the real CLI on a real git repository."""

from __future__ import annotations

from conftest import USERS_AND_TEAMS, git, make_project, unibase

MODELS = USERS_AND_TEAMS
BILLING = '''\
from sqlalchemy import Column, Integer
from sqlalchemy.orm import declarative_base

BillingBase = declarative_base()


class Invoice(BillingBase):
    __tablename__ = "invoices"
    id = Column(Integer, primary_key=True)


def total(invoices):
    return len(invoices)
'''
SERVICE = '''\
import os

from app.billing import Invoice, total
from app.util import label


def report():
    return os.sep, Invoice, total([]), label()
'''


def test_a_split_import_goes_to_its_sorted_place(tmp_path):
    project = make_project(tmp_path / "proj", {
        "app/__init__.py": "",
        "app/models.py": MODELS,
        "app/billing.py": BILLING,
        "app/util.py": "def label():\n    return 'x'\n",
        "app/service.py": SERVICE,
    })
    unibase("apply", str(project), "--strategy", "move", "--branch", "merged", check=0)
    text = git(project, "show", "merged:app/service.py")
    assert text == SERVICE.replace(
        "from app.billing import Invoice, total\n",
        "from app.billing import total\nfrom app.models import Invoice\n"), text
