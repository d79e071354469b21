#!/usr/bin/env python3
"""Profile ``unibase plan``, ``unibase check`` and ``unibase apply --dry-run`` on a tree with cProfile.

    python benchmarks/profile_unibase.py benchmarks/out/trees/tree-f2000-r200-b3-m60-s1-default
    python benchmarks/profile_unibase.py TREE --command plan --top 40 --sort tottime

Runs the real command line in this process (output discarded), writes
``benchmarks/out/profile-<command>.prof`` (open it with ``python -m pstats`` or snakeviz) and
prints the top functions by cumulative and by own time.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import sys
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"

COMMANDS = {"plan": ["plan", "--json"], "check": ["check"], "dry-run": ["apply", "--dry-run"]}


def profile(command: str, tree: Path, out_dir: Path) -> tuple[Path, float]:
    from unibase.cli import main

    argv = ["unibase", *COMMANDS[command], str(tree)]
    prof = cProfile.Profile()
    saved = sys.argv
    sys.argv = argv
    start = time.perf_counter()
    try:
        with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
            prof.runcall(_run, main)
    finally:
        sys.argv = saved
    seconds = time.perf_counter() - start
    path = out_dir / f"profile-{command}.prof"
    prof.dump_stats(path)
    return path, seconds


def _run(main) -> None:
    try:
        main()
    except SystemExit as exc:
        if exc.code not in (0, 1, None):
            raise


def show(path: Path, sort: str, top: int) -> str:
    buf = io.StringIO()
    stats = pstats.Stats(str(path), stream=buf)
    stats.strip_dirs().sort_stats(sort).print_stats(top)
    text = buf.getvalue()
    # drop pstats' preamble down to the table
    return text[text.find("   ncalls"):] if "   ncalls" in text else text


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("tree", type=Path)
    p.add_argument("--command", choices=("plan", "check", "dry-run", "both"), default="both")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--sort", choices=("cumulative", "tottime", "both"), default="both")
    p.add_argument("--out", type=Path, default=OUT)
    a = p.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    for command in (("plan", "dry-run") if a.command == "both" else (a.command,)):
        path, seconds = profile(command, a.tree.resolve(), a.out)
        print(f"== {command} on {a.tree}: {seconds:.2f}s under cProfile; written {path}")
        for sort in (("cumulative", "tottime") if a.sort == "both" else (a.sort,)):
            print(f"-- top {a.top} by {sort}")
            print(show(path, sort, a.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
