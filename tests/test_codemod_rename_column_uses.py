"""UB005: renamed columns of a merged duplicate, renamed where provable and marked elsewhere."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from unibase.codemods.rename_column_uses import RenameColumnUsesCommand
from unibase.plan import RenameColumnUses

OP = RenameColumnUses("f.py", ("Conversation", "Chat"), (("persona_id", "personality_id"),),
                      (("to_summary", "method to_summary was only on the deleted class"),))


def d(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


CASES = [
    pytest.param(d('''
        c = Conversation(persona_id=1, title="x")
        q = select(Conversation).where(Conversation.persona_id == 1)
    '''), d('''
        c = Conversation(personality_id=1, title="x")
        q = select(Conversation).where(Conversation.personality_id == 1)
    '''), id="keyword-and-class-attribute"),
    pytest.param("c = Chat(persona_id=2)\n", "c = Chat(personality_id=2)\n", id="aliased-class-name"),
    pytest.param(d('''
        def f(session, stmt_id):
            row = session.get(Conversation, stmt_id)
            row.persona_id = 3
            stmt = select(Conversation)
            stmt = stmt.where(Conversation.id > 1)
            return [r.persona_id for r in session.scalars(stmt)]
    '''), d('''
        def f(session, stmt_id):
            row = session.get(Conversation, stmt_id)
            row.personality_id = 3
            stmt = select(Conversation)
            stmt = stmt.where(Conversation.id > 1)
            return [r.personality_id for r in session.scalars(stmt)]
    '''), id="provable-instances"),
    pytest.param(d('''
        def g(c: Conversation, other):
            if other.persona_id:
                return c.persona_id
    '''), d('''
        def g(c: Conversation, other):
            # TODO(unibase): persona_id is now personality_id
            if other.persona_id:
                return c.personality_id
    '''), id="annotated-parameter-and-unknown"),
    pytest.param(d('''
        class Conversation(Base):
            def label(self):
                return self.persona_id
    '''), d('''
        class Conversation(Base):
            def label(self):
                return self.personality_id
    '''), id="self-in-the-kept-class"),
    pytest.param(d('''
        def h(request):
            x = request.persona_id
            return x.to_summary()
    '''), d('''
        def h(request):
            # TODO(unibase): persona_id is now personality_id
            x = request.persona_id
            # TODO(unibase): method to_summary was only on the deleted class
            return x.to_summary()
    '''), id="unprovable-marked"),
    pytest.param(d('''
        def k(session):
            c = Conversation()
            c = other()
            return c.persona_id
    '''), d('''
        def k(session):
            c = Conversation()
            c = other()
            # TODO(unibase): persona_id is now personality_id
            return c.persona_id
    '''), id="rebound-name-is-not-proven"),
    pytest.param("x = Other(persona_id=1)\nprint(Other.title)\n", "x = Other(persona_id=1)\nprint(Other.title)\n",
                 id="other-class-noop"),
]


@pytest.mark.parametrize("before, after", CASES)
def test_rename(before, after):
    out = RenameColumnUsesCommand(OP).transform(cst.parse_module(before)).code
    assert out == after


@pytest.mark.parametrize("before, after", CASES)
def test_second_run_changes_nothing(before, after):
    once = RenameColumnUsesCommand(OP).transform(cst.parse_module(before))
    assert RenameColumnUsesCommand(OP).transform(once).code == once.code
