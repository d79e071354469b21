"""UB001 union of duplicated tables: the kept class gains the other definition's members."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from unibase.codemods.merge_duplicate import MergeDuplicateCommand
from unibase.plan import MergeDuplicate


def op(statements=(), imports=(), helpers=(), cls="Conversation"):
    return MergeDuplicate("m.py", cls, "conversations", tuple(statements), tuple(imports), tuple(helpers))


KEPT = textwrap.dedent('''\
    from sqlalchemy import Column, Integer
    from .base import Base


    class Conversation(Base):
        __tablename__ = "conversations"
        id = Column(Integer, primary_key=True)

        def __repr__(self):
            return f"<Conversation {self.id}>"
''')

CASES = [
    pytest.param(
        op(["title = Column(String)  # shown in the sidebar\n",
            "def touch(self):\n    self.updated_at = utcnow()\n"],
           ["from sqlalchemy import String"], ["def utcnow():\n    return datetime.utcnow()\n"]),
        KEPT,
        textwrap.dedent('''\
            from sqlalchemy import Column, Integer, String
            from .base import Base


            def utcnow():
                return datetime.utcnow()


            class Conversation(Base):
                __tablename__ = "conversations"
                id = Column(Integer, primary_key=True)

                def __repr__(self):
                    return f"<Conversation {self.id}>"

                title = Column(String)  # shown in the sidebar

                def touch(self):
                    self.updated_at = utcnow()
        '''),
        id="columns-methods-helpers-imports",
    ),
    pytest.param(op(["title = Column(String)\n"], ["from sqlalchemy import Integer"]), KEPT,
                 KEPT.replace('        return f"<Conversation {self.id}>"\n',
                              '        return f"<Conversation {self.id}>"\n\n    title = Column(String)\n'),
                 id="import-already-there"),
    pytest.param(op(["id = Column(Integer, primary_key=True)\n"]), KEPT, KEPT, id="member-already-there-noop"),
    pytest.param(op(["title = Column(String)\n"], cls="Missing"), KEPT, KEPT, id="no-such-class-noop"),
    pytest.param(op(), KEPT, KEPT, id="nothing-to-add-noop"),
]


@pytest.mark.parametrize("operation, before, after", CASES)
def test_merge(operation, before, after):
    out = MergeDuplicateCommand(operation).transform(cst.parse_module(before)).code
    assert out == after
    cst.parse_module(out)


@pytest.mark.parametrize("operation, before, after", CASES)
def test_second_run_changes_nothing(operation, before, after):
    once = MergeDuplicateCommand(operation).transform(cst.parse_module(before))
    assert MergeDuplicateCommand(operation).transform(once).code == once.code
