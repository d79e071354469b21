"""The command-line contract (DESIGN.md, "Command line"), with the real CLI on real projects.

Every refusal is checked the same way: the exit code, exactly one sentence on stderr (no
traceback), and a project left byte for byte as it was (files, ``git status``, HEAD, branches).
"""

from __future__ import annotations

import json
import re
import shutil
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import FIXTURES, copy_project, git, make_repo, run_project_tests, scenario, tree_state, unibase

KC = "knowledge_chipper"
SERVICE = "src/knowledge_system/database/service.py"  # changed by the plan (UB002, UB004)
PLAN_KEYS = ("version", "root", "canonical", "bases", "operations", "conflicts", "warnings")


def assert_one_sentence(proc, phrase: str) -> None:
    """stderr is one line, one sentence, mentions ``phrase``; nothing looks like a crash."""
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got:\n{proc.stderr}"
    assert phrase.lower() in lines[0].lower(), lines[0]
    for stream in (proc.stdout, proc.stderr):
        assert "Traceback" not in stream, stream
        assert "\x1b[" not in stream, "non-TTY output must stay plain"


def assert_refused(proc, code: int, phrase: str, before: dict, project: Path) -> None:
    assert proc.returncode == code, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert_one_sentence(proc, phrase)
    assert tree_state(project) == before, "a refused command changed the project"


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return root


def plan_json(project: Path, *args: str, check: int | None = 0) -> dict:
    proc = unibase("plan", str(project), "--json", *args, check=check)
    return json.loads(proc.stdout)


@pytest.fixture
def kc(tmp_path) -> Path:
    """The core scenario in a fresh git repository on ``main``."""
    return copy_project(KC, tmp_path / KC)


def outside_git(path: Path) -> None:
    import subprocess

    inside = subprocess.run(["git", "rev-parse", "--is-inside-work-tree"], cwd=path, capture_output=True, text=True)
    if inside.returncode == 0:
        pytest.skip(f"{path} lies inside a git repository (TMPDIR in a checkout)")


# --- exit 2: bad input or usage, nothing touched -------------------------------------------------


@dataclass
class Case:
    """A refusal: ``setup(tmp_path, kc)`` prepares the scene and returns the CLI arguments."""

    setup: Callable[[Path, Path], list[str]]
    phrase: str
    code: int = 2


def _missing(tmp, kc):
    return ["plan", str(tmp / "no-such-project")]


def _missing_apply(tmp, kc):
    return ["apply", str(tmp / "no-such-project")]


def _file(tmp, kc):
    return ["plan", str(kc / "pyproject.toml")]


def _file_apply(tmp, kc):
    return ["apply", str(kc / "src/knowledge_system/database/models.py")]


def _target(tmp, kc):
    return ["plan", str(kc), "--target", "src/knowledge_system/nowhere.py"]


def _target_name(tmp, kc):
    return ["apply", str(kc), "--target", "src/knowledge_system/database/models.py:NoSuchBase"]


def _strategy(tmp, kc):
    return ["plan", str(kc), "--strategy", "sideways"]


def _strategy_apply(tmp, kc):
    return ["apply", str(kc), "--strategy", "sideways"]


def _strategy_pyproject(tmp, kc):
    with (kc / "pyproject.toml").open("a", encoding="utf-8") as fh:
        fh.write('\n[tool.unibase]\nstrategy = "sideways"\n')
    git(kc, "commit", "-qam", "settings")
    return ["check", str(kc)]


def _pyproject(kc: Path, text: str) -> None:
    with (kc / "pyproject.toml").open("a", encoding="utf-8") as fh:
        fh.write("\n[tool.unibase]\n" + text)
    git(kc, "commit", "-qam", "settings")


def _skip_pyproject(tmp, kc):
    _pyproject(kc, 'skip = ["UB999"]\n')
    return ["apply", str(kc)]


def _setting_type(tmp, kc):
    _pyproject(kc, "branch = 3\n")
    return ["plan", str(kc)]


def _pyproject_not_toml(tmp, kc):
    with (kc / "pyproject.toml").open("a", encoding="utf-8") as fh:
        fh.write("\n[tool.unibase\n")
    git(kc, "commit", "-qam", "broken settings")
    return ["check", str(kc)]


def _no_commits(tmp, kc):
    shutil.rmtree(kc / ".git")
    git(kc, "init", "-q", "-b", "main")
    return ["apply", str(kc)]


def _skip(tmp, kc):
    return ["apply", str(kc), "--skip", "UB999"]


def _dirty_modified(tmp, kc):
    with (kc / "src/knowledge_system/database/models.py").open("a", encoding="utf-8") as fh:
        fh.write("\n# work in progress\n")
    return ["apply", str(kc)]


def _dirty_untracked(tmp, kc):
    (kc / "notes.txt").write_text("todo\n", encoding="utf-8")
    return ["apply", str(kc), "--branch", "merged"]


def _dirty_staged(tmp, kc):
    (kc / "src/knowledge_system/new_module.py").write_text("X = 1\n", encoding="utf-8")
    git(kc, "add", "-A")
    return ["apply", str(kc)]


def _branch_exists(tmp, kc):
    git(kc, "branch", "merged")
    return ["apply", str(kc), "--branch", "merged"]


def _default_branch_exists(tmp, kc):
    git(kc, "branch", "unibase/merge-bases")
    return ["apply", str(kc)]


def _branch_clashes(tmp, kc):
    git(kc, "branch", "unibase")  # refs/heads/unibase blocks refs/heads/unibase/merge-bases
    return ["apply", str(kc)]


def _branch_invalid(tmp, kc):
    return ["apply", str(kc), "--branch", "bad..name"]


def _branch_invalid_space(tmp, kc):
    return ["apply", str(kc), "--branch", "has space"]


def _branch_invalid_dash(tmp, kc):
    return ["apply", str(kc), "--branch=-merged"]


def _not_git(tmp, kc):
    outside_git(tmp)
    shutil.rmtree(kc / ".git")
    return ["apply", str(kc)]


def _no_git_in_git(tmp, kc):
    return ["apply", str(kc), "--no-git"]


def _plan_file(tmp, text: str) -> str:
    path = tmp / "plan.json"
    path.write_text(text, encoding="utf-8")
    return str(path)


def _good_plan(tmp, kc) -> dict:
    return plan_json(kc)


def _plan_not_json(tmp, kc):
    return ["apply", str(kc), "--plan", _plan_file(tmp, "operations: all of them\n")]


def _plan_empty(tmp, kc):
    return ["apply", str(kc), "--plan", _plan_file(tmp, "")]


def _plan_list(tmp, kc):
    return ["apply", str(kc), "--plan", _plan_file(tmp, "[1, 2]\n")]


def _plan_version(tmp, kc):
    data = _good_plan(tmp, kc)
    data["version"] = 99
    return ["apply", str(kc), "--plan", _plan_file(tmp, json.dumps(data))]


def _plan_no_version(tmp, kc):
    data = _good_plan(tmp, kc)
    del data["version"]
    return ["apply", str(kc), "--plan", _plan_file(tmp, json.dumps(data))]


def _plan_missing_operations(tmp, kc):
    data = _good_plan(tmp, kc)
    del data["operations"]
    return ["apply", str(kc), "--plan", _plan_file(tmp, json.dumps(data))]


def _plan_missing_bases(tmp, kc):
    data = _good_plan(tmp, kc)
    del data["bases"]
    return ["apply", str(kc), "--plan", _plan_file(tmp, json.dumps(data))]


def _plan_operations_not_a_list(tmp, kc):
    data = _good_plan(tmp, kc)
    data["operations"] = "move everything"
    return ["apply", str(kc), "--plan", _plan_file(tmp, json.dumps(data))]


def _plan_operation_missing_field(tmp, kc):
    data = _good_plan(tmp, kc)
    del data["operations"][0]["source"]
    return ["apply", str(kc), "--plan", _plan_file(tmp, json.dumps(data))]


def _plan_unknown_operation(tmp, kc):
    data = _good_plan(tmp, kc)
    data["operations"][0]["op"] = "teleport-models"
    return ["apply", str(kc), "--plan", _plan_file(tmp, json.dumps(data))]


def _plan_missing_file(tmp, kc):
    return ["apply", str(kc), "--plan", str(tmp / "never-written.json")]


def _plan_outside_root(tmp, kc):
    data = _good_plan(tmp, kc)
    op = next(o for o in data["operations"] if o["op"] == "rewrite-imports")
    op["file"] = "../elsewhere.py"
    data["fingerprints"] = {}
    (tmp / "elsewhere.py").write_text("from x import Base\n", encoding="utf-8")
    return ["apply", str(kc), "--plan", _plan_file(tmp, json.dumps(data))]


def _stale(tmp, kc):
    path = tmp / "plan.json"
    unibase("plan", str(kc), "--json", "--out", str(path), check=0)
    with (kc / SERVICE).open("a", encoding="utf-8") as fh:
        fh.write("\n# a change after the plan was made\n")
    git(kc, "commit", "-qam", "later work")
    return ["apply", str(kc), "--plan", str(path)]


def _stale_deleted(tmp, kc):
    path = tmp / "plan.json"
    unibase("plan", str(kc), "--json", "--out", str(path), check=0)
    git(kc, "rm", "-q", "src/knowledge_system/processors/claims.py")
    git(kc, "commit", "-qm", "drop claims")
    return ["apply", str(kc), "--plan", str(path)]


def _stale_dry_run(tmp, kc):
    return _stale(tmp, kc) + ["--dry-run"]


def _other_root(tmp, kc):
    path = tmp / "plan.json"
    other = copy_project(KC, tmp / "other-checkout")
    unibase("plan", str(other), "--json", "--out", str(path), check=0)
    return ["apply", str(kc), "--plan", str(path)]


def _unparsable_needed(tmp, kc):
    # A plan the user edited by hand (no fingerprints) against a tree where a file the plan must
    # change no longer parses: apply must refuse it, and write nothing.
    data = _good_plan(tmp, kc)
    assert any(SERVICE in (o.get("file"), o.get("source"), o.get("target")) for o in data["operations"])
    del data["fingerprints"]
    with (kc / SERVICE).open("a", encoding="utf-8") as fh:
        fh.write("\ndef broken(:\n    pass\n")
    git(kc, "commit", "-qam", "a syntax error")
    return ["apply", str(kc), "--plan", _plan_file(tmp, json.dumps(data))]


def _unparsable_needed_dry_run(tmp, kc):
    return _unparsable_needed(tmp, kc) + ["--dry-run"]


def _out_unwritable(tmp, kc):
    return ["plan", str(kc), "--json", "--out", str(tmp / "no" / "such" / "dir" / "plan.json")]


def _diff_out_unwritable(tmp, kc):
    return ["apply", str(kc), "--dry-run", "--diff-out", str(tmp / "no" / "such" / "dir" / "merge.patch")]


def _unknown_setting(tmp, kc):
    _pyproject(kc, 'targett = "src/knowledge_system/database/models.py"\n')
    return ["check", str(kc)]


def _unknown_setting_far(tmp, kc):
    _pyproject(kc, 'colour = "blue"\n')
    return ["plan", str(kc)]


def _diff_out_without_dry_run(tmp, kc):
    return ["apply", str(kc), "--diff-out", str(tmp / "merge.patch")]


def _prefer_missing(tmp, kc):
    return ["plan", str(kc), "--prefer", "src/knowledge_system/database/nowhere.py"]


def _plan_with_target(tmp, kc):
    path = tmp / "plan.json"
    unibase("plan", str(kc), "--json", "--out", str(path), check=0)
    return ["apply", str(kc), "--plan", str(path), "--target", "src/knowledge_system/database/hce_models.py"]


def _plan_with_merge(tmp, kc):
    path = tmp / "plan.json"
    unibase("plan", str(kc), "--json", "--out", str(path), check=0)
    return ["apply", str(kc), "--plan", str(path), "--merge", "src/knowledge_system/database/hce_models.py"]


REFUSALS = {
    "path-missing": Case(_missing, "does not exist"),
    "path-missing-apply": Case(_missing_apply, "does not exist"),
    "path-is-a-file": Case(_file, "not a directory"),
    "path-is-a-file-apply": Case(_file_apply, "not a directory"),
    "target-names-no-base": Case(_target, "names no declarative base"),
    "target-names-no-base-name": Case(_target_name, "names no declarative base"),
    "unknown-strategy": Case(_strategy, "unknown strategy"),
    "unknown-strategy-apply": Case(_strategy_apply, "unknown strategy"),
    "unknown-strategy-pyproject": Case(_strategy_pyproject, "unknown strategy"),
    "unknown-skip": Case(_skip, "unknown step"),
    "unknown-skip-pyproject": Case(_skip_pyproject, "unknown step"),
    "setting-of-the-wrong-type": Case(_setting_type, "must be a string"),
    "pyproject-not-toml": Case(_pyproject_not_toml, "not valid TOML"),
    "repository-without-commits": Case(_no_commits, "no commits"),
    "dirty-modified": Case(_dirty_modified, "uncommitted changes"),
    "dirty-untracked": Case(_dirty_untracked, "uncommitted changes"),
    "dirty-staged": Case(_dirty_staged, "uncommitted changes"),
    "branch-exists": Case(_branch_exists, "already exists"),
    "default-branch-exists": Case(_default_branch_exists, "already exists"),
    "branch-clashes-with-a-ref": Case(_branch_clashes, "existing branch unibase"),
    "branch-invalid": Case(_branch_invalid, "not a valid branch name"),
    "branch-invalid-space": Case(_branch_invalid_space, "not a valid branch name"),
    "branch-invalid-dash": Case(_branch_invalid_dash, "not a valid branch name"),
    "not-a-git-repository": Case(_not_git, "--no-git"),
    "no-git-inside-git": Case(_no_git_in_git, "git repository"),
    "plan-not-json": Case(_plan_not_json, "not valid JSON"),
    "plan-empty": Case(_plan_empty, "not valid JSON"),
    "plan-not-an-object": Case(_plan_list, "not a JSON object"),
    "plan-wrong-version": Case(_plan_version, "version 99"),
    "plan-no-version": Case(_plan_no_version, "version None"),
    "plan-missing-operations": Case(_plan_missing_operations, "malformed"),
    "plan-missing-bases": Case(_plan_missing_bases, "malformed"),
    "plan-operations-not-a-list": Case(_plan_operations_not_a_list, "malformed"),
    "plan-operation-missing-field": Case(_plan_operation_missing_field, "malformed"),
    "plan-unknown-operation": Case(_plan_unknown_operation, "unknown operation"),
    "plan-file-missing": Case(_plan_missing_file, "cannot read the plan"),
    "plan-names-a-file-outside": Case(_plan_outside_root, "outside the project"),
    "plan-stale": Case(_stale, "stale"),
    "plan-stale-file-deleted": Case(_stale_deleted, "no longer exists"),
    "plan-stale-dry-run": Case(_stale_dry_run, "stale"),
    "plan-for-another-root": Case(_other_root, "was made for"),
    "unparsable-file-the-plan-changes": Case(_unparsable_needed, "does not parse"),
    "unparsable-file-the-plan-changes-dry-run": Case(_unparsable_needed_dry_run, "does not parse"),
    "plan-out-unwritable": Case(_out_unwritable, "cannot write the plan"),
    "diff-out-unwritable": Case(_diff_out_unwritable, "cannot write the patch"),
    "unknown-setting-key": Case(_unknown_setting, "pyproject.toml; did you mean target?"),
    "unknown-setting-key-far": Case(_unknown_setting_far, "the keys are target, strategy"),
    "diff-out-without-dry-run": Case(_diff_out_without_dry_run, "add --dry-run"),
    "prefer-path-missing": Case(_prefer_missing, "--prefer src/knowledge_system/database/nowhere.py: no such file"),
    "plan-file-with-target": Case(_plan_with_target, "--target plans the merge, but --plan applies a plan"),
    "plan-file-with-merge": Case(_plan_with_merge, "drop --merge"),
}


@pytest.mark.parametrize("name", list(REFUSALS))
def test_refusal(name, tmp_path, kc):
    case = REFUSALS[name]
    args = case.setup(tmp_path, kc)
    before = tree_state(kc)
    proc = unibase(*args, cwd=tmp_path)
    assert_refused(proc, case.code, case.phrase, before, kc)  # no new branch either


def test_refusals_say_what_to_do(tmp_path, kc):
    """Every sentence names a way out (a command, an option, or the thing to fix)."""
    proc = unibase("apply", str(kc), "--branch", "bad..name")
    assert "--branch" in proc.stderr
    (kc / "notes.txt").write_text("x", encoding="utf-8")
    proc = unibase("apply", str(kc))
    assert "commit or stash" in proc.stderr and "notes.txt" in proc.stderr


def test_markup_in_messages_is_printed_verbatim(tmp_path, kc):
    """A message holding brackets (paths, ``[tool.unibase]``) is not eaten as Rich markup."""
    odd = tmp_path / "[bold]" / "proj"
    proc = unibase("plan", str(odd))
    assert proc.returncode == 2
    assert "[bold]" in proc.stderr


def test_settings_from_pyproject(tmp_path, kc):
    """[tool.unibase]: a single string where a list is expected is one entry; options override it."""
    _pyproject(kc, 'exclude = "src/knowledge_system/database/system2_models.py"\nbranch = "from-settings"\n')
    data = plan_json(kc)
    assert {b["file"] for b in data["bases"]} == {"src/knowledge_system/database/models.py",
                                                 "src/knowledge_system/database/hce_models.py"}
    unibase("apply", str(kc), "--no-verify", check=0)
    assert git(kc, "branch", "--list", "from-settings").strip() == "from-settings"
    unibase("apply", str(kc), "--no-verify", "--branch", "from-option", check=0)
    assert git(kc, "branch", "--list", "from-option").strip() == "from-option"


def test_current_directory_is_the_default_path(kc):
    proc = unibase("check", cwd=kc)
    assert proc.returncode == 1
    proc = unibase("plan", "--json", cwd=kc, check=0)
    assert json.loads(proc.stdout)["root"] == str(kc.resolve())


# --- exit 1: findings that need a decision ------------------------------------------------------


def test_check_fails_while_several_bases_are_in_scope(kc):
    before = tree_state(kc)
    proc = unibase("check", str(kc))
    assert_refused(proc, 1, "declarative bases are in scope", before, kc)
    # one finding per secondary base, on stdout, with file:line
    findings = [line for line in proc.stdout.splitlines() if line.strip()]
    codes = sorted(line.split(": ")[1].split()[0] for line in findings)
    assert codes == ["UB101", "UB101", "UB102"]  # the two secondary bases, the foreign key across them
    assert all(line.startswith("src/knowledge_system/database/") for line in findings)


def test_check_passes_with_one_base(tmp_path):
    project = write(tmp_path / "single", {
        "app/__init__.py": "",
        "app/models.py": """
            from sqlalchemy import Column, Integer
            from sqlalchemy.orm import declarative_base

            Base = declarative_base()


            class User(Base):
                __tablename__ = "users"
                id = Column(Integer, primary_key=True)
        """,
    })
    proc = unibase("check", str(project), check=0)
    assert proc.stderr == ""
    assert "one declarative base" in proc.stdout


@pytest.mark.parametrize("json_flag", [False, True])
def test_plan_with_unresolved_conflicts_exits_1(tmp_path, json_flag):
    project = copy_project("miachat", tmp_path / "miachat")
    before = tree_state(project)
    proc = unibase("plan", str(project), *(["--json"] if json_flag else []))
    assert_refused(proc, 1, "need a decision", before, project)
    if json_flag:
        data = json.loads(proc.stdout)
        assert {c["subject"] for c in data["conflicts"] if c["resolution"] is None} == {"conversations", "messages"}
    else:
        assert "NEEDS A DECISION" in proc.stdout


def test_apply_with_unresolved_conflicts_exits_1(tmp_path):
    project = copy_project("miachat", tmp_path / "miachat")
    before = tree_state(project)
    proc = unibase("apply", str(project), "--branch", "merged")
    assert_refused(proc, 1, "need a decision", before, project)
    assert "conversations" in proc.stdout and "messages" in proc.stdout  # the details, on stdout
    dry = unibase("apply", str(project), "--dry-run")
    assert_refused(dry, 1, "need a decision", before, project)


def test_apply_of_a_saved_plan_with_unresolved_conflicts_exits_1(tmp_path):
    project = copy_project("miachat", tmp_path / "miachat")
    plan_file = tmp_path / "plan.json"
    proc = unibase("plan", str(project), "--out", str(plan_file), "--json")
    assert proc.returncode == 1 and plan_file.is_file()
    assert json.loads(plan_file.read_text(encoding="utf-8")) == json.loads(proc.stdout)
    before = tree_state(project)
    proc = unibase("apply", str(project), "--plan", str(plan_file), "--branch", "merged")
    assert_refused(proc, 1, "need a decision", before, project)


# (files that do not parse: tests/test_unanalysed_files.py)


# --- the plan as JSON ----------------------------------------------------------------------------


def _relative(path: str) -> bool:
    return bool(path) and not path.startswith("/") and ".." not in Path(path).parts and "\\" not in path


def test_plan_json_is_the_only_output_and_paths_are_relative(tmp_path, kc):
    out_file = tmp_path / "plan.json"
    proc = unibase("plan", str(kc), "--json", "--out", str(out_file), check=0)
    assert proc.stderr == ""
    data = json.loads(proc.stdout)  # nothing but JSON on stdout
    for key in PLAN_KEYS:
        assert key in data, key
    assert out_file.read_text(encoding="utf-8") == proc.stdout  # --out writes the same JSON
    assert data["root"] == str(kc.resolve())
    assert data["canonical"]["file"] == "src/knowledge_system/database/models.py"
    assert data["canonical"]["module"] == "src.knowledge_system.database.models"
    files = [data["canonical"]["file"]]
    for b in data["bases"]:
        files.append(b["file"])
        files += [m["file"] for m in b["models"]]
    for op in data["operations"]:
        assert {"op", "step"} <= set(op)
        files += [op[k] for k in ("file", "source", "target") if isinstance(op.get(k), str) and op[k].endswith(".py")]
    files += [r["file"] for r in data.get("cross_references", [])]
    files += [w["file"] for w in data["warnings"] if w["file"]]
    files += [loc.rsplit(":", 1)[0] for c in data["conflicts"] for loc in c.get("locations", [])]
    files += list(data.get("fingerprints", {}))
    assert len(files) > 20
    for f in files:
        assert _relative(f), f
        assert (kc / f).is_file(), f
    # planning again gives the same plan (in a fresh process: another string-hash seed than the
    # CLI server's children share, so an order that follows hashing shows here)
    assert unibase("plan", str(kc), "--json", check=0, fresh=True).stdout == proc.stdout


def test_plan_out_with_human_output(tmp_path, kc):
    out_file = tmp_path / "plan.json"
    proc = unibase("plan", str(kc), "--out", str(out_file), check=0)
    assert "Declarative bases" in proc.stdout and "plan written to" in proc.stdout
    assert json.loads(out_file.read_text(encoding="utf-8"))["operations"]


def test_apply_plan_from_out_file(tmp_path, kc):
    out_file = tmp_path / "plan.json"
    unibase("plan", str(kc), "--json", "--out", str(out_file), check=0)
    head = git(kc, "rev-parse", "HEAD").strip()
    unibase("apply", str(kc), "--plan", str(out_file), "--branch", "from-plan", "--no-verify", check=0)
    unibase("apply", str(kc), "--branch", "direct", "--no-verify", check=0)
    assert git(kc, "diff", "from-plan", "direct") == ""  # the same merge
    assert git(kc, "rev-parse", "HEAD").strip() == head
    git(kc, "checkout", "-q", "from-plan")
    unibase("check", str(kc), check=0)


def test_plan_file_inside_the_project_does_not_dirty_the_tree(kc):
    """The README flow: `plan --json --out plan.json` then `apply --plan plan.json`, in the project."""
    unibase("plan", "--json", "--out", "plan.json", cwd=kc, check=0)
    proc = unibase("apply", "--plan", "plan.json", "--branch", "merged", "--no-verify", cwd=kc, check=0)
    assert "branch merged created" in proc.stdout
    assert git(kc, "status", "--porcelain") == "?? plan.json\n"
    assert "plan.json" not in git(kc, "ls-tree", "-r", "--name-only", "merged")
    # any other stray file still counts
    (kc / "stray.txt").write_text("x", encoding="utf-8")
    proc = unibase("apply", "--plan", "plan.json", "--branch", "again", cwd=kc)
    assert proc.returncode == 2 and "stray.txt" in proc.stderr


def test_dry_run_touches_nothing(tmp_path, kc):
    before = tree_state(kc)
    patch = tmp_path / "merge.patch"
    proc = unibase("apply", str(kc), "--dry-run", "--diff-out", str(patch), check=0)
    assert tree_state(kc) == before
    assert proc.stdout.startswith("# UB001 ")
    diff = "".join(line for line in proc.stdout.splitlines(keepends=True) if not line.startswith("# UB"))
    assert patch.read_text(encoding="utf-8") == diff != ""


# --- plan never imports user code ----------------------------------------------------------------


SIDE_EFFECT = """
    import pathlib

    pathlib.Path(__file__).resolve().parents[1].joinpath("IMPORTED-{name}").write_text("imported")
    raise RuntimeError("{name} must never be imported by unibase plan")
"""


def _trap(name: str, body: str) -> str:
    """A module that leaves a file behind and raises as soon as it is imported, then ``body``."""
    return textwrap.dedent(SIDE_EFFECT.format(name=name)).lstrip() + textwrap.dedent(body)


def _booby_trapped(root: Path) -> Path:
    return write(root, {
        "app/__init__.py": "",
        "app/models.py": _trap("models", """
            from sqlalchemy import Column, Integer, String
            from sqlalchemy.orm import declarative_base

            Base = declarative_base()


            class User(Base):
                __tablename__ = "users"
                id = Column(Integer, primary_key=True)
                name = Column(String(50))


            class Team(Base):
                __tablename__ = "teams"
                id = Column(Integer, primary_key=True)
        """),
        "app/notes.py": _trap("notes", """
            from sqlalchemy import Column, ForeignKey, Integer, Text
            from sqlalchemy.orm import declarative_base

            NotesBase = declarative_base()


            class Note(NotesBase):
                __tablename__ = "notes"
                id = Column(Integer, primary_key=True)
                user_id = Column(Integer, ForeignKey("users.id"))
                body = Column(Text)
        """),
        "app/db.py": _trap("db", """
            from .models import Base
            from .notes import NotesBase


            def init(engine):
                Base.metadata.create_all(engine)
                NotesBase.metadata.create_all(engine)
        """),
    })


def test_plan_never_imports_user_code(tmp_path):
    project = _booby_trapped(tmp_path / "trap")
    make_repo(project)
    before = tree_state(project)
    data = plan_json(project, check=0)
    assert data["canonical"]["file"] == "app/models.py"
    assert {(b["file"], b["name"]) for b in data["bases"]} == {("app/models.py", "Base"), ("app/notes.py", "NotesBase")}
    assert [(r["source"], r["target"]) for r in data["cross_references"]] == [("notes.user_id", "users.id")]
    assert {o["op"] for o in data["operations"]} >= {"move-models", "collapse-metadata"}
    assert unibase("check", str(project)).returncode == 1
    unibase("plan", str(project), check=0)
    unibase("apply", str(project), "--dry-run", check=0)
    unibase("apply", str(project), "--branch", "merged", "--no-verify", check=0)
    assert not list(project.rglob("IMPORTED-*")), "user code was imported"
    assert tree_state(project)["files"] == before["files"]
    git(project, "checkout", "-q", "merged")
    unibase("check", str(project), check=0)
    assert not list(project.rglob("IMPORTED-*"))


# --- --no-git, detached HEAD, subdirectories -----------------------------------------------------


def test_no_git_writes_in_place(tmp_path):
    outside_git(tmp_path)
    project = copy_project(KC, tmp_path / KC, init_git=False)
    proc = unibase("apply", str(project), "--no-git", check=0)
    assert "unibase: move" in proc.stdout
    assert not (project / ".git").exists()
    assert not list(project.rglob(".unibase-*")), "temporary files were left behind"
    shim = (project / "src/knowledge_system/database/hce_models.py").read_text(encoding="utf-8")
    assert "re-exported" in shim
    unibase("check", str(project), check=0)
    assert plan_json(project)["operations"] == []
    result = run_project_tests(project)
    assert result.returncode == 0, result.stdout[-3000:]


def test_no_git_dry_run_is_allowed_in_a_repository(kc):
    before = tree_state(kc)
    unibase("apply", str(kc), "--no-git", "--dry-run", check=0)
    assert tree_state(kc) == before


def test_detached_head(kc):
    git(kc, "checkout", "-q", "--detach")
    head = git(kc, "rev-parse", "HEAD").strip()
    proc = unibase("apply", str(kc), "--branch", "merged", "--no-verify", check=0)
    assert "branch merged created" in proc.stdout
    assert git(kc, "rev-parse", "HEAD").strip() == head
    assert git(kc, "rev-parse", "--abbrev-ref", "HEAD").strip() == "HEAD"  # still detached
    assert git(kc, "status", "--porcelain") == ""
    assert git(kc, "merge-base", "merged", head).strip() == head
    assert git(kc, "rev-parse", "main").strip() == head
    assert len(git(kc, "rev-list", f"{head}..merged").split()) >= 1


def test_project_in_a_subdirectory_of_a_repository(tmp_path):
    repo = tmp_path / "mono"
    copy_project(KC, repo / "services" / "kc", init_git=False)
    (repo / "README.md").write_text("monorepo\n", encoding="utf-8")
    make_repo(repo)
    project = repo / "services" / "kc"
    unibase("apply", str(project), "--branch", "merged", "--no-verify", check=0)
    changed = git(repo, "diff", "--name-only", "main", "merged").split()
    assert changed and all(p.startswith("services/kc/") for p in changed)
    assert git(repo, "status", "--porcelain") == ""
    git(repo, "checkout", "-q", "merged")
    unibase("check", str(project), check=0)


def test_nothing_to_do_exits_0(tmp_path):
    project = write(tmp_path / "single", {
        "app/__init__.py": "",
        "app/models.py": """
            from sqlalchemy import Column, Integer
            from sqlalchemy.orm import DeclarativeBase


            class Base(DeclarativeBase):
                pass


            class User(Base):
                __tablename__ = "users"
                id = Column(Integer, primary_key=True)
        """,
    })
    make_repo(project)
    before = tree_state(project)
    proc = unibase("apply", str(project), check=0)
    assert "nothing to change" in proc.stdout
    assert tree_state(project) == before
    assert unibase("apply", str(project), "--dry-run", check=0).stdout == ""
    assert plan_json(project)["operations"] == []


# --- explain, --help, demo -----------------------------------------------------------------------


@pytest.mark.parametrize("code", ["UB001", "UB002", "UB003", "UB004", "ub002"])
def test_explain(code):
    proc = unibase("explain", code, check=0)
    assert proc.stdout.startswith(code.upper())
    assert "before:" in proc.stdout and "after:" in proc.stdout


@pytest.mark.parametrize("code", ["UB999", "merge", "UB0011"])
def test_explain_unknown_code(code, tmp_path):
    proc = unibase("explain", code, cwd=tmp_path)
    assert proc.returncode == 2
    assert_one_sentence(proc, "unknown step or rule")


@pytest.mark.parametrize("command", [None, "plan", "apply", "verify", "check", "explain", "demo"])
def test_help(command):
    proc = unibase(*([command] if command else []), "--help", check=0)
    assert "Usage" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_prefer_accepts_an_existing_file_and_a_path_tail(tmp_path):
    """An existing file (relative to the root, to the current directory, or a path's tail) is
    accepted: the refusal is only for paths that name nothing."""
    project = copy_project("miachat", tmp_path / "miachat")
    data = plan_json(project, check=1)
    file = next(c for c in data["conflicts"] if c["kind"] == "duplicate-table")["locations"][1].rsplit(":", 1)[0]
    for prefer, cwd in ((file, tmp_path), (Path(file).name, project / Path(file).parent),
                        ("/".join(Path(file).parts[-2:]), tmp_path)):
        proc = unibase("plan", str(project), "--json", "--prefer", prefer, cwd=cwd)
        assert "no such file" not in proc.stderr, (prefer, proc.stderr)
        assert proc.returncode in (0, 1)


HELP_COMMANDS = [None, "plan", "apply", "verify", "check", "explain", "demo", "graph"]


@pytest.mark.parametrize("command", HELP_COMMANDS)
def test_help_is_click_style(command):
    """-h is --help; flags take no value (no `<bool>`), values have Click-style metavars."""
    long = unibase(*([command] if command else []), "--help", check=0)
    short = unibase(*([command] if command else []), "-h", check=0)
    assert long.stdout == short.stdout
    for bad in ("<bool>", "<list", "<str>", "<path>", "<int>", "\u2500", "\u256d"):
        assert bad not in long.stdout, f"{bad!r} in:\n{long.stdout}"
    assert max(len(line) for line in long.stdout.splitlines()) <= 200


def test_help_metavars():
    plan_help = unibase("plan", "-h", check=0).stdout
    assert "--target FILE[:NAME]" in plan_help
    assert "--strategy [auto|move|rebase]" in plan_help
    assert "--prefer FILE_OR_MODULE" in plan_help
    assert "-q, --quiet" in plan_help and "-v, --verbose" in plan_help
    apply_help = unibase("apply", "-h", check=0).stdout
    assert "--plan PLAN.json" in apply_help and "--skip CODE" in apply_help
    assert re.search(r"^  --dry-run +Print", apply_help, re.M)


def test_version():
    from unibase import __version__

    proc = unibase("--version", check=0)
    assert proc.stdout == f"unibase {__version__}\n"


def test_quiet_and_verbose(tmp_path, kc):
    normal = unibase("plan", str(kc), check=0).stdout
    quiet = unibase("plan", str(kc), "-q", check=0).stdout
    verbose = unibase("plan", str(kc), "-v", check=0).stdout
    assert len(quiet.splitlines()) < len(normal.splitlines()) < len(verbose.splitlines())
    assert "Declarative bases" not in quiet
    model_line = re.compile(r"^ +src/knowledge_system/database/hce_models\.py:\d+: Episode", re.M)
    assert model_line.search(verbose) and not model_line.search(normal)
    assert unibase("check", str(kc), "-q").returncode == 1
    proc = unibase("apply", str(kc), "-q", "--no-verify", check=0)
    assert proc.stdout.splitlines() == [line for line in proc.stdout.splitlines() if line.startswith("branch ")]
    assert len(proc.stdout.splitlines()) == 1


def test_no_command_shows_usage():
    proc = unibase()
    assert proc.returncode in (0, 2)
    assert "Usage" in proc.stdout + proc.stderr


def test_demo(demo_run):
    where, proc = demo_run  # run once with test_readme's test_demo_command
    assert "pass schema" in proc.stdout
    # the project's own tests: they fail with NoReferencedTableError before the merge, pass after it
    failing = scenario(KC)["fails_before"]
    before, after = proc.stdout.split("\nimport roots:", 1)
    assert re.match(r"demo project: .*\nbefore the merge, the project's own tests fail with NoReferencedTableError "
                    rf"\({len(failing)} failed, \d+ passed", before)
    assert [line.strip() for line in before.splitlines()[2:]] == [f"{t}: NoReferencedTableError" for t in failing]
    assert re.search(r"^pass tests: .* passed: \d+ passed", after, re.M)
    assert (f"the project's own tests: {len(failing)} tests failed before the merge; after it, on "
            "unibase/merge-bases, they pass") in after
    assert git(where, "rev-parse", "--verify", "unibase/merge-bases").strip()
    assert git(where, "branch", "--show-current").strip() == "main"
    assert git(where, "status", "--porcelain") == ""
    before = tree_state(where)
    again = unibase("demo", "--dir", str(where))
    assert again.returncode == 2
    assert_one_sentence(again, "not empty")
    assert tree_state(where) == before


def test_demo_refuses_bad_input(tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("x", encoding="utf-8")
    proc = unibase("demo", "--dir", str(a_file))
    assert proc.returncode == 2
    assert_one_sentence(proc, "--dir")
    assert a_file.read_text(encoding="utf-8") == "x"
    proc = unibase("demo", "no_such_scenario", "--dir", str(tmp_path / "d"))
    assert proc.returncode == 2
    assert_one_sentence(proc, "no bundled scenario")
    assert not (tmp_path / "d").exists()


def test_fixtures_are_untouched_by_planning():
    """Planning the bundled fixtures in place (as the plan tests do) writes nothing there."""
    before = {p: p.read_bytes() for p in (FIXTURES / KC).rglob("*.py")}
    unibase("plan", str(FIXTURES / KC), "--json", check=0)
    assert {p: p.read_bytes() for p in (FIXTURES / KC).rglob("*.py")} == before
