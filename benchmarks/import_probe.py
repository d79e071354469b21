#!/usr/bin/env python3
"""Import a project's model modules and report what SQLAlchemy makes of them (run by corpus.py).

    python benchmarks/import_probe.py OUT.json TREE PROJECT_NAMES_JSON ROOT:dotted.module ...

Runs in its own process with the harness's interpreter, inside ``TREE`` (a checkout of a real
project). Each ``ROOT`` (relative to ``TREE``) goes on ``sys.path``. Third-party packages that
are not installed are replaced by stand-ins: a finder placed last on ``sys.meta_path`` (so it is
asked only after every real finder failed) serves a permissive module for any top-level name that
is not in the standard library, not ``sqlalchemy`` and not one of ``PROJECT_NAMES`` (the
project's own top-level packages and modules: those must import for real). A stand-in's
attributes can be called, subclassed, subscripted, used as decorators, as context managers and
as paths (into a scratch folder removed on exit).

An engine that cannot be made (``create_engine`` raises: a URL from a stand-in setting, a driver
that is not installed) is made on in-memory SQLite instead, and listed.

Writes ``OUT.json``: per module ``null`` (imported) or the error; the stand-ins served; the number
of distinct ``MetaData`` objects reachable from declarative classes (every live registry, and every
class with a registry in the project's modules); whether ``configure_mappers()`` succeeds; and for
each metadata whether ``create_all()`` succeeds on an in-memory SQLite engine. The result goes to
a file, not stdout, because imported code may print anything.
"""

from __future__ import annotations

import atexit
import functools
import importlib
import importlib.abc
import importlib.machinery
import json
import os
import shutil
import sys
import sysconfig
import tempfile
import traceback
import types


class StandIn:
    """Any attribute, call, subscript or ``|`` gives another stand-in; used as a decorator,
    gives back what it decorates; used as a base class, gives a plain class."""

    def __init__(self, name: str = "stand-in") -> None:
        object.__setattr__(self, "_name", name)

    def __getattr__(self, attr: str):
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)
        return StandIn(f"{self._name}.{attr}")

    def __call__(self, *args, **kwargs):
        if len(args) == 1 and not kwargs and callable(args[0]):
            return args[0]
        return StandIn(f"{self._name}()")

    def __mro_entries__(self, bases):
        return (type(self._name.rpartition(".")[2] or "StandIn", (StandInBase,), {}),)

    def __instancecheck__(self, instance) -> bool:
        return False

    def __subclasscheck__(self, cls) -> bool:
        return False

    def __getitem__(self, key):
        return self

    def __or__(self, other):
        return self

    __ror__ = __or__

    def __iter__(self):
        return iter(())

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> bool:
        return False

    def __fspath__(self) -> str:
        # a stand-in setting used as a path (``os.path.join(settings.BASE_DIR, "logs")``): a path
        # in this probe's scratch folder, so whatever the import writes there is thrown away
        return os.path.join(scratch(), self._name)

    def __repr__(self) -> str:
        return f"<stand-in {self._name}>"


@functools.cache
def scratch() -> str:
    """This process's scratch folder, made on first use, removed on exit."""
    path = tempfile.mkdtemp(prefix="import-probe-")
    atexit.register(shutil.rmtree, path, True)
    return path


class StandInBase:
    """What a class defined on a stand-in base inherits: accepts any arguments."""

    def __init__(self, *args, **kwargs) -> None:
        pass

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__()


class StandInModule(types.ModuleType):
    def __getattr__(self, attr: str):
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)
        return StandIn(f"{self.__name__}.{attr}")


class StandInFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves a stand-in for whatever no real finder found, unless it is protected or the standard
    library asks (``copy`` probes for Jython's ``org.python.core``). Installed libraries probing
    for an optional dependency get one (SQLAlchemy's asyncio needs ``greenlet`` to import at
    all): permissive on purpose, the probe is about the models."""

    def __init__(self, protected: set[str]) -> None:
        self.protected = protected
        self.served: set[str] = set()

    def find_spec(self, fullname, path=None, target=None):
        top = fullname.partition(".")[0]
        if top in self.protected or from_stdlib(sys._getframe(1)):
            return None
        self.served.add(top)
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec):
        module = StandInModule(spec.name)
        module.__path__ = []
        module.__all__ = []
        return module

    def exec_module(self, module) -> None:
        pass


STDLIB = os.path.normpath(sysconfig.get_paths()["stdlib"]) + os.sep
IMPORTLIB = STDLIB + "importlib" + os.sep  # importlib.import_module(...) acts for its caller


def from_stdlib(frame) -> bool:
    """Whether the import statement that reached the finder is in the standard library."""
    while frame and (frame.f_code.co_filename.startswith(("<frozen", IMPORTLIB)) or frame.f_code.co_filename == __file__):
        frame = frame.f_back
    filename = frame.f_code.co_filename if frame else ""
    return filename.startswith(STDLIB) and "-packages" + os.sep not in filename


def engines_fall_back_to_sqlite(fallbacks: list[str]) -> None:
    """``create_engine(url)`` that fails (a URL built from stand-in settings, a missing driver)
    gives an in-memory SQLite engine instead: a module that makes its engine at import still
    imports, and the probe never connects anywhere real."""
    import sqlalchemy
    import sqlalchemy.engine

    real = sqlalchemy.create_engine

    def create_engine(url, *args, **kwargs):
        try:
            return real(url, *args, **kwargs)
        except Exception as exc:
            fallbacks.append(f"{str(url)[:80]}: {type(exc).__name__}")
            return real("sqlite://")

    sqlalchemy.create_engine = sqlalchemy.engine.create_engine = create_engine


def error_text(exc: BaseException) -> str:
    where = ""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not f.filename.startswith(sys.prefix) and f.filename != __file__]
    if frames:
        where = f" ({frames[-1].filename}:{frames[-1].lineno})"
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}{where}"[:500]


def under(path: str | None, tree: str) -> bool:
    return bool(path) and os.path.abspath(path).startswith(tree + os.sep)


def metadatas(tree: str) -> list:
    from sqlalchemy import MetaData
    from sqlalchemy.orm import registry

    found: dict[int, MetaData] = {}
    try:
        from sqlalchemy.orm.mapperlib import _mapper_registries  # private, SQLAlchemy 2.x
        for reg in list(_mapper_registries):
            found.setdefault(id(reg.metadata), reg.metadata)
    except ImportError:
        pass
    for module in list(sys.modules.values()):
        if not under(getattr(module, "__file__", None), tree):
            continue
        for obj in list(vars(module).values()):
            md = getattr(obj, "metadata", None) if isinstance(obj, type) else None
            if isinstance(md, MetaData) and isinstance(getattr(obj, "registry", None), registry):
                found.setdefault(id(md), md)
    return list(found.values())


def main(argv: list[str]) -> int:
    out, tree, project_names, *specs = argv
    tree = os.path.abspath(tree)
    sys.dont_write_bytecode = True
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]  # our own scripts shadow nothing
    finder = StandInFinder(set(sys.stdlib_module_names) | {"sqlalchemy"} | set(json.loads(project_names)))
    roots = []
    for spec in specs:
        root = spec.rpartition(":")[0] or "."
        roots.append(os.path.normpath(os.path.join(tree, root)))
    for root in reversed(dict.fromkeys(roots)):
        sys.path.insert(0, root)
    sys.meta_path.append(finder)
    fallbacks: list[str] = []
    engines_fall_back_to_sqlite(fallbacks)
    result: dict = {"modules": {}}
    for spec in specs:
        name = spec.rpartition(":")[2]
        try:
            importlib.import_module(name)
            result["modules"][name] = None
        except BaseException as exc:  # SystemExit too: imported code may call sys.exit
            if isinstance(exc, KeyboardInterrupt):
                raise
            result["modules"][name] = error_text(exc)
    result["stand_ins"] = sorted(finder.served)
    result["engines_on_sqlite"] = fallbacks
    from sqlalchemy import create_engine
    from sqlalchemy.orm import configure_mappers

    mds = metadatas(tree)
    result["metadatas"] = len(mds)
    try:
        configure_mappers()
        result["configure_mappers"] = None
    except Exception as exc:
        result["configure_mappers"] = error_text(exc)
    result["create_all"] = []
    for md in mds:
        try:
            md.create_all(create_engine("sqlite://"))
            result["create_all"].append({"tables": len(md.tables), "error": None})
        except Exception as exc:
            result["create_all"].append({"tables": len(md.tables), "error": error_text(exc)})
    with open(out, "w", encoding="utf-8") as fh:
        json.dump(result, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
