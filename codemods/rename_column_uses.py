"""UB005: rename the uses of a column whose duplicate definition was merged under another name.

Given the local names bound to the kept class in one file and the confirmed renames
(``persona_id`` -> ``personality_id``), it rewrites what it can prove refers to the class:

* keyword arguments of a call to the class: ``Conversation(persona_id=1)``;
* class attributes: ``Conversation.persona_id``, also inside ``relationship`` expressions;
* ``self.persona_id`` inside the methods of the kept class.

What it does not do: rename instance attributes (``conv.persona_id``) or ``getattr`` strings;
those, and the uses of members that only the deleted class had, get a
``# TODO(unibase): ...`` comment on their line for a human to review.
"""

from __future__ import annotations

import libcst as cst

from unibase.plan import RenameColumnUses

DESCRIPTION = "Rename uses of a merged duplicate's renamed columns; mark the ones it cannot prove."

TODO_PREFIX = "# TODO(unibase):"


class RenameColumnUsesCommand:
    DESCRIPTION = DESCRIPTION

    def __init__(self, op: RenameColumnUses) -> None:
        self.op = op

    def transform(self, module: cst.Module) -> cst.Module:
        return module.visit(_Transformer(self.op))


class _Transformer(cst.CSTTransformer):
    def __init__(self, op: RenameColumnUses) -> None:
        self.classes = set(op.class_names)
        self.renames = dict(op.renames)
        self.todo = {old: f"{old} is now {new}" for old, new in op.renames}
        self.todo.update(dict(op.todo_attributes))
        self.notes: list[set[str]] = []

        self.in_class: list[bool] = []

    def _is_class(self, node: cst.BaseExpression) -> bool:
        if isinstance(node, cst.Name) and node.value in self.classes:
            return True
        # ``self`` inside a method of the kept class is an instance of it: provable
        return isinstance(node, cst.Name) and node.value == "self" and bool(self.in_class) and self.in_class[-1]

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.in_class.append(node.name.value in self.classes)

    def leave_ClassDef(self, original, updated):
        self.in_class.pop()
        return updated

    # statements collect the notes of what they contain
    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        self.notes.append(set())

    def leave_SimpleStatementLine(self, original, updated):
        notes = self.notes.pop()
        return self._annotate(updated, notes)

    def _annotate(self, updated, notes: set[str]):
        if not notes:
            return updated
        text = f"{TODO_PREFIX} " + "; ".join(sorted(notes))
        comment = updated.trailing_whitespace.comment
        if comment is not None and TODO_PREFIX in comment.value:
            return updated
        if comment is not None:
            text = comment.value + "  " + text
        return updated.with_changes(
            trailing_whitespace=updated.trailing_whitespace.with_changes(
                whitespace=cst.SimpleWhitespace("  "), comment=cst.Comment(text)
            )
        )

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        if not self._is_class(updated.func):
            return updated
        args = []
        for arg in updated.args:
            if arg.keyword is not None and arg.keyword.value in self.renames:
                arg = arg.with_changes(keyword=cst.Name(self.renames[arg.keyword.value]))
            args.append(arg)
        return updated.with_changes(args=args)

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute) -> cst.Attribute:
        attr = updated.attr.value
        if self._is_class(updated.value) and attr in self.renames:
            return updated.with_changes(attr=cst.Name(self.renames[attr]))
        if attr in self.todo and not self._is_class(updated.value) and self.notes:
            self.notes[-1].add(self.todo[attr])
        return updated
