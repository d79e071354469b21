"""The CLI server (tests/cli_server.py) the suite's ``unibase(...)`` calls run in: each call's
exit status, stdout and stderr are those of a fresh ``python -m unibase`` process, byte for byte."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

import cli_server
from conftest import USERS_AND_TEAMS, make_project

BILLING = """\
from sqlalchemy import Column, ForeignKey, Integer
from sqlalchemy.orm import declarative_base

BillingBase = declarative_base()


class Invoice(BillingBase):
    __tablename__ = "invoices"
    id = Column(Integer, primary_key=True)
    user_id = Column(Integer, ForeignKey("users.id"))
"""

# a second definition of "teams" with another column: a conflict plan and check report (exit 1)
DUPLICATE = """\
from sqlalchemy import Column, Integer, String
from sqlalchemy.orm import declarative_base

NotesBase = declarative_base()


class Team(NotesBase):
    __tablename__ = "teams"
    id = Column(Integer, primary_key=True)
    name = Column(String(40))
"""


def env() -> dict[str, str]:
    return {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}


def both(module: str, args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
    """The same call in a child of the server and as a plain subprocess (the server's first)."""
    served = len(cli_server.fallbacks)
    child = cli_server.run_module(module, args, cwd, env())
    assert len(cli_server.fallbacks) == served, f"ran as a plain subprocess: {cli_server.fallbacks[-1]}"
    fresh = subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, capture_output=True, text=True, env=env(),
                           stdin=subprocess.DEVNULL)
    return child, fresh


def assert_same(child: subprocess.CompletedProcess, fresh: subprocess.CompletedProcess) -> None:
    assert (child.args, child.returncode, child.stdout, child.stderr) == (fresh.args, fresh.returncode, fresh.stdout,
                                                                           fresh.stderr)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "p", {"app/__init__.py": "", "app/models.py": USERS_AND_TEAMS,
                                         "app/billing.py": BILLING, "app/notes.py": DUPLICATE})


@pytest.mark.parametrize("args, code", [
    pytest.param(["--version"], 0, id="version"),
    pytest.param(["--help"], 0, id="help"),
    pytest.param(["plan", "."], 1, id="plan-with-a-conflict"),
    pytest.param(["plan", "--json", "."], 1, id="plan-json"),
    pytest.param(["plan", "--prefer", "app/models.py", "."], 0, id="plan-decided"),
    pytest.param(["check", "."], 1, id="check-findings"),
    pytest.param(["check", "--output-format", "json", "."], 1, id="check-json"),
    pytest.param(["apply", "--dry-run", "--prefer", "app/models.py", "."], 0, id="apply-dry-run"),
    pytest.param(["plan", "--strategy", "sideways", "."], 2, id="bad-option"),
    pytest.param(["plan", "--target", "app/nowhere.py", "."], 2, id="bad-target"),
    pytest.param(["frobnicate"], 2, id="no-such-command"),
])
def test_a_command_in_the_server_is_the_command_in_a_fresh_process(project, args, code):
    child, fresh = both("unibase", args, project)
    assert fresh.returncode == code, fresh.stderr
    assert child.stdout or child.stderr
    assert_same(child, fresh)


def test_apply_in_the_server_commits_what_a_fresh_process_commits(project, tmp_path):
    """A real apply (git commits made by grandchildren, verification children): the same output,
    and the same tree on the branch, as a fresh process applying the same project."""
    other = make_project(tmp_path / "q", {"app/__init__.py": "", "app/models.py": USERS_AND_TEAMS,
                                          "app/billing.py": BILLING})
    (project / "app/notes.py").unlink()
    subprocess.run(["git", "commit", "-qam", "one conflict less"], cwd=project, check=True, env={
        **os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t"})
    args = ["apply", "--branch", "merged", "."]
    served = len(cli_server.fallbacks)
    child = cli_server.run_module("unibase", args, project, env())
    assert len(cli_server.fallbacks) == served
    fresh = subprocess.run([sys.executable, "-m", "unibase", *args], cwd=other, capture_output=True, text=True,
                           env=env(), stdin=subprocess.DEVNULL)
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    # the two projects differ only in their directory and their commits' ids, which the output names
    def same(text: str, root: Path) -> str:
        return re.sub(r"\b[0-9a-f]{10}\b", "COMMIT", text.replace(str(root), "P"))

    assert (child.returncode, same(child.stdout, project), same(child.stderr, project)) == (
        fresh.returncode, same(fresh.stdout, other), same(fresh.stderr, other))
    tree = ["git", "rev-parse", "merged^{tree}"]
    assert subprocess.run(tree, cwd=project, capture_output=True, text=True).stdout == \
        subprocess.run(tree, cwd=other, capture_output=True, text=True).stdout


PROBES = {
    "crash": "raise RuntimeError('boom')\n",
    "exit_text": "import sys\nprint('out')\nsys.exit('a message')\n",
    "exit_code": "import sys\nsys.exit(3)\n",
    "exit_large": "raise SystemExit(258)\n",
    "interrupt": "raise KeyboardInterrupt\n",
    "killed": "import os, signal\nprint('before', flush=True)\nos.kill(os.getpid(), signal.SIGKILL)\n",
    "unflushed": "import sys\nsys.stdout.write('no newline, never flushed')\nsys.stderr.write('err')\n",
    "newlines": "import sys\nsys.stdout.buffer.write(b'a\\r\\nb\\rc\\n')\n",
    "grandchildren": ("import subprocess\nprint('mine', flush=True)\n"
                      "subprocess.run(['sh', '-c', 'echo out; echo err >&2; git --version'])\n"),
    "at_exit": textwrap.dedent("""\
        import atexit, threading
        atexit.register(print, 'atexit ran')
        go = threading.Event()
        threading.Thread(target=lambda: go.wait() and print('thread ran')).start()
        print('main done')
        go.set()  # the interpreter waits for the thread, then runs the atexit functions
    """),
    "process": textwrap.dedent("""\
        import os, sys
        import __main__
        print(sys.argv[1:], sys.orig_argv[1:], sys.argv[0] == __file__, sys.path[0] == os.getcwd())
        print(__name__, __spec__.name, sorted(k for k in vars(__main__) if k.startswith('__')))
        print(os.getcwd(), repr(sys.stdin.read()), sys.stdin.isatty(), sys.stdout.isatty())
        print(sys.stdout.encoding, sys.stdout.errors, sys.stdout.line_buffering, sys.stderr.errors,
              sys.stderr.line_buffering, sys.stdout.write_through, sys.stderr.write_through,
              type(sys.stdout.buffer).__name__, sys.stdout.name, sys.stderr.mode, sys.stdin.name)
        print(sorted(k for k in os.environ if not k.startswith('PYTEST_')))
    """),
}


@pytest.mark.parametrize("name", sorted(PROBES))
def test_how_a_process_starts_and_ends_is_that_of_a_fresh_one(name, tmp_path):
    """Exit statuses as the interpreter computes them (a traceback and 1, SystemExit's codes,
    death by a signal as -signum), output of grandchildren, atexit and threads, argv and paths."""
    (tmp_path / f"probe_{name}.py").write_text(PROBES[name])
    assert_same(*both(f"probe_{name}", ["an", "argument"], tmp_path))


MODULES = """\
import runpy, sys
sys.argv = ["unibase", *sys.argv[1:]]
try:
    runpy.run_module("unibase", run_name="__main__")
except SystemExit:
    pass
print(*sorted(sys.modules), sep="\\n", file=sys.stderr)
"""


@pytest.mark.parametrize("args", [
    pytest.param([], id="nothing-run"),
    pytest.param(["--version"], id="version"),
    pytest.param(["check", "--no-cache", "{p}"], id="check"),
    pytest.param(["plan", "--json", "--no-cache", "{p}"], id="plan"),
    pytest.param(["apply", "--dry-run", "--no-cache", "--prefer", "{p}/app/models.py", "{p}"], id="apply-dry-run"),
])
def test_a_child_has_the_modules_a_fresh_process_has(project, tmp_path, args):
    """The server's modules are out of sys.modules until a child imports them, and then come
    back with what importing them brings: a command sees the sys.modules of a fresh process
    (``unibase.meaning`` follows only names of modules the process has imported). Without the
    cache: the second call would reuse the first's plan or output (``unibase.memo``) and import less."""
    probe = tmp_path / "probe"
    probe.mkdir()
    (probe / "probe_modules.py").write_text(MODULES if args else "import sys\nprint(*sorted(sys.modules), sep='\\n')\n")
    child, fresh = both("probe_modules", [a.format(p=project) for a in args], probe)
    assert len((child.stdout + child.stderr).splitlines()) > (200 if args else 30)
    assert_same(child, fresh)


def test_the_environment_of_each_call_reaches_the_child(project, tmp_path, monkeypatch):
    cli_server.run_module("unibase", ["--version"], project, env())  # the server is up
    (tmp_path / "probe_env.py").write_text("import os\nprint(os.environ.get('UNIBASE_PROBE'))\n")
    monkeypatch.setenv("UNIBASE_PROBE", "set after the server started")
    child, fresh = both("probe_env", [], tmp_path)
    assert child.stdout == "set after the server started\n"
    assert_same(child, fresh)
    # unibase itself reads it: its fact cache goes where the environment now says
    monkeypatch.setenv("UNIBASE_CACHE_DIR", str(tmp_path / "later-cache"))
    child, fresh = both("unibase", ["check", "."], project)
    assert_same(child, fresh)
    assert any((tmp_path / "later-cache").iterdir())


def test_a_variable_read_at_import_time_that_differs_runs_a_fresh_process(project, monkeypatch):
    """Rich's consoles are made at import time from FORCE_COLOR, NO_COLOR, COLUMNS...: a call with
    another value than the server imported with cannot use its consoles."""
    cli_server.run_module("unibase", ["--version"], project, env())  # the server is up
    monkeypatch.setenv("FORCE_COLOR", "1")
    served = len(cli_server.fallbacks)
    child = cli_server.run_module("unibase", ["plan", "."], project, env())
    assert cli_server.fallbacks[served:] == ["an environment variable read at import time differs (FORCE_COLOR)"]
    fresh = subprocess.run([sys.executable, "-m", "unibase", "plan", "."], cwd=project, capture_output=True, text=True,
                           env=env(), stdin=subprocess.DEVNULL)
    assert "\x1b[" in fresh.stdout  # coloured: it did change what the process prints
    # (stderr has a progress bar, which differs with timing)
    assert (child.returncode, child.stdout) == (fresh.returncode, fresh.stdout)


def test_a_directory_that_shadows_a_preloaded_module_runs_a_fresh_process(tmp_path):
    """``python -m`` puts the working directory first on sys.path: there, ``rich.py`` is not Rich."""
    (tmp_path / "rich.py").write_text("raise SystemExit('the project rich.py, not Rich')\n")
    served = len(cli_server.fallbacks)
    child = cli_server.run_module("unibase", ["--version"], tmp_path, env())
    assert len(cli_server.fallbacks) == served + 1 and "rich.py" in cli_server.fallbacks[-1]
    assert "the project rich.py, not Rich" in child.stderr and child.returncode == 1


def test_the_server_holds_no_state_of_a_command(tmp_path):
    """The server only imports: no functools cache of unibase holds a value, and no command ran
    (a child starts with what a fork of the server has)."""
    (tmp_path / "probe_caches.py").write_text(textwrap.dedent("""\
        import sys
        hidden = next(f for f in sys.meta_path if type(f).__name__ == '_Hidden').modules
        modules = [m for n, m in [*sys.modules.items(), *hidden.items()] if n.startswith('unibase')]
        assert len(modules) > 50, sorted(sys.modules)
        full = [f'{m.__name__}.{name}' for m in modules for name, f in vars(m).items()
                if hasattr(f, 'cache_info') and f.cache_info().currsize]
        print(len(modules) > 50, full)
    """))
    child = cli_server.run_module("probe_caches", [], tmp_path, env())
    assert (child.returncode, child.stdout, child.stderr) == (0, "True []\n", "")


def test_overlapping_calls_do_not_wait_for_each_other(tmp_path):
    """One call's child waits until another call's child has run: both finish, each with its own
    output (the server forks while a child is running)."""
    (tmp_path / "probe_wait.py").write_text(textwrap.dedent("""\
        import pathlib, sys, time
        deadline = time.monotonic() + 120  # a safety net, not a timing assumption
        while not pathlib.Path('signal').exists():
            assert time.monotonic() < deadline
            time.sleep(0.01)
        print('waited')
    """))
    (tmp_path / "probe_signal.py").write_text("import pathlib\npathlib.Path('signal').touch()\nprint('signalled')\n")
    results = {}
    waiting = threading.Thread(target=lambda: results.setdefault("wait", cli_server.run_module(
        "probe_wait", [], tmp_path, env())))
    waiting.start()
    results["signal"] = cli_server.run_module("probe_signal", [], tmp_path, env())
    waiting.join()
    assert (results["wait"].stdout, results["signal"].stdout) == ("waited\n", "signalled\n")


def test_the_server_ends_with_its_worker(tmp_path):
    """A worker that dies without any cleanup: the server sees its socket's end and exits."""
    code = textwrap.dedent(f"""\
        import os, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        import cli_server
        client = cli_server._Client({{**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}})
        print(client.proc.pid, client.home, flush=True)
        os._exit(0)  # no atexit, no close
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    pid, home = proc.stdout.split()
    pid = int(pid)
    os.rmdir(home)
    import time

    deadline = time.monotonic() + 120  # a safety net, not a timing assumption
    while Path(f"/proc/{pid}").exists() and "Z" not in _state(pid):
        assert time.monotonic() < deadline, "the server outlived its worker"
        time.sleep(0.01)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return "Z"


def test_without_a_server_every_call_runs_a_fresh_process_after_one_warning(tmp_path):
    """A worker whose server cannot start (here: starting it fails) still runs every call, as a
    plain subprocess, and says so once."""
    code = textwrap.dedent(f"""\
        import os, sys, warnings
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        import cli_server

        def broken(env):
            raise OSError("no server here")

        cli_server._Client = broken
        env = {{**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            runs = [cli_server.run_module("unibase", ["--version"], {str(tmp_path)!r}, env) for _ in range(2)]
        print([(r.returncode, r.stdout) for r in runs], cli_server.fallbacks, [str(w.message) for w in caught])
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    from unibase import __version__

    version = (0, f"unibase {__version__}\n")
    assert proc.stdout == f"{[version, version]} ['no server', 'no server'] " \
                          "['CLI calls run as plain subprocesses: no server here']\n"
