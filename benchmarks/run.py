#!/usr/bin/env python3
"""Measure ``unibase plan`` and ``unibase apply --dry-run`` against the read-and-search floor.

    python benchmarks/run.py                      # 2,000 and 20,000 files, 200 relevant, 5 runs each
    python benchmarks/run.py --sizes 2000 --repeat 3 --libcst none

For each tree size, on trees made by ``benchmarks/generate.py`` with the same relevant set, one
run measures side by side, each in its own subprocess as a user would run it:

* ``floor``   reads every ``.py`` file (the walk unibase does) and runs one regex over it
              (unibase's own pre-filter, ``discovery.SQLA_WORDS``): the cost no static tool beats;
* ``plan``    ``unibase plan --json TREE``;
* ``dry-run`` ``unibase apply --dry-run TREE`` (plans, then runs the LibCST codemods in memory);
* ``libcst``  ``libcst.parse_module`` on every ``.py`` file: what parsing the whole tree with
              LibCST would cost (slow: measured once).

Times are wall-clock medians of ``--repeat`` runs (runs interleaved, after one untimed warm-up
run of each command so the page cache is warm); CPU time and peak RSS of each command come from
``/usr/bin/time`` (GNU time) when present, else from ``getrusage(RUSAGE_CHILDREN)``. The warm-up run
of ``plan`` is instrumented: it records which files discovery parsed, for the diagnostics.

Prints a table and writes ``benchmarks/out/bench-<timestamp>.json``. Nothing here asserts a time:
the goals of the performance issue are printed as information only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE))

import generate  # noqa: E402

GOALS = {
    "plan_over_floor_2k": 4.0,
    "dry_run_over_plan_2k": 5.0,
    "peak_rss_mb_20k": 300.0,
}

FLOOR_SCRIPT = r"""
import os, re, sys, json
root, pattern, skip = sys.argv[1], re.compile(bytes.fromhex(sys.argv[2])), frozenset(json.loads(sys.argv[3]))
files = hits = size = 0
for dirpath, dirnames, filenames in os.walk(root):
    dirnames[:] = [d for d in dirnames if d not in skip and not d.startswith(".") and not d.endswith(".egg-info")]
    for name in filenames:
        if name.endswith(".py"):
            with open(os.path.join(dirpath, name), "rb") as fh:
                data = fh.read()
            files += 1
            size += len(data)
            if pattern.search(data):
                hits += 1
print(json.dumps({"files": files, "hits": hits, "bytes": size}))
"""

LIBCST_SCRIPT = r"""
import os, sys, json
import libcst
root, skip = sys.argv[1], frozenset(json.loads(sys.argv[2]))
files = errors = 0
for dirpath, dirnames, filenames in os.walk(root):
    dirnames[:] = [d for d in dirnames if d not in skip and not d.startswith(".") and not d.endswith(".egg-info")]
    for name in sorted(filenames):
        if name.endswith(".py"):
            with open(os.path.join(dirpath, name), "rb") as fh:
                data = fh.read()
            files += 1
            try:
                libcst.parse_module(data)
            except Exception:
                errors += 1
print(json.dumps({"files": files, "errors": errors}))
"""

# The instrumented warm-up run of ``plan``: the real CLI, with discovery's parser wrapped to
# record the files it parses (``parse_source(data, path)``) and the process's own timings.
INSTRUMENTED_PLAN = r"""
import atexit, json, sys, time
t0 = time.perf_counter()
import unibase.discovery as d
parsed = []
_orig = d.parse_source
def parse_source(data, path):
    parsed.append(path)
    return _orig(data, path)
d.parse_source = parse_source
out_path = sys.argv.pop(1)
t_import = time.perf_counter() - t0
@atexit.register
def _dump():
    with open(out_path, "w") as fh:
        json.dump({"parsed": parsed, "import_seconds": t_import, "total_seconds": time.perf_counter() - t0}, fh)
from unibase.cli import main
sys.argv[0] = "unibase"
main()
"""


def floor_command(tree: Path, sqla_words: re.Pattern, skip_dirs: list[str]) -> list[str]:
    """The floor as a command: read every ``.py`` file under ``tree`` and search it once."""
    return [sys.executable, "-c", FLOOR_SCRIPT, str(tree), sqla_words.pattern.hex(), json.dumps(skip_dirs)]


def unibase_cmd() -> list[str]:
    script = Path(sys.executable).parent / "unibase"
    return [str(script)] if script.exists() else [sys.executable, "-m", "unibase"]


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_"))}
    env.update(NO_COLOR="1", COLUMNS="200", PYTHONDONTWRITEBYTECODE="1")
    return env


GNU_TIME = "/usr/bin/time"


def have_gnu_time() -> bool:
    try:
        out = subprocess.run([GNU_TIME, "--version"], capture_output=True, text=True)
    except OSError:
        return False
    return "GNU" in (out.stdout + out.stderr)


USE_GNU_TIME = have_gnu_time()


def measure(cmd: list[str], *, timeout: float | None = None, keep_stdout: bool = False, cwd: Path = REPO) -> dict:
    """Run ``cmd`` once: wall time, CPU time and peak RSS of the command itself.

    Peak RSS comes from ``/usr/bin/time`` (GNU time) when there is one: a child forked from this
    process would inherit this process's resident size as the start of its ``ru_maxrss`` (Linux
    keeps the high-water mark across exec). Without GNU time it is the cumulative children's
    ``ru_maxrss`` (a running maximum), which cannot be lower than this runner's own size (kept
    small: trees are generated in a subprocess). ``keep_stdout`` keeps all of stdout and stderr;
    on ``timeout`` the whole process group of the command is killed (GNU time's child too)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r", suffix=".time") as timefile:
        full = [GNU_TIME, "-f", "%M %U %S", "-o", timefile.name, *cmd] if USE_GNU_TIME else cmd
        load = os.getloadavg()[0]
        start = time.perf_counter()
        proc = subprocess.Popen(full, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=child_env(), cwd=cwd,
                                start_new_session=True)
        try:
            proc.wait(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            timed_out = True
        wall = time.perf_counter() - start
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        out.seek(0)
        err.seek(0)
        stdout = out.read()
        stderr = err.read()
        rss_kb = cpu = None
        source = "getrusage-children"
        if USE_GNU_TIME:
            lines = [ln for ln in timefile.read().splitlines() if ln.strip()]
            try:
                kb, user, system = lines[-1].split()
                rss_kb, cpu = int(kb), float(user) + float(system)
                source = "gnu-time"
            except (IndexError, ValueError):
                pass
    total_cpu = usage.ru_utime + usage.ru_stime
    if rss_kb is None:
        rss_kb = usage.ru_maxrss
        cpu = total_cpu - measure.cpu_so_far
    measure.cpu_so_far = total_cpu
    return {
        "seconds": wall,
        "cpu_seconds": cpu,
        "peak_rss_mb": rss_kb / 1024,  # KiB on Linux
        "rss_source": source,
        "rc": proc.returncode,
        "loadavg_1m_before": load,
        "timed_out": timed_out,
        "stdout": stdout if keep_stdout else stdout[-2000:],
        "stderr_tail": stderr[-2000:].decode("utf-8", "replace"),
        **({"stderr": stderr.decode("utf-8", "replace")} if keep_stdout else {}),
        "stdout_bytes": len(stdout),
    }


measure.cpu_so_far = 0.0


def summarise(samples: list[dict]) -> dict:
    secs = [s["seconds"] for s in samples]
    return {
        "median_s": statistics.median(secs),
        "min_s": min(secs),
        "max_s": max(secs),
        "cpu_median_s": statistics.median(s["cpu_seconds"] for s in samples),
        "cpu_samples_s": [s["cpu_seconds"] for s in samples],
        "max_loadavg_1m": max(s["loadavg_1m_before"] for s in samples),
        "peak_rss_mb": max(s["peak_rss_mb"] for s in samples),
        "runs": len(samples),
        "samples_s": secs,
        "rc": sorted({s["rc"] for s in samples}),
    }


def unibase_revision() -> str:
    """HEAD of this repository, ``+dirty`` when src/ or codemods/ have uncommitted changes (the
    install is editable: what runs is the working tree)."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                                text=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--", "src", "codemods"], cwd=REPO,
                                    capture_output=True, text=True).stdout.strip())
    except OSError:
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def tree_for(workdir: Path, size: int, a: argparse.Namespace) -> tuple[Path, dict]:
    knobs = "clean" if a.clean else "default"
    path = workdir / f"tree-f{size}-r{a.relevant}-b{a.bases}-m{a.models}-s{a.seed}-{knobs}"
    manifest_path = path / generate.MANIFEST
    want = {"files": size, "relevant": a.relevant, "bases": a.bases, "models": a.models, "seed": a.seed}
    if manifest_path.exists():
        m = json.loads(manifest_path.read_text())
        if m.get("generator_version") == generate.GENERATOR_VERSION and all(m["params"].get(k) == v for k, v in want.items()) \
                and (m["params"]["loggers"] == 0) == a.clean:
            return path, m
    print(f"generating {path} ...", flush=True)
    # in a subprocess: this process stays small (see measure())
    cmd = [sys.executable, str(HERE / "generate.py"), str(path), "--files", str(size), "--relevant", str(a.relevant),
           "--bases", str(a.bases), "--models", str(a.models), "--seed", str(a.seed), "--force"]
    subprocess.run(cmd + (["--clean"] if a.clean else []), check=True)
    return path, json.loads(manifest_path.read_text())


def relevant_digest(tree: Path, manifest: dict) -> str:
    import hashlib

    h = hashlib.sha256()
    for rel in manifest["relevant_files"]:
        h.update(rel.encode() + b"\0" + (tree / rel).read_bytes())
    return h.hexdigest()


def diagnostics(tree: Path, manifest: dict, parsed: list[str], sqla_words: re.Pattern) -> dict:
    """Which files discovery parsed, against the relevant set known by construction."""
    relevant = set(manifest["relevant_files"])
    parsed_set = set(parsed)
    extra = sorted(parsed_set - relevant)
    prefilter = [rel for rel in extra if sqla_words.search((tree / rel).read_bytes())]
    return {
        "files": manifest["py_files"],
        "relevant": len(relevant),
        "parsed": len(parsed_set),
        "parsed_relevant": len(parsed_set & relevant),
        "missed_relevant": sorted(relevant - parsed_set)[:20],
        "parsed_irrelevant": len(extra),
        "parsed_irrelevant_by_prefilter": len(prefilter),  # SQLA_WORDS matched: a lookalike
        "parsed_irrelevant_by_name_or_import": len(extra) - len(prefilter),  # pass 2 / import-following
        "parsed_twice": len(parsed) - len(parsed_set),
        "examples": extra[:5],
    }


def check_plan(stdout: bytes, manifest: dict) -> dict:
    try:
        data = json.loads(stdout)
    except ValueError:
        return {"ok": False, "why": "plan --json printed no JSON"}
    bases = {(b["file"], b["name"]): len(b["models"]) for b in data["bases"]}
    want = {(b["file"], b["name"]): len(b["models"]) for b in manifest["bases"]}
    return {
        "ok": bases == want,
        "bases": len(bases),
        "models": sum(bases.values()),
        "operations": len(data["operations"]),
        "unresolved": sum(1 for c in data["conflicts"] if c["resolution"] is None),
        "cross_references": len(data.get("cross_references", ())),
    }


def run_size(size: int, a: argparse.Namespace, workdir: Path, sqla_words: re.Pattern, skip_dirs: list[str],
             want_libcst: bool, repeat: int) -> dict:
    tree, manifest = tree_for(workdir, size, a)
    revision = unibase_revision()
    ub = unibase_cmd()
    cmds = {
        "floor": floor_command(tree, sqla_words, skip_dirs),
        "plan": ub + ["plan", "--json", str(tree)],
        "dry-run": ub + ["apply", "--dry-run", str(tree)],
    }
    print(f"\n== {size} files (unibase {revision}) ({manifest['lines']:,} lines, {manifest['bytes'] / 1e6:.1f} MB), "
          f"{len(manifest['relevant_files'])} relevant: {tree}", flush=True)
    # warm-up: page cache, .pyc files; the plan warm-up is instrumented for the diagnostics
    floor_warm = measure(cmds["floor"], timeout=a.timeout, keep_stdout=True)
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        diag_path = fh.name
    warm = measure([sys.executable, "-c", INSTRUMENTED_PLAN, diag_path, "plan", "--json", str(tree)], timeout=a.timeout,
                   keep_stdout=True)
    try:
        instr = json.loads(Path(diag_path).read_text())
    except (OSError, ValueError):
        instr = {"parsed": []}
    finally:
        Path(diag_path).unlink(missing_ok=True)
    floor_info = json.loads(floor_warm["stdout"] or b"{}")
    plan_check = check_plan(warm["stdout"], manifest)
    diag = diagnostics(tree, manifest, instr["parsed"], sqla_words)
    diag["plan_import_seconds"] = instr.get("import_seconds")
    print(f"   warm-up: plan exit {warm['rc']} in {warm['seconds']:.2f}s; parsed {diag['parsed']} files "
          f"({diag['parsed_relevant']}/{diag['relevant']} relevant, {diag['parsed_irrelevant']} irrelevant)", flush=True)
    if warm["rc"] not in (0, 1):
        print(f"   plan failed:\n{warm['stderr_tail']}", file=sys.stderr)
    samples: dict[str, list[dict]] = {k: [] for k in cmds}
    for i in range(repeat):
        for name, cmd in cmds.items():
            s = measure(cmd, timeout=a.timeout)
            s.pop("stdout")
            samples[name].append(s)
            print(f"   run {i + 1}/{repeat} {name:8} {s['seconds']:8.2f}s  {s['peak_rss_mb']:7.1f} MB  exit {s['rc']}",
                  flush=True)
            if s["rc"] not in (0, 1):
                print(f"   {name} failed:\n{s['stderr_tail']}", file=sys.stderr)
    result = {k: summarise(v) for k, v in samples.items()}
    if want_libcst:
        print("   libcst: parsing every file once (slow) ...", flush=True)
        s = measure([sys.executable, "-c", LIBCST_SCRIPT, str(tree), json.dumps(skip_dirs)], timeout=a.timeout,
                    keep_stdout=True)
        info = json.loads(s["stdout"] or b"{}")
        s.pop("stdout")
        result["libcst"] = summarise([s]) | {"parsed": info.get("files"), "errors": info.get("errors")}
        print(f"   libcst   {s['seconds']:8.2f}s  {s['peak_rss_mb']:7.1f} MB", flush=True)
    return {
        "size": size,
        "tree": str(tree),
        "unibase_revision": {"start": revision, "end": unibase_revision()},
        "manifest": {k: manifest[k] for k in ("params", "app", "py_files", "lines", "bytes", "models", "digest")}
        | {"relevant": len(manifest["relevant_files"]), "bases": len(manifest["bases"])},
        "relevant_digest": relevant_digest(tree, manifest),
        "floor_check": floor_info,
        "plan_check": plan_check | {"exit": warm["rc"]},
        "discovery": diag,
        "results": result,
    }


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def fmt(x: float | None, spec: str = ".2f") -> str:
    return "-" if x is None else format(x, spec)


def report(runs: list[dict]) -> dict:
    rows = []
    print("\n" + "=" * 100)
    head = (f"{'tree':>7} {'command':8} {'median s':>9} {'min s':>8} {'max s':>8} {'cpu s':>8} {'peak MB':>8} "
            f"{'/floor':>7} {'/plan':>7} {'cpu/floor':>9} {'cpu/plan':>9}")
    print(head)
    print("-" * len(head))
    for r in runs:
        res = r["results"]
        floor = res["floor"]["median_s"]
        plan = res["plan"]["median_s"]
        cfloor, cplan = res["floor"]["cpu_median_s"], res["plan"]["cpu_median_s"]
        for name in ("floor", "plan", "dry-run", "libcst"):
            if name not in res:
                continue
            x = res[name]
            print(f"{r['size']:>7} {name:8} {x['median_s']:9.2f} {x['min_s']:8.2f} {x['max_s']:8.2f} "
                  f"{x['cpu_median_s']:8.2f} {x['peak_rss_mb']:8.1f} {fmt(ratio(x['median_s'], floor)):>7} "
                  f"{fmt(ratio(x['median_s'], plan)):>7} {fmt(ratio(x['cpu_median_s'], cfloor)):>9} "
                  f"{fmt(ratio(x['cpu_median_s'], cplan)):>9}")
        d = r["discovery"]
        print(f"{'':>7} discovery parsed {d['parsed']} of {d['files']} files: {d['parsed_relevant']}/{d['relevant']} relevant, "
              f"{d['parsed_irrelevant']} irrelevant ({d['parsed_irrelevant_by_prefilter']} by the SQLA_WORDS pre-filter, "
              f"{d['parsed_irrelevant_by_name_or_import']} by name/import); plan ok={r['plan_check']['ok']} "
              f"exit {r['plan_check']['exit']}")
        rows.append(r)
    by_size = {r["size"]: r for r in runs}
    small, large = min(by_size), max(by_size)
    s, l = by_size[small]["results"], by_size[large]["results"]
    goals = {
        "plan_over_floor": {"tree": small, "value": ratio(s["plan"]["median_s"], s["floor"]["median_s"]),
                            "cpu_value": ratio(s["plan"]["cpu_median_s"], s["floor"]["cpu_median_s"]),
                            "goal": GOALS["plan_over_floor_2k"]},
        "dry_run_over_plan": {"tree": small, "value": ratio(s["dry-run"]["median_s"], s["plan"]["median_s"]),
                              "cpu_value": ratio(s["dry-run"]["cpu_median_s"], s["plan"]["cpu_median_s"]),
                              "goal": GOALS["dry_run_over_plan_2k"]},
    }
    if large != small:
        goals["plan_growth"] = {"from": small, "to": large, "value": ratio(l["plan"]["median_s"], s["plan"]["median_s"]),
                                "cpu_value": ratio(l["plan"]["cpu_median_s"], s["plan"]["cpu_median_s"]),
                                "floor_growth": ratio(l["floor"]["median_s"], s["floor"]["median_s"]),
                                "files_growth": large / small,
                                "same_relevant_set": by_size[small]["relevant_digest"] == by_size[large]["relevant_digest"]}
        goals["dry_run_growth"] = {"from": small, "to": large,
                                   "value": ratio(l["dry-run"]["median_s"], s["dry-run"]["median_s"])}
    goals["peak_rss_mb"] = {"tree": large, "plan": l["plan"]["peak_rss_mb"], "dry_run": l["dry-run"]["peak_rss_mb"],
                            "goal": GOALS["peak_rss_mb_20k"]}
    print("\nissue goals (information only, nothing asserted):")
    g = goals["plan_over_floor"]
    print(f"  plan / floor at {small} files: {fmt(g['value'])}x wall, {fmt(g['cpu_value'])}x cpu (goal <= {g['goal']:.0f}x)")
    g = goals["dry_run_over_plan"]
    print(f"  dry-run / plan at {small} files: {fmt(g['value'])}x wall, {fmt(g['cpu_value'])}x cpu (goal <= {g['goal']:.0f}x)")
    if "plan_growth" in goals:
        g = goals["plan_growth"]
        print(f"  plan {small} -> {large} files: {fmt(g['value'])}x wall, {fmt(g['cpu_value'])}x cpu (floor {fmt(g['floor_growth'])}x, files "
              f"{g['files_growth']:.0f}x; goal: grows with the relevant set, which is "
              f"{'the same' if g['same_relevant_set'] else 'NOT the same'})")
        print(f"  dry-run {small} -> {large} files: {fmt(goals['dry_run_growth']['value'])}x")
    g = goals["peak_rss_mb"]
    loads = [x["max_loadavg_1m"] for r in runs for x in r["results"].values()]
    if max(loads) > (os.cpu_count() or 1) - 0.5:
        print(f"  note: the machine was busy (1-minute load average up to {max(loads):.1f} on {os.cpu_count()} CPUs): "
              "wall times are inflated; the cpu columns are the steadier measure")
    print(f"  peak RSS at {large} files: plan {g['plan']:.0f} MB, dry-run {g['dry_run']:.0f} MB (goal < {g['goal']:.0f} MB)")
    return goals


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="2000,20000", help="comma-separated tree sizes in files (default 2000,20000)")
    p.add_argument("--relevant", type=int, default=200)
    p.add_argument("--bases", type=int, default=3)
    p.add_argument("--models", type=int, default=60)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--clean", action="store_true", help="generate with --clean (irrelevant code shares no word)")
    p.add_argument("--repeat", type=int, default=5, help="timed runs of floor/plan/dry-run per tree (default 5)")
    p.add_argument("--repeat-large", type=int, default=None, help="timed runs on trees above 5,000 files (default: --repeat)")
    p.add_argument("--libcst", choices=("all", "small", "none"), default="all",
                   help="full LibCST parse on every tree, the smallest only, or none (default all)")
    p.add_argument("--timeout", type=float, default=None, help="kill a command after this many seconds")
    p.add_argument("--workdir", type=Path, default=OUT / "trees", help="where generated trees are kept (reused)")
    p.add_argument("--out", type=Path, default=None, help="JSON result file (default benchmarks/out/bench-<time>.json)")
    a = p.parse_args(argv)

    from unibase.discovery import SQLA_WORDS
    from unibase.project import SKIP_DIRS

    sizes = sorted(int(s) for s in a.sizes.split(",") if s.strip())
    a.workdir.mkdir(parents=True, exist_ok=True)
    runs = []
    for size in sizes:
        want_libcst = a.libcst == "all" or (a.libcst == "small" and size == sizes[0])
        repeat = a.repeat_large if (a.repeat_large and size > 5000) else a.repeat
        runs.append(run_size(size, a, a.workdir, SQLA_WORDS, sorted(SKIP_DIRS), want_libcst, repeat))
    goals = report(runs)
    result = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "unibase_revision": unibase_revision(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(a).items()},
        "goals": goals,
        "runs": runs,
    }
    out = a.out or OUT / f"bench-{datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"\nwritten {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
