"""unibase's side of :mod:`unibase.verify.forkserver`: one process of the project's interpreter
that imports SQLAlchemy and Alembic once and forks a child per tree.

A :class:`Forked` child is seen as a :class:`subprocess.Popen` is (``poll``, ``wait``, ``kill``,
``returncode``), so that :class:`~unibase.verify.session.Session` waits for, times out and kills
either kind the same way. When the server cannot fork a child (it did not start, died, or
``fork`` failed), that child is started as a separate process instead, by the same function
that starts every child where there is no server.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

FORK = hasattr(os, "fork")  # where children can fork from one server (not on Windows)
STOP_TIMEOUT = 30  # seconds for the server to kill its children and exit once told to


def usable(env: dict[str, str]) -> bool:
    """Whether a forked child gets the ``sys.path`` a separately started one gets: not where
    ``PYTHONPATH`` names a relative directory, which each child resolves in its own tree."""
    entries = env.get("PYTHONPATH", "")
    return FORK and not (entries and any(not os.path.isabs(e) for e in entries.split(os.pathsep)))


class ForkServer:
    """The server process and the events it has reported, per child tag."""

    def __init__(self, python: str, script: Path, child: Path, cwd: Path, env: dict[str, str], err: Path) -> None:
        with open(err, "wb") as ferr:
            self.proc = subprocess.Popen([python, str(script), str(child)], cwd=cwd, stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=ferr, env=env, bufsize=0)
        self.events: dict[str, dict] = {}
        self.gone = False  # the server's stdout ended: it reports nothing more
        self._pending = b""

    def request(self, message: dict) -> bool:
        """Send one request; False when the server is gone."""
        if self.gone:
            return False
        assert self.proc.stdin is not None
        data = (json.dumps(message) + "\n").encode("utf-8")
        try:
            while data:
                data = data[self.proc.stdin.write(data) or 0:]
        except OSError:  # BrokenPipeError: it exited
            return False
        return True

    def read(self, timeout: float | None) -> bool:
        """Read what the server reported within ``timeout`` seconds (None: until it reports);
        False when nothing came."""
        if self.gone:
            return False
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        if not select.select([fd], [], [], timeout)[0]:
            return False
        data = os.read(fd, 65536)
        if not data:
            self.gone = True
            return True
        self._pending += data
        while b"\n" in self._pending:
            line, self._pending = self._pending.split(b"\n", 1)
            event = json.loads(line)
            tag = event.get("started") or event.get("exited") or event.get("failed")
            self.events.setdefault(tag, {}).update(event)
        return True

    def stop(self) -> None:
        """End of requests: the server kills the children still running and exits."""
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.close()
                self.proc.wait(timeout=STOP_TIMEOUT)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()


class Forked:
    """A child the server was asked to fork, used as a :class:`subprocess.Popen`."""

    def __init__(self, server: ForkServer, request: dict, separately: Callable[[], subprocess.Popen]) -> None:
        """Ask ``server`` to fork the child ``request`` describes; ``separately`` starts it
        as a process of its own, where the server will not fork it."""
        self.server = server
        self.tag = self.args = request["fork"]
        self.returncode: int | None = None
        self._separately = separately
        self._popen: subprocess.Popen | None = None
        if not server.request(request):
            self._popen = separately()

    @property
    def _event(self) -> dict:
        return self.server.events.get(self.tag, {})

    def _settle(self) -> bool:
        """Fill ``returncode`` from what is known; True when the child ended."""
        if self._popen is not None:
            self.returncode = self._popen.poll()
        elif "exited" in self._event:
            self.returncode = self._event["code"]
        elif self.server.gone and "started" in self._event:
            # the server died under it: on Linux the child was killed with it (SIGKILL)
            self.returncode = -signal.SIGKILL
        return self.returncode is not None

    def fall_back(self) -> bool:
        """Start the child separately when the server will not fork it; True once it was."""
        if self._popen is None and self.returncode is None and (
                "failed" in self._event or (self.server.gone and "started" not in self._event)):
            self._popen = self._separately()
        return self._popen is not None

    def poll(self) -> int | None:
        while self.server.read(0):
            pass
        self._settle()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else _now() + timeout
        while not self._settle():
            if self.fall_back():
                assert self._popen is not None
                self.returncode = self._popen.wait(None if deadline is None else max(0.0, deadline - _now()))
                break
            remaining = None if deadline is None else deadline - _now()
            if remaining is not None and remaining <= 0:
                raise subprocess.TimeoutExpired(self.args, timeout or 0)
            self.server.read(remaining)
        assert self.returncode is not None
        return self.returncode

    def kill(self) -> None:
        if self._popen is not None:
            self._popen.kill()
        elif not self._settle():
            if "started" in self._event or not self.server.gone:
                self.server.request({"kill": self.tag})  # after the fork request: the server has forked it
            if self.server.gone and "started" not in self._event:
                self.returncode = -signal.SIGKILL  # never started, and will not be


def _now() -> float:
    return time.monotonic()
