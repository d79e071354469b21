"""Files discovery cannot read, decode or parse, through the real CLI on real git repositories.

A file that could hold a base, a model, a table or a metadata use (or whose imports the plan
would have to rewrite) stops ``plan``, ``check`` and ``apply`` with exit 2 and one sentence
naming the file and the line: a plan made without it could be a partial merge, or pick the
wrong canonical base. A broken file that cannot matter is a warning.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import copy_project, git, tree_state, unibase
from test_cli import KC, SERVICE, assert_refused, plan_json

DB = "src/knowledge_system/database"
HCE = f"{DB}/hce_models.py"  # a secondary base with its models
SYSTEM2 = f"{DB}/system2_models.py"  # another secondary base
MAIN = f"{DB}/models.py"  # the canonical base


def _append(path: Path, data: bytes) -> None:
    with path.open("ab") as fh:
        fh.write(data)


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n")


def syntax_error_in_secondary(kc: Path) -> tuple[str, int]:
    line = _lines(kc / HCE) + 2
    _append(kc / HCE, b"\ndef oops(:\n    pass\n")
    return HCE, line


def syntax_error_in_canonical(kc: Path) -> tuple[str, int]:
    line = _lines(kc / MAIN) + 2
    _append(kc / MAIN, b"\ndef oops(:\n    pass\n")
    return MAIN, line


def nul_byte(kc: Path) -> tuple[str, int]:
    line = _lines(kc / HCE) + 1
    _append(kc / HCE, b"# a\x00b\n")
    return HCE, line


def undecodable_byte(kc: Path) -> tuple[str, int]:
    # Latin-1 in a comment, no coding declaration: ``ast`` accepts it, Python and LibCST do not
    line = _lines(kc / SYSTEM2) + 1
    _append(kc / SYSTEM2, "# caf\u00e9\n".encode("latin-1"))
    return SYSTEM2, line


def merge_conflict_markers(kc: Path) -> tuple[str, int]:
    line = _lines(kc / HCE) + 2
    _append(kc / HCE, b"\n<<<<<<< HEAD\nLIMIT = 1\n=======\nLIMIT = 2\n>>>>>>> feature\n")
    return HCE, line


def unreadable(kc: Path) -> tuple[str, None]:
    """A model module nobody can read: a dangling symbolic link, which git commits. (``chmod
    000`` would not do: it does not stop root, and git cannot commit or diff such a file.)"""
    rel = f"{DB}/archive_models.py"
    (kc / rel).symlink_to("archive_models_generated.py")
    return rel, None


BROKEN: dict[str, Callable[[Path], tuple[str, int | None]]] = {
    "syntax-error-secondary-base": syntax_error_in_secondary,
    "syntax-error-canonical-base": syntax_error_in_canonical,
    "nul-byte": nul_byte,
    "undecodable-byte": undecodable_byte,
    "merge-conflict-markers": merge_conflict_markers,
    "unreadable": unreadable,
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_file_that_could_hold_a_base_stops_plan_check_and_apply(case, tmp_path):
    kc = copy_project(KC, tmp_path / KC)
    rel, line = BROKEN[case](kc)
    if git(kc, "status", "--porcelain"):
        git(kc, "add", "-A")
        git(kc, "commit", "-qm", case)
    before = tree_state(kc)
    for args in (("plan",), ("plan", "--json"), ("check",), ("apply", "--branch", "x"), ("apply", "--dry-run")):
        proc = unibase(*args[:1], str(kc), *args[1:])
        assert_refused(proc, 2, rel, before, kc)
        assert proc.stdout == ""
        message = proc.stderr
        assert "[tool.unibase] exclude" in message
        if line is not None:
            assert f"line {line} " in message, message
        assert "one declarative base" not in proc.stdout


def test_a_broken_file_that_cannot_matter_is_left_alone(tmp_path):
    """No SQLAlchemy in its text, and it imports only what the plan leaves where it is: unibase
    reads its import lines, never the rest of it, and leaves it as it is."""
    kc = copy_project(KC, tmp_path / KC)
    rel = "scripts/report.py"
    (kc / "scripts").mkdir()
    (kc / rel).write_text(
        "from src.knowledge_system.database.models import MediaSource\n\n\ndef count(session:\n"
        "    return session.query(MediaSource).count()\n", encoding="utf-8")
    git(kc, "add", "-A")
    git(kc, "commit", "-qm", "a half-written script")
    data = plan_json(kc, check=0)
    assert [w for w in data["warnings"] if w["file"] == rel] == []
    assert {b["file"] for b in data["bases"] if b["role"] in ("canonical", "merge")} == {MAIN, HCE, SYSTEM2}
    unibase("apply", str(kc), "--branch", "merged", "--no-verify", check=0)
    assert git(kc, "diff", "main", "merged", "--", rel) == ""
    assert git(kc, "diff", "--stat", "main", "merged", "--", HCE, SYSTEM2) != ""


def test_a_broken_file_importing_what_the_plan_moves_stops_the_plan(tmp_path):
    """Its imports would have to be rewritten, and unibase cannot read them."""
    kc = copy_project(KC, tmp_path / KC)
    rel = "scripts/jobs.py"
    (kc / "scripts").mkdir()
    (kc / rel).write_text(
        "from src.knowledge_system.database.system2_models import Job\n\n\ndef count(session:\n"
        "    return session.query(Job).count()\n", encoding="utf-8")
    git(kc, "add", "-A")
    git(kc, "commit", "-qm", "a half-written script")
    before = tree_state(kc)
    for command in ("plan", "check", "apply"):
        proc = unibase(command, str(kc))
        assert_refused(proc, 2, rel, before, kc)
        assert "line 4 " in proc.stderr and "imports from a module the plan changes" in proc.stderr


def test_an_undecodable_file_in_a_saved_plan_is_refused_without_a_traceback(tmp_path):
    kc = copy_project(KC, tmp_path / KC)
    data = plan_json(kc, check=0)
    assert any(o.get("file") == SERVICE for o in data["operations"])
    del data["fingerprints"]  # a plan edited by hand
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(data), encoding="utf-8")
    line = _lines(kc / SERVICE) + 1
    _append(kc / SERVICE, "# na\u00efve\n".encode("latin-1"))
    git(kc, "commit", "-qam", "latin-1 comment")
    before = tree_state(kc)
    for extra in ((), ("--dry-run",)):
        proc = unibase("apply", str(kc), "--plan", str(plan_file), *extra)
        assert_refused(proc, 2, SERVICE, before, kc)
        assert f"line {line} " in proc.stderr and "0xef" in proc.stderr
