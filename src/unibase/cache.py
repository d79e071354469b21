"""A persistent cache of what discovery reads from each file, so that a second run on an unchanged
project (``check`` as a pre-commit hook runs on every commit) parses only the files that changed.

An entry is keyed by the file's path and the hash of its bytes (which discovery reads anyway), so a
file edited since is read again and an unchanged one is not; the whole cache is keyed by unibase's
source and the interpreter's version, so any other unibase or Python starts afresh. It lives in the
user's cache directory (``$UNIBASE_CACHE_DIR``, else ``$XDG_CACHE_HOME/unibase``, else
``~/.cache/unibase``), one file per project root, never inside the project: the working tree and
``git status`` never change. It is written atomically, and an entry or file that cannot be read is
ignored (read again from the source): the results with and without the cache are the same.
``--no-cache`` or ``UNIBASE_NO_CACHE=1`` bypasses it.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
from functools import cache
from pathlib import Path

FORMAT = 1
_MISSING = object()
KEEP_SECONDS = 30 * 24 * 3600  # a project's cache no run has used for this long is deleted


def cache_dir() -> Path:
    """Where unibase keeps its caches."""
    if given := os.environ.get("UNIBASE_CACHE_DIR"):
        return Path(given).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(base).expanduser() / "unibase"


def disabled_by_environment() -> bool:
    return os.environ.get("UNIBASE_NO_CACHE", "").strip().lower() not in ("", "0", "false", "no")


@cache
def source_fingerprint() -> str:
    """unibase's own source and the interpreter's version: facts read by other code or another
    Python (whose ``ast`` differs) are never reused. Each source file counts by its path, size and
    modification time (as Python's own bytecode cache does): every run starts with this, and
    reading the source would cost a small project's replay again."""
    digest = hashlib.blake2b(f"{FORMAT} {sys.version} {sys.implementation.cache_tag}".encode(), digest_size=16)
    package = os.path.dirname(os.path.abspath(__file__))
    for rel, size, mtime in sorted(_source_files(package, "")):
        digest.update(f"{rel}\0{size}\0{mtime}\0".encode())
    return digest.hexdigest()


def _source_files(folder: str, prefix: str):
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if entry.is_dir(follow_symlinks=False) and entry.name != "__pycache__":
            yield from _source_files(entry.path, f"{prefix}{entry.name}/")
        elif entry.name.endswith(".py"):
            try:
                info = entry.stat()
            except OSError:
                yield f"{prefix}{entry.name}", -1, -1
                continue
            yield f"{prefix}{entry.name}", info.st_size, info.st_mtime_ns


_READ_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def read_file(path: str) -> bytes:
    """The bytes of the file at ``path`` (raises ``OSError``). Read in as few calls as the system
    allows (its size, then the bytes and the end): on a tree of many small files, a buffered
    ``open`` costs twice as much as the reading itself."""
    fd = os.open(path, _READ_FLAGS)
    try:
        chunks = [os.read(fd, os.fstat(fd).st_size + 1)]
        while chunks[-1]:  # the end of the file is an empty read (a file growing meanwhile reads on)
            chunks.append(os.read(fd, 1 << 20))
    finally:
        os.close(fd)
    return b"".join(chunks) if len(chunks) > 2 else chunks[0]


def content_hash(data: bytes) -> bytes:
    """What a file's bytes are known by: the first 128 bits of their SHA-256 (which processors
    compute in hardware: on a large tree, half the time BLAKE2b takes)."""
    return hashlib.sha256(data).digest()[:16]


class FactCache:
    """The entries of one project: ``get`` those of the last run, ``put`` new ones, ``save`` the
    ones this run used (so the file holds the project as it is now, and no more)."""

    def __init__(self, root: Path, directory: Path | None, readonly: bool = False) -> None:
        self.path = None if directory is None else fact_file(root, directory)
        self.readonly = readonly  # read the entries, write none
        self._old: dict[tuple, bytes] = self._load() if self.path is not None else {}
        self._now: dict[tuple, bytes] = {}

    @classmethod
    def for_project(cls, root: Path, enabled: bool, readonly: bool = False) -> FactCache:
        directory = cache_dir() if enabled and not disabled_by_environment() else None
        if directory is not None and inside(directory, root):
            directory = None  # never write into the user's project
        return cls(root, directory, readonly)

    @property
    def enabled(self) -> bool:
        return self.path is not None

    def get(self, kind: str, rel: str, digest: bytes) -> object:
        """The value stored for this file's bytes, or ``MISSING``."""
        key = (kind, rel, digest)
        blob = self._old.get(key)
        if blob is None:
            return _MISSING
        try:
            value = pickle.loads(blob)
        except Exception:  # noqa: BLE001 - a damaged entry is read again from the source
            return _MISSING
        self._now[key] = blob
        return value

    def put(self, kind: str, rel: str, digest: bytes, value: object) -> None:
        """Store ``value`` as it is now (pickled at once: callers may change it afterwards)."""
        if self.path is None:
            return
        try:
            self._now[(kind, rel, digest)] = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError, RecursionError):
            pass  # not stored: read again next time

    def save(self) -> None:
        """Write this run's entries, atomically, when they differ from the last run's; a cache
        that cannot be written is skipped without a word (it only saves time)."""
        if self.path is None or self.readonly:
            return
        if self._now.keys() == self._old.keys():
            try:
                os.utime(self.path)  # still in use: not pruned
            except OSError:
                pass
            return
        try:
            write_stamped(self.path, self._now)
        except OSError:
            pass

    def _load(self) -> dict[tuple, bytes]:
        entries = read_stamped(self.path)
        return entries if isinstance(entries, dict) else {}


MISSING = _MISSING


def read_stamped(path: Path) -> object:
    """What :func:`write_stamped` wrote at ``path``, or ``MISSING`` when the file is missing,
    unreadable, damaged or written by another unibase or Python."""
    try:
        with open(path, "rb") as f:
            fmt, fingerprint, value = pickle.load(f)
    except Exception:  # noqa: BLE001 - any of those: read again from the source
        return _MISSING
    return value if fmt == FORMAT and fingerprint == source_fingerprint() else _MISSING


def write_stamped(path: Path, value: object) -> None:
    """Pickle ``value`` to ``path`` atomically, stamped with unibase's source (so that no other
    unibase reads it), then prune the folder. Raises ``OSError`` (or a pickling error) unwritten."""
    path.parent.mkdir(parents=True, exist_ok=True)
    import tempfile  # not on a replay's path: it only reads

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".pickle")
    try:
        with os.fdopen(fd, "wb") as f:
            pickle.dump((FORMAT, source_fingerprint(), value), f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    prune(path.parent)


def fact_file(root: Path, directory: Path) -> Path:
    name = hashlib.blake2b(str(root).encode("utf-8", "surrogateescape"), digest_size=12).hexdigest()
    return directory / "facts" / f"{name}.pickle"


def prune(directory: Path) -> None:
    """Delete the caches of projects no run has used for KEEP_SECONDS (a deleted checkout, a
    temporary directory), and temporary files a killed run left."""
    import time

    limit = time.time() - KEEP_SECONDS
    for path in directory.iterdir():
        try:
            if path.suffix == ".pickle" and path.stat().st_mtime < limit:
                path.unlink()
        except OSError:
            pass


def inside(directory: Path, root: Path) -> bool:
    """Whether ``directory`` is in the project at ``root`` (where unibase never writes)."""
    try:
        return directory.resolve().is_relative_to(root.resolve())
    except OSError:
        return True
