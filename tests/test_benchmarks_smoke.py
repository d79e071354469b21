"""The benchmark generator is deterministic and its trees plan as built. Correctness only: no timing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, unibase

sys.path.insert(0, str(REPO / "benchmarks"))
import generate  # noqa: E402

SMALL = dict(files=40, relevant=16, bases=2, models=5, seed=3)


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def small_tree(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("bench") / "tree"
    return root, generate.generate(root, **SMALL)


def test_same_seed_same_bytes(small_tree, tmp_path):
    root, manifest = small_tree
    again = generate.generate(tmp_path / "again", **SMALL)
    assert again == manifest
    assert tree_bytes(tmp_path / "again") == tree_bytes(root)


def test_other_seed_other_tree(small_tree, tmp_path):
    _, manifest = small_tree
    other = generate.generate(tmp_path / "other", **{**SMALL, "seed": SMALL["seed"] + 1})
    assert other["digest"] != manifest["digest"]


def test_counts_and_relevant_set_independent_of_size(small_tree, tmp_path):
    root, manifest = small_tree
    assert len(list(root.rglob("*.py"))) == SMALL["files"] == manifest["py_files"]
    assert len(manifest["relevant_files"]) == SMALL["relevant"]
    bigger = generate.generate(tmp_path / "bigger", **{**SMALL, "files": 90})
    assert len(list((tmp_path / "bigger").rglob("*.py"))) == 90
    assert bigger["relevant_files"] == manifest["relevant_files"]
    for rel in manifest["relevant_files"]:
        assert (tmp_path / "bigger" / rel).read_bytes() == (root / rel).read_bytes(), rel


def test_small_tree_plans(small_tree):
    root, manifest = small_tree
    proc = unibase("plan", "--json", str(root), check=0)
    plan = json.loads(proc.stdout)
    assert len(plan["bases"]) == SMALL["bases"]
    assert sum(len(b["models"]) for b in plan["bases"]) == SMALL["models"]
    got = {(b["file"], b["name"]): sorted(m["name"] for m in b["models"]) for b in plan["bases"]}
    want = {(b["file"], b["name"]): sorted(b["models"]) for b in manifest["bases"]}
    assert got == want
    assert plan["canonical"]["file"] == manifest["canonical"]["file"]


def test_run_measures_a_real_tree_side_by_side(small_tree, tmp_path):
    """``run.py --tree`` runs floor, plan, check, dry-run and check after an edit (of a model, of
    application code) on a folder, writes every result, and leaves the folder's files as they were."""
    root, _ = small_tree
    before = {p: p.read_bytes() for p in root.rglob("*.py")}
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "run.py"), "--tree", str(root), "--repeat", "1",
                           "--libcst", "none", "--out", str(out)], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    (run,) = result["runs"]
    assert run["label"] == root.name and run["tree"] == str(root)
    assert set(run["results"]) == {"floor", "plan", "check", "dry-run", "check-edit", "check-edit-app"}
    assert {p: p.read_bytes() for p in root.rglob("*.py")} == before
    assert all(r["rc"] and set(r["rc"]) <= {0, 1} for r in run["results"].values())
    assert run["discovery"]["files"] == SMALL["files"]
    assert set(result["goals"]["per_tree"][root.name]) >= {"plan_over_floor", "check_over_floor", "dry_run_over_plan",
                                                             "peak_rss_mb"}


def test_run_refuses_a_missing_tree(tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "run.py"), "--tree", str(tmp_path / "nowhere")],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2
    assert "is not a folder" in proc.stderr and "Traceback" not in proc.stderr
