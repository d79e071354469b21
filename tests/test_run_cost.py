"""What a real run costs beyond reading the tree (``check`` after an edit, as a pre-commit hook
meets it): files are read in few calls, and the cyclic garbage collector walks what discovery and
planning made neither after them nor when the command's process ends."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import write_files
from unibase.check import scan
from unibase.reading import read_file
from unibase.settings import load_settings

MODELS = (
    "from sqlalchemy import Column, Integer\n"
    "from sqlalchemy.orm import declarative_base\n\n"
    "Base = declarative_base()\n\n\n"
    "class Widget(Base):\n"
    "    __tablename__ = 'widgets'\n"
    "    id = Column(Integer, primary_key=True)\n"
)


def project(root: Path) -> Path:
    return write_files(root, {
        "app/__init__.py": "",
        "app/models.py": MODELS,
        "app/billing.py": MODELS.replace("Widget", "Invoice").replace("widgets", "invoices"),
        "app/views.py": "from app.models import Widget\n\n\ndef show(w: Widget) -> str:\n    return str(w.id)\n",
    })


@pytest.mark.parametrize("size", [0, 1, 4095, 4096, 3 * 1024 * 1024 + 7])
def test_read_file_reads_every_byte(tmp_path, size):
    data = bytes(i % 251 for i in range(size))
    (tmp_path / "x.py").write_bytes(data)
    assert read_file(str(tmp_path / "x.py")) == data


def test_read_file_fails_as_open_does(tmp_path):
    (tmp_path / "folder.py").mkdir()
    (tmp_path / "dangling.py").symlink_to(tmp_path / "nowhere.py")
    for name in ("folder.py", "dangling.py", "missing.py"):
        with pytest.raises(OSError) as read_error:
            read_file(str(tmp_path / name))
        with pytest.raises(OSError) as open_error:
            (tmp_path / name).read_bytes()
        assert (type(read_error.value), read_error.value.strerror) == (type(open_error.value), open_error.value.strerror)


@pytest.mark.parametrize("one_command", [True, False])
def test_what_a_scan_made_is_left_in_the_oldest_generation_by_a_command(tmp_path, monkeypatch, one_command):
    """In a process that runs one command, the young generations' next collections do not walk
    the index (on a large tree, hundreds of thousands of objects): it is moved to the oldest
    generation unvisited. A process that goes on (an API user, a test session) keeps the
    collector's own ageing: what lived beside the scan is not moved where garbage waits longest."""
    from unibase import process

    monkeypatch.setattr(process, "one_command", one_command)
    root = project(tmp_path / "proj")
    assert gc.isenabled()
    gc.collect()  # no collection of the middle generation is due: only the move can age the index
    index = scan(load_settings(root))
    oldest = {id(o) for o in gc.get_objects(generation=2)}
    facts = list(index.facts.values())
    assert facts and all(gc.is_tracked(f) for f in facts)
    assert all(id(f) in oldest for f in facts) is one_command
    assert gc.isenabled()


@pytest.mark.parametrize("entry", ["from unibase.cli import app\napp(ARGS, prog_name='unibase')\n",
                                   "import sys\nsys.argv[1:] = ARGS\nfrom unibase.launch import main\nmain()\n"],
                         ids=["typer", "launch"])
def test_a_command_s_objects_are_frozen_when_its_process_ends(tmp_path, entry):
    """The interpreter's last collection at exit skips what the command made (frozen): the
    process frees it all anyway. The same for ``check`` without Typer's parsing (unibase.launch)."""
    root = project(tmp_path / "proj")
    code = ("import atexit, gc\n"
            # registered before the command runs, so run after what it registers at exit
            "atexit.register(lambda: print('frozen at exit:', gc.get_freeze_count() > 0))\n"
            + entry.replace("ARGS", repr(["check", "--no-cache", str(root)])))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "NO_COLOR": "1"}, stdin=subprocess.DEVNULL)
    assert proc.returncode == 1, proc.stderr  # two bases in scope: one finding
    assert "UB101" in proc.stdout
    assert proc.stdout.splitlines()[-1] == "frozen at exit: True"


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd to count open files")
def test_apply_in_process_leaves_no_pipe_open(tmp_path):
    """What apply asks git through GitPython (a ``git cat-file`` process and its pipes per
    repository object) is closed when the command ends, not when the garbage collector finds the
    repository: a process that runs many commands (an API user, a test session; the collector
    may be off, or leave long-lived objects for long) must not run out of file descriptors."""
    from typer.testing import CliRunner

    from conftest import make_repo
    from unibase.cli import app

    root = project(tmp_path / "proj")
    make_repo(root)
    before = set(os.listdir("/proc/self/fd"))
    enabled = gc.isenabled()
    gc.disable()
    try:
        for branch in ("merged", "again"):
            result = CliRunner().invoke(app, ["apply", "--no-verify", "--branch", branch, str(root)])
            assert result.exit_code == 0, result.output
        leaked = {fd: os.readlink(f"/proc/self/fd/{fd}") for fd in set(os.listdir("/proc/self/fd")) - before
                  if os.path.exists(f"/proc/self/fd/{fd}")}
    finally:
        if enabled:
            gc.enable()
    assert not {fd: target for fd, target in leaked.items() if target.startswith("pipe:")}
