"""Runs remembered: a project that has not changed since the last run gets the same plan, and
``check``, ``plan`` and ``apply --dry-run`` print the same output, for the cost of reading its
files again.

A plan depends on the settings and on the project: which ``.py`` files there are (git's list, or
a walk honouring ``.gitignore``), their bytes, which of them are symbolic links and where they
lead, and whatever else the run reads, lists or looks up below the project root
(``pyproject.toml``, a folder's ``pyvenv.cfg``, ``alembic.ini``...). A :class:`World` records all of
that as the run saw it (the files discovery read and hashed, and a :class:`Trace` of the rest),
and still holds when every file is listed again and hashed to the same digest and every look-up
gives the same answer. It also holds when the only files whose bytes changed are files the run
read no further than their import lines (most files of a large project: discovery keeps those
lines and their words, nothing else), whose lines and words are the same and which still use no
word of SQLAlchemy: the run cannot have made anything else of them (a commit that touches only
application code). Every other read of a listed file (a whole parse, a search for a word, a
codemod, a fingerprint) is traced and rules its file out. The plan is then the same, so it is
reused (:func:`remembered_plan`), and so is the whole output of a command that only prints
(:func:`run_cli`), which also depends on its arguments, the current directory, the environment,
the terminal's size, the installed libraries and unibase's own source. Anything that differs
makes a real run, remembered in place of the old one.

Both are kept in the fact cache's directory (:mod:`unibase.cache`, never in the project) and obey
the same switches: ``--no-cache`` or ``UNIBASE_NO_CACHE=1`` turns them off. Output is remembered
only when neither stdout nor stderr is a terminal (CI, pre-commit, a pipe): a terminal shows
progress and colours. Only exits 0 and 1 are remembered: an error is always reported by a real
run. This module imports nothing heavy: a replay starts neither Typer, Rich nor the planner.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import stat
import sys
from collections import namedtuple
from contextlib import contextmanager
from pathlib import Path

from .cache import (MISSING, cache_dir, content_hash, disabled_by_environment, inside, read_file, read_stamped,
                    source_fingerprint, write_stamped)

# the real functions: what the module looks up itself is never traced
_STAT, _LSTAT = os.stat, os.lstat

PLANS = "plans"
RUNS = "runs"
# commands whose output is a function of the project and the arguments only (apply only with
# --dry-run, which writes nothing)
REPLAYED = ("check", "plan", "apply")
# never replayed: options that write a file, read a plan from anywhere, or (--prefer) look for a
# path's tail in the whole tree
_UNREPLAYED_OPTIONS = ("--out", "--prefer", "--no-cache", "--help", "-h", "--diff-out", "--report", "--plan")
# the environment variables a shell changes between two identical commands
_VOLATILE_ENV = ("_", "OLDPWD", "SHLVL")


class World(namedtuple("World", "root given exclude files links seen lines read",
                       defaults=((), (), frozenset()))):
    """What one plan was made from (see the module's documentation):

    - ``root``: the project root; ``given``: the resolved path the command was given (the root is
      found upward from it); ``exclude``: the settings' excluded paths;
    - ``files``: (rel, size, mtime_ns, digest or None if unreadable) of each listed file;
    - ``links``: the listed files that are symbolic links -> where they lead;
    - ``seen``: (kind, path, what it looked like) of what else the run looked at below the root
      (see :class:`Trace`);
    - ``lines``: per entry of ``files``, for a file the run read no further than its import
      lines, the digest of what discovery kept of them (:func:`_lines_digest`); None for the others;
    - ``read``: the listed files read again after discovery's first read.

    A named tuple, not a dataclass: a replay imports this module, and ``dataclasses`` alone costs
    more than a small project's replay."""

    __slots__ = ()

    @classmethod
    def capture(cls, settings, index, trace: Trace) -> World | None:
        """The world ``index`` was read from and ``trace`` saw, or None when discovery kept no
        digest of a file or the trace is spoilt."""
        root = Path(settings.root)
        base, digests, aliases = f"{root}/", index.digests, index.aliases
        import_lines, import_words = index.import_lines, index.import_words
        entries, links, lines = [], [], []
        for rel in index.listed:
            info = _lstat(base + rel)
            if info is not None and stat.S_ISLNK(info.st_mode):
                links.append((rel, _readlink(base + rel)))
            if rel in aliases:
                continue
            if rel not in digests:
                return None  # read without the cache: nothing to compare with next time
            entries.append((rel, info.st_size if info else -1, info.st_mtime_ns if info else -1, digests[rel]))
            text = import_lines.get(rel)
            lines.append(None if text is None or rel not in import_words else _lines_digest(import_words[rel], text))
        given = root / settings.scope if settings.scope else root
        return cls(str(root), str(given), tuple(settings.exclude), tuple(entries), tuple(links),
                   lines=tuple(lines)).with_trace(trace)

    def holds(self) -> bool:
        """Whether the project is still what it was (see :meth:`now`)."""
        return self.now() is not None

    def now(self) -> World | None:
        """This world if the project is still what it was: the same root, files, links and bytes,
        and the same answers to what the run looked up; a copy with the new bytes' digests if the
        only files that changed are files the run read no further than their import lines, whose
        import lines are still the same and which still do not speak SQLAlchemy (what the run
        made cannot have changed: it knew nothing else of them); None otherwise. The likeliest
        differences are looked at first, so that a changed project costs little more than
        finding one changed file. What this looks at is not traced: it is this world's own check."""
        with untraced():
            return self._now()

    def _now(self) -> World | None:
        from .project import find_root, iter_python_files, symlink_aliases

        root = Path(self.root)
        if (find_root(Path(self.given)) or Path(self.given)) != root:
            return None
        same, infos, files = [], {}, list(self.files)
        for i, entry in enumerate(self.files):
            path = f"{self.root}/{entry[0]}"
            info = infos[entry[0]] = _lstat(path)
            if _size_time(info) == entry[1:3]:
                same.append((i, path))
            elif not self._same_bytes(i, path, files):
                return None  # edited (or deleted)
        listed = list(iter_python_files(root, self.exclude))
        aliases = symlink_aliases(root, listed)
        if [rel for rel in listed if rel not in aliases] != [entry[0] for entry in self.files]:
            return None
        links = []
        for rel in listed:
            info = infos[rel] if rel in infos else _lstat(f"{self.root}/{rel}")  # aliases were not looked at
            if info is not None and stat.S_ISLNK(info.st_mode):
                links.append((rel, _readlink(f"{self.root}/{rel}")))
        if tuple(links) != self.links:
            return None
        if not all(self._same_bytes(i, path, files) for i, path in same):
            return None
        if not all(_look(kind, path) == found for kind, path, found in self.seen):
            return None
        return self if files == list(self.files) else self._replace(files=tuple(files))

    def _same_bytes(self, i: int, path: str, files: list) -> bool:
        """Whether the file at ``path`` (entry ``i``) still has its bytes, or bytes that cannot
        change what the run made: it was read no further than its import lines, which are the
        same, and still has no word of SQLAlchemy (then its entry in ``files`` becomes what it is
        now)."""
        data = _bytes(path)
        rel, _, _, digest = self.files[i]
        if data is None or digest is None:  # unreadable then or now
            return data is None and digest is None
        now = content_hash(data)
        if now == digest:
            return True
        if i >= len(self.lines) or self.lines[i] is None or rel in self.read:
            return False
        from .reading import import_lines, speaks_sqlalchemy

        if speaks_sqlalchemy(data) or _lines_digest(*import_lines(data)) != self.lines[i]:
            return False
        files[i] = (rel, *_size_time(_lstat(path)), now)
        return True

    def with_trace(self, trace: Trace) -> World | None:
        """This world and what ``trace`` saw below its root besides the files it lists, each with
        what it looks like now (None when the run did what a replay cannot repeat)."""
        if trace.spoilt:
            return None
        known = {f"{self.root}/{rel}": rel for rel, *_ in self.files}
        prefix = self.root.rstrip(os.sep) + os.sep
        # what made a remembered plan counts too: this run only checked it (with untraced calls)
        looked = {(kind, path): found for kind, path, found in self.seen}
        seen, read = set(looked), set(self.read)
        for kind, path in set(trace.events):
            if not isinstance(path, str) or not path.startswith(prefix) or "/." in path or "//" in path:
                path = os.path.normpath(os.path.join(trace.cwd, os.fsdecode(path)))  # rarely needed
            if path in known:
                # the listed files' bytes and links are checked on their own; a read of one after
                # discovery's (which is not traced) may have taken more than its import lines
                if kind == "read":
                    read.add(known[path])
                elif kind == "list":
                    seen.add((kind, path))
            elif path == self.root or path.startswith(prefix):
                seen.add((kind, path))
        if any(kind == "write" for kind, _ in seen):
            return None
        return self._replace(read=frozenset(read),
                             seen=tuple((kind, path, looked[kind, path] if (kind, path) in looked else _look(kind, path))
                                        for kind, path in sorted(seen)))


def _look(kind: str, path: str):
    """What the file system says of ``path`` now, as the trace recorded it."""
    if kind == "read":
        return _file_digest(path)
    if kind == "list":
        try:
            return tuple(sorted(os.listdir(path)))
        except OSError:
            return None
    try:
        info = _STAT(path) if kind == "stat" else _LSTAT(path)
    except (OSError, ValueError):
        return None
    return stat.S_IFMT(info.st_mode)


class Trace:
    """What a run reads, lists and looks up in the file system (the files it opens, the folders it
    lists, the paths it asks ``os.stat``/``os.lstat`` about), so that a replay can check each is
    still the same. Writing below the project, or running any program but git for its list of files
    (which :meth:`World.holds` makes again) or its version, spoils it. Traces nest (a plan made
    during a command): the events are recorded once, and each trace takes those of its own span."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str | bytes]] = []  # as the run spelt the path
        self.spoilt = False
        self.cwd = os.getcwd()

    def __enter__(self) -> Trace:
        global _depth
        if not getattr(sys, "_unibase_audit", False):
            sys.addaudithook(_audit)  # for good: an audit hook cannot be removed
            sys._unibase_audit = True
        if _depth == 0:
            os.stat, os.lstat = _traced(_STAT, "stat"), _traced(_LSTAT, "lstat")
        _depth += 1
        self._start, self._spoils = len(_events), len(_spoils)
        return self

    def __exit__(self, *exc) -> None:
        global _depth
        self.events = _events[self._start:]
        self.spoilt = len(_spoils) > self._spoils
        _depth -= 1
        if _depth == 0:
            os.stat, os.lstat = _STAT, _LSTAT
            _events.clear()
            _spoils.clear()


_depth = 0  # traces open now
_events: list[tuple[str, str | bytes]] = []  # what the open traces have seen, in order
_spoils: list[str] = []  # what they have seen a replay cannot repeat


@contextmanager
def untraced():
    """What happens here is not traced: the listing of the project's files, which
    :meth:`World.holds` makes again whole (every folder it walks, every ``.gitignore`` it reads)."""
    global _quiet
    _quiet += 1
    try:
        yield
    finally:
        _quiet -= 1


_quiet = 0


def _note(kind: str, path) -> None:
    if _quiet:
        return
    if not isinstance(path, (str, bytes)):
        try:
            path = os.fspath(path)
        except TypeError:
            _spoils.append(f"{kind} of {path!r}")
            return
    _events.append((kind, path))


def _traced(real, kind: str):
    def traced(path, *args, **kwargs):
        if _depth and not isinstance(path, int):
            _note(kind, path)
        return real(path, *args, **kwargs)

    return traced


def _audit(event: str, args: tuple) -> None:
    if not _depth:
        return
    if event == "open":
        path, mode, flags = args
        if isinstance(path, int) or path is None:
            return
        writes = any(c in mode for c in "wax+") if isinstance(mode, str) else bool(flags & (os.O_WRONLY | os.O_RDWR))
        _note("write" if writes else "read", path)
    elif event in ("os.listdir", "os.scandir") and args and not isinstance(args[0], int):
        _note("list", args[0] if args[0] is not None else ".")
    elif event == "subprocess.Popen":
        argv = [os.fsdecode(a) for a in (args[1] or ())]
        # git's list of files (made again by World.holds), or its version (GitPython asks on import)
        if "ls-files" not in argv[:4] and argv[1:] != ["version"]:
            _spoils.append(" ".join(argv))


# --- plans ------------------------------------------------------------------------------------

_worlds: list[World | None] = []  # while run_cli records a run: the worlds of its plans, in order
_recording = False


def remembered_plan(settings):
    """The plan made last time with these settings, if the project has not changed since; None
    otherwise (and always with the cache off)."""
    if not settings.cache or disabled_by_environment():
        return None
    found = _load(PLANS, _settings_key(settings))
    if found is None:
        return None
    world, plan = found
    now = world.now() if isinstance(world, World) else None
    if now is None:
        return None
    _note_world(now)
    if now is world:
        _in_use(PLANS, _settings_key(settings), world)
    else:  # only files the plan knows by their import lines changed, not those
        _store(PLANS, _settings_key(settings), (now, plan))
    return plan


def remember_plan(settings, index, plan, trace: Trace) -> None:
    """Keep ``plan``, made from ``index`` while ``trace`` watched, for the next run with these
    settings on this project as it is now."""
    if not settings.cache or disabled_by_environment() or inside(cache_dir(), Path(settings.root)):
        _note_world(None)
        return
    world = World.capture(settings, index, trace)
    _note_world(world)
    if world is not None:
        _store(PLANS, _settings_key(settings), (world, plan))


def _note_world(world: World | None) -> None:
    if _recording:  # an API user making plan after plan keeps none of them
        _worlds.append(world)


def _settings_key(settings) -> str:
    try:
        blob = pickle.dumps(settings, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError):
        blob = repr(settings).encode()
    return _hash(blob)


# --- whole runs ---------------------------------------------------------------------------------

class Run(namedtuple("Run", "world output code")):
    """A run remembered: its :class:`World`, both streams' writes and flushes in order ((1 or 2,
    text, bytes, or None for a flush)) and its exit code."""

    __slots__ = ()


def run_cli(app, argv: list[str]) -> None:
    """Run the command line ``argv`` with ``app``: replay a remembered run when the command is
    replayed, nothing it depends on has changed and no terminal shows it; else run it (and
    remember its output when it can be replayed next time)."""
    key = _run_key(argv)
    if key is None:
        app()
        return
    found = _load(RUNS, key)
    now = found.world.now() if isinstance(found, Run) else None
    if now is not None:
        if now is found.world:
            _in_use(RUNS, key, now)
        else:  # only files the run knew by their import lines changed, not those
            _store(RUNS, key, found._replace(world=now))
        _replay(found)
    log: list[tuple[int, str | bytes | None]] = []  # both streams' writes and flushes, in order
    tees = [_Tee(sys.stdout, 1, log), _Tee(sys.stderr, 2, log)]
    real = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = tees
    code: int | str | None = "crashed"
    global _recording
    _recording = True
    _worlds.clear()
    try:
        with Trace() as trace:
            app()
        code = 0
    except SystemExit as exc:
        code = exc.code
        raise
    finally:
        _recording = False
        if sys.stdout is tees[0]:
            sys.stdout = real[0]
        if sys.stderr is tees[1]:
            sys.stderr = real[1]
        code = 0 if code is None else code
        if code in (0, 1) and len(_worlds) == 1 and _worlds[0] is not None and not any(t.spoilt for t in tees):
            world = _worlds[0].with_trace(trace)
            if world is not None:
                _store(RUNS, key, Run(world, tuple(log), code))


def _run_key(argv: list[str]) -> str | None:
    """The key of a run that can be replayed (None: this one cannot)."""
    if not argv or argv[0] not in REPLAYED or disabled_by_environment():
        return None
    if argv[0] == "apply" and "--dry-run" not in argv:
        return None
    if any(a in _UNREPLAYED_OPTIONS or a.startswith(tuple(o + "=" for o in _UNREPLAYED_OPTIONS)) for a in argv):
        return None
    try:
        if sys.stdout.isatty() or sys.stderr.isatty():
            return None
    except (AttributeError, ValueError):  # no stream (pythonw) or a closed one
        return None
    try:
        cwd = os.getcwd()
    except OSError:
        return None
    env = sorted((k, v) for k, v in os.environ.items() if k not in _VOLATILE_ENV)
    sizes = []
    for fd in (0, 1, 2):  # Rich takes its width from whichever standard stream is a terminal
        try:
            sizes.append(tuple(os.get_terminal_size(fd)))
        except (OSError, ValueError):
            sizes.append(None)
    # an installed or upgraded library (Typer, Rich, Click) changes its folder on sys.path
    path_times = [(p, _mtime(p)) for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
    return _hash(repr((argv, cwd, env, sizes, path_times, sys.executable, source_fingerprint())).encode())


def _replay(run: Run) -> None:
    streams = {1: sys.stdout, 2: sys.stderr}
    for fd, data in run.output:
        stream = streams[fd]
        if data is None:
            stream.flush()
        elif isinstance(data, bytes):
            stream.buffer.write(data)
        else:
            stream.write(data)
    sys.stdout.flush()
    sys.stderr.flush()
    raise SystemExit(run.code)


class _Tee:
    """A standard stream that also logs what is written to it, in order with the other one."""

    def __init__(self, stream, fd: int, log: list) -> None:
        self._stream = stream
        self._fd = fd
        self.log = log
        self.spoilt = False  # something was written that the log cannot hold

    def write(self, text):
        if isinstance(text, str):
            self.log.append((self._fd, text))
        else:
            self.spoilt = True
        return self._stream.write(text)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self.log.append((self._fd, None))
        self._stream.flush()

    @property
    def buffer(self):
        return _BufferTee(self)

    def __getattr__(self, name):
        return getattr(self._stream, name)


class _BufferTee:
    def __init__(self, tee: _Tee) -> None:
        self._tee = tee
        self._buffer = tee._stream.buffer

    def write(self, data):
        self._tee.log.append((self._tee._fd, bytes(data)))
        return self._buffer.write(data)

    def flush(self) -> None:
        self._buffer.flush()

    def __getattr__(self, name):
        return getattr(self._buffer, name)


# --- storage -------------------------------------------------------------------------------------

def _load(kind: str, key: str):
    found = read_stamped(cache_dir() / kind / f"{key}.pickle")
    return None if found is MISSING else found


def _in_use(kind: str, key: str, world: World) -> None:
    """A run that used what is remembered keeps it, and the project's facts, from being pruned."""
    from .cache import fact_file

    for path in (cache_dir() / kind / f"{key}.pickle", fact_file(Path(world.root), cache_dir())):
        try:
            os.utime(path)
        except OSError:
            pass


def _store(kind: str, key: str, value) -> None:
    """Write atomically; a cache that cannot be written is skipped without a word."""
    try:
        write_stamped(cache_dir() / kind / f"{key}.pickle", value)
    except (OSError, pickle.PicklingError, TypeError, AttributeError, RecursionError):
        pass


def _lines_digest(words: frozenset[bytes], text: bytes) -> bytes:
    """What discovery keeps of a file it reads no further than its import lines (the words on
    them and the lines themselves, :func:`unibase.reading.import_lines`), as one digest."""
    return hashlib.blake2b(b"\0".join(sorted(words)) + b"\1" + text, digest_size=16).digest()


def _hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _lstat(path: str) -> os.stat_result | None:
    try:
        return _LSTAT(path)
    except OSError:
        return None


def _size_time(info: os.stat_result | None) -> tuple[int, int]:
    return (info.st_size, info.st_mtime_ns) if info is not None else (-1, -1)


def _readlink(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return ""


def _mtime(path: str) -> int | None:
    try:
        return _STAT(path).st_mtime_ns
    except OSError:
        return None


def _bytes(path: str) -> bytes | None:
    try:
        return read_file(path)
    except OSError:
        return None


def _file_digest(path: str) -> bytes | None:
    data = _bytes(path)
    return None if data is None else content_hash(data)
