"""Duplicate-table decisions a user can take in one command and keep, through the real CLI.

``shop/models.py`` (canonical ``Base``) and ``legacy/models.py`` (``LegacyBase``) both map table
``orders``: the legacy class calls the customer column ``customer_ref`` (the plan suggests renaming
it to the shop's ``customer_id``), has a ``note`` column of its own, and defines ``label()``
differently. ``--prefer`` takes the suggested rename, ``--mode`` chooses keep or union, the winner's
``label()`` wins either way (its uses are marked for review), and the same decision kept under
``[tool.unibase.decisions]`` in ``pyproject.toml`` needs no option at all.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import git, make_project, unibase

FILES = {
    "pyproject.toml": "[project]\nname = 'shop'\n",
    "shop/__init__.py": "",
    "legacy/__init__.py": "",
    "shop/models.py": """\
        from sqlalchemy import Column, Integer, String
        from sqlalchemy.orm import declarative_base

        Base = declarative_base()


        class Order(Base):
            __tablename__ = "orders"
            id = Column(Integer, primary_key=True)
            customer_id = Column(Integer)
            total = Column(Integer)

            def label(self):
                return f"order {self.id}"
        """,
    "legacy/models.py": """\
        from sqlalchemy import Column, Integer, String
        from sqlalchemy.orm import declarative_base

        LegacyBase = declarative_base()


        class Order(LegacyBase):
            __tablename__ = "orders"
            id = Column(Integer, primary_key=True)
            customer_ref = Column(Integer)
            total = Column(Integer)
            note = Column(String(50))

            def label(self):
                return f"legacy order {self.id}"
        """,
    "legacy/report.py": """\
        from legacy.models import Order


        def new_order(customer):
            return Order(customer_ref=customer, total=0)


        def describe(order):
            return order.label()
        """,
    "app.py": """\
        from shop.models import Base
        from legacy.models import LegacyBase
        from legacy.report import new_order  # noqa: F401


        def init(engine):
            Base.metadata.create_all(engine)
            LegacyBase.metadata.create_all(engine)
        """,
}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_project(tmp_path / "proj", FILES)


def orders(root: Path, *args: str) -> dict:
    proc = unibase("plan", str(root), "--json", "--target", "shop/models.py", *args)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    data = json.loads(proc.stdout)
    return next(c for c in data["conflicts"] if c["subject"] == "orders")


def test_prefer_takes_the_suggested_rename_and_the_winners_method(root):
    c = orders(root, "--prefer", "shop/models.py")
    assert c["options"]["decision"] == {"winner": "shop/models.py:Order", "mode": "union",
                                        "renames": [["customer_ref", "customer_id"]]}
    assert "renamed customer_ref -> customer_id" in c["resolution"]
    assert "it gains note" in c["resolution"]
    assert "Order's kept: label" in c["resolution"]


def test_no_renames_and_keep_mode(root):
    c = orders(root, "--prefer", "shop/models.py", "--no-renames")
    assert c["options"]["decision"]["renames"] == []
    assert "it gains customer_ref, note" in c["resolution"]
    c = orders(root, "--prefer", "shop/models.py", "--mode", "keep")
    assert c["options"]["decision"]["mode"] == "keep" and "gains" not in c["resolution"]
    proc = unibase("plan", str(root), "--prefer", "shop/models.py", "--mode", "both")
    assert proc.returncode == 2 and "unknown mode 'both'" in proc.stderr


def test_a_decision_kept_in_pyproject_applies_without_options(root, tmp_path):
    with (root / "pyproject.toml").open("a", encoding="utf-8") as f:
        f.write('\n[tool.unibase]\ntarget = "shop/models.py"\n\n[tool.unibase.decisions.orders]\n'
                'winner = "shop/models.py:Order"\nmode = "keep"\nrenames = [["customer_ref", "customer_id"]]\n')
    git(root, "commit", "-qam", "decide orders")
    c = orders(root)
    assert c["options"]["decision"]["mode"] == "keep" and "renamed customer_ref -> customer_id" in c["resolution"]

    unibase("apply", str(root), "--branch", "merged", check=0)
    merged = tmp_path / "merged"
    git(root, "worktree", "add", "-q", "--detach", str(merged), "merged")
    report = (merged / "legacy/report.py").read_text()
    assert "Order(customer_id=customer, total=0)" in report
    assert "# TODO(unibase): label differs on the deleted legacy/models.py:Order" in report


def test_a_malformed_decision_in_pyproject_is_one_sentence(root):
    with (root / "pyproject.toml").open("a", encoding="utf-8") as f:
        f.write('\n[tool.unibase.decisions.orders]\nwinner = "Order"\n')
    proc = unibase("plan", str(root))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert 'the decision for table orders in [tool.unibase.decisions]' in proc.stderr
    assert 'needs winner = "file:Class"' in proc.stderr
