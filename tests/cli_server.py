"""A fork server for the suite's CLI runs: ``python -m unibase ARGS`` without the interpreter start.

Every ``conftest.unibase(...)`` call used to start a fresh interpreter, which spends ~0.45 s of CPU
importing Typer, Pydantic, Rich, SQLAlchemy, LibCST, GitPython and unibase before the command
does anything. Here each pytest(-xdist) worker starts one server (lazily, on its first call) that
imports those modules once and then forks one child per call; the child becomes what a fresh
``python -m unibase ARGS`` would be and runs the real entry point.

What the child makes the same as a fresh process: its own pid; the working directory; the exact
environment the subprocess would get (sent with each call); stdin from /dev/null; fds 1 and 2
are the caller's pipes (``dup2``: output of git and other grandchildren is captured, and the
caller reads until every holder closed them, as ``subprocess.run`` does); new ``sys.std*``
objects as the interpreter makes them; ``sys.argv``, ``sys.orig_argv``, ``sys.path[0]`` and
``__main__`` as ``-m`` sets them (``runpy._run_module_as_main``, what ``python -m`` itself
calls); the exit status as the interpreter computes it (``SystemExit`` codes, a traceback and
1 for an uncaught exception, death by SIGINT for an uncaught KeyboardInterrupt, 120 when
stdout cannot be flushed) after the non-daemon threads and the ``atexit`` functions.

What is decided at import time is made to match, or the call does not use the server:
- The server imports under the environment of the first call, with stdout not a terminal (Rich's
  consoles in ``unibase.output`` read ``NO_COLOR``, ``COLUMNS`` and ``isatty`` when made). It
  records every environment variable read while it imports (and those the interpreter reads at
  start: ``PYTHON*``, ``LANG``, ``LC_*``); a call whose environment differs in one of them
  runs as a plain subprocess.
- A call whose working directory holds a module or package named like one the server imported
  (``python -m`` puts that directory first on ``sys.path``) runs as a plain subprocess.
- The server only imports: it runs no command, and no ``functools`` cache of unibase's modules
  holds anything (tests/test_cli_server.py checks it). ``tempfile``'s cached directory is
  forgotten in the child (TMPDIR is read again).
- ``sys.modules``: what a command finds there changes what it does (``unibase.meaning`` follows
  names of modules the process has imported). The server notes, while it imports, what each
  module's import brings (its imports, and whatever else was loaded meanwhile), then takes every
  module it imported out of ``sys.modules`` (and out of its package's attributes); a finder puts
  one back, with what its import brought, when the child imports it, without running it again.
  A child starts with the modules of a fresh interpreter and ends a command with the same ones.

What still differs, and why no test here depends on it: the finder is first on ``sys.meta_path``
(and ``importlib.util.find_spec`` of a preloaded module names it as the loader); the ``atexit``
functions the preloaded modules registered (``logging.shutdown``, multiprocessing's and weakref's
exit functions, which do nothing where their module was not used) run in every child; every child
shares the server's string-hash seed, where fresh processes each draw one (the test that compares
two runs for determinism passes ``fresh=True``); there is no timeout (as with ``subprocess.run``).
Tests that check how a process starts (which modules a command imports, ``--help``'s cost,
signals sent to a running apply) start their own interpreters anyway.

If ``fork`` or ``socket.send_fds`` is missing, or the server does not start, every call runs as a
plain subprocess after one warning. The server ends when its worker does: it reads a socket whose
end-of-file (the worker's exit, whatever its cause) ends it.
"""

from __future__ import annotations

import builtins
import importlib
import sys


class _ImportNotes:
    """While the server imports: which modules each module imports (its ``import`` statements,
    ``importlib.import_module`` calls, and whatever else its import loaded), so that a child
    can put back into ``sys.modules`` exactly what importing a module brings in a fresh process."""

    def __init__(self) -> None:
        self.deps: dict[str, set[str]] = {}
        self.real = builtins.__import__, importlib.import_module

    def note(self, target: str, fromlist, before: int, own: int) -> None:
        """``target`` imported: the modules at indexes ``before:own`` of sys.modules came with
        the module itself, those from ``before`` on with the importing statement."""
        if own > before:
            self.deps.setdefault(target, set()).update(list(sys.modules)[before:own])
            self.deps[target].discard(target)
        importer = self.importer()
        if importer is None:
            return
        deps = self.deps.setdefault(importer, set())
        deps.add(target)
        deps.update(f"{target}.{item}" for item in fromlist or () if f"{target}.{item}" in sys.modules)
        deps.update(list(sys.modules)[before:])

    @staticmethod
    def importer() -> str | None:
        """The innermost module whose import is running: its import brings what is imported now
        (a function of a module imported earlier, called by it, imports for it)."""
        frame = sys._getframe(2)
        while frame is not None:
            name = frame.f_globals.get("__name__")
            if getattr(getattr(sys.modules.get(name), "__spec__", None), "_initializing", False):
                return name
            frame = frame.f_back
        return None

    def import_(self, name, globals=None, locals=None, fromlist=(), level=0):
        before = len(sys.modules)
        if fromlist:  # the module first, then the names: what each brings is told apart
            self.real[0](name, globals, locals, (), level)
        own = len(sys.modules)
        module = self.real[0](name, globals, locals, fromlist, level)
        if level:
            importer = globals.get("__name__")
            package = globals.get("__package__") or (importer if "__path__" in globals else importer.rpartition(".")[0])
            name = importlib._bootstrap._resolve_name(name, package, level) if name else package
        self.note(name, fromlist, before, own)
        return module

    def import_module(self, name, package=None):
        before = len(sys.modules)
        module = self.real[1](name, package)
        self.note(module.__name__, (), before, len(sys.modules))
        return module

    def __enter__(self) -> _ImportNotes:
        builtins.__import__, importlib.import_module = self.import_, self.import_module
        return self

    def __exit__(self, *exc) -> None:
        builtins.__import__, importlib.import_module = self.real


if __name__ == "__cli_server__":  # the server: note imports from its first one on
    _NOTES = _ImportNotes().__enter__()

import json
import os
import selectors
import signal
import socket
import subprocess
import threading
import warnings
from pathlib import Path

# what the server imports before it forks: everything a CLI run imports (measured with
# `python -X importtime -m unibase apply --dry-run`: Typer with its Pydantic adapters, Rich,
# SQLAlchemy, LibCST, GitPython and unibase itself make ~all of the start cost), as every unibase
# module but those that are not imported by the CLI process (the verify child runs in the
# project's interpreter; the embedded migration helpers are copied as text)
_NOT_PRELOADED = ("unibase.__main__", "unibase.verify.child", "unibase.migration.embedded")
_EXTRA = ("alembic", "alembic.autogenerate", "alembic.migration", "sqlalchemy.dialects.sqlite",
          "sqlalchemy.dialects.postgresql")
# read by the interpreter before any module: a call that differs in them cannot use the server
_STARTUP_PREFIXES = ("PYTHON", "LC_", "LANG")
# the server's start: what a fresh interpreter has imported before `-m` puts the working directory
# on sys.path (those a module in that directory cannot shadow), then this file
_BOOT = ("import sys; startup = set(sys.modules); import runpy; kept = set(sys.modules); "
         "exec(compile(open(sys.argv[1], encoding='utf-8').read(), sys.argv[1], 'exec'), "
         "{'__name__': '__cli_server__', '__file__': sys.argv[1], 'STARTUP': startup, 'KEPT': kept})")


# --- the caller's side (the pytest worker) --------------------------------------------------------


class _Client:
    def __init__(self, env: dict[str, str]) -> None:
        import tempfile

        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # started in an empty directory: `-c` puts it first on sys.path while the server imports
        self.home = tempfile.mkdtemp(prefix="unibase-cli-server-")
        with theirs:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", _BOOT, __file__, str(theirs.fileno())],
                pass_fds=[theirs.fileno()], env=env, cwd=self.home, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.sock = ours
        self.lock = threading.Lock()
        hello = ours.recv(1 << 20)
        if not hello:
            err = self.proc.stderr.read().decode(errors="replace")
            self.close()
            raise RuntimeError(f"the CLI server did not start:\n{err}")
        self.proc.stderr.close()  # the server's own stderr goes to /dev/null from here on
        self.facts = json.loads(hello)

    def refuses(self, cwd: str, env: dict[str, str]) -> str | None:
        """Why a call cannot run in a child of this server (None: it can)."""
        start = {k: v for k, v in env.items() if k.startswith(_STARTUP_PREFIXES)}
        if start != self.facts["startup_env"]:
            return "the interpreter's start-up environment (PYTHON*, LANG, LC_*) differs"
        changed = [k for k, v in self.facts["env_read"].items() if env.get(k) != v]
        if changed:
            return f"an environment variable read at import time differs ({', '.join(sorted(changed))})"
        try:
            here = os.listdir(cwd)
        except OSError as exc:  # subprocess.run raises it in the caller
            return f"the working directory cannot be read ({exc})"
        tops, namespaces = self.facts["tops"], self.facts["namespaces"]
        for name in here:
            stem = name.split(".", 1)[0]
            if stem not in tops:
                continue
            path = os.path.join(cwd, name)
            if (name.endswith((".py", ".pyc", ".so")) or name == stem and os.path.isdir(path)
                    and (stem in namespaces or os.path.exists(os.path.join(path, "__init__.py")))):
                return f"{cwd} holds {name}, which would shadow the preloaded module {stem}"
        return None

    def run(self, argv: list[str], cwd: str, env: dict[str, str]) -> tuple[int, bytes, bytes]:
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            request = json.dumps({"argv": argv, "cwd": cwd, "env": env}).encode()
            with self.lock:
                socket.send_fds(self.sock, [request], [theirs.fileno(), out_w, err_w])
        finally:
            for fd in (theirs.fileno(), out_w, err_w):
                os.close(fd)
            theirs.detach()
        out, err, status = _drain(out_r, err_r, mine)
        if not status:
            raise RuntimeError("the CLI server ended during a call")
        return json.loads(status)["returncode"], out, err

    def close(self) -> None:
        self.sock.close()  # end of file: the server exits
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.rmdir(self.home)


def _drain(out_r: int, err_r: int, status: socket.socket) -> tuple[bytes, bytes, bytes]:
    """Read both pipes to end of file (every holder closed them) and the status, as
    ``subprocess.run`` reads a process's pipes."""
    chunks: dict[int, list[bytes]] = {out_r: [], err_r: [], status.fileno(): []}
    with selectors.DefaultSelector() as sel:
        for fd in chunks:
            sel.register(fd, selectors.EVENT_READ)
        while sel.get_map():
            for key, _ in sel.select():
                data = os.read(key.fd, 1 << 16)
                if data:
                    chunks[key.fd].append(data)
                else:
                    sel.unregister(key.fd)
    result = b"".join(chunks[out_r]), b"".join(chunks[err_r]), b"".join(chunks[status.fileno()])
    os.close(out_r)
    os.close(err_r)
    status.close()
    return result


_client: _Client | None = None
_client_pid: int | None = None
_unavailable: str | None = None
_start_lock = threading.Lock()
fallbacks: list[str] = []  # why calls ran as plain subprocesses (tests/test_cli_server.py reads it)


def _get_client(env: dict[str, str]) -> _Client | None:
    global _client, _client_pid, _unavailable
    with _start_lock:
        if _unavailable is not None:
            return None
        if _client is not None and _client_pid == os.getpid():
            return _client
        if not hasattr(os, "fork") or not hasattr(socket, "send_fds"):
            _unavailable = "this platform has no fork or socket.send_fds"
        else:
            try:
                _client, _client_pid = _Client(env), os.getpid()
                import atexit

                atexit.register(_client.close)
                return _client
            except (OSError, RuntimeError, ValueError) as exc:
                _unavailable = str(exc)
        warnings.warn(f"CLI calls run as plain subprocesses: {_unavailable}", RuntimeWarning, stacklevel=3)
        return None


def run_module(module: str, args: list[str], cwd: Path | str | None, env: dict[str, str]) -> subprocess.CompletedProcess:
    """``subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=env, capture_output=True,
    text=True, stdin=subprocess.DEVNULL)``, run in a child of this worker's server when it can."""
    cmd = [sys.executable, "-m", module, *args]
    cwd = os.path.abspath(cwd if cwd is not None else os.getcwd())
    client = _get_client(env)
    reason = client.refuses(cwd, env) if client is not None else "no server"
    if reason is not None:
        fallbacks.append(reason)
        return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
    try:
        code, out, err = client.run([module, *args], cwd, env)
    except (OSError, RuntimeError) as exc:  # the server itself failed: this call fails, later ones fall back
        global _unavailable
        _unavailable = f"the CLI server failed ({exc})"
        raise
    return subprocess.CompletedProcess(cmd, code, _text(out), _text(err))


def _text(data: bytes) -> str:
    """As ``subprocess.run(text=True)`` decodes: the locale's encoding, universal newlines."""
    return subprocess.Popen._translate_newlines(None, data, subprocess._text_encoding(), "strict")


# --- the server -----------------------------------------------------------------------------------


class _RecordingEnviron(type(os.environ)):  # type: ignore[misc]
    """os.environ, noting every variable read (while the server imports). A read of the whole
    environment (a copy, its items) is noted apart: the only one at import time is GitPython
    running ``git version`` with a copy of it, where what matters is which git runs (``PATH``) and
    git's own variables (``GIT_*``)."""

    read: dict[str, str | None] = {}
    whole: dict[str, str | None] = {}

    def __getitem__(self, key):
        caller = sys._getframe(1).f_code
        whole = caller.co_name in ("copy", "__iter__", "__eq__", "__or__", "__ror__")
        noted = type(self).whole if whole and caller.co_filename.startswith("<frozen ") else type(self).read
        try:
            value = super().__getitem__(key)
        except KeyError:
            noted.setdefault(key, None)
            raise
        noted.setdefault(key, value)
        return value


def _preload(startup: set[str]) -> dict:
    import importlib
    import pkgutil

    plain = type(os.environ)
    os.environ.__class__ = _RecordingEnviron
    try:
        import unibase
        import unibase.cli
        import unibase.codemods

        packages = [unibase, unibase.codemods]
        while packages:  # every module of unibase (pkgutil.walk_packages would import for itself)
            package = packages.pop()
            for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
                if not info.name.startswith(_NOT_PRELOADED):
                    module = importlib.import_module(info.name)
                    if info.ispkg:
                        packages.append(module)
        for name in _EXTRA:
            importlib.import_module(name)
    finally:
        os.environ.__class__ = plain
    tops = {name.partition(".")[0] for name in sys.modules} - {name.partition(".")[0] for name in startup}
    return {
        "env_read": {**{k: v for k, v in _RecordingEnviron.whole.items() if k == "PATH" or k.startswith("GIT_")},
                     **_RecordingEnviron.read},
        "startup_env": {k: v for k, v in os.environ.items() if k.startswith(_STARTUP_PREFIXES)},
        "tops": sorted(tops),
        "namespaces": sorted(t for t in tops if getattr(sys.modules.get(t), "__file__", None) is None),
    }


class _Hidden:
    """The modules the server imported, out of ``sys.modules`` until a child imports them: a child
    starts with the modules a fresh ``python -m`` has, and importing a module puts back what
    importing it brought in the server (a fresh process's import of it), without running it again."""

    def __init__(self, kept: set[str], deps: dict[str, set[str]]) -> None:
        self.deps = deps
        self.modules = {name: sys.modules.pop(name) for name in list(sys.modules) if name not in kept}
        self.specs = {name: getattr(m, "__spec__", None) for name, m in self.modules.items()}
        # a package's attribute for a submodule is set by importing the submodule: `from . import
        # api` imports unibase.api only while the package has no attribute `api`
        self.attrs: dict[str, object] = {}
        for name, module in self.modules.items():
            parent, _, child = name.rpartition(".")
            holder = self.modules.get(parent) or sys.modules.get(parent)
            # (its __dict__, never getattr: a module's __getattr__ may import)
            if parent and getattr(holder, "__dict__", {}).get(child) is module:
                delattr(holder, child)
                self.attrs[name] = holder

    def get(self, name: str):
        """A module, hidden or not (None: never imported), without putting it back (for this file's
        own use: what the child does must not import what a fresh process would not)."""
        return sys.modules.get(name) or self.modules.get(name)

    def find_spec(self, name, path=None, target=None):
        if name not in self.modules:
            return None
        original = self.specs[name]
        spec = importlib.machinery.ModuleSpec(name, self, origin=getattr(original, "origin", None),
                                              is_package=getattr(original, "submodule_search_locations", None) is not None)
        return spec

    def create_module(self, spec):
        module = self.modules.pop(spec.name)
        self._put_back_deps(spec.name)
        return module  # the import system sets the package's attribute for it

    def exec_module(self, module) -> None:
        module.__spec__ = self.specs[module.__spec__.name]  # the import system set ours

    def _put_back_deps(self, name: str) -> None:
        todo = list(self.deps.get(name, ()))
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]
        while todo:
            dep = todo.pop()
            if dep not in self.modules:
                continue
            module = self.modules.pop(dep)
            # multiprocessing names the __main__ of the moment it is imported
            sys.modules[dep] = sys.modules["__main__"] if dep == "__mp_main__" else module
            if dep in self.attrs:
                setattr(self.attrs[dep], dep.rpartition(".")[2], module)
            parts = dep.split(".")
            todo += [".".join(parts[:i]) for i in range(1, len(parts))]
            todo += self.deps.get(dep, ())


_HIDDEN: _Hidden | None = None


def _serve(fd: int, startup: set[str], kept: set[str]) -> None:
    global _HIDDEN
    sock = socket.socket(fileno=fd)
    sigint = signal.getsignal(signal.SIGINT)
    facts = _preload(startup)
    _NOTES.__exit__()
    import gc

    gc.collect()  # before hiding: a finaliser that imports would put modules back for every child
    _HIDDEN = _Hidden(kept, _NOTES.deps)
    sys.meta_path.insert(0, _HIDDEN)
    gc.freeze()  # the imported objects stay shared with the children, never copied by a collection
    sock.send(json.dumps(facts).encode())
    os.dup2(os.open(os.devnull, os.O_WRONLY), 2)  # the caller stopped reading our stderr
    while True:
        msg, fds, _, _ = socket.recv_fds(sock, 1 << 22, 3)
        if not msg:
            return  # the worker is gone
        while True:  # reap the waiters of finished calls
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break
        if os.fork() == 0:
            sock.close()
            _wait_for_child(json.loads(msg), *fds, sigint=sigint)
        for f in fds:
            os.close(f)


def _wait_for_child(request: dict, status_fd: int, out_fd: int, err_fd: int, sigint) -> None:
    """In a process of its own per call: fork the child, wait for it, send its exit status."""
    try:
        pid = os.fork()
        if pid == 0:
            os.close(status_fd)
            _child(request, out_fd, err_fd, sigint)
        os.close(out_fd)
        os.close(err_fd)
        _, status = os.waitpid(pid, 0)
        with socket.socket(fileno=status_fd) as sock:
            sock.sendall(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}).encode())
    finally:
        os._exit(0)


def _child(request: dict, out_fd: int, err_fd: int, sigint) -> None:
    """Become ``python -m MODULE ARGS`` in ``cwd`` under ``env``, run it, and exit as it would."""
    null = os.open(os.devnull, os.O_RDONLY)
    for fd, target in ((null, 0), (out_fd, 1), (err_fd, 2)):
        os.dup2(fd, target)
        os.close(fd)
    # new streams on fds 0-2, as the interpreter made the server's (same start-up environment,
    # none of them a terminal, as in the child)
    sys.stdin = sys.__stdin__ = _std(0, sys.__stdin__)
    sys.stdout = sys.__stdout__ = _std(1, sys.__stdout__)
    sys.stderr = sys.__stderr__ = _std(2, sys.__stderr__)
    signal.signal(signal.SIGINT, sigint)
    code = 1
    try:
        os.environ.clear()
        os.environ.update(request["env"])
        if tempfile := _HIDDEN.get("tempfile"):
            tempfile.tempdir = None  # read from TMPDIR again, as a fresh process does when first asked
        os.chdir(request["cwd"])
        module, *args = request["argv"]
        sys.argv = ["-m", *args]
        sys.orig_argv = [sys.executable, "-m", module, *args]
        sys.path[0] = os.getcwd()
        import builtins
        import types

        main = types.ModuleType("__main__")  # as the interpreter's, which `-m` runs the module in
        main.__builtins__, main.__annotations__ = builtins, {}
        sys.modules["__main__"] = main
        code = _exit_code(module)
        code = _finish(code)
    finally:
        os._exit(code)


def _std(fd: int, like):
    """A stream on ``fd`` made as the interpreter made ``like`` (its buffering, encoding, errors)."""
    import io

    mode = like.mode
    raw = io.FileIO(fd, mode, closefd=False)
    raw.name = like.name
    buffered = raw if isinstance(like.buffer, io.FileIO) else type(like.buffer)(raw)
    text = io.TextIOWrapper(buffered, like.encoding, like.errors, newline="\n", line_buffering=like.line_buffering,
                            write_through=like.write_through)
    text.mode = mode
    return text


def _exit_code(module: str) -> int:
    """Run ``module`` as ``python -m`` does and return the exit status the interpreter would."""
    import runpy

    try:
        runpy._run_module_as_main(module, alter_argv=True)
        return 0
    except SystemExit as exc:
        if exc.code is None:
            return 0
        if isinstance(exc.code, int):
            return exc.code & 0xFF
        print(exc.code, file=sys.stderr)
        return 1
    except BaseException as exc:  # noqa: BLE001 - as the interpreter: the traceback, then 1
        # from runpy's frame on, as a fresh process prints it (this function's frame is not there)
        exc.__traceback__ = exc.__traceback__.tb_next
        sys.excepthook(type(exc), exc, exc.__traceback__)
        if isinstance(exc, KeyboardInterrupt):
            _finish(1)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
        return 1


def _flush_stdout() -> bool:
    try:
        sys.stdout.flush()
        return True
    except Exception:  # noqa: BLE001
        return False


def _finish(code: int) -> int:
    """What the interpreter does before it exits: wait for the non-daemon threads, run the atexit
    functions, flush stdout (120 if that fails) and stderr."""
    if "threading" in sys.modules:  # as the interpreter: only when something imported it
        try:
            threading._shutdown()
        except Exception:  # noqa: BLE001
            pass
    if atexit := _HIDDEN.get("atexit"):
        atexit._run_exitfuncs()
    if not _flush_stdout():
        code = 120
    try:
        sys.stderr.flush()
    except Exception:  # noqa: BLE001
        pass
    return code


if __name__ == "__cli_server__":
    _serve(int(sys.argv[2]), STARTUP, KEPT)  # noqa: F821 - given by _BOOT
