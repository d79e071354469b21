"""Golden whole-project tests: each scenario is merged by the real CLI in a real git repository.

Adding a scenario under fixtures/ needs no new test code: its scenario.toml says which of its
own tests fail before the merge, and every test must pass after it.
"""

from __future__ import annotations

import json
import re

import pytest

from conftest import SCENARIOS, git, run_project_tests, scenario, unibase

MERGEABLE = SCENARIOS
NEEDS_DECISION = [s for s in SCENARIOS if scenario(s)["expect"]["plan_exit"] == 1]


def decide(project, spec) -> list[str]:
    """The options this scenario needs: ``--prefer`` on the command line, confirmed renames
    written into the plan JSON, exactly as a user would; returns the extra apply arguments."""
    options = spec.get("options", {})
    if not options.get("prefer") and not options.get("confirm_renames"):
        return []
    plan_file = project.parent / "plan.json"
    prefer = [a for p in options.get("prefer", []) for a in ("--prefer", p)]
    unibase("plan", str(project), *prefer, "--json", "--out", str(plan_file), check=0)
    data = json.loads(plan_file.read_text())
    wanted = {tuple(r) for r in options.get("confirm_renames", [])}
    for conflict in data["conflicts"]:
        for r in conflict["options"].get("suggested_renames", []):
            if (conflict["subject"], r["from"], r["to"]) in wanted:
                r["confirmed"] = True
                wanted.discard((conflict["subject"], r["from"], r["to"]))
    assert not wanted, f"the plan suggested none of {wanted}"
    plan_file.write_text(json.dumps(data))
    return ["--plan", str(plan_file)]


def failed_tests(output: str) -> set[str]:
    return {m.group(1) for m in re.finditer(r"^(?:FAILED|ERROR) (\S+)", output, re.M)}


@pytest.fixture(scope="module", params=MERGEABLE)
def merged(request, tmp_path_factory):
    """One scenario, before and after `unibase apply --branch merged`, with everything observed."""
    name = request.param
    from conftest import copy_project

    project = copy_project(name, tmp_path_factory.mktemp(name) / name)
    before_head = git(project, "rev-parse", "HEAD").strip()
    before_tests = run_project_tests(project)
    patch = project.parent / "dry-run.patch"
    extra = decide(project, scenario(name))
    dry = unibase("apply", str(project), *extra, "--dry-run", "--diff-out", str(patch))
    applied = unibase("apply", str(project), *extra, "--branch", "merged")
    return {
        "name": name,
        "spec": scenario(name),
        "project": project,
        "before_head": before_head,
        "before_tests": before_tests,
        "dry": dry,
        "patch": patch,
        "applied": applied,
    }


def test_failing_tests_before_the_merge_are_the_seed_bug(merged):
    assert failed_tests(merged["before_tests"].stdout) == set(merged["spec"]["fails_before"])


def test_apply_succeeds(merged):
    assert merged["dry"].returncode == 0, merged["dry"].stderr
    assert merged["applied"].returncode == 0, merged["applied"].stdout + merged["applied"].stderr


def test_user_branch_untouched(merged):
    project = merged["project"]
    assert git(project, "rev-parse", "HEAD").strip() == merged["before_head"]
    assert git(project, "branch", "--show-current").strip() == "main"
    assert git(project, "status", "--porcelain") == ""


def test_one_commit_per_phase(merged):
    project = merged["project"]
    subjects = git(project, "log", "--format=%s", "main..merged").splitlines()
    phases = re.findall(r"^# (UB\d{3}) ", merged["dry"].stdout, re.M)
    assert len(subjects) == len(phases) >= 1
    assert all(s.startswith("unibase: ") for s in subjects)
    body = git(project, "log", "-1", "--format=%B", "merged")
    assert f"Unibase-Base: {merged['before_head']}" in body


def test_dry_run_diff_is_what_apply_commits(merged, tmp_path):
    project = merged["project"]
    wt = tmp_path / "wt"
    git(project, "worktree", "add", "-q", "--detach", str(wt), "main")
    try:
        git(wt, "apply", str(merged["patch"]))
        git(wt, "add", "-A")
        assert git(wt, "diff", "--cached", "--stat", "merged") == ""
    finally:
        git(project, "worktree", "remove", "--force", str(wt))


@pytest.fixture(scope="module")
def on_branch(merged):
    project = merged["project"]
    git(project, "checkout", "-q", "merged")
    yield merged
    git(project, "checkout", "-q", "main")


def test_project_tests_pass_after_the_merge(on_branch):
    project = on_branch["project"]
    after = on_branch["spec"].get("options", {}).get("after")
    if after:
        # the follow-up the plan asks of the developer (e.g. tests moved to the kept columns)
        for path in (project / after).rglob("*"):
            if path.is_file():
                dest = project / path.relative_to(project / after)
                dest.write_bytes(path.read_bytes())
    try:
        result = run_project_tests(project)
    finally:
        git(project, "checkout", "-q", "--", ".")
    assert result.returncode == 0, result.stdout[-3000:]


def test_check_passes_after_the_merge(on_branch):
    unibase("check", str(on_branch["project"]), check=0)


def test_second_plan_has_nothing_to_do(on_branch):
    proc = unibase("plan", str(on_branch["project"]), "--json", check=0)
    assert json.loads(proc.stdout)["operations"] == []


def test_verify_passes_after_the_merge(on_branch):
    unibase("verify", str(on_branch["project"]), check=0)


@pytest.mark.parametrize("name", NEEDS_DECISION)
def test_apply_refuses_unresolved_conflicts(name, tmp_project):
    project = tmp_project(name)
    proc = unibase("apply", str(project), "--branch", "merged")
    assert proc.returncode == 1
    assert "need a decision" in proc.stderr
    assert "merged" not in git(project, "branch", "--list")


@pytest.mark.parametrize("name", [s for s in NEEDS_DECISION if scenario(s).get("options", {}).get("prefer")])
def test_prefer_alone_resolves_and_applies(name, tmp_project):
    """`apply --prefer FILE` is enough to merge (union, no rename confirmed); check passes after."""
    project = tmp_project(name)
    prefer = [a for p in scenario(name)["options"]["prefer"] for a in ("--prefer", p)]
    proc = unibase("apply", str(project), *prefer, "--branch", "merged")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    git(project, "checkout", "-q", "merged")
    unibase("check", str(project), check=0)
    assert json.loads(unibase("plan", str(project), "--json", check=0).stdout)["operations"] == []
