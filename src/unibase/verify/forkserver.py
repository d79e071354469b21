"""The verification children's fork server: runs inside the project's own interpreter, by path.

``python forkserver.py CHILD`` loads the program at ``CHILD`` (:mod:`unibase.verify.child`), imports
what every child's work needs from SQLAlchemy and Alembic (:data:`PRELOAD`) once, and then forks
one child per request, so that the second tree's child (and the probe of the tree before the
merge) does not pay those imports again. Nothing of the project is imported here: each child
sets its working directory, environment, ``sys.argv``, stdin, stdout and stderr as a separately
started child has them, and only then runs :func:`child.main`, which puts the tree's roots on
``sys.path`` and imports its modules. Like the child it imports only the standard library,
SQLAlchemy and Alembic, and keeps to syntax every supported Python reads.

Requests arrive on stdin, one JSON object a line: ``{"fork": TAG, "cwd": ..., "argv": [...],
"out": ..., "err": ..., "env": {...}}`` and ``{"kill": TAG}``. Events leave on stdout, one JSON
object a line: ``{"started": TAG, "pid": N}``, ``{"exited": TAG, "code": N}`` (a negative code is
the signal that ended it, as :class:`subprocess.Popen` reports it) and ``{"failed": TAG,
"error": ...}`` when the fork itself failed. At the end of stdin (unibase is done with it, or is
gone), on Ctrl-C and on SIGTERM the server kills every child still running and exits.
"""
import importlib
import importlib.util
import json
import os
import select
import signal
import sys
import traceback

PRELOAD = (
    "sqlalchemy",
    "sqlalchemy.orm",  # configure_mappers(), and every declarative model module
    "sqlalchemy.dialects.sqlite",  # the databases verify builds and compares
    "sqlite3",
    "alembic.autogenerate",  # compare_metadata(); loads the rest of Alembic with it
    "alembic.migration",
)

def load_child(path):
    """The child program as a module of its own, not registered in ``sys.modules``."""
    spec = importlib.util.spec_from_file_location("unibase_verify_child", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def exit_code(status):
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def send(fd, event):
    data = (json.dumps(event) + "\n").encode("utf-8")
    while data:
        data = data[os.write(fd, data):]


def become_child(server, request):
    """In the forked process: set up as a separately started child, run it, and exit."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        for sig, handler in server.signals.items():
            signal.signal(sig, handler)
        for fd in server.fds:
            os.close(fd)
        if server.prctl is not None:
            server.prctl(server.child.overlap.PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != server.pid:  # the server went before the child asked
                os._exit(1)
        for fd, path in ((1, request["out"]), (2, request["err"])):
            opened = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
            os.dup2(opened, fd)
            os.close(opened)
        os.chdir(request["cwd"])
        if dict(os.environ) != request["env"]:
            os.environ.clear()
            os.environ.update(request["env"])
        sys.argv = list(request["argv"])
        server.child.main()
        code = 0
    except BaseException:
        traceback.print_exc()  # as the interpreter reports an exception main() let out
    finally:
        server.child.leave(code)


class Server:
    """The server's state: the child program, its own descriptors (which no child keeps), the
    signal handlers a child gets back, and the children running (pid -> tag)."""

    def __init__(self, child):
        self.child = child
        self.pid = os.getpid()
        self.prctl = child.overlap.parent_death_signal()  # SIGKILL for a child when the server goes
        self.requests, self.events = os.dup(0), os.dup(1)
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)  # a child reads nothing, as a separate child's stdin is /dev/null
        os.dup2(2, 1)  # stray output must not reach the events
        os.close(devnull)
        self.wake_r, self.wake_w = os.pipe()
        for fd in (self.wake_r, self.wake_w):
            os.set_blocking(fd, False)
        self.fds = (self.requests, self.events, self.wake_r, self.wake_w)
        self.signals = {sig: signal.getsignal(sig) for sig in (signal.SIGCHLD, signal.SIGTERM)}
        self.live = {}

    def serve(self):
        """Fork a child per request until stdin ends; kill the children still running then."""
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)  # wakes select() up
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
        pending = b""
        try:
            while True:
                ready = select.select([self.requests, self.wake_r], [], [])[0]
                if self.wake_r in ready:
                    drain(self.wake_r)
                self.reap()
                if self.requests not in ready:
                    continue
                data = os.read(self.requests, 65536)
                if not data:
                    break
                pending += data
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    self.handle(json.loads(line.decode("utf-8")))
        finally:
            for pid in self.live:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            for pid in self.live:
                os.waitpid(pid, 0)

    def handle(self, request):
        if "kill" in request:
            for pid, tag in self.live.items():
                if tag == request["kill"]:
                    os.kill(pid, signal.SIGKILL)  # not reaped yet: the pid is still this child's
            return
        tag = request["fork"]
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            pid = os.fork()
        except OSError as exc:
            send(self.events, {"failed": tag, "error": str(exc)})
            return
        if pid == 0:
            become_child(self, request)
        self.live[pid] = tag
        send(self.events, {"started": tag, "pid": pid})

    def reap(self):
        while self.live:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            tag = self.live.pop(pid, None)
            if tag is not None:
                send(self.events, {"exited": tag, "code": exit_code(status)})


def drain(fd):
    while True:
        try:
            if not os.read(fd, 512):
                return
        except BlockingIOError:
            return


def main():
    child = load_child(sys.argv[1])
    child.drop_own_directory()
    for name in PRELOAD:
        # one not installed is left for the children to miss, as separate children do
        if importlib.util.find_spec(name.split(".")[0]) is not None:
            importlib.import_module(name)
    Server(child).serve()


if __name__ == "__main__":
    main()
