"""The verification child: runs inside the project's own interpreter, by path.

:func:`unibase.verify.verify_project` starts this file with the interpreter the project runs
on (``--python``), or forks it from :mod:`unibase.verify.forkserver`, which loaded it in that
interpreter. That may be another Python than unibase's, so it imports only the standard
library, SQLAlchemy and (for the schema comparison) Alembic besides the project's model
modules, and keeps to syntax every supported Python reads. Its stdout is redirected to stderr
while user code runs, so prints at import time cannot corrupt the result, which it writes
after :data:`MARKER` as JSON.
"""
import gc
import importlib
import importlib.util
import json
import os
import sys
import traceback
import types
import warnings

MARKER = "\n@@unibase-verify-result@@\n"


def load_beside(name):
    """A module of the child that sits beside this file (copied into verify's scratch folder as
    ``unibase_verify_NAME.py``, or ``NAME.py`` in unibase's own package), loaded by path under a
    name no project module has: this folder is never on ``sys.path``."""
    here = os.path.dirname(os.path.abspath(__file__))
    for file in ("unibase_verify_%s.py" % name, "%s.py" % name):
        path = os.path.join(here, file)
        if os.path.exists(path):
            spec = importlib.util.spec_from_file_location("unibase_verify_" + name, path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
    raise ImportError("%s.py is missing beside %s" % (name, __file__))


scratch = load_beside("scratch")
overlap = load_beside("overlap")


def project_path(path):
    """``path`` relative to the project root (the working directory) when it is inside it."""
    if not path:
        return path
    rel = os.path.relpath(os.path.abspath(path), os.getcwd())
    return path if rel.startswith("..") else rel.replace(os.sep, "/")


def describe(exc, stage, module=None, file=None):
    """An exception as data, located at the deepest frame inside the project."""
    location = None
    for fr in reversed(traceback.extract_tb(exc.__traceback__)):
        rel = project_path(fr.filename)
        if rel != fr.filename and os.path.abspath(fr.filename) != os.path.abspath(__file__):  # not this program
            location = f"{rel}:{fr.lineno}"
            break
    if location is None and isinstance(exc, SyntaxError) and exc.filename:
        location = f"{project_path(exc.filename)}:{exc.lineno}"
    return {
        "stage": stage,
        "module": module,
        "file": project_path(file),
        "error_class": f"{type(exc).__module__}.{type(exc).__qualname__}",
        "missing": getattr(exc, "name", None) if isinstance(exc, ImportError) else None,
        "message": str(exc)[:3000],
        "location": location,
    }


def import_chain(name, inits):
    """Import ``name``; a parent package whose __init__ raises is replaced by a bare package."""
    parts = name.split(".")
    for i in range(1, len(parts)):
        pkg = ".".join(parts[:i])
        if pkg in sys.modules:
            continue
        try:
            importlib.import_module(pkg)
        except (Exception, SystemExit) as exc:
            try:
                spec = importlib.util.find_spec(pkg)
            except (Exception, SystemExit):
                spec = None
            if spec is None or spec.submodule_search_locations is None:
                raise
            inits.append(describe(exc, "package-init", pkg, spec.origin))
            stub = types.ModuleType(pkg)
            stub.__path__ = list(spec.submodule_search_locations)
            stub.__spec__ = spec
            stub.__file__ = spec.origin
            stub.__package__ = pkg
            sys.modules[pkg] = stub
            if i > 1:
                setattr(sys.modules[".".join(parts[: i - 1])], parts[i - 1], stub)
    return importlib.import_module(name)


def base_metadata(module, attr):
    obj = sys.modules[module]
    for part in attr.split("."):
        obj = getattr(obj, part)
    md = getattr(obj, "metadata", None)
    if md is None:
        raise TypeError(f"{module}.{attr} has no metadata")
    return md


def final_name(const, dialect):
    name = const.name
    if name is None:
        return None
    try:
        return dialect.identifier_preparer.format_constraint(const, _alembic_quote=False)
    except Exception:
        return None if type(name).__name__ == "_NoneName" else str(name)


def columns_of(const):
    exprs = getattr(const, "expressions", None)
    if exprs is None:
        exprs = list(const.columns)
    return [getattr(e, "name", None) or str(e) for e in exprs]


def combine(metadatas, dialect, notes):
    """One MetaData holding a copy of every table, constraint names kept as they were."""
    from sqlalchemy import MetaData
    from sqlalchemy.sql.elements import conv

    if len(metadatas) == 1:
        return metadatas[0]
    target = MetaData()
    for md in metadatas:
        for table in md.tables.values():
            if table.key in target.tables:
                notes.append(f"table {table.key} is defined on more than one base; the first definition is used")
                continue
            names = {}  # (kind, columns) -> the names the source gave them (an index=True column
            # and an Index() on that column are two indexes of one signature)
            for const in list(table.constraints) + list(table.indexes):
                names.setdefault((type(const).__name__, tuple(columns_of(const))), []).append(
                    final_name(const, dialect))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                copy = table.to_metadata(target)
            # column-level unique=/index= are re-made on the copy with the target's (default)
            # naming convention: put back the names the source metadata gave them
            renamed = []
            for const in list(copy.constraints) + list(copy.indexes):
                pool = names.get((type(const).__name__, tuple(columns_of(const))), [])
                if final_name(const, dialect) in pool:
                    pool.remove(final_name(const, dialect))
                else:
                    renamed.append((const, pool))
            for const, pool in renamed:
                name = pool.pop(0) if pool else None
                if name is not None:
                    const.name = conv(name)
    return target


def type_text(t, dialect):
    try:
        return str(t.compile(dialect=dialect))
    except Exception:
        return repr(t)


def fk_target(fk):
    refs = [e.target_fullname for e in fk.elements]
    table = refs[0].rsplit(".", 1)[0].rsplit(".", 1)[-1] if refs else "?"
    return table, [r.rsplit(".", 1)[-1] for r in refs]


def named(name):
    return f"{name} " if name else ""


def serialise(item, dialect):
    op = item[0]
    if op in ("add_table", "remove_table"):
        t = item[1]
        return {"op": op, "table": t.name, "text": f"{t.fullname} ({', '.join(c.name for c in t.columns)})"}
    if op in ("add_column", "remove_column"):
        _, schema, tname, col = item
        null = "" if col.nullable else " NOT NULL"
        return {"op": op, "table": tname, "text": f"{tname}.{col.name} {type_text(col.type, dialect)}{null}"}
    if op in ("add_index", "remove_index"):
        idx = item[1]
        cols = columns_of(idx)
        name = final_name(idx, dialect)
        uniq = " UNIQUE" if idx.unique else ""
        return {"op": op, "table": idx.table.name, "name": name, "what": "index",
                "sig": ["index", cols, bool(idx.unique)],
                "text": f"index {named(name)}on {idx.table.name}({', '.join(cols)}){uniq}"}
    if op in ("add_constraint", "remove_constraint"):
        const = item[1]
        cols = columns_of(const)
        kind = type(const).__name__
        what = {"UniqueConstraint": "unique constraint", "CheckConstraint": "check constraint"}.get(kind, kind)
        name = final_name(const, dialect)
        return {"op": op, "table": const.table.name, "name": name, "what": what,
                "sig": [kind, cols], "text": f"{what} {named(name)}on {const.table.name}({', '.join(cols)})"}
    if op in ("add_fk", "remove_fk"):
        fk = item[1]
        cols = [c.name for c in fk.columns] if len(fk.columns) else list(fk.column_keys)
        rtable, rcols = fk_target(fk)
        name = final_name(fk, dialect)
        tname = fk.parent.name
        return {"op": op, "table": tname, "name": name, "what": "foreign key",
                "sig": ["fk", cols, rtable, rcols],
                "text": f"foreign key {named(name)}{tname}({', '.join(cols)}) -> {rtable}({', '.join(rcols)})"}
    if op.startswith("modify_"):
        _, schema, tname, cname, existing, old, new = item
        if op == "modify_type":
            old, new = type_text(old, dialect), type_text(new, dialect)
        return {"op": op, "table": tname, "text": f"{tname}.{cname}: {old} -> {new}"}
    target = item[1] if len(item) > 1 else None
    table = getattr(target, "name", None) if target is not None else None
    return {"op": op, "table": table, "text": repr(item[1:])[:500]}


def constraint_names(conn, md, reported, insp, names=None):
    """Primary key, foreign key and unique constraint names that Alembic's autogenerate does not compare.

    ``reported``: (table, signature) of the constraints Alembic already reported; ``insp``: an
    inspector of ``conn`` (its cache shared with :func:`unnamed_before`); ``names``: only the
    tables of these names, when given.
    """
    from sqlalchemy import UniqueConstraint

    dialect = conn.dialect
    out = []

    def expected(name, default):
        if name is not None:
            return name
        if dialect.name == "sqlite":
            return None  # an unnamed constraint reflects as None there
        if dialect.name == "postgresql" and len(default) <= 63:
            return default
        return Ellipsis  # unknown: do not compare

    by_schema = {}
    for t in md.tables.values():
        if names is not None and t.name not in names:
            continue
        if t.schema not in by_schema:
            by_schema[t.schema] = set(insp.get_table_names(schema=t.schema))
        if t.name not in by_schema[t.schema]:
            continue
        pk_cols = [c.name for c in t.primary_key.columns]
        if pk_cols:
            db = insp.get_pk_constraint(t.name, schema=t.schema).get("name")
            want = expected(final_name(t.primary_key, dialect), f"{t.name}_pkey")
            if want is not Ellipsis and db != want:
                out.append({"op": "rename_constraint", "table": t.name,
                            "text": f"primary key on {t.name}({', '.join(pk_cols)}) named {db!r} before the merge, {want!r} after"})
        db_fks = {}
        for f in insp.get_foreign_keys(t.name, schema=t.schema):
            db_fks[(tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]))] = f.get("name")
        for fk in t.foreign_key_constraints:
            cols = [c.name for c in fk.columns]
            rtable, rcols = fk_target(fk)
            key = (tuple(cols), rtable, tuple(rcols))
            if key not in db_fks:
                continue  # a lost or new foreign key: Alembic reports it
            want = expected(final_name(fk, dialect), f"{t.name}_{'_'.join(cols)}_fkey")
            if want is not Ellipsis and db_fks[key] != want:
                out.append({"op": "rename_fk", "table": t.name,
                            "text": f"foreign key {t.name}({', '.join(cols)}) -> {rtable}({', '.join(rcols)}) named "
                                    f"{db_fks[key]!r} before the merge, {want!r} after"})
        db_uqs = {tuple(u["column_names"]): u.get("name") for u in insp.get_unique_constraints(t.name, schema=t.schema)}
        for uq in t.constraints:
            if not isinstance(uq, UniqueConstraint):
                continue
            cols = columns_of(uq)
            if tuple(cols) not in db_uqs or (t.name, json.dumps(["UniqueConstraint", cols])) in reported:
                continue
            want = expected(final_name(uq, dialect), f"{t.name}_{'_'.join(cols)}_key")
            if want is not Ellipsis and db_uqs[tuple(cols)] != want:
                out.append({"op": "rename_constraint", "table": t.name,
                            "text": f"unique constraint on {t.name}({', '.join(cols)}) named "
                                    f"{db_uqs[tuple(cols)]!r} before the merge, {want!r} after"})
    return out


def unnamed_before(insp, md, out):
    """A unique constraint Alembic reports as added where the database has one on the same
    columns (unnamed before, named by a naming convention now) is a rename, said as one."""
    tables = {t.name: t for t in md.tables.values()}
    for i, d in enumerate(out):
        if d["op"] != "add_constraint" or (d.get("sig") or [None])[0] != "UniqueConstraint":
            continue
        t = tables.get(d["table"])
        cols = tuple(d["sig"][1])
        try:
            found = {tuple(u["column_names"]): u.get("name")
                     for u in insp.get_unique_constraints(d["table"], schema=t.schema if t is not None else None)}
        except Exception:
            continue
        if cols in found:
            out[i] = {"op": "rename_constraint", "table": d["table"], "sig": d["sig"],
                      "text": f"unique constraint on {d['table']}({', '.join(cols)}) named {found[cols]!r} "
                              f"before the merge, {d['name']!r} after"}


def compare(url, md, names=None):
    """What Alembic reports for ``md`` against the database at ``url``, and the constraint names it
    leaves out; only of the tables called one of ``names`` (on both sides) when that is given."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import inspect

    if names is not None and not names:
        return []
    engine = scratch.scratch_engine(url)
    scratch.table_sql_once(engine.dialect)
    try:
        with engine.connect() as conn:
            opts = {"compare_type": True, "compare_server_default": False,
                    "include_schemas": any(t.schema for t in md.tables.values())}
            if names is not None:
                opts["include_name"] = lambda name, kind, parents: kind != "table" or name in names
                opts["include_object"] = lambda obj, name, kind, reflected, other: kind != "table" or name in names
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                raw = compare_metadata(MigrationContext.configure(conn, opts=opts), md)
            out = []
            for item in raw:
                for one in (item if isinstance(item, list) else [item]):
                    out.append(serialise(one, conn.dialect))
            insp = inspect(conn)
            unnamed_before(insp, md, out)
            reported = {(d["table"], json.dumps(d["sig"])) for d in out if d.get("sig")}
            out.extend(constraint_names(conn, md, reported, insp, names))
            return out
    finally:
        engine.dispose()


def dialect_of(url):
    from sqlalchemy.engine import make_url

    return make_url(url).get_dialect()()


def run(args, result):
    sys.path[:0] = [r for r in args["roots"] if r not in sys.path]
    import sqlalchemy

    result["sqlalchemy"] = sqlalchemy.__version__
    inits = result["package_inits"] = []
    errors = []
    for name in args["modules"]:
        try:
            import_chain(name, inits)
        except (Exception, SystemExit) as exc:
            errors.append(describe(exc, "import", name))
    metadatas = []
    if not errors:
        for module, attr in args["bases"]:
            try:
                md = base_metadata(module, attr)
            except Exception as exc:
                errors.append(describe(exc, "import", f"{module}:{attr}"))
                continue
            if all(md is not m for m in metadatas):
                metadatas.append(md)
    if errors:
        result["error"] = errors[0]
        result["errors"] = errors
        for key in ("builds", "compares"):
            result[key] = [{"error": errors[0]} for _ in args[key]]
        return

    fork = None
    if args.get("import_db"):
        from sqlalchemy.orm import configure_mappers

        if not args.get("combine"):
            # create_all() in a fork, while configure_mappers() runs here (used only when the
            # schema it created from is provably the one configured here)
            fork = overlap.start(metadatas, dialect_of("sqlite://"), scratch.table_statements,
                                 lambda: create_tables(metadatas, args["import_db"] + "-fork", False))
        try:
            configure_mappers()
        except Exception as exc:
            result["error"] = describe(exc, "configure_mappers")
    # the merged tree's side of the comparison, for the old tree's child (which waits for it)
    combined = {}

    def merged(url):
        combined[url] = combine(metadatas, dialect_of(url), [])
        return combined[url]

    mine = share_statements(args, scratch.first_sqlite(args["compares"]), merged)
    if fork is not None and "error" in result:
        fork.discard()
    elif fork is not None:
        known = mine["tables"] if mine and mine["url"].startswith("sqlite") else None
        created = fork.result(overlap.schema_state(metadatas, dialect_of("sqlite://"), scratch.table_statements,
                                                   known))
        result.update(created or create_tables(metadatas, args["import_db"], False))
    elif args.get("import_db") and "error" not in result:
        result.update(create_tables(metadatas, args["import_db"], args.get("combine")))

    result["builds"] = []
    built = []
    names_on = {}  # url -> the names of the tables the two trees create differently there
    for url in args["builds"]:
        build = {"notes": []}
        result["builds"].append(build)

        def differently(md, url=url):
            # this tree's statements for the merged tree's child, and the merged tree's (its
            # child writes them early on): the tables both create alike need no database
            if url != scratch.first_sqlite(args["builds"]):
                return None
            mine = share_statements(args, url, lambda u: md)
            theirs = None
            if mine and args.get("statements_from"):
                theirs = scratch.wait_json(args["statements_from"], args.get("timeout", 600))
            names_on[url] = scratch.differing(mine, theirs, url)
            return names_on[url]

        built.append(build_database(url, metadatas, build, differently))
    if args.get("ready_file"):
        scratch.write_ready(args["ready_file"], [md is not None for md in built])
    for url, build, md in zip(args["builds"], result["builds"], built):
        if md is not None:
            try:
                # what Alembic reports for the old metadata against its own database is noise
                build["baseline"] = compare(url, md, names_on.get(url))
            except Exception as exc:
                build["error"] = describe(exc, "compare")

    result["compares"] = []
    ready = scratch.wait_ready(args["wait_for"], args.get("timeout", 600)) if args["compares"] and args.get("wait_for") else None
    theirs = scratch.wait_json(args["statements_from"], 0) if args["compares"] and args.get("statements_from") else None
    for i, url in enumerate(args["compares"]):
        entry = {}
        result["compares"].append(entry)
        if ready is not None and not (i < len(ready) and ready[i]):
            entry["error"] = {"stage": "old", "error_class": "", "message": "the old database was not built"}
            continue
        try:
            md = combined[url] if url in combined else merged(url)
            names = scratch.differing(mine, theirs, url)
            entry["diffs"] = compare(url, md, names)
            if names is not None:
                entry["alike"] = sum(t.name not in names for t in md.tables.values())
        except Exception as exc:
            entry["error"] = describe(exc, "compare")


def create_tables(metadatas, path, combined):
    """The import check's ``create_all()`` of every metadata on a new SQLite database at ``path``
    (``combined``: of one metadata holding them all, as the tree before the merge is built):
    ``{"tables": N}``, or ``{"error": ...}``."""
    engine = scratch.scratch_engine("sqlite:///" + path)
    try:
        if combined:
            # the tree before the merge: its bases are one database, built as one
            combine(metadatas, engine.dialect, []).create_all(engine)
        else:
            for md in metadatas:
                md.create_all(engine)
        return {"tables": sum(len(md.tables) for md in metadatas)}
    except Exception as exc:
        return {"error": describe(exc, "create_all")}
    finally:
        engine.dispose()


def build_database(url, metadatas, build, names_for=None):
    """Create every in-scope table on ``url`` (only those called one of ``names_for(metadata)``
    when that is not None); the metadata used, or None (``build["error"]`` says why)."""
    try:
        import alembic  # noqa: F401  (the comparison needs it; say so before building anything)
    except Exception as exc:
        build["error"] = describe(exc, "alembic")
        return None
    try:
        engine = scratch.scratch_engine(url)
        with engine.connect():
            pass
    except Exception as exc:
        build["error"] = describe(exc, "connect")
        return None
    try:
        md = combine(metadatas, engine.dialect, build["notes"])
        names = names_for(md) if names_for else None
        md.create_all(engine, tables=None if names is None else [t for t in md.tables.values() if t.name in names])
        build["tables"] = len(md.tables)
        return md
    except Exception as exc:
        build["error"] = describe(exc, "create_all")
        return None
    finally:
        engine.dispose()


def share_statements(args, url, metadata_for):
    """Write this tree's :func:`table_statements` on ``url`` (of the metadata compared there,
    ``metadata_for(url)``) where the other tree's child reads them; what was written, or None
    (then every table is compared)."""
    if not args.get("statements_to") or url is None:
        return None
    mine = None
    try:
        md = metadata_for(url)
        if md is not None:
            mine = {"url": url, "tables": scratch.table_statements(md, dialect_of(url))}
    except Exception:
        mine = None  # what does not compile here fails where the schema is built
    scratch.write_json(args["statements_to"], mine or {"url": url, "tables": None})
    return mine


def import_changed(names, result, seconds):
    """Import each changed module after everything else (so none can change the metadata
    compared); each gets ``seconds`` where the platform can interrupt it."""
    import signal

    def interrupt(signum, frame):
        raise TimeoutError("did not finish importing in %d s" % seconds)

    alarm = getattr(signal, "SIGALRM", None)
    if alarm is not None:
        signal.signal(alarm, interrupt)
    out = result["changed"] = []
    for name in names:
        entry = {"module": name}
        out.append(entry)
        if name in sys.modules:
            continue
        try:
            if alarm is not None:
                signal.alarm(seconds)
            import_chain(name, [])
        except (Exception, SystemExit) as exc:
            entry["error"] = describe(exc, "import", name)
        finally:
            if alarm is not None:
                signal.alarm(0)


def drop_own_directory():
    """Take this file's directory (verify's scratch folder) off ``sys.path``, where running it by
    path put it: the project's modules are looked up where the project's interpreter finds them."""
    if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]


def main():
    with open(sys.argv[1], encoding="utf-8") as fh:
        args = json.load(fh)
    drop_own_directory()
    # no cyclic garbage collection: this process lives for one run, and the collector's passes
    # over the objects of thousands of models (which live until it exits) took a quarter of its
    # CPU (3,539 models: 42 s -> 30 s for import, configure_mappers() and create_all()); what
    # it would free is a few MB (peak RSS 913 -> 923 MB)
    gc.disable()
    real_stdout = sys.stdout
    sys.stdout = sys.stderr
    result = {}
    try:
        run(args, result)
        if args.get("changed"):
            import_changed(args["changed"], result, args.get("changed_timeout", 60))
    except BaseException as exc:
        result["crash"] = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-3000:]
    finally:
        sys.stdout = real_stdout
        if args.get("statements_to") and not os.path.exists(args["statements_to"]):
            scratch.write_json(args["statements_to"], {"tables": None})  # the other child waits for them
    real_stdout.write(MARKER + json.dumps(result, default=str))
    real_stdout.flush()


def leave(code=0):
    """Exit once the result is written, without the interpreter's teardown, which frees every
    object of the imported project one by one (seconds for thousands of mapped classes) and
    waits for any thread a model module started."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


if __name__ == "__main__":
    main()
    leave()
