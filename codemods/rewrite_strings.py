"""UB003: rewrite moved or renamed class names inside relationship strings and quoted annotations.

SQLAlchemy resolves the strings given to ``relationship()`` against the class registry, and
``Mapped["X"]`` annotations the same way. Once models move module or get a new name, those
strings must follow, or ``configure_mappers()`` fails.

What it does, for each ``(old, new)`` dotted name in the operation:

- in ``relationship(...)`` (also ``orm.relationship``, ``db.relationship``: any call whose
  function's last name is ``relationship``): the first positional argument or ``argument=``,
  the second positional argument or ``secondary=``, and ``order_by=``, ``primaryjoin=``,
  ``secondaryjoin=``, ``foreign_keys=``, ``remote_side=`` when they are strings (or lists or
  tuples of strings);
- inside ``Mapped[...]`` (also ``orm.Mapped``): every string, at any depth
  (``Mapped["X"]``, ``Mapped[list["X"]]``, ``Mapped[Optional["X"]]``), and a whole quoted
  annotation ``"Mapped[list[X]]"``;
- only whole dotted identifiers: ``Claim`` matches ``Claim`` and ``Claim.id`` but not
  ``ClaimTier`` nor ``other.Claim``; ``a.b.Claim`` matches ``a.b.Claim.id``. The quote
  style and any string prefix stay as written.

What it does not do: touch ``back_populates``/``backref`` (attribute names, not classes),
strings nested in other calls (``backref("x", order_by="X.id")``, ``and_("...")``), f-strings,
bytes, implicitly concatenated strings whose name is split across the pieces, or any string
outside ``relationship``/``Mapped`` (``ForeignKey("table.col")`` names tables). It does not
decide what to rename; the plan does. A chain in one operation (``A -> B`` and ``B -> C``)
is applied in one pass, so it is not idempotent; the planner never emits one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

import libcst as cst

from unibase.plan import RewriteStrings

DESCRIPTION = 'Rewrite moved or renamed class names inside relationship("...") strings and Mapped["..."].'

# relationship(argument, secondary, *, ...): positional slots, then the keywords whose string
# value SQLAlchemy evaluates against the class registry.
_POSITIONAL = ("argument", "secondary")
_CLASS_KEYWORDS = frozenset(
    {"argument", "secondary", "order_by", "primaryjoin", "secondaryjoin", "foreign_keys", "remote_side"}
)
_QUOTED_MAPPED = re.compile(r"\s*(?:\w+\.)*Mapped\[")


@dataclass(frozen=True)
class RewriteStringsCommand:
    DESCRIPTION: ClassVar[str] = DESCRIPTION

    op: RewriteStrings

    def transform(self, module: cst.Module) -> cst.Module:
        if not self.op.replacements:
            return module
        return module.visit(_Relationships(_Strings(dict(self.op.replacements)), set(self.op.classes)))


class _Strings(cst.CSTTransformer):
    """Rewrites every plain string below the node it visits."""

    def __init__(self, replacements: dict[str, str]) -> None:
        super().__init__()
        self.new = replacements
        olds = sorted(replacements, key=len, reverse=True)  # longest first: a.b.X before X
        # a whole dotted identifier: not preceded by a name character or a dot, not followed
        # by a name character (a following ".attr" is fine)
        self.pattern = re.compile(r"(?<![\w.])(?:" + "|".join(map(re.escape, olds)) + r")(?!\w)")

    def leave_SimpleString(self, original_node: cst.SimpleString, updated_node: cst.SimpleString) -> cst.SimpleString:
        prefix, quote, body = updated_node.prefix, updated_node.quote, updated_node.raw_value
        if "b" in prefix.lower():
            return updated_node
        new_body = self.pattern.sub(lambda m: self.new[m.group(0)], body)
        if new_body == body:
            return updated_node
        return updated_node.with_changes(value=prefix + quote + new_body + quote)


class _Relationships(cst.CSTTransformer):
    """Rewrites the strings of relationships and ``Mapped`` annotations; with ``classes``, only
    inside those top-level classes."""

    def __init__(self, strings: _Strings, classes: set[str] | None = None) -> None:
        super().__init__()
        self.strings = strings
        self.classes = classes
        self.outer: list[str] = []  # the enclosing class names, outermost first

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.outer.append(node.name.value)

    def leave_ClassDef(self, original_node: cst.ClassDef, updated_node: cst.ClassDef) -> cst.ClassDef:
        self.outer.pop()
        return updated_node

    def _in_scope(self) -> bool:
        return not self.classes or bool(self.outer) and self.outer[0] in self.classes

    def _rewrite(self, value: cst.BaseExpression) -> cst.BaseExpression:
        if isinstance(value, (cst.SimpleString, cst.ConcatenatedString, cst.List, cst.Tuple)):
            return value.visit(self.strings)  # type: ignore[return-value]
        return value

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.Call:
        if _last_name(updated_node.func) != "relationship" or not self._in_scope():
            return updated_node
        args = []
        for i, arg in enumerate(updated_node.args):
            if arg.keyword is not None:
                slot = arg.keyword.value
            else:
                slot = _POSITIONAL[i] if not arg.star and i < len(_POSITIONAL) else None
            args.append(arg.with_changes(value=self._rewrite(arg.value)) if slot in _CLASS_KEYWORDS else arg)
        return updated_node.with_changes(args=args)

    def leave_Subscript(self, original_node: cst.Subscript, updated_node: cst.Subscript) -> cst.Subscript:
        if _last_name(updated_node.value) != "Mapped" or not self._in_scope():
            return updated_node
        return updated_node.visit(self.strings)  # type: ignore[return-value]

    def leave_Annotation(self, original_node: cst.Annotation, updated_node: cst.Annotation) -> cst.Annotation:
        ann = updated_node.annotation
        if isinstance(ann, cst.SimpleString) and _QUOTED_MAPPED.match(ann.raw_value) and self._in_scope():
            return updated_node.with_changes(annotation=ann.visit(self.strings))
        return updated_node


def _last_name(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return node.attr.value
    return None
