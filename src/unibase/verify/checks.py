"""The checks of verify, each turning what the children found into a :class:`CheckResult`."""

from __future__ import annotations

import json
import subprocess
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .report import FAIL, NOT_PROVEN, PASS, PRE_EXISTING, SKIPPED, CheckResult, DeclaredChange, last_lines
from .targets import Scan

if TYPE_CHECKING:
    from .session import Session


def check_parse(session: Session, changed: list[str] | None) -> CheckResult:
    from ..project import iter_python_files

    files = changed if changed is not None else list(iter_python_files(session.root))
    scope = f"{len(files)} changed file(s)" if changed is not None else f"all {len(files)} file(s) (no revision to diff with)"
    failures, pre = [], []
    for rel in files:
        try:
            source = (session.root / rel).read_bytes()
        except OSError as exc:
            failures.append(f"{rel}:0: unreadable: {exc.strerror}")
            continue
        problem = _compile_error(source, rel)
        if problem is None:
            continue
        old = session.old_source(rel)
        if old is not None and _compile_error(old, rel) is not None:
            pre.append(problem)
        else:
            failures.append(problem)
    if failures:
        return CheckResult("parse", FAIL, "; ".join(failures))
    if pre:
        return CheckResult("parse", PRE_EXISTING, "did not compile before the merge either: " + "; ".join(pre))
    return CheckResult("parse", PASS, f"{scope} parse and compile")


def _compile_error(source: bytes, rel: str) -> str | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(source, rel, "exec", dont_inherit=True)
    except SyntaxError as exc:
        return f"{rel}:{exc.lineno or 0}: {type(exc).__name__}: {exc.msg}"
    except ValueError as exc:  # null bytes
        return f"{rel}:0: {exc}"
    return None


def check_single_base(new: Scan) -> CheckResult:
    if new.plan is None:
        return CheckResult("single-base", FAIL, f"could not plan the merged tree: {new.error}")
    if new.findings:
        second = sum(f.code == "UB101" for f in new.findings)
        what = f"{second + 1} declarative bases in scope" if second else "one base in scope is not proven"
        return CheckResult("single-base", FAIL, f"{what}: "
                           + "; ".join(f"{f.file}:{f.line}: {f.message}" for f in new.findings))
    bases = new.plan.merged_bases()
    unparsable = sorted(new.index.unparsable) if new.index else []
    note = f" (not analysed, they do not parse: {', '.join(unparsable)})" if unparsable else ""
    if not bases:
        return CheckResult("single-base", PASS, "no declarative base in scope" + note)
    b = bases[0]
    return CheckResult("single-base", PASS, f"one declarative base in scope: {b.file}:{b.name}{note}")


def import_result(new: Scan, result: dict, changed: list[str] | None) -> tuple[CheckResult, dict | None]:
    """The import check and, when it failed, the error that decides whether it is pre-existing."""
    if "crash" in result:
        return CheckResult("import", FAIL, result["crash"]), {"stage": "child", "error_class": "crash"}
    if not new.targets.modules:
        return CheckResult("import", SKIPPED, "no declarative base in scope: nothing to import"), None
    # a package __init__ that fails is the project's business unless the merge changed it
    changed_set = set(changed or ())
    inits = result.get("package_inits", [])
    blamed = [e for e in inits if e.get("file") in changed_set]
    error = next(iter(blamed), None) or result.get("error")
    if error is not None:
        more = [e for e in result.get("errors", []) if e is not error and e != error]
        extra = "".join(f"\n{_error_text(e)}" for e in more[:5])
        return CheckResult("import", FAIL, _error_text(error) + extra), error
    notes = [f"{e.get('file')} failed ({e['error_class'].rsplit('.', 1)[-1]}: "
             f"{_first_line(e['message'])}); imported the models without running it" for e in inits]
    mods = new.targets.modules
    detail = (f"{len(mods)} module(s) import ({', '.join(mods[:6])}{', ...' if len(mods) > 6 else ''}), "
              f"configure_mappers() succeeds, create_all() makes {result.get('tables', 0)} table(s) on SQLite")
    return CheckResult("import", PASS, detail + "".join(f"; note: {n}" for n in notes)), None


def _same_error(a: dict | None, b: dict | None, roots: Sequence[str]) -> bool:
    """One error in one module: the same stage, module, class and message (paths of the two
    trees aside)."""
    if not a or not b:
        return False

    def message(e: dict) -> str:
        text = _first_line(e.get("message") or "")
        for r in roots:
            text = text.replace(r, "<root>")
        return text

    return all(a.get(k) == b.get(k) for k in ("stage", "module", "error_class")) and message(a) == message(b)


def pre_existing(check: CheckResult, error: dict, probe: dict, base: str, roots: Sequence[str]) -> CheckResult:
    """``pre-existing`` when the tree at ``against`` fails the same way in the same module."""
    errors = [probe.get("error")] + list(probe.get("errors", [])) + list(probe.get("package_inits", []))
    same = next((e for e in errors if _same_error(e, error, roots)), None)
    if same is None:
        before = "it imported cleanly" if not probe.get("error") and "crash" not in probe else (
            "it failed differently: " + (_error_text(probe["error"]) if probe.get("error") else probe["crash"]))
        return CheckResult(check.name, FAIL, f"{check.detail}\n(before the merge, at {base[:10]}, {before})")
    return CheckResult(check.name, PRE_EXISTING,
                       f"the project had this failure before the merge. after: {check.detail}\n"
                       f"before (at {base[:10]}): {_error_text(same)}")


def _outside(error: dict, scan: Scan) -> str | None:
    """Why a module failed for a reason outside the project, or None: a missing package that is
    not one of the project's own."""
    missing = error.get("missing")
    if not missing or error.get("error_class") != "builtins.ModuleNotFoundError" or scan.index is None:
        return None
    if scan.index.modules.resolve(missing) or scan.index.modules.resolve(missing.partition(".")[0]):
        return None
    return f"the package {missing} is not installed"


def changed_result(check: CheckResult, new: Scan, result: dict, before: dict | None, base: str | None,
                    roots: Sequence[str]) -> CheckResult:
    """The import check once every other changed module was imported too: a new error in one of
    them fails it; a module that cannot be imported for reasons outside unibase (a missing
    package, the same error in the same module before the merge) is not proven."""
    entries = result.get("changed") or []
    before = before or {}
    old_entries = {e["module"]: e for e in before.get("changed") or []}
    # the tree before may have met the module's error earlier, as a package __init__ or a model module
    old_errors = [e.get("error") for e in old_entries.values()] + list(before.get("package_inits") or []) + list(
        before.get("errors") or [])
    failed, unproven = [], []
    for e in entries:
        error = e.get("error")
        if error is None:
            continue
        why = _outside(error, new)
        if why is None and any(_same_error({**error, "stage": ""}, {**old, "stage": ""}, roots)
                               for old in old_errors if old):
            why = f"it failed the same way before the merge, at {(base or '?')[:10]}"
        if why is None:
            was = old_entries.get(e["module"])
            then = ("it was not imported (it did not exist or was not importable)" if was is None
                    else "it imported" if not was.get("error") else "it failed differently: " + _error_text(was["error"]))
            failed.append(_error_text(error) + (f"\n(before the merge, at {base[:10]}, {then})" if base else ""))
        else:
            unproven.append(f"{e['module']} ({why}: {_first_line(error.get('message') or '')})")
    done = len(entries) - len(failed) - len(unproven)
    detail = check.detail + (f"; {done} other changed module(s) import" if entries else "")
    if failed:
        return CheckResult(check.name, FAIL, "a changed module does not import: " + "\n".join(failed))
    if unproven:
        return CheckResult(check.name, NOT_PROVEN, detail + "; not proven for " + "; ".join(unproven))
    return CheckResult(check.name, check.status, detail)


def schema_result(name: str, base: str, build: dict, compare: dict | None, new_result: dict,
                   declared: Sequence[DeclaredChange]) -> CheckResult:
    where = f"at {base[:10]}"
    if build.get("error"):
        e = build["error"]
        text = _error_text(e)
        if e.get("stage") in ("import", "create_all"):
            hint = "; pass database_url to compare on PostgreSQL" if e.get("stage") == "create_all" and name == "schema" else ""
            return CheckResult(name, SKIPPED, f"could not build the schema {where}: {text}{hint}")
        return CheckResult(name, FAIL, f"could not build the schema {where}: {text}")
    if "crash" in new_result or new_result.get("error", {}).get("stage") == "import" or compare is None:
        return CheckResult(name, SKIPPED, "the merged models do not import (see import); the schema cannot be compared")
    if compare.get("error"):
        return CheckResult(name, FAIL, f"could not compare with the schema {where}: {_error_text(compare['error'])}")
    noise = {_key(d) for d in build.get("baseline", [])}
    diffs = _pair_renames([d for d in compare.get("diffs", []) if _key(d) not in noise])
    ignored = len(compare.get("diffs", [])) - len([d for d in compare.get("diffs", []) if _key(d) not in noise])
    unexpected = [d for d in diffs if not any(_covers(c, d) for c in declared)]
    accepted = [d for d in diffs if all(d is not u for u in unexpected)]
    notes = build.get("notes", [])
    tail = ""
    if compare.get("alike"):
        tail += f"; {compare['alike']} table(s) identical: the same CREATE statements before and after the merge"
    if accepted:
        tail += f"; {len(accepted)} declared difference(s): " + "; ".join(_describe(d) for d in accepted)
    if ignored:
        tail += f"; ignored {ignored} difference(s) Alembic also reports for the old schema against itself"
    if notes:
        tail += "; " + "; ".join(notes)
    if unexpected:
        lines = "\n".join(f"  - {_describe(d)}" for d in unexpected)
        return CheckResult(name, FAIL, f"{len(unexpected)} undeclared difference(s) between the schema {where} "
                           f"and the merged metadata:\n{lines}" + (f"\n{tail[2:]}" if tail else ""))
    tables = build.get("tables", 0)
    return CheckResult(name, PASS, f"the merged metadata matches the {tables} table(s) {where}" + tail)


def check_tests(root: Path, test_cmd: str | None) -> CheckResult:
    if not test_cmd:
        return CheckResult("tests", SKIPPED, "no test command given")
    proc = subprocess.run(test_cmd, shell=True, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, errors="replace", stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        return CheckResult("tests", FAIL, f"`{test_cmd}` exited with {proc.returncode}:\n{last_lines(proc.stdout)}")
    last = next((line for line in reversed(proc.stdout.splitlines()) if line.strip()), "")
    return CheckResult("tests", PASS, f"`{test_cmd}` passed" + (f": {last.strip()}" if last else ""))


def _first_line(text: str) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""


def _error_text(e: dict) -> str:
    where = e.get("module") or ""
    stage = e.get("stage", "")
    head = f"{stage}" + (f" {where}" if where else "")
    cls = str(e.get("error_class", "")).rsplit(".", 1)[-1]
    text = f"{head}: {cls}: {e.get('message', '')}".strip()
    return text + (f" (at {e['location']})" if e.get("location") else "")


def _key(d: dict) -> tuple:
    return (d.get("op"), d.get("table"), d.get("text"))


def _pair_renames(diffs: list[dict]) -> list[dict]:
    """A removed and an added index/constraint with the same columns is a rename."""
    removed: dict[tuple, list[dict]] = {}
    for d in diffs:
        if d.get("sig") and d["op"].startswith("remove_"):
            removed.setdefault((d["table"], json.dumps(d["sig"])), []).append(d)
    out, used = [], set()
    for d in diffs:
        if d.get("sig") and d["op"].startswith("add_"):
            twins = removed.get((d["table"], json.dumps(d["sig"])), [])
            twin = next((t for t in twins if id(t) not in used), None)
            if twin is not None:
                used.add(id(twin))
                what = d["op"][4:]
                out.append({"op": f"rename_{what}", "table": d["table"],
                            "text": f"{d['what']} on {d['table']}({', '.join(d['sig'][1])}) named "
                                    f"{twin.get('name')!r} before the merge, {d.get('name')!r} after"})
                continue
        out.append(d)
    return [d for d in out if id(d) not in used]


_NAMING_OPS = {"rename_index", "rename_constraint", "rename_fk"}


def _covers(change: DeclaredChange, diff: dict) -> bool:
    if change.table != diff.get("table"):
        return False
    if change.kind in ("duplicate-table", "identical-duplicate-table"):
        return True
    if change.kind == "metadata-options":
        if "schema" in change.detail:
            return True
        if diff["op"] in _NAMING_OPS:
            return True
        return "type_annotation_map" in change.detail and diff["op"] == "modify_type"
    return False


_EXPLAIN = {
    "add_": "only in the merged metadata",
    "remove_": "in the schema before the merge, missing from the merged metadata",
    "modify_": "before -> after",
    "rename_": "name changed",
}


def _describe(d: dict) -> str:
    op = d["op"]
    why = next((v for k, v in _EXPLAIN.items() if op.startswith(k)), "")
    return f"{op} {d['text']}" + (f" ({why})" if why and not op.startswith("rename_") else "")
