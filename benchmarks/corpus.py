#!/usr/bin/env python3
"""Run unibase on real projects written by others and score it against a manifest of expectations.

    python benchmarks/corpus.py                    # every project in benchmarks/corpus.toml
    python benchmarks/corpus.py --only swen --keep # one project; keep its temporary repository
    python benchmarks/corpus.py --json             # a JSON list instead of the scorecard

Each manifest entry names a repository, a pinned commit and expectations. The repository must
already be on this machine as a bare git directory at ``MIRRORS/<owner>+<name>/repo`` (fetching
is not the harness's job; ``--mirrors`` defaults to the ``.mirror`` folder beside this checkout).
For each entry, one at a time:

1. export the commit (``git archive``) into a new temporary git repository (one commit on ``main``);
2. at the entry's ``path``: the floor (read every ``.py`` file, search it once: ``run.py``'s floor),
   ``unibase plan --json``, ``unibase apply --branch corpus-merge``, then on that branch (or on
   the unchanged tree when apply made none) ``unibase check`` and a second ``plan --json``;
   every ``.py`` file the branch changed must compile;
3. where the entry lists ``imports``, ``import_probe.py`` imports them in a subprocess, on the
   original tree and on the branch, with missing third-party packages replaced by stand-ins,
   and counts metadatas, ``configure_mappers()`` and ``create_all()`` on SQLite;
4. each expectation is checked; a failed one is one sentence.

A unibase crash or timeout is a failure row, never a harness crash. The exit status is 0 when
the harness ran (whatever the expectations say), 2 for bad input (a missing mirror or commit, a
manifest that does not load), 1 when the harness itself failed on a project.

Manifest keys (``[[project]]``): ``name``, ``repo``, ``commit``, ``expert``, optional ``path``
(where unibase runs, relative to the repository root) and ``imports`` (``"ROOT:dotted.module"``,
``ROOT`` relative to the repository root). ``[project.expect]``, every key optional, each present
key one expectation: ``plan_exit``, ``apply_exit``, ``check_exit``, ``second_plan_ops``,
``no_operations``, ``canonical`` (``FILE:NAME``), ``bases_found_min``, ``[[project.expect.bases]]``
(``base``, ``min_models``, ``roles``, ``why``), ``[[project.expect.duplicates]]`` (``table``),
``[[project.expect.output]]`` (``contains``, and optionally ``command``: ``plan`` (default),
``apply`` or ``check``, whose stdout+stderr is searched). Keys added for the import probe:
``metadatas_after`` (distinct metadatas reachable after the merge) and ``imports_after = true``
(on the branch every listed module imports, ``configure_mappers()`` and every ``create_all()``
succeed). FILE paths are relative to the repository root.

``exclude_when_refused = ["FILE", ...]``: when ``plan`` refuses the project (exit 2, for example on
a file with conflict markers), the harness plans once more with those files under
``[tool.unibase] exclude`` (a scratch edit of the project's ``pyproject.toml``, undone after), and
scores the discovery and judgment expectations (bases, duplicates, canonical) on that plan, so a
refusal does not hide what discovery found. ``plan_exit`` still scores the first plan.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import run  # noqa: E402  (the floor, the timed subprocess runner, the unibase command)

BRANCH = "corpus-merge"
PROJECT_KEYS = {"name", "repo", "commit", "expert", "path", "imports", "expect", "exclude_when_refused"}
EXPECT_KEYS = {"plan_exit", "apply_exit", "check_exit", "second_plan_ops", "no_operations", "canonical",
               "bases_found_min", "bases", "duplicates", "output", "metadatas_after", "imports_after"}
GIT_ENV = {"GIT_AUTHOR_NAME": "corpus", "GIT_AUTHOR_EMAIL": "corpus@example.invalid",
           "GIT_COMMITTER_NAME": "corpus", "GIT_COMMITTER_EMAIL": "corpus@example.invalid",
           "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


class HarnessError(Exception):
    """Bad input or a broken harness: one sentence, a non-zero exit."""


# --- manifest ------------------------------------------------------------------------------------


def load_manifest(path: Path) -> list[dict]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise HarnessError(f"cannot read the manifest {path}: {exc}") from None
    projects = data.get("project", [])
    for i, p in enumerate(projects):
        label = p.get("name", f"entry {i + 1}")
        missing = {"name", "repo", "commit"} - p.keys()
        unknown = (p.keys() - PROJECT_KEYS) | (p.get("expect", {}).keys() - EXPECT_KEYS)
        if missing or unknown:
            what = f"lacks {', '.join(sorted(missing))}" if missing else f"has unknown keys {', '.join(sorted(unknown))}"
            raise HarnessError(f"manifest {path}: project {label} {what}.")
        probed = {"metadatas_after", "imports_after"} & p.get("expect", {}).keys()
        if probed and not p.get("imports"):
            raise HarnessError(f"manifest {path}: project {label} expects {', '.join(sorted(probed))} but lists no imports.")
    if not projects:
        raise HarnessError(f"manifest {path} has no [[project]] entry.")
    return projects


def mirror_of(mirrors: Path, entry: dict) -> Path:
    return mirrors / entry["repo"].replace("/", "+") / "repo"


def check_mirrors(mirrors: Path, entries: list[dict]) -> None:
    for e in entries:
        gitdir = mirror_of(mirrors, e)
        if not gitdir.is_dir():
            raise HarnessError(f"the mirror of {e['repo']} ({e['name']}) is missing: expected a git directory at {gitdir}.")
        if git(None, "--git-dir", str(gitdir), "cat-file", "-e", f"{e['commit']}^{{commit}}", check=False).returncode:
            raise HarnessError(f"the mirror {gitdir} lacks commit {e['commit']} ({e['name']}).")


# --- running -------------------------------------------------------------------------------------


def git(cwd: Path | None, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=check,
                          env={**os.environ, **GIT_ENV}, stdin=subprocess.DEVNULL)


def export(gitdir: Path, commit: str, dest: Path) -> list[str]:
    """The pinned commit as a fresh repository: one commit on ``main``, every file tracked
    (``-f``: a committed ``.venv/`` stays committed even when ``.gitignore`` names it).

    ``git archive`` of the commit, unless the mirror lacks some blobs (snapshots may leave out
    their largest files): then the commit's tree is read into a scratch index, the absent files
    are dropped from it and the rest checked out. Returns the paths left out."""
    dest.mkdir(parents=True)
    absent = absent_blobs(gitdir, commit)
    if not absent:
        archive = subprocess.Popen(["git", "--git-dir", str(gitdir), "archive", commit], stdout=subprocess.PIPE)
        subprocess.run(["tar", "-x", "-C", str(dest)], stdin=archive.stdout, check=True)
        if archive.wait():
            raise HarnessError(f"git archive {commit} failed in {gitdir}.")
    else:
        index = dest.parent / "export.index"
        env = {"GIT_DIR": str(gitdir), "GIT_WORK_TREE": str(dest), "GIT_INDEX_FILE": str(index)}
        subprocess.run(["git", "read-tree", commit], env={**os.environ, **env}, check=True, capture_output=True)
        subprocess.run(["git", "update-index", "--force-remove", "-z", "--stdin"], input="\0".join(absent) + "\0",
                       text=True, env={**os.environ, **env}, check=True, capture_output=True)
        subprocess.run(["git", "checkout-index", "-a", "-f"], env={**os.environ, **env}, check=True, capture_output=True,
                       cwd=dest)
        index.unlink()
    git(dest, "init", "-q", "-b", "main")
    for key, value in (("user.name", "corpus"), ("user.email", "corpus@example.invalid")):
        git(dest, "config", key, value)  # unibase commits here too, with the user's own git config
    git(dest, "add", "-A", "-f")
    git(dest, "commit", "-q", "--no-verify", "-m", f"corpus: {commit}")
    return absent


def absent_blobs(gitdir: Path, commit: str) -> list[str]:
    """Paths of ``commit`` whose blob the mirror does not hold."""
    listing = git(None, "--git-dir", str(gitdir), "ls-tree", "-r", "-z", commit).stdout.split("\0")
    blobs = [(meta.split()[2], path) for meta, _, path in (e.partition("\t") for e in listing if e)
             if meta.split()[1] == "blob"]
    check = subprocess.run(["git", "--git-dir", str(gitdir), "cat-file", "--batch-check=%(objectname)"],
                           input="".join(f"{sha}\n" for sha, _ in blobs), capture_output=True, text=True, check=True)
    missing = {line.split()[0] for line in check.stdout.splitlines() if line.endswith(" missing")}
    return [path for sha, path in blobs if sha in missing]


def timed(cmd: list[str], cwd: Path, timeout: float) -> dict:
    """One command, timed, its full output kept; a crash or timeout is data, not an exception."""
    m = run.measure(cmd, timeout=timeout, keep_stdout=True, cwd=cwd)
    stdout = m["stdout"].decode("utf-8", "replace")
    return {"exit": None if m["timed_out"] else m["rc"], "seconds": m["seconds"], "cpu_seconds": m["cpu_seconds"],
            "timed_out": m["timed_out"],
            "stdout": stdout, "stderr": m["stderr"]}


def plan_json(result: dict) -> dict | None:
    try:
        data = json.loads(result["stdout"])
    except ValueError:
        return None
    return data if isinstance(data, dict) and "bases" in data else None


def floor(tree: Path, timeout: float) -> tuple[float, float] | None:
    """Wall and CPU seconds of the floor on ``tree``."""
    from unibase.discovery import SQLA_WORDS
    from unibase.project import SKIP_DIRS

    cmd = run.floor_command(tree, SQLA_WORDS, sorted(SKIP_DIRS))
    run.measure(cmd, timeout=timeout)  # warm-up: the page cache, as for every other command
    m = run.measure(cmd, timeout=timeout)
    return None if m["timed_out"] or m["rc"] else (m["seconds"], m["cpu_seconds"])


def top_level_names(tree: Path, roots: list[str]) -> set[str]:
    """The packages and modules at the top of the repository and of each import root."""
    names = set()
    for root in {".", *roots}:
        base = tree / root
        if base.is_dir():
            for p in base.iterdir():
                if p.suffix == ".py" or (p.is_dir() and any(p.glob("**/*.py"))):
                    names.add(p.stem if p.suffix == ".py" else p.name)
    return names


def defined_names(tree: Path) -> set[str]:
    """Every folder holding Python files and every module of the project, at any depth."""
    from unibase.project import SKIP_DIRS

    names = set()
    for dirpath, dirnames, filenames in os.walk(tree):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS and not d.startswith(".")]
        py = [f[:-3] for f in filenames if f.endswith(".py")]
        if py and Path(dirpath) != tree:
            names.add(Path(dirpath).name)
        names.update(py)
    return names


def probe(tree: Path, specs: list[str], out: Path, timeout: float, protected: set[str]) -> dict:
    """Import the entry's modules in ``tree`` (see ``import_probe.py``); no stand-in is served for
    a name in ``protected``."""
    roots = [s.rpartition(":")[0] or "." for s in specs]
    cmd = [sys.executable, str(HERE / "import_probe.py"), str(out), str(tree),
           json.dumps(sorted(protected | top_level_names(tree, roots))), *specs]
    cwd = tree / roots[0] if (tree / roots[0]).is_dir() else tree  # a missing root: the import fails, not the harness
    m = run.measure(cmd, timeout=timeout, keep_stdout=True, cwd=cwd)
    try:
        result = json.loads(out.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        why = "timed out" if m["timed_out"] else f"exited {m['rc']}: {m['stderr'][-300:].strip()}"
        result = {"error": f"the import probe {why}"}
    return result | {"seconds": m["seconds"]}


def probe_before_and_after(entry: dict, repo: Path, base: str, branch: bool, work: Path, timeout: float) -> dict:
    """The import probe on the original tree, then on the branch. After the merge, a name the
    project defines somewhere (``db``, a folder of ``api/db``) gets no stand-in unless it got one
    before: an import the merge broke fails as the missing module it is, instead of a stand-in
    hiding it."""
    results = {}
    for when, rev in (("before", base), ("after", BRANCH if branch else base)):
        tree = work / f"imports-{when}"
        git(repo, "worktree", "add", "-q", "--detach", str(tree), rev)
        protected = set() if when == "before" else defined_names(tree) - set(results["before"].get("stand_ins", ()))
        results[when] = probe(tree, entry["imports"], work / f"imports-{when}.json", timeout, protected)
    return results


def compile_changed(repo: Path, base: str) -> dict:
    names = git(repo, "diff", "--name-only", f"{base}..{BRANCH}").stdout.split()
    errors = []
    checked = 0
    for name in names:
        path = repo / name
        if name.endswith(".py") and path.is_file():
            checked += 1
            try:
                compile(path.read_bytes(), name, "exec", dont_inherit=True)
            except (SyntaxError, ValueError) as exc:
                errors.append(f"{name}: {exc}")
    return {"changed": len(names), "compiled": checked, "errors": errors}


def run_project(entry: dict, mirrors: Path, work: Path, timeout: float) -> dict:
    repo = work / "repo"
    absent = export(mirror_of(mirrors, entry), entry["commit"], repo)
    base = git(repo, "rev-parse", "HEAD").stdout.strip()
    at = repo / entry.get("path", ".")
    if not at.is_dir():
        raise HarnessError(f"{entry['name']}: path {entry['path']} is not a folder at {entry['commit']}.")
    ub = run.unibase_cmd()
    facts: dict = {"timings": {}, "cpu_timings": {}, "notes": [], "loadavg": os.getloadavg()[0]}
    if absent:
        py = [a for a in absent if a.endswith(".py")]
        facts["notes"].append(f"{len(absent)} file(s) absent from the mirror were left out ({', '.join(absent[:3])}"
                              f"{', ...' if len(absent) > 3 else ''}){f', {len(py)} of them Python' if py else ''}")
    facts["timings"]["floor"], facts["cpu_timings"]["floor"] = floor(at, timeout) or (None, None)
    facts["plan"] = timed(ub + ["plan", "--json"], at, timeout)
    facts["apply"] = timed(ub + ["apply", "--branch", BRANCH], at, timeout)
    dirty = git(repo, "status", "--porcelain").stdout.splitlines()
    if dirty:
        facts["notes"].append(f"apply left {len(dirty)} uncommitted change(s) on main, e.g. {dirty[0].strip()}")
        git(repo, "reset", "-q", "--hard")
        git(repo, "clean", "-q", "-f", "-d", "-x")
    facts["branch"] = not git(repo, "rev-parse", "--verify", "-q", f"refs/heads/{BRANCH}", check=False).returncode
    if facts["branch"]:
        git(repo, "checkout", "-q", BRANCH)
        facts["compile"] = compile_changed(repo, base)
        if facts["compile"]["errors"]:
            facts["notes"].append(f"{len(facts['compile']['errors'])} changed file(s) do not compile: "
                                  f"{facts['compile']['errors'][0]}")
    facts["check"] = timed(ub + ["check"], at, timeout)
    if facts["branch"]:
        facts["plan2"] = timed(ub + ["plan", "--json"], at, timeout)
    else:
        facts["plan2"] = facts["plan"]  # nothing applied: the tree, hence the plan, is the same
    for key in ("plan", "apply", "check", "plan2") if facts["branch"] else ("plan", "apply", "check"):
        r = facts[key]
        facts["timings"][key], facts["cpu_timings"][key] = r["seconds"], r["cpu_seconds"]
        if r["timed_out"]:
            facts["notes"].append(f"{key} timed out after {timeout:.0f} s")
        elif r["exit"] not in (0, 1, 2) or "Traceback (most recent call last)" in r["stderr"]:
            facts["notes"].append(f"{key} crashed (exit {r['exit']}): {last_line(r['stderr'])}")
    if entry.get("exclude_when_refused") and facts["plan"]["exit"] == 2:
        facts["plan_excluded"] = plan_excluding(entry, repo, base, at, ub, timeout)
    if entry.get("imports"):
        facts["imports"] = probe_before_and_after(entry, repo, base, facts["branch"], work, timeout)
        for when, result in facts["imports"].items():
            facts["timings"][f"imports_{when}"] = result.pop("seconds")
    return facts


def plan_excluding(entry: dict, repo: Path, base: str, at: Path, ub: list[str], timeout: float) -> dict:
    """``plan --json`` on the original tree with ``exclude_when_refused`` under ``[tool.unibase]``."""
    git(repo, "checkout", "-q", "--detach", base)
    pyproject = at / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8") if pyproject.exists() else ""
    if "[tool.unibase]" in text:
        raise HarnessError(f"{entry['name']}: exclude_when_refused needs a pyproject.toml without [tool.unibase].")
    files = ", ".join(json.dumps(f) for f in entry["exclude_when_refused"])
    pyproject.write_text(f"{text}\n[tool.unibase]\nexclude = [{files}]\n", encoding="utf-8")
    try:
        return timed(ub + ["plan", "--json"], at, timeout)
    finally:
        git(repo, "checkout", "-q", "--", ".")
        git(repo, "clean", "-q", "-f", "-d")


def last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:300] if lines else "(no output)"


# --- expectations --------------------------------------------------------------------------------


def to_repo_path(plan: dict, file: str, repo: Path) -> str:
    """A plan path (relative to unibase's root) relative to the repository root."""
    return Path(os.path.relpath(Path(plan["root"]) / file, repo)).as_posix()


def base_id(plan: dict, b: dict, repo: Path) -> str:
    return f"{to_repo_path(plan, b['file'], repo)}:{b['name']}"


def exit_text(r: dict) -> str:
    return "timed out" if r["timed_out"] else f"exited {r['exit']}"


def evaluate(entry: dict, facts: dict, repo: Path) -> list[tuple[str, str | None]]:
    """Every expectation of the entry as (what, failure sentence or None)."""
    want = entry.get("expect", {})
    plan = plan_json(facts.get("plan_excluded") or facts["plan"])
    no_plan = f"plan {exit_text(facts.get('plan_excluded') or facts['plan'])} without printing a plan"
    results: list[tuple[str, str | None]] = []

    def expect(what: str, failure: str | None) -> None:
        results.append((what, failure))

    for key, label in (("plan_exit", "plan"), ("apply_exit", "apply"), ("check_exit", "check")):
        if key in want:
            r = facts[label]
            where = " on the branch" if label == "check" and facts["branch"] else (
                " on the unchanged tree" if label == "check" else "")
            expect(key, None if r["exit"] == want[key] else f"{label}{where} {exit_text(r)}, expected exit {want[key]}.")
    if "second_plan_ops" in want:
        plan2 = plan_json(facts["plan2"])
        n = None if plan2 is None else len(plan2["operations"])
        expect("second_plan_ops", None if n == want["second_plan_ops"] else (
            f"the second plan {exit_text(facts['plan2'])} without printing a plan." if plan2 is None else
            f"a second plan on the {'branch' if facts['branch'] else 'unchanged tree'} has {n} operation(s), "
            f"expected {want['second_plan_ops']}."))
    if plan is None:
        for key in ("no_operations", "canonical", "bases_found_min"):
            if key in want:
                expect(key, f"{key}: {no_plan}.")
        for key in ("bases", "duplicates"):
            for item in want.get(key, ()):
                expect(key, f"{item.get('base') or item.get('table')}: {no_plan}.")
    else:
        ops = len(plan["operations"])
        if "no_operations" in want:
            ok = (ops == 0) == want["no_operations"]
            expect("no_operations", None if ok else (
                f"the plan has {ops} operation(s), expected none." if want["no_operations"] else
                "the plan has no operations, expected some."))
        found: dict[str, list[dict]] = {}
        for b in plan["bases"]:
            found.setdefault(base_id(plan, b, repo), []).append(b)
        if "canonical" in want:
            c = plan.get("canonical")
            got = f"{to_repo_path(plan, c['file'], repo)}:{c['name']}" if c else "none"
            expect("canonical", None if got == want["canonical"] else
                   f"the canonical base is {got}, expected {want['canonical']}.")
        if "bases_found_min" in want:
            n = len(plan["bases"])
            expect("bases_found_min", None if n >= want["bases_found_min"] else
                   f"the plan found {n} base(s), expected at least {want['bases_found_min']}.")
        for item in want.get("bases", ()):
            expect("bases", base_failure(item, found))
        for item in want.get("duplicates", ()):
            tables = sorted({c["subject"] for c in plan["conflicts"] if c["kind"].endswith("duplicate-table")})
            expect("duplicates", None if item["table"] in tables else
                   f"no duplicate-table conflict names table {item['table']} (reported: {', '.join(tables) or 'none'}).")
    for item in want.get("output", ()):
        command = item.get("command", "plan")
        r = facts[command]
        text = r["stdout"] + r["stderr"]
        if command == "plan" and plan is not None:  # --json: the sentences are inside the JSON
            text += "\n".join([w["message"] for w in plan["warnings"]] + [c["detail"] for c in plan["conflicts"]])
        expect("output", None if item["contains"] in text else
               f"{command}'s output does not contain {item['contains']!r}.")
    if "metadatas_after" in want or "imports_after" in want:
        after = facts.get("imports", {}).get("after")
        if "metadatas_after" in want:
            n = None if after is None else after.get("metadatas")
            expect("metadatas_after", None if n == want["metadatas_after"] else (
                f"the metadatas after the merge were not counted ({probe_problem(after)})." if n is None else
                f"after the merge {n} metadata(s) are reachable, expected {want['metadatas_after']}."))
        if "imports_after" in want:
            problem = probe_problem(after)
            expect("imports_after", None if (problem is None) == want["imports_after"] else (
                f"on the branch {problem}." if problem else "on the branch everything imports, expected a failure."))
    return results


def base_failure(item: dict, found: dict[str, list[dict]]) -> str | None:
    """None when a base of the plan is ``item['base']`` with enough models and an acceptable
    role (when one file defines two bases of one name, either may); else one sentence."""
    if item["base"] not in found:
        names = sorted(found)
        shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
        return f"base {item['base']} was not found (found: {shown or 'none'})."
    sentences = []
    for b in found[item["base"]]:
        wrong = []
        if len(b["models"]) < item.get("min_models", 0):
            wrong.append(f"{len(b['models'])} model(s) (expected at least {item['min_models']})")
        if "roles" in item and b["role"] not in item["roles"]:
            wrong.append(f"role {b['role']} (expected {' or '.join(item['roles'])})")
        if not wrong:
            return None
        sentences.append(f"base {item['base']} has {' and '.join(wrong)}.")
    return sentences[0]


def probe_problem(result: dict | None) -> str | None:
    """The first thing that went wrong in an import probe, or None."""
    if result is None:
        return "the modules were not imported (no imports listed)"
    if "error" in result:
        return result["error"]
    for module, error in result["modules"].items():
        if error:
            return f"{module} does not import: {error}"
    if result["configure_mappers"]:
        return f"configure_mappers() fails: {result['configure_mappers']}"
    for made in result["create_all"]:
        if made["error"]:
            return f"create_all() fails on SQLite: {made['error']}"
    return None


# --- report --------------------------------------------------------------------------------------


def row(entry: dict, facts: dict, repo: Path) -> dict:
    checks = evaluate(entry, facts, repo)
    failures = [f for _, f in checks if f]
    plan, plan2 = plan_json(facts.get("plan_excluded") or facts["plan"]), plan_json(facts["plan2"])
    t = facts["timings"]
    return {
        "name": entry["name"],
        "repo": entry["repo"],
        "commit": entry["commit"],
        "held": len(checks) - len(failures),
        "total": len(checks),
        "failures": failures,
        "timings": t,
        "cpu_timings": facts["cpu_timings"],  # user+system of the command: steadier than wall on a busy machine
        "loadavg_1m": facts["loadavg"],
        "ratios": ratios(t),
        "cpu_ratios": ratios(facts["cpu_timings"]),
        "exits": {k: facts[k]["exit"] for k in ("plan", "apply", "check", "plan2")},
        "plan_exit": facts["plan"]["exit"],
        "apply_exit": facts["apply"]["exit"],
        "check_exit": facts["check"]["exit"],
        "branch": facts["branch"],
        "operations": None if plan is None else len(plan["operations"]),
        "second_plan_ops": None if plan2 is None else len(plan2["operations"]),
        "bases": [] if plan is None else [
            {"base": base_id(plan, b, repo), "role": b["role"], "models": len(b["models"])} for b in plan["bases"]],
        "conflicts": [] if plan is None else [f"{c['kind']}: {c['subject']}" for c in plan["conflicts"]],
        "compile": facts.get("compile"),
        "imports": facts.get("imports"),
        "notes": facts["notes"] + ([f"plan: {last_line(facts['plan']['stderr'])}"] if plan is None else []) + (
            [f"plan refused ({last_line(facts['plan']['stderr'])}); bases and conflicts scored on a plan excluding "
             f"{', '.join(entry['exclude_when_refused'])}"] if "plan_excluded" in facts else []),
    }


def ratios(t: dict) -> dict:
    return {k: t[k] / t["floor"] for k in ("plan", "apply", "check", "plan2") if t.get(k) and t.get("floor")}


def fmt(x: float | None, spec: str = ".2f", suffix: str = "") -> str:
    return "-" if x is None else format(x, spec) + suffix


def scorecard(rows: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(shutil.get_terminal_size().columns, 160))
    table = Table(title="unibase on the corpus", caption="exits: T = timed out; ops 2nd: a second plan on the branch "
                  "(the first again when apply made no branch)")
    for col in ("project", "held", "plan s", "apply s", "check s", "floor s", "plan/floor", "cpu plan/floor", "exits p/a/c",
                "ops 1st/2nd", "metadatas before/after"):
        table.add_column(col, justify="left" if col == "project" else "right", no_wrap=True)
    for r in rows:
        t = r["timings"]
        meta = "-"
        if r.get("imports"):
            meta = "/".join(str(r["imports"][w].get("metadatas", "err")) for w in ("before", "after"))
        exits = "/".join("T" if r["exits"][k] is None else str(r["exits"][k]) for k in ("plan", "apply", "check"))
        table.add_row(r["name"], f"{r['held']}/{r['total']}", fmt(t.get("plan")), fmt(t.get("apply")),
                      fmt(t.get("check")), fmt(t.get("floor")), fmt(r["ratios"].get("plan"), ".1f", "x"),
                      fmt(r["cpu_ratios"].get("plan"), ".1f", "x"), exits,
                      f"{fmt(r['operations'], 'd')}/{fmt(r['second_plan_ops'], 'd')}", meta)
    console.print(table)
    held, total = sum(r["held"] for r in rows), sum(r["total"] for r in rows)
    console.print(f"{held}/{total} expectations held on {len(rows)} project(s).")
    load = max((r["loadavg_1m"] for r in rows), default=0.0)
    if load > (os.cpu_count() or 1) - 0.5:
        console.print(f"note: the machine was busy (1-minute load average up to {load:.1f} on {os.cpu_count()} CPUs): "
                      "wall times are inflated; cpu plan/floor is the steadier ratio.")
    for r in rows:
        lines = r["failures"] + [f"(note) {n}" for n in r["notes"]]
        if r.get("imports"):
            for when in ("before", "after"):
                problem = probe_problem(r["imports"][when])
                if problem:
                    lines.append(f"(imports {when}) {problem}")
        if lines:
            console.print(f"\n[bold]{r['name']}[/bold]", highlight=False)
            for line in lines:
                console.print(f"  - {line}", highlight=False, markup=False, soft_wrap=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mirrors", type=Path, default=REPO.parent / ".mirror",
                   help="folder holding <owner>+<name>/repo git directories (default: .mirror beside this checkout)")
    p.add_argument("--manifest", type=Path, default=HERE / "corpus.toml")
    p.add_argument("--only", action="append", default=[], metavar="NAME", help="run this project only (repeatable)")
    p.add_argument("--json", action="store_true", help="print a JSON list instead of the scorecard")
    p.add_argument("--keep", action="store_true", help="keep the temporary repositories and say where")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds before a command is killed (default 600)")
    a = p.parse_args(argv)
    try:
        entries = load_manifest(a.manifest)
        unknown = set(a.only) - {e["name"] for e in entries}
        if unknown:
            raise HarnessError(f"no project named {', '.join(sorted(unknown))} in {a.manifest}.")
        entries = [e for e in entries if not a.only or e["name"] in a.only]
        check_mirrors(a.mirrors, entries)
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rows, status = [], 0
    for entry in entries:
        print(f"corpus: {entry['name']} ({entry['repo']} @ {entry['commit'][:10]}) ...", file=sys.stderr, flush=True)
        work = Path(tempfile.mkdtemp(prefix=f"corpus-{entry['name']}-"))
        try:
            facts = run_project(entry, a.mirrors, work, a.timeout)
            rows.append(row(entry, facts, work / "repo") | ({"kept": str(work)} if a.keep else {}))
        except (HarnessError, subprocess.CalledProcessError, OSError) as exc:
            why = exc.stderr.strip() if isinstance(exc, subprocess.CalledProcessError) and exc.stderr else exc
            print(f"error: the harness failed on {entry['name']}: {why}", file=sys.stderr)
            status = 1
        finally:
            if a.keep:
                print(f"corpus: kept {entry['name']} in {work}", file=sys.stderr)
            else:
                shutil.rmtree(work, ignore_errors=True)
    if a.json:
        print(json.dumps(rows, indent=2))
    else:
        scorecard(rows)
    return status


if __name__ == "__main__":
    sys.exit(main())
