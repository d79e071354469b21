"""The import check's ``create_all()`` on SQLite, run beside ``configure_mappers()``.

Once the models are imported, :mod:`unibase.verify.child` forks (where it can, see :func:`start`):
the fork creates the tables on a scratch database of its own while the child configures the
mappers, each on a core, sharing the imported models copy-on-write. Mapper configuration can
change the schema (an ``after_configured`` listener may add tables or columns), so the fork's
result is used only when it is provably the one the child would have had by running
``create_all()`` itself after ``configure_mappers()``, as it does otherwise: before (in the fork)
and after (in the child) the mappers are configured, the same metadatas list the same tables in
the same order, each created by the same statements on SQLite (:func:`scratch.table_statements`),
with the same DDL event listeners, every one of them SQLAlchemy's own (a ``SchemaType``'s hooks; a
project's listener could act differently once the mappers are configured, so with one, or with a
listener on every engine, pool or dialect, there is no fork). In every other case (no fork, a fork that failed or died, a state that differs or is
unknown) the child runs ``create_all()`` itself after ``configure_mappers()``, as before; and a
``configure_mappers()`` failure is reported as before, the fork's result thrown away.

Like the child, it runs in the project's interpreter with the standard library and SQLAlchemy
only; the child loads it by path from beside itself.
"""

import functools
import hashlib
import json
import os
import signal
import sys
import threading

PR_SET_PDEATHSIG = 1  # prctl(2) on Linux


def parent_death_signal():
    """On Linux, prctl(2) from the C library, with which a forked process asks for SIGKILL when
    the process that forked it goes: no fork outlives it. None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except Exception:
        return None


def cores():
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def sqlalchemy_hook(fn):
    """A DDL listener as a comparable text when it is SQLAlchemy's own (a method of a SQLAlchemy
    object, both defined by SQLAlchemy, as ``SchemaType`` registers for ``Enum`` columns); else None."""
    if isinstance(fn, functools.partial):
        fn = fn.func
    owner, func = getattr(fn, "__self__", None), getattr(fn, "__func__", None)
    if owner is None and type(fn).__name__ == "portable_instancemethod":  # SQLAlchemy 1.4
        owner = getattr(fn, "target", None)
        func = getattr(type(owner), getattr(fn, "name", ""), None)
    if owner is None or func is None:
        return None
    if not (getattr(func, "__module__", "") or "").startswith("sqlalchemy.") or \
            not type(owner).__module__.startswith("sqlalchemy."):
        return None
    return "%s.%s@%x" % (type(owner).__qualname__, func.__name__, id(owner))


def ddl_hooks(metadatas):
    """Every DDL event listener ``create_all()`` of ``metadatas`` can call, each as a text; None
    when one of them is not SQLAlchemy's own, or a table is created otherwise than by its
    ``CREATE TABLE`` (a view, or a table made from a query)."""
    out = []
    for i, md in enumerate(metadatas):
        targets = [("", md)]
        for t in md.tables.values():
            if getattr(t, "is_view", False) or getattr(t, "_creator_ddl", None) is not None:
                return None
            targets.append((t.key, t))
            targets.extend(("%s:%s" % (t.key, ix.name), ix) for ix in t.indexes)
        for where, target in targets:
            dispatch = getattr(target, "dispatch", None)
            for event in ("before_create", "after_create"):
                for fn in getattr(dispatch, event, None) or ():
                    hook = sqlalchemy_hook(fn)
                    if hook is None:
                        return None
                    out.append([i, where, event, hook])
    return out


def engine_hooks():
    """Whether a listener is registered for every engine, pool or dialect (``event.listen(Engine,
    ...)``): it would run in the fork before the mappers are configured, and could act otherwise.
    The scratch engines' own listeners are not registered yet."""
    from sqlalchemy import create_engine

    engine = create_engine("sqlite://")  # never connected
    for dispatch in (engine.dispatch, engine.pool.dispatch, getattr(engine.dialect, "dispatch", None)):
        for name in getattr(dispatch, "_event_names", ()):
            if getattr(getattr(dispatch, name), "parent_listeners", None):
                return True
    return False


def schema_state(metadatas, dialect, table_statements, known=None):
    """What ``create_all()`` of ``metadatas`` does on SQLite, as a digest: the tables of each
    metadata in order, the statements that create them, the DDL listeners. None when it depends
    on a listener that is not SQLAlchemy's own, or a table does not compile. ``known``: the
    statements of the only metadata, when the caller has them."""
    hooks = ddl_hooks(metadatas)
    if hooks is None:
        return None
    try:
        statements = [known if known is not None and len(metadatas) == 1 else table_statements(md, dialect)
                      for md in metadatas]
    except Exception:
        return None
    text = json.dumps([[list(md.tables) for md in metadatas], statements, hooks])
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=20).hexdigest()


class Fork:
    """The fork creating the tables: its pid, and the pipe its result comes through."""

    def __init__(self, pid, pipe):
        self.pid, self.pipe = pid, pipe

    def result(self, state):
        """The fork's result when it created the tables from the schema whose digest is ``state``
        (``{"tables": N}`` or ``{"error": ...}``); None otherwise (then create them here)."""
        chunks = []
        try:
            while True:
                chunk = os.read(self.pipe, 65536)
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            self._end()
        try:
            out = json.loads(b"".join(chunks).decode("utf-8"))
        except ValueError:
            return None  # it died before writing
        if state is None or out.get("state") != state or ("tables" not in out and "error" not in out):
            return None
        return {key: out[key] for key in ("tables", "error") if key in out}

    def discard(self):
        try:
            os.kill(self.pid, signal.SIGKILL)
        except OSError:
            pass
        self._end()

    def _end(self):
        os.close(self.pipe)
        try:
            os.waitpid(self.pid, 0)
        except OSError:
            pass


def start(metadatas, dialect, table_statements, create):
    """Fork a process that records :func:`schema_state` and runs ``create()`` (which creates the
    tables on a database of its own, and returns ``{"tables": N}`` or ``{"error": ...}``), or
    return None where it would not pay (one core: the fork would only wait for the child) or
    cannot run soundly: no ``fork``, no parent-death signal (a fork must not
    outlive the child, which is killed on a timeout), another thread running (a lock it holds
    would stay held in the fork), a DDL listener that is not SQLAlchemy's own, or a listener on
    every engine (:func:`engine_hooks`)."""
    if not hasattr(os, "fork") or cores() < 2 or threading.active_count() != 1 or ddl_hooks(metadatas) is None \
            or engine_hooks():
        return None
    prctl = parent_death_signal()
    if prctl is None:
        return None
    parent = os.getpid()
    read_end, write_end = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        return None
    if pid:
        os.close(write_end)
        return Fork(pid, read_end)
    out = {}
    try:
        os.close(read_end)
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() == parent:
            out["state"] = schema_state(metadatas, dialect, table_statements)
            if out["state"] is not None:
                out.update(create())
        data = json.dumps(out, default=str).encode("utf-8")
        while data:
            data = data[os.write(write_end, data):]
    finally:
        os._exit(0)  # none of the child's teardown, and no result of its own
