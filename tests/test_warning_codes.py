"""Warning codes: one enum, every code used in the sources is in it, each is documented and
explained by the command line."""

from __future__ import annotations

import re

import pytest

from conftest import REPO, unibase
from test_cli import assert_one_sentence
from unibase.warning_codes import WarningCode

CODE = re.compile(r"\bW\d{3}\b")


def codes_in_sources() -> dict[str, list[str]]:
    """Every W-code spelled in src/ and codemods/, with where."""
    found: dict[str, list[str]] = {}
    for folder in ("src", "codemods"):
        for path in sorted((REPO / folder).rglob("*.py")):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                for code in CODE.findall(line):
                    found.setdefault(code, []).append(f"{path.relative_to(REPO)}:{number}")
    return found


def test_every_code_in_the_sources_is_in_the_enum():
    found = codes_in_sources()
    assert "W001" in found and "W028" in found  # the scan sees the planner's literals
    unknown = {code: where for code, where in found.items() if code not in set(WarningCode)}
    assert not unknown, f"W-codes missing from unibase.warning_codes.WarningCode: {unknown}"


def test_every_code_is_documented_once():
    values = [w.value for w in WarningCode]
    assert values == sorted(set(values)) and all(CODE.fullmatch(v) for v in values)
    for w in WarningCode:
        for text in (w.meaning, w.todo):
            assert len(text) > 20 and text.endswith("."), f"{w}: {text!r}"
        assert w.meaning.startswith("Retired:") == w.retired, w


def test_members_are_the_strings_a_plan_holds():
    from unibase.plan import Warning

    warning = Warning(WarningCode.NOT_ANALYSED, "not analysed: line 1")
    assert warning.code == "W001" and f"{warning.code}" == "W001"


@pytest.mark.parametrize("code", ["W014", "w028"])
def test_explain_a_warning(code):
    w = WarningCode(code.upper())
    proc = unibase("explain", code, check=0)
    assert proc.stdout.startswith(f"{w} {w.label}\n")
    assert w.meaning[:40] in proc.stdout and "what to do:" in proc.stdout


@pytest.mark.parametrize("code", ["W003", "W999", "W0140"])
def test_explain_an_unknown_warning(code, tmp_path):
    proc = unibase("explain", code, cwd=tmp_path)
    assert proc.returncode == 2
    assert_one_sentence(proc, "unknown step or rule")
    assert "W028" in proc.stderr
