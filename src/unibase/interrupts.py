"""Ctrl-C and kills: cleanup that a second Ctrl-C cannot cut short, and named pause points.

A pause point lets a test stop a real ``unibase`` process at an exact phase (no wall-clock
delays): with ``UNIBASE_TEST_PAUSE_AT=<point>`` and ``UNIBASE_TEST_PAUSE_FILE=<path>`` in the
environment, the process writes its pid to ``<path>`` when it reaches ``<point>`` and waits there
until the test removes that file (the run then goes on) or signals it (SIGINT raises
KeyboardInterrupt as usual; SIGKILL ends it). Unset, a pause point does nothing.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

PAUSE_AT = "UNIBASE_TEST_PAUSE_AT"
PAUSE_FILE = "UNIBASE_TEST_PAUSE_FILE"


def pause_point(name: str) -> None:
    """Wait here while the environment names this point (tests only; see the module doc)."""
    if os.environ.get(PAUSE_AT) != name or not os.environ.get(PAUSE_FILE):
        return
    ready = Path(os.environ[PAUSE_FILE])
    tmp = ready.with_name(ready.name + ".tmp")
    tmp.write_text(str(os.getpid()), encoding="utf-8")
    os.replace(tmp, ready)  # the test sees the file complete or not at all
    while ready.exists():
        time.sleep(0.01)


@contextlib.contextmanager
def deferred_sigint() -> Iterator[None]:
    """Hold Ctrl-C while the block runs (cleanup must finish once started); a Ctrl-C pressed
    meanwhile is raised as KeyboardInterrupt right after the block."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
