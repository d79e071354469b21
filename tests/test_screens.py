"""Human output that reads at 80 columns and in a pipe (no TTY): nothing cut, names whole,
conflicts column by column, a closing summary, apply's progress with counts."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from conftest import copy_project, git, unibase


def narrow(*args: str, columns: int = 80, cwd=None) -> subprocess.CompletedProcess:
    """The real CLI in a pipe, as a CI log sees it, at ``columns``."""
    return subprocess.run([sys.executable, "-m", "unibase", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "NO_COLOR": "1", "COLUMNS": str(columns)}, stdin=subprocess.DEVNULL)


def assert_fits(text: str, columns: int) -> None:
    """Every line fits, unless it is one unbreakable word (a path longer than the screen)."""
    for line in text.splitlines():
        assert len(line) <= columns or " " not in line.strip(), f"{len(line)} columns: {line!r}"


def joined(text: str) -> str:
    """The output with wrapped lines joined again (continuation lines are indented deeper)."""
    return re.sub(r"\n +", " ", text)


@pytest.fixture(scope="module")
def many_bases(tmp_path_factory):
    """A generated project with many bases on one database (benchmarks/generate.py)."""
    from conftest import REPO

    root = tmp_path_factory.mktemp("many") / "proj"
    subprocess.run([sys.executable, str(REPO / "benchmarks" / "generate.py"), str(root), "--files", "200",
                    "--relevant", "120", "--bases", "12", "--models", "60", "--seed", "3"],
                   check=True, capture_output=True)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


@pytest.mark.parametrize("columns", [80, 120])
def test_plan_reads_at_the_width_of_the_terminal(many_bases, columns):
    data = json.loads(unibase("plan", str(many_bases), "--json", check=0).stdout)
    proc = narrow("plan", str(many_bases), columns=columns)
    assert proc.returncode == 0, proc.stderr
    assert_fits(proc.stdout, columns)
    lines = proc.stdout.splitlines()
    assert len(data["bases"]) >= 10
    for b in data["bases"]:
        # each base on a line of its own, its path whole
        assert any(line.split() == [b["role"], b["name"], f"{b['file']}:{b['line']}"] for line in lines), b["file"]
        for m in b["models"]:  # a model and its table never wrap apart, a name is never cut
            assert re.search(rf"(^|[ ,]){m['name']} \({m['table']}\)(,|$)", proc.stdout, re.M), m["name"]
    # the files each operation changes (a rebase changes its own file, not the canonical one it names)
    files = {o[k] for o in data["operations"] for k in (("file",) if o["op"] == "rebase-base" else
                                                         ("file", "source", "target")) if isinstance(o.get(k), str)}
    merged = [b for b in data["bases"] if b["role"] in ("canonical", "merge")]
    summary = joined(proc.stdout).rstrip().splitlines()[-1]
    match = re.fullmatch(r"(\d+) bases -> 1(?: \((\d+) more left as they are\))?, ([\d,]+) files changed, "
                         r"canonical module ~([\d,]+) lines, (\d+) conflicts open", summary)
    assert match, summary
    assert int(match[1]) == len(merged) and int(match[3].replace(",", "")) == len(files)
    assert int(match[5]) == sum(c["resolution"] is None for c in data["conflicts"])


def test_canonical_module_size_is_close_to_the_result(tmp_path):
    project = copy_project("knowledge_chipper", tmp_path / "kc")
    summary = joined(narrow("plan", str(project)).stdout).rstrip().splitlines()[-1]
    estimate = int(re.search(r"canonical module ~([\d,]+) lines", summary)[1].replace(",", ""))
    unibase("apply", str(project), "--branch", "merged", "--no-verify", check=0)
    actual = len(git(project, "show", "merged:src/knowledge_system/database/models.py").splitlines())
    assert abs(estimate - actual) <= actual * 0.1, (estimate, actual)


def test_duplicate_table_is_shown_column_by_column(tmp_path):
    project = copy_project("miachat", tmp_path / "miachat")
    data = json.loads(unibase("plan", str(project), "--json", check=1).stdout)
    conflict = next(c for c in data["conflicts"] if c["subject"] == "conversations")
    proc = narrow("plan", str(project))
    assert proc.returncode == 1
    assert_fits(proc.stdout, 80)
    assert_fits(proc.stderr, 80)
    assert "conflicts that need a decision: 2;" in proc.stderr
    block = proc.stdout.split("duplicate-table conversations\n", 1)[1].split("NEEDS A DECISION", 1)[0]
    first, second = conflict["options"]["definitions"]
    assert f"A: {first['file']}:{first['line']} {first['class']}" in block
    assert f"B: {second['file']}:{second['line']} {second['class']}" in block
    rows = {}
    for line in block.splitlines():
        m = re.match(r"^    +([*+]?) +([a-z_]+) ", line)
        if m and m[2] != "column":
            rows.setdefault(m[2], m[1])
    names_a = {c["name"] for c in first["columns"]}
    names_b = {c["name"] for c in second["columns"]}
    for name in names_a | names_b:
        assert name in rows, f"column {name} missing:\n{block}"
        if (name in names_a) != (name in names_b):
            assert rows[name] == "+", name
    assert rows["persona_id"] == "+" and rows["id"] == "*" and rows["ended_at"] == ""
    assert "suggested renames: persona_id -> personality_id" in block
    assert "to decide: pass --prefer" in joined(block)


def test_apply_reports_each_phase_and_check_with_counts(tmp_path):
    project = copy_project("knowledge_chipper", tmp_path / "kc")
    proc = narrow("apply", str(project), "--branch", "merged")
    assert proc.returncode == 0, proc.stderr
    assert_fits(proc.stdout, 80)
    text = joined(proc.stdout)
    phases = re.findall(r"^(UB\d{3}) [a-z-]+, (\d+) files? committed: ([0-9a-f]{10}) unibase: ", text, re.M)
    log = git(project, "log", "--format=%h", "--abbrev=10", "main..merged").split()
    assert [sha for _, _, sha in phases] == list(reversed(log)) and len(log) == 3
    for _, count, sha in phases:
        assert int(count) == len(git(project, "show", "--name-only", "--format=", sha).split())
    assert re.search(r"^3 phases to apply, \d+ files to change$", text, re.M), text
    assert "verify: importing the models in a subprocess (1 module)" in text
    assert re.search(r"^pass schema: .*26 table", text, re.M)
    changed = len(git(project, "diff", "--name-only", "main", "merged").split())
    assert text.rstrip().splitlines()[-1] == f"3 phases committed, {changed} files changed, verified"


def test_commit_messages_are_short_subjects_with_the_details_in_the_body(many_bases, tmp_path):
    project = tmp_path / "proj"
    git(tmp_path, "clone", "-q", str(many_bases), str(project))
    # every model moves: the longest subjects and bodies
    unibase("apply", str(project), "--branch", "merged", "--no-verify", "--strategy", "move", check=0)
    shas = git(project, "rev-list", "--reverse", "main..merged").split()
    assert len(shas) >= 2
    for sha in shas:
        message = git(project, "log", "-1", "--format=%B", sha)
        subject, blank, *body = message.splitlines()
        assert subject.startswith("unibase: ") and len(subject) <= 72, subject
        assert blank == "" and "(s)" not in message, message
        changed = git(project, "show", "--name-only", "--format=", sha).split()
        listed = message.split(f"Files ({len(changed)}):\n", 1)[1].split("\n\n", 1)[0].split()
        assert sorted(listed) == sorted(changed)
        trailers = git(project, "log", "-1", "--format=%(trailers:only,unfold)", sha)
        assert re.search(r"^Unibase-Step: UB00\d$", trailers, re.M) and "Unibase-Base: " in trailers
    first = git(project, "log", "-1", "--format=%B", shas[0])
    assert len(re.findall(r"^- move ", first, re.M)) >= 10  # every secondary base's move, in the body


def test_a_long_operation_listing_is_grouped_by_step(many_bases):
    """A hundred operations are one line per step with its counts; -v lists each one."""
    data = json.loads(unibase("plan", str(many_bases), "--json", "--strategy", "move", check=0).stdout)
    ops = data["operations"]
    assert len(ops) > 50
    proc = narrow("plan", str(many_bases), "--strategy", "move")
    assert proc.returncode == 0, proc.stderr
    assert_fits(proc.stdout, 80)
    block = proc.stdout.split(f"operations ({len(ops)}, by step; -v lists each one):\n", 1)[1].split("\n\n", 1)[0]
    steps = list(dict.fromkeys(o["step"] for o in ops))
    lines = re.findall(r"^  (UB\d{3}) [a-z-]+: (.*)$", re.sub(r"\n {6}", " ", block), re.M)
    assert [code for code, _ in lines] == steps and len(block.splitlines()) <= 2 * len(steps)
    for code, text in lines:
        group = [o for o in ops if o["step"] == code]
        files = {o[k] for o in group for k in ("file", "source", "target") if isinstance(o.get(k), str)}
        assert re.search(rf"\b{len(files)} files?\b", text), (code, text)
        moved = sum(len(o["classes"]) for o in group if o["op"] == "move-models")
        if moved:
            assert f"; {moved} models into {data['canonical']['file']}" in text
    verbose = narrow("plan", str(many_bases), "--strategy", "move", "-v")
    assert f"operations ({len(ops)}):" in verbose.stdout
    listed = verbose.stdout.split(f"operations ({len(ops)}):\n", 1)[1].split("\n\n", 1)[0]
    assert len(re.findall(r"^  UB\d{3} [a-z-]+:", listed, re.M)) == len(ops)


def test_references_name_bases_briefly_and_the_canonical_line_wraps(tmp_path):
    from conftest import make_project
    from test_cwd_paths import FILES

    deep = "src/a_rather_long_company_name/platform_services/identity_management"
    files = {k.replace("src/app", deep): v.replace("from app.", "from a_rather_long_company_name."
                                                   "platform_services.identity_management.")
             for k, v in FILES.items()}
    files[f"{deep.rsplit('/', 2)[0]}/__init__.py"] = files[f"{deep.rsplit('/', 1)[0]}/__init__.py"] = ""
    project = make_project(tmp_path / "p", files)
    proc = narrow("plan", str(project))
    assert proc.returncode == 0, proc.stderr
    assert_fits(proc.stdout, 80)
    text = joined(proc.stdout)
    assert f"canonical: Base in {deep}/models.py (" in text
    assert f"{deep}/notes.py:10: foreign-key notes.user_id -> users.id (NotesBase -> Base)" in text


def test_apply_shows_the_conflicts_it_refuses_column_by_column(tmp_path):
    project = copy_project("miachat", tmp_path / "miachat")
    proc = narrow("apply", str(project))
    assert proc.returncode == 1
    assert_fits(proc.stdout, 80)
    assert proc.stdout.count("two definitions, column by column") == 2
    assert "or decide it in a terminal with `unibase resolve`" in joined(proc.stdout)
    # the closing sentence wraps at the width too, its counted words whole on its first line
    assert_fits(proc.stderr, 80)
    assert proc.stderr.startswith("conflicts that need a decision: 2; each says what to do")
    assert joined(proc.stderr).startswith("conflicts that need a decision: 2; each says what to do (`unibase resolve` "
                                          "decides a duplicated table in a terminal;")
