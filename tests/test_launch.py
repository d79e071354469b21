"""``unibase check`` with plain arguments runs without Typer's parsing (``unibase.launch``): what
it prints and its exit are those of the Typer command (``python -m unibase.cli``), for every
form of its arguments, and anything else is left to Typer."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import cli_server
from conftest import make_project
from test_memo import PROJECT
from unibase.launch import check_arguments

ONE_BASE = {key: value for key, value in PROJECT.items() if key != "app/other.py"} | {
    "app/models.py": PROJECT["app/models.py"].replace("    part_id = mapped_column(ForeignKey('part.id'))\n", "")}


@pytest.mark.parametrize("argv, want", [
    (["check"], (".", "text", False, False)),
    (["check", "app"], ("app", "text", False, False)),
    (["check", "--output-format", "json", "."], (".", "json", False, False)),
    (["check", ".", "--output-format=github"], (".", "github", False, False)),
    (["check", "-q", "--no-cache", "--quiet"], (".", "text", True, True)),
    (["check", "--output-format", "json", "--output-format", "text"], (".", "text", False, False)),
    (["check", "--output-format", "nonsense"], (".", "nonsense", False, False)),  # the command itself refuses it
])
def test_plain_arguments(argv, want):
    assert check_arguments(argv) == want


@pytest.mark.parametrize("argv", [
    [], ["plan", "."], ["check", "--help"], ["check", "-h"], ["check", "a", "b"], ["check", "--output-format"],
    ["check", "--output-format", "-q"], ["check", "-x"], ["check", "--"], ["check", ""], ["check", "--quiet=1"],
    ["--version"], ["check", "--no-cach"],
])
def test_anything_else_is_left_to_typer(argv):
    assert check_arguments(argv) is None


def test_shell_completion_is_left_to_typer(monkeypatch):
    monkeypatch.setenv("_UNIBASE_COMPLETE", "bash_complete")
    assert check_arguments(["check"]) is None


ARGS = [
    ["check"], ["check", "."], ["check", "app"], ["check", "--output-format", "json", "."],
    ["check", "--output-format=github", "."], ["check", ".", "-q"], ["check", "--quiet", "--no-cache", "."],
    ["check", "--output-format", "nonsense", "."], ["check", "missing"], ["check", "pyproject.toml"],
    ["check", "a", "b"], ["check", "--output-format"], ["check", "-x"],
]


@pytest.mark.parametrize("files", [PROJECT, ONE_BASE], ids=["two-bases", "one-base"])
def test_check_prints_and_exits_as_the_typer_command_does(tmp_path, files):
    project = make_project(tmp_path / "p", files)
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "UNIBASE_NO_CACHE": "1"}
    codes = set()
    for args in ARGS:
        plain = cli_server.run_module("unibase", args, project, env)
        typer = subprocess.run([sys.executable, "-m", "unibase.cli", *args], cwd=project, env=env, capture_output=True,
                               text=True, stdin=subprocess.DEVNULL)
        assert (plain.returncode, plain.stdout, plain.stderr) == (typer.returncode, typer.stdout, typer.stderr), args
        codes.add(plain.returncode)
    assert codes == ({0, 2} if files is ONE_BASE else {1, 2})


def test_plain_check_does_not_start_typer(tmp_path):
    project = make_project(tmp_path / "p", PROJECT)
    env = {**os.environ, "NO_COLOR": "1", "UNIBASE_NO_CACHE": "1"}
    imported = {}
    for args in (["check", "."], ["check", "--output-format", "json", "."], ["check", "--help"]):
        proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "unibase", *args], cwd=project, env=env,
                              capture_output=True, text=True, stdin=subprocess.DEVNULL)
        imported[args[1] if len(args) > 2 else args[-1]] = {line.rpartition("|")[2].strip() for line in proc.stderr.splitlines()
                              if line.startswith("import time:")}
    assert "unibase.cli" not in imported["."] and "unibase.cli" not in imported["--output-format"]
    assert "unibase.cli" in imported["--help"]
