"""``--strategy rebase`` over every mergeable scenario, with the real CLI in a real git repository.

Rebase leaves every model where it is and turns each secondary base into an import of the
canonical one. It cannot delete a duplicate class nor rename a clashing one, so where the move
plan resolves an identical duplicate table (by deleting the copy) or a class-name collision (by
renaming the moved class), the rebase plan says so instead: the same conflict, unresolved (exit
1), pointing at ``--strategy move``; ``apply`` then refuses and touches nothing. Everywhere else
``apply --strategy rebase`` succeeds and the project's own tests pass on the branch.

The expectation is derived from each fixture's scenario.toml: no new test code per scenario.
"""

from __future__ import annotations

import json

import pytest

from conftest import SCENARIOS, copy_project, git, run_project_tests, scenario, tree_state, unibase

MERGEABLE = [s for s in SCENARIOS if scenario(s)["expect"]["plan_exit"] == 0]

# conflicts that the move strategy resolves by deleting or renaming a class: rebase cannot
REBASE_BLOCKERS = ("identical-duplicate-table", "class-name-collision")


def blockers(spec: dict) -> set[tuple[str, str]]:
    return {(c["kind"], c["subject"]) for c in spec["expect"].get("conflicts", []) if c["kind"] in REBASE_BLOCKERS}


REBASE_OK = [s for s in MERGEABLE if not blockers(scenario(s))]
_RUNS: dict[str, dict] = {}


@pytest.fixture(scope="module", params=MERGEABLE)
def rebased(request, tmp_path_factory):
    return _rebase(request.param, tmp_path_factory)


def _rebase(name: str, tmp_path_factory) -> dict:
    if name in _RUNS:
        return _RUNS[name]
    project = copy_project(name, tmp_path_factory.mktemp(f"rebase-{name}") / name)
    before = tree_state(project)
    planned = unibase("plan", str(project), "--strategy", "rebase", "--json")
    dry = unibase("apply", str(project), "--strategy", "rebase", "--dry-run")
    applied = unibase("apply", str(project), "--strategy", "rebase", "--branch", "b")
    _RUNS[name] = {
        "name": name,
        "spec": scenario(name),
        "project": project,
        "before": before,
        "planned": planned,
        "plan": json.loads(planned.stdout),
        "dry": dry,
        "applied": applied,
    }
    return _RUNS[name]


def test_plan_exit_code(rebased):
    want = 1 if blockers(rebased["spec"]) else 0
    assert rebased["planned"].returncode == want, rebased["planned"].stderr


def test_plan_says_what_rebase_cannot_do(rebased):
    plan = rebased["plan"]
    assert plan["strategy"] == "rebase"
    unresolved = {(c["kind"], c["subject"]) for c in plan["conflicts"] if c["resolution"] is None}
    assert unresolved == blockers(rebased["spec"])
    for c in plan["conflicts"]:
        if c["resolution"] is None:
            assert "--strategy move" in c["detail"], c
    if unresolved:
        assert "need a decision" in rebased["planned"].stderr


def test_rebase_plan_moves_nothing(rebased):
    ops = rebased["plan"]["operations"]
    assert not [o for o in ops if o["op"] == "move-models"]
    rebases = [o for o in ops if o["op"] == "rebase-base"]
    merged = [b for b in rebased["plan"]["bases"] if b["role"] == "merge"]
    assert sorted(o["file"] for o in rebases) == sorted(b["file"] for b in merged)


def test_apply_outcome(rebased):
    project, applied = rebased["project"], rebased["applied"]
    if blockers(rebased["spec"]):
        assert applied.returncode == 1, applied.stdout + applied.stderr
        assert rebased["dry"].returncode == 1
        assert "need a decision" in applied.stderr
        assert len([line for line in applied.stderr.splitlines() if line.strip()]) == 1
        assert tree_state(project) == rebased["before"]  # no branch, nothing written
    else:
        assert rebased["dry"].returncode == 0, rebased["dry"].stderr
        assert applied.returncode == 0, applied.stdout + applied.stderr
        assert "pass schema" in applied.stdout
        assert git(project, "branch", "--show-current").strip() == "main"
        assert git(project, "status", "--porcelain") == ""
        subjects = git(project, "log", "--format=%s", "main..b").splitlines()
        assert subjects and all(s.startswith("unibase: ") for s in subjects)


@pytest.fixture(scope="module", params=REBASE_OK)
def on_branch(request, tmp_path_factory):
    rebased = _rebase(request.param, tmp_path_factory)
    assert rebased["applied"].returncode == 0, rebased["applied"].stdout + rebased["applied"].stderr
    project = rebased["project"]
    git(project, "checkout", "-q", "b")
    yield rebased
    git(project, "checkout", "-q", "main")


def test_project_tests_pass_on_the_branch(on_branch):
    result = run_project_tests(on_branch["project"])
    assert result.returncode == 0, result.stdout[-3000:]


def test_check_passes_on_the_branch(on_branch):
    unibase("check", str(on_branch["project"]), check=0)


@pytest.mark.parametrize("strategy", ["rebase", "move"])
def test_second_plan_has_nothing_to_do(on_branch, strategy):
    proc = unibase("plan", str(on_branch["project"]), "--json", "--strategy", strategy, check=0)
    assert json.loads(proc.stdout)["operations"] == []


def test_models_stayed_where_they_were(on_branch):
    """Rebase moves no model: every class is still defined in its own file, now on one base."""
    before = {(m["name"], m["file"]) for b in on_branch["plan"]["bases"] if b["role"] in ("canonical", "merge")
              for m in b["models"]}
    proc = unibase("plan", str(on_branch["project"]), "--json", check=0)
    after = json.loads(proc.stdout)
    in_scope = [b for b in after["bases"] if b["role"] in ("canonical", "merge")]
    assert len(in_scope) == 1
    assert {(m["name"], m["file"]) for m in in_scope[0]["models"]} == before
