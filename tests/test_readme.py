"""Docs that run: every command the README shows is executed here."""

from __future__ import annotations

import json
import re
import shlex

import pytest

from conftest import REPO, copy_project, git, unibase

README = (REPO / "README.md").read_text(encoding="utf-8")


def console_lines() -> list[str]:
    blocks = re.findall(r"```console\n(.*?)```", README, re.S)
    return [line.split("#")[0].strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_readme_opens_with_the_two_commands():
    first_block = re.search(r"```console\n(.*?)```", README, re.S).group(1).strip().splitlines()
    assert README.startswith("# unibase\n\n```console\n")
    assert len(first_block) == 2
    install_demo, install_test = first_block
    assert "pip install ." in install_demo and install_demo.endswith("unibase demo")
    assert "pip install -e '.[test]'" in install_test and install_test.endswith("python -m pytest")


def test_ci_runs_the_readme_test_command():
    second = console_lines()[1]
    assert second in (REPO / ".ci" / "run").read_text(encoding="utf-8")


def test_demo_command(demo_run):
    where, proc = demo_run  # run once with test_cli's test_demo
    assert "pass schema" in proc.stdout
    assert git(where, "branch", "--list", "unibase/merge-bases").strip()


# The usage commands, in the order the README shows them, with the exit code each must give on
# the knowledge_chipper scenario (check is 1 before the merge; verify runs on the branch).
EXPECTED_USAGE = [
    ("unibase plan", 0),
    ("unibase plan --json --out plan.json", 0),
    ("unibase graph", 0),
    ("unibase graph --after --format dot", 0),
    ("unibase apply --dry-run", 0),
    ("unibase check", 1),
    ("unibase check --output-format github", 1),
    ("unibase apply --branch merge-bases", 0),
    ("unibase apply --report merge.md", 0),  # merge-bases exists: a branch of its own
    ("unibase verify", 0),
    ("unibase explain UB001", 0),
    ("unibase explain UB102", 0),
    ("unibase explain W028", 0),
]


# "Which bases are merged": a separate-or-merge decision, made on the command line, on a project
# with two databases (two settings) whose bases share a foreign key.
EXPECTED_ROLES = [
    ("unibase plan", 1),
    ("unibase plan --merge app/audit/db.py:AuditBase", 0),
    ("unibase plan --separate app/audit/db.py", 0),
]


# "Duplicate tables defined differently": the decision taken in a terminal (a pseudo-terminal here).
EXPECTED_DECISIONS = [
    ("unibase resolve", 0),
]


def test_usage_commands_are_the_ones_tested():
    shown = [line for line in console_lines() if line.startswith("unibase ")]
    assert shown == [cmd for cmd, _ in EXPECTED_USAGE + EXPECTED_ROLES + EXPECTED_DECISIONS]


def test_duplicate_table_commands_run(tmp_path):
    import tomllib

    from test_resolve import FILES, Terminal, make_project

    project = make_project(tmp_path / "p", {**FILES, "pyproject.toml": "[tool.unibase]\ntarget = 'shop/models.py'\n"})
    for command, code in EXPECTED_DECISIONS:
        term = Terminal(*shlex.split(command)[1:], cwd=project)
        for prompt in ("winner (A, B, s) [A]:", "rename customer_ref -> customer_id? (y, n) [y]:",
                       "mode (union, keep) [union]:", "keep this decision? (y, n, c) [y]:"):
            term.answer(prompt, "")
        assert term.finish() == code, term.text
    decided = tomllib.loads((project / "pyproject.toml").read_text())["tool"]["unibase"]["decisions"]
    assert decided["orders"]["winner"] == "shop/models.py:Order"
    assert unibase("plan", cwd=project).returncode == 0


def test_which_bases_are_merged_commands_run(tmp_path):
    from test_roles import roles, two_settings

    project = two_settings(tmp_path / "p", audit_fk="widget_0.id")
    for command, code in EXPECTED_ROLES:
        proc = unibase(*shlex.split(command)[1:], "--json", cwd=project)
        assert proc.returncode == code, f"{command}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        if code == 0:
            expected = "merge" if "--merge" in command else "separate"
            assert roles(json.loads(proc.stdout))["app/audit/db.py:AuditBase"] == expected


@pytest.mark.long
def test_usage_commands_run(tmp_path):
    project = copy_project("knowledge_chipper", tmp_path / "kc")
    git(project, "config", "user.name", "readme")
    git(project, "config", "user.email", "readme@example.invalid")
    (project / ".gitignore").write_text("plan.json\n")
    git(project, "add", ".gitignore")
    git(project, "commit", "-q", "-m", "ignore plan")
    for command, code in EXPECTED_USAGE:
        if command == "unibase verify":
            git(project, "checkout", "-q", "merge-bases")
        args = shlex.split(command)[1:]
        proc = unibase(*args, cwd=project)
        assert proc.returncode == code, f"{command}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert (project / "plan.json").is_file()
    assert "**schema identical: 26 tables compared**" in (project / "merge.md").read_text()


def test_pre_commit_snippet_is_copyable():
    """The snippet names a hook the repository defines, a tag of the released version, and a
    repository URL whose placeholder is marked as one; the hook's entry is a real command."""
    from unibase import __version__

    snippet = re.search(r"### As a pre-commit hook\n.*?```yaml\n(.*?)```", README, re.S).group(1)
    assert snippet.startswith("repos:\n  - repo: https://github.com/OWNER/unibase  # placeholder")
    assert re.search(r"^    rev: v(\S+)$", snippet, re.M).group(1) == __version__
    hook_ids = re.findall(r"^    +- id: (\S+)$", snippet, re.M)
    hooks = (REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8")
    assert hook_ids and all(f"- id: {h}" in hooks for h in hook_ids)
    entry = re.search(r"^  entry: (.+)$", hooks, re.M).group(1)
    assert re.search(r"^  pass_filenames: false$", hooks, re.M)
    proc = unibase(*shlex.split(entry)[1:], "--help", check=0)
    assert "Usage: unibase check" in proc.stdout


def test_check_example_in_the_readme_is_real_output(tmp_path):
    """The README's sample of check's output is what check prints on the project it describes."""
    from test_check import DB, MODELS, NOTES
    from test_cli import write

    shown = re.search(r"`path:line:col: CODE message`.*?```text\n(.*?)```", README, re.S).group(1).splitlines()
    project = write(tmp_path / "p", {"app/__init__.py": "", "app/models.py": MODELS, "app/notes.py": NOTES,
                                     "app/db.py": DB})
    proc = unibase("check", cwd=project)
    assert proc.returncode == 1
    for line in shown:
        assert line in proc.stdout.splitlines(), line


def test_readme_lists_every_warning_code():
    """The README's table of warnings is the enum: every code once, by its name, none other."""
    from unibase.warning_codes import WarningCode

    section = re.search(r"\n### Warnings\n(.*?)\n## ", README, re.S).group(1)
    rows = re.findall(r"^\| (W\d{3}) \| ([a-z-]+) \| (.+) \|$", section, re.M)
    assert [(code, name) for code, name, _ in rows] == [
        (w.value, w.label) for w in WarningCode]
    assert all(what.startswith("retired") == w.retired for (_, _, what), w in zip(rows, WarningCode))
