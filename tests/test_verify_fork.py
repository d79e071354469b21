"""verify's children fork from one server that imported SQLAlchemy and Alembic once, where the
platform forks; elsewhere, or when that server cannot start, each child is started on its own.
Both ways give the same report, crashes and hangs included, and leave no process behind.

Real git repositories, the real child program in real processes; the projects are those of
test_verify.py. Which processes start is seen by watching :class:`subprocess.Popen`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from test_verify import CORE_NEW, CORE_OLD, dedent, make_project, new_files, old_files, with_ghost
from unibase.verify import forks, session, verify_project

CHILD, SERVER = "unibase_verify_child.py", "unibase_verify_forkserver.py"
MODES = ["fork", "separate"]


@pytest.fixture
def started(monkeypatch):
    """The verify programs started as processes (their script names), in order."""
    seen: list[str] = []
    real = subprocess.Popen

    class Watched(real):
        def __init__(self, args, *a, **kw):
            if isinstance(args, list) and len(args) > 1 and str(args[1]).endswith((CHILD, SERVER)):
                seen.append(Path(args[1]).name)
            super().__init__(args, *a, **kw)

    monkeypatch.setattr(subprocess, "Popen", Watched)
    return seen


def verify_in(mode: str, root: Path, monkeypatch, **kwargs):
    with monkeypatch.context() as mp:
        mp.setattr(forks, "FORK", mode == "fork")
        return verify_project(root, **kwargs)


def both_modes(root: Path, monkeypatch, started: list[str], **kwargs):
    """The report of each mode, after checking which processes each one started."""
    reports = {}
    for mode in MODES:
        started.clear()
        reports[mode] = verify_in(mode, root, monkeypatch, **kwargs)
        if mode == "fork":
            assert started == [SERVER], started  # every child forked from the one server
        else:
            assert started and set(started) == {CHILD}, started
    return reports


def with_core(core: str, extra: str) -> dict[str, str]:
    return {"app/models/core.py": dedent(core) + "\n" + dedent(extra)}


@pytest.mark.parametrize("new", [
    pytest.param(new_files(), id="correct-merge"),
    pytest.param(new_files(core=CORE_NEW.replace("String(200)", "String(100)")), id="changed-type"),
    pytest.param({**new_files(), "app/models/blog.py": "from .core import Base as BlogBase, Post\n"},
                 id="changed-shim-fails-to-import"),
    pytest.param(new_files(core=with_ghost(CORE_NEW)), id="mapper-broken-by-the-merge"),
])
def test_the_server_and_separate_children_give_the_same_report(tmp_path, monkeypatch, started, new):
    make_project(tmp_path / "p", old_files(), new)
    reports = both_modes(tmp_path / "p", monkeypatch, started)
    assert reports["fork"] == reports["separate"]
    assert reports["fork"].check("schema").status != "skipped", reports["fork"]


def test_a_probe_of_the_tree_before_the_merge_forks_too(tmp_path, monkeypatch, started):
    """A mapper broken before the merge and after it: the tree before the merge is imported a
    second time (the probe), from the same server, and the failure is pre-existing either way."""
    old = old_files()
    old["app/models/core.py"] = with_ghost(old["app/models/core.py"])
    make_project(tmp_path / "p", old, new_files(core=with_ghost(CORE_NEW)))
    reports = both_modes(tmp_path / "p", monkeypatch, started)
    assert reports["fork"] == reports["separate"]
    assert reports["fork"].check("import").status == "pre-existing", reports["fork"]
    assert started.count(CHILD) == 3  # (separately: the tree before, the merged tree, the probe)


# --- crashes and hangs ------------------------------------------------------------------------------

EXIT_3 = "import os\nos._exit(3)  # ends the process with no result\n"
KILLED = "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n"


@pytest.mark.parametrize("crash, code", [(EXIT_3, 3), (KILLED, -9)], ids=["exit-3", "sigkill"])
def test_a_crash_importing_the_merged_tree_is_reported_as_before(tmp_path, monkeypatch, started, crash, code):
    make_project(tmp_path / "p", old_files(), {**new_files(), **with_core(CORE_NEW, crash)})
    reports = both_modes(tmp_path / "p", monkeypatch, started)
    assert reports["fork"] == reports["separate"]
    check = reports["fork"].check("import")
    assert check.status == "fail" and f"exited with {code}" in check.detail, check
    assert reports["fork"].check("schema").status != "pass"  # no merged metadata was compared


@pytest.mark.parametrize("crash, code", [(EXIT_3, 3), (KILLED, -9)], ids=["exit-3", "sigkill"])
def test_a_crash_importing_the_tree_before_the_merge_is_reported_as_before(tmp_path, monkeypatch, started, crash,
                                                                            code):
    old = {**old_files(), **with_core(CORE_OLD, crash)}
    make_project(tmp_path / "p", old, new_files())
    reports = both_modes(tmp_path / "p", monkeypatch, started)
    assert reports["fork"] == reports["separate"]
    schema = reports["fork"].check("schema")
    assert schema.status == "skipped" and "the child process in the tree at" in schema.detail, schema
    assert f"exited with {code}" in schema.detail
    assert reports["fork"].check("import").status == "pass"


def hang_forever(pids: Path) -> str:
    """A model module that says its process id, then never finishes importing."""
    return (f"import os, pathlib, time\npathlib.Path({str(pids)!r}, str(os.getpid())).write_text('')\n"
            "while True:\n    time.sleep(0.05)\n")


def processes_under(path: Path) -> list[int]:
    """Processes whose command line or working directory is inside ``path``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if str(path) in cmdline or cwd.startswith(str(path)):
            found.append(int(entry.name))
    return found


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.skipif(not Path("/proc/self/cwd").exists(), reason="reads processes from /proc")
@pytest.mark.parametrize("mode", MODES)
def test_hung_imports_time_out_and_their_processes_are_killed(tmp_path, monkeypatch, started, mode):
    """Both trees hang: each child is killed at the timeout (no other timing is involved) and
    the report says so; no process of theirs is left."""
    pids = tmp_path / "pids"
    pids.mkdir()
    make_project(tmp_path / "p", {**old_files(), **with_core(CORE_OLD, hang_forever(pids))},
                 {**new_files(), **with_core(CORE_NEW, hang_forever(pids))})
    monkeypatch.setattr(session, "CHILD_TIMEOUT", 3)
    report = verify_in(mode, tmp_path / "p", monkeypatch)
    assert started == ([SERVER] if mode == "fork" else [CHILD, CHILD]), started
    assert "timed out after 3 s" in report.check("import").detail
    schema = report.check("schema")
    assert schema.status == "skipped" and "timed out after 3 s" in schema.detail, schema
    children = [int(p.name) for p in pids.iterdir()]
    assert children and all(gone(pid) for pid in children), children  # (the second may not have got that far)
    assert processes_under(tmp_path / "p") == []


# --- the fallback -----------------------------------------------------------------------------------


def test_a_server_that_cannot_start_leaves_each_child_on_its_own(tmp_path, monkeypatch, started):
    """An interpreter that will not run the server: the same children, started separately."""
    python = tmp_path / "python"
    python.write_text(f'#!/bin/sh\ncase "$1" in *{SERVER}) echo "no server here" >&2; exit 1;; esac\n'
                      f'exec {sys.executable} "$@"\n')
    python.chmod(0o755)
    core = CORE_NEW.replace("String(200)", "String(100)")
    make_project(tmp_path / "p", old_files(), new_files(core=core))
    report = verify_in("fork", tmp_path / "p", monkeypatch, python=str(python))
    assert started[0] == SERVER and started[1:] == [CHILD, CHILD], started
    separate = verify_in("separate", tmp_path / "p", monkeypatch, python=str(python))
    assert report == separate
    assert "modify_type posts.title: VARCHAR(200) -> VARCHAR(100)" in report.check("schema").detail


def test_a_relative_pythonpath_keeps_each_child_on_its_own(tmp_path, monkeypatch, started):
    """Each child resolves a relative PYTHONPATH entry in its own tree, which a fork from one
    server cannot: those children start separately."""
    make_project(tmp_path / "p", old_files(), new_files())
    monkeypatch.setenv("PYTHONPATH", "src")
    report = verify_in("fork", tmp_path / "p", monkeypatch)
    assert started == [CHILD, CHILD], started
    assert report.ok, report


# --- interruptions ----------------------------------------------------------------------------------


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + 300  # a safety net for a hung run, not a timing assumption
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


@pytest.mark.skipif(not Path("/proc/self/cwd").exists(), reason="reads processes from /proc")
@pytest.mark.parametrize("sig, group", [(signal.SIGINT, True), (signal.SIGTERM, True), (signal.SIGTERM, False),
                                        (signal.SIGKILL, False)],
                         ids=["ctrl-c", "sigterm-to-the-group", "sigterm-to-unibase", "sigkill-to-unibase"])
def test_an_interrupted_verify_leaves_no_process(tmp_path, sig, group):
    """Both children are inside the project's imports when unibase (or its whole process group,
    as a terminal signals it) is interrupted: the server and every child end."""
    pids = tmp_path / "pids"
    pids.mkdir()
    project = tmp_path / "p"
    make_project(project, {**old_files(), **with_core(CORE_OLD, hang_forever(pids))},
                 {**new_files(), **with_core(CORE_NEW, hang_forever(pids))})
    proc = subprocess.Popen([sys.executable, "-m", "unibase", "verify", str(project)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        wait_for(lambda: len(list(pids.iterdir())) == 2 or proc.poll() is not None, "the children never started")
        assert proc.poll() is None, proc.communicate()
        children = [int(p.name) for p in pids.iterdir()]
        assert all(pid in processes_under(project) for pid in children)
        if group:
            os.killpg(proc.pid, sig)
        else:
            os.kill(proc.pid, sig)
        proc.communicate(timeout=300)
        wait_for(lambda: not processes_under(project), f"left running: {processes_under(project)}")
        if sig == signal.SIGINT:
            assert proc.returncode == 130
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_the_server_needs_only_the_standard_library_and_imports_sqlalchemy_and_alembic_by_name():
    """The server runs by path in the project's interpreter, where unibase is not installed; what
    it imports before forking is SQLAlchemy and Alembic, never a module of the project."""
    import ast

    from unibase.verify import forkserver

    tree = ast.parse(Path(forkserver.__file__).read_text(encoding="utf-8"))
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert imported <= set(sys.stdlib_module_names), imported - set(sys.stdlib_module_names)
    assert {name.split(".")[0] for name in forkserver.PRELOAD} <= {"sqlalchemy", "alembic", "sqlite3"}
