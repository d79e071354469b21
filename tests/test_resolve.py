"""``unibase resolve`` in a real pseudo-terminal: the real CLI in a subprocess whose stdin and
stdout are a pty, answering its prompts as a person would; and its refusal without one.

The project is test_duplicate_decisions' ``orders`` table, mapped differently by
``shop/models.py:Order`` (canonical) and ``legacy/models.py:Order`` (``customer_ref`` where the
shop says ``customer_id``, and a ``note`` column of its own).
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import tomllib
from pathlib import Path

import pytest
from conftest import git, make_project, unibase
from test_duplicate_decisions import FILES

from unibase.resolve import ResolveError, with_decisions
from unibase.settings import TableDecision

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


class Terminal:
    """The CLI on a pseudo-terminal ``columns`` wide: read until a prompt, type an answer."""

    def __init__(self, *args: str, cwd: Path, columns: int = 100):
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 60, columns, 0, 0))
        env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
        env.update(NO_COLOR="1", TERM="xterm")
        self.proc = subprocess.Popen([sys.executable, "-m", "unibase", *args], cwd=cwd, stdin=slave, stdout=slave,
                                     stderr=slave, env=env, close_fds=True)
        os.close(slave)
        self.text = ""
        self.seen = 0  # where the next prompt is looked for

    def _read(self) -> bool:
        ready, _, _ = select.select([self.master], [], [], 120)  # a guard against a hang, not a timing
        if not ready:
            return False
        try:
            data = os.read(self.master, 65536)
        except OSError:  # EIO: the child closed the terminal
            return False
        self.text += ANSI.sub("", data.decode("utf-8", "replace")).replace("\r\n", "\n")
        return bool(data)

    def answer(self, prompt: str, reply: str) -> None:
        while prompt not in self.text[self.seen:]:
            assert self._read(), f"no prompt {prompt!r}; the screen:\n{self.text}"
        self.seen = self.text.index(prompt, self.seen) + len(prompt)
        os.write(self.master, (reply + "\n").encode())

    def finish(self) -> int:
        while self._read():
            pass
        code = self.proc.wait(60)
        os.close(self.master)
        return code


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_project(tmp_path / "proj", {**FILES, "pyproject.toml": FILES["pyproject.toml"]
                                            + '\n[tool.unibase]\ntarget = "shop/models.py"\n'})


def decisions(root: Path) -> dict:
    return tomllib.loads((root / "pyproject.toml").read_text())["tool"]["unibase"].get("decisions", {})


def test_without_a_terminal_resolve_refuses_in_one_sentence(root):
    before = (root / "pyproject.toml").read_bytes()
    proc = unibase("resolve", str(root))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "needs a terminal" in proc.stderr and "--prefer" in proc.stderr
    assert "[tool.unibase.decisions.TABLE] in pyproject.toml" in proc.stderr
    assert (root / "pyproject.toml").read_bytes() == before


def test_a_decision_taken_in_the_terminal_is_kept_in_pyproject_and_planned_with(root):
    term = Terminal("resolve", cwd=root, columns=80)
    term.answer("winner (A, B, s) [A]:", "A")
    term.answer("rename customer_ref -> customer_id? (y, n) [y]:", "n")
    term.answer("mode (union, keep) [union]:", "")
    term.answer("keep this decision? (y, n, c) [y]:", "y")
    assert term.finish() == 0, term.text
    screen = term.text
    # both definitions side by side, column by column, the differences marked
    assert "A: shop/models.py:7 Order" in screen and "B: legacy/models.py:7 Order" in screen
    assert re.search(r"\n +\+ +note +- +String\(50\)\n", screen), screen
    assert re.search(r"\n +\+ +customer_ref +- +Integer\n", screen), screen
    # the preview: rename rejected, union: the winner gains both of the other's columns
    merged = screen.split("the merged class, in shop/models.py (+ added, - removed):\n", 1)[1].split("\n\n", 1)[0]
    assert re.search(r"^  \+ {5}customer_ref = Column\(Integer\)$", merged, re.M), merged
    assert re.search(r"^  \+ {5}note = Column\(String\(50\)\)$", merged, re.M), merged
    assert re.search(r"^ {8}customer_id = Column\(Integer\)$", merged, re.M), merged  # the winner's own, unmarked
    assert re.search(r"the migration, migrations/\S+_merge_orders\.py:\n +orders\n", screen), screen
    assert "1 decision written to" in screen and "0 conflicts open" in screen

    assert decisions(root) == {"orders": {"winner": "shop/models.py:Order", "mode": "union", "renames": []}}
    assert 'target = "shop/models.py"' in (root / "pyproject.toml").read_text()  # the rest is kept
    git(root, "commit", "-qam", "decide orders")  # reviewed with the code
    plan = json.loads(unibase("plan", str(root), "--json", check=0).stdout)
    orders = next(c for c in plan["conflicts"] if c["subject"] == "orders")
    assert orders["options"]["decision"] == {"winner": "shop/models.py:Order", "mode": "union", "renames": []}
    assert "it gains customer_ref, note" in orders["resolution"]


def test_an_earlier_decision_is_the_default_and_is_replaced_in_place(root):
    with (root / "pyproject.toml").open("a") as f:
        f.write('\n[tool.unibase.decisions.orders]\nwinner = "shop/models.py:Order"\nmode = "keep"\n'
                'renames = [["customer_ref", "customer_id"]]\n\n[tool.other]\nkey = 1  # kept\n')
    git(root, "commit", "-qam", "decide orders")
    term = Terminal("resolve", cwd=root)
    term.answer("winner (A, B, s) [A]:", "")
    term.answer("rename customer_ref -> customer_id? (y, n) [y]:", "")
    term.answer("mode (union, keep) [keep]:", "union")
    term.answer("keep this decision? (y, n, c) [y]:", "")
    assert term.finish() == 0, term.text
    text = (root / "pyproject.toml").read_text()
    assert text.count("[tool.unibase.decisions.orders]") == 1 and "[tool.other]\nkey = 1  # kept\n" in text
    assert decisions(root)["orders"] == {"winner": "shop/models.py:Order", "mode": "union",
                                         "renames": [["customer_ref", "customer_id"]]}


def test_a_winner_the_plan_cannot_keep_is_explained_and_asked_again(root):
    before = (root / "pyproject.toml").read_bytes()
    term = Terminal("resolve", cwd=root)
    term.answer("winner (A, B, s) [A]:", "B")
    term.answer("mode (union, keep) [union]:", "keep")
    term.answer("winner (A, B, s) [A]:", "s")
    assert term.finish() == 1, term.text
    joined = re.sub(r"\n +", " ", term.text)
    assert "this decision does not settle orders: the kept definition must be the one on the canonical base" in joined
    assert "no decision written" in term.text and "1 conflict open" in term.text
    assert (root / "pyproject.toml").read_bytes() == before


def test_end_of_input_at_a_prompt_writes_nothing(root):
    before = (root / "pyproject.toml").read_bytes()
    term = Terminal("resolve", cwd=root)
    term.answer("winner (A, B, s) [A]:", "A")
    term.answer("rename customer_ref -> customer_id? (y, n) [y]:", "\x04")
    assert term.finish() == 130, term.text
    assert "interrupted: nothing was written" in term.text and "Traceback" not in term.text
    assert (root / "pyproject.toml").read_bytes() == before


DECISION = TableDecision("orders", "shop/models.py:Order", "keep", (("a", "b"),))


def test_decisions_are_added_to_any_pyproject_and_read_back():
    for text in ("", "[project]\nname = 'x'\n", "[tool.unibase]\ntarget = 'a.py'\n",
                 "[tool.unibase.decisions.orders]\nwinner = 'old.py:Old'\n[tool.x]\ny = [\n  ['z'],\n]\n"):
        data = tomllib.loads(with_decisions(text, [DECISION, TableDecision("my.table", "a.py:A")]))
        assert data["tool"]["unibase"]["decisions"] == {
            "orders": {"winner": "shop/models.py:Order", "mode": "keep", "renames": [["a", "b"]]},
            "my.table": {"winner": "a.py:A", "mode": "union", "renames": []}}
        assert all(data[k] == v for k, v in tomllib.loads(text).items() if k != "tool")


def test_decisions_written_inline_are_not_edited():
    with pytest.raises(ResolveError, match="add these lines to it by hand"):
        with_decisions("[tool.unibase]\ndecisions = { orders = { winner = 'a.py:A' } }\n", [DECISION])


def test_the_preview_fits_an_80_column_terminal(tmp_path):
    """A long source line of the merged class is folded with a ``\\`` mark and the migration's
    account is wrapped: no line of the preview is wider than the terminal."""
    name = "free_text_note_that_the_legacy_counter_kept_about_each_order"
    legacy = FILES["legacy/models.py"].replace("note = Column(String(50))",
                                               f'{name} = Column(String(50), nullable=True, default="")')
    root = make_project(tmp_path / "proj", {**FILES, "legacy/models.py": legacy, "pyproject.toml": FILES["pyproject.toml"]
                                            + '\n[tool.unibase]\ntarget = "shop/models.py"\n'})
    term = Terminal("resolve", cwd=root, columns=80)
    term.answer("winner (A, B, s) [A]:", "A")
    term.answer("rename customer_ref -> customer_id? (y, n) [y]:", "n")
    term.answer("mode (union, keep) [union]:", "")
    term.answer("keep this decision? (y, n, c) [y]:", "y")
    assert term.finish() == 0, term.text
    shown = term.text.split("the merged class, in ", 1)[1].split("keep this decision?", 1)[0]
    merged = shown.split("(+ added, - removed):\n", 1)[1].split("\n\n", 1)[0]
    # folded between words, marked, and the rest one level deeper than the code: nothing lost
    assert re.search(rf"^  \+ {{5}}{name} = \\\n {{12}}Column\(String\(50\), nullable=True, default=\"\"\)$",
                     merged, re.M), merged
    assert re.search(rf"\n +{name}\n +\(String\(50\)\)\n", shown), shown  # the migration's line, wrapped
    assert [line for line in shown.splitlines() if len(line) > 80] == [], shown
