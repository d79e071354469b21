"""The runner keeps bytes it does not edit: encodings, BOM, line endings, tabs; writes atomically."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from unibase.api import plan_project
from unibase.runner import ApplyError, compute_phases, write_phase
from unibase.settings import load_settings

MAIN = (
    "from sqlalchemy import Column, Integer, String\n"
    "from sqlalchemy.orm import declarative_base\n"
    "\n"
    "Base = declarative_base()\n"
    "\n"
    "\n"
    "class User(Base):\n"
    "    __tablename__ = 'users'\n"
    "    id = Column(Integer, primary_key=True)\n"
    "    name = Column(String)\n"
    "\n"
    "\n"
    "class Group(Base):\n"
    "    __tablename__ = 'groups'\n"
    "    id = Column(Integer, primary_key=True)\n"
)
SECOND = (
    "# -*- coding: {coding} -*-\n"
    "\"\"\"Caf\u00e9 models, {coding}.\"\"\"\n"
    "from sqlalchemy import Column, ForeignKey, Integer\n"
    "from sqlalchemy.orm import declarative_base\n"
    "\n"
    "Base = declarative_base()\n"
    "\n"
    "\n"
    "class Order(Base):\n"
    "\t__tablename__ = 'orders'  # caf\u00e9\n"
    "\tid = Column(Integer, primary_key=True)\n"
    "\tuser_id = Column(Integer, ForeignKey('users.id'))\n"
    "\n"
    "\n"
    "def helper_kept_here():\n"
    "\treturn 'na\u00efve'\n"
)
USER = "from pkg.orders import Order\n\n\ndef count(session):\n    return session.query(Order).count()\n"


def project(tmp_path: Path, *, coding: str, newline: str, bom: bool) -> Path:
    root = tmp_path / "p"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_bytes(b"")
    (root / "pkg" / "models.py").write_bytes(MAIN.replace("\n", newline).encode())
    text = SECOND.format(coding=coding).replace("\n", newline)
    data = text.encode("utf-8" if coding == "utf-8" else coding)
    (root / "pkg" / "orders.py").write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    (root / "pkg" / "use.py").write_bytes(USER.replace("\n", newline).encode())
    return root


@pytest.mark.parametrize("coding, newline, bom", [
    pytest.param("utf-8", "\n", False, id="utf8-lf"),
    pytest.param("utf-8", "\r\n", False, id="utf8-crlf"),
    pytest.param("utf-8", "\n", True, id="utf8-bom"),
    pytest.param("latin-1", "\n", False, id="latin1"),
    pytest.param("cp1252", "\r\n", False, id="cp1252-crlf"),
])
def test_bytes_outside_the_edit_are_kept(tmp_path, coding, newline, bom):
    root = project(tmp_path, coding=coding, newline=newline, bom=bom)
    settings = load_settings(root)
    plan = plan_project(settings)
    phases = compute_phases(root, plan)
    for phase in phases:
        write_phase(root, phase)
    orders = (root / "pkg" / "orders.py").read_bytes()
    models = (root / "pkg" / "models.py").read_bytes()
    enc = "utf-8" if coding == "utf-8" else coding
    assert orders.startswith(b"\xef\xbb\xbf") == bom
    body = orders[3:] if bom else orders
    text = body.decode(enc)
    assert "Caf\u00e9 models" in text and "na\u00efve" in text
    assert "\tid = Column" not in text  # the model left
    assert "def helper_kept_here():" + newline + "\treturn" in text  # tabs kept where nothing moved
    assert text.count("\r\n") == (text.count("\n") if newline == "\r\n" else 0)
    moved = models.decode("utf-8")
    # moved code takes the target module's indentation, comments and non-ASCII text intact
    assert "class Order(Base):" in moved and "    __tablename__ = 'orders'  # caf\u00e9" in moved
    assert (models.count(b"\r\n") > 0) == (newline == "\r\n")
    # the importer now points at the canonical module
    assert b"from pkg.models import Order" in (root / "pkg" / "use.py").read_bytes()
    # a second plan has nothing left to do
    assert plan_project(load_settings(root)).operations == ()


def test_a_failed_write_rolls_the_phase_back(tmp_path):
    root = project(tmp_path, coding="utf-8", newline="\n", bom=False)
    plan = plan_project(load_settings(root))
    phase = compute_phases(root, plan)[0]
    assert [c.path for c in phase.changes] == ["pkg/orders.py", "pkg/models.py"]
    before = (root / "pkg" / "orders.py").read_bytes()
    # the second file of the phase cannot be replaced: it became a directory meanwhile
    (root / "pkg" / "models.py").unlink()
    (root / "pkg" / "models.py").mkdir()
    with pytest.raises(ApplyError, match="rolled back"):
        write_phase(root, phase)
    assert (root / "pkg" / "orders.py").read_bytes() == before
    assert not list(root.rglob(".unibase-*"))


def test_parallel_transforms_give_the_serial_result(monkeypatch, tmp_path):
    import shutil

    from unibase import runner

    fixture = Path(__file__).resolve().parent.parent / "fixtures" / "knowledge_chipper"
    root = tmp_path / "kc"
    shutil.copytree(fixture, root)
    plan = plan_project(load_settings(root))
    monkeypatch.setattr(runner, "PARALLEL_MIN_OPS", 10**6)
    serial = compute_phases(root, plan)
    monkeypatch.setattr(runner, "PARALLEL_MIN_OPS", 2)
    assert any(runner._parallel(p.operations) for p in serial)
    parallel = compute_phases(root, plan)
    assert [(p.step.code, p.changes) for p in parallel] == [(p.step.code, p.changes) for p in serial]


def test_parallel_transform_errors_stop_the_phase(monkeypatch, tmp_path):
    from unibase import runner

    root = project(tmp_path, coding="utf-8", newline="\n", bom=False)
    (root / "pkg" / "use2.py").write_text(USER)
    (root / "pkg" / "use3.py").write_text(USER)
    plan = plan_project(load_settings(root))
    real = runner._reparse

    def fails_on_use3(rel, data, step, before):  # runs in the forked workers too
        if rel.endswith("use3.py"):
            raise ApplyError(f"{step.code} produced code for {rel} that does not parse (injected)")
        real(rel, data, step, before)

    monkeypatch.setattr(runner, "_reparse", fails_on_use3)
    monkeypatch.setattr(runner, "PARALLEL_MIN_OPS", 2)
    with pytest.raises(ApplyError, match="use3.py that does not parse"):
        compute_phases(root, plan)


def test_output_check_uses_the_interpreter_unless_the_input_was_newer():
    from unibase.runner import _reparse
    from unibase.steps import STEPS

    step = STEPS[0]
    _reparse("a.py", b"x = 1\n", step, b"")
    with pytest.raises(ApplyError, match=r"a.py that does not parse \(line 1"):
        _reparse("a.py", b"def f(:\n", step, b"x = 1\n")
    if sys.version_info < (3, 12):
        newer = b"def g[T](a: T) -> T:\n    return a\n"
        _reparse("a.py", newer, step, newer)  # the file was newer than the interpreter before: LibCST decides
        with pytest.raises(ApplyError, match="does not parse"):
            _reparse("a.py", newer, step, b"x = 1\n")  # the step made it so
