"""A throwaway PostgreSQL server for tests: ``initdb`` + ``pg_ctl`` on a free loopback port.

PostgreSQL refuses to run as root, so as root the server runs as the ``postgres`` user
(``runuser -u postgres --``) in a temporary directory owned by that user. Trust auth, no
password. :func:`start` raises :class:`Unavailable` with the reason when it cannot start; the
fixture turns that into ``pytest.skip``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DATABASE = "unibase_test"


class Unavailable(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            raise Unavailable("running as root and runuser is not available to drop to the postgres user")
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def _run(cmd: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run(_as_server_user(cmd), capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise Unavailable(f"{cmd[0]} failed: {exc}") from exc
    if proc.returncode != 0:
        raise Unavailable(f"{' '.join(cmd[:2])} exited with {proc.returncode}: {(proc.stderr or proc.stdout)[-800:]}")
    return proc


@contextmanager
def start() -> Iterator[str]:
    """A running server with one empty database; yields its SQLAlchemy URL, stops it afterwards."""
    for tool in ("initdb", "pg_ctl"):
        if shutil.which(tool) is None:
            raise Unavailable(f"{tool} is not on PATH")
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    parent = Path(tempfile.mkdtemp(prefix="unibase-pg-"))
    data, sock = parent / "data", parent / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        shutil.chown(parent, "postgres")
        shutil.chown(sock, "postgres")
    port = _free_port()
    started = False
    try:
        _run([initdb, "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"])
        _run([pg_ctl, "-D", str(data), "-l", str(parent / "log"), "-w", "-t", "30",
              "-o", f"-k {sock} -p {port} -h 127.0.0.1 -F", "start"])
        started = True
        url = f"postgresql+psycopg2://postgres@127.0.0.1:{port}/{DATABASE}"
        _create_database(port)
        yield url
    finally:
        if started:
            subprocess.run(_as_server_user([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"]),
                           capture_output=True, stdin=subprocess.DEVNULL)
        shutil.rmtree(parent, ignore_errors=True)


def _create_database(port: int) -> None:
    import psycopg2

    deadline = time.monotonic() + 20
    while True:
        try:
            conn = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres")
            break
        except psycopg2.OperationalError as exc:
            if time.monotonic() > deadline:
                raise Unavailable(f"the server does not accept connections: {exc}") from exc
            time.sleep(0.2)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE {DATABASE}")
    finally:
        conn.close()
