"""UB004: drop repeated ``X.metadata.create_all/drop_all`` calls once every X is the one Base.

After the merge, ``MainBase``, ``HCEBase`` and ``System2Base`` name one class with one
``MetaData``, so ``MainBase.metadata.create_all(e); HCEBase.metadata.create_all(e)`` runs the
same call twice.

What it does, with ``op.names`` the local spellings of the merged Base in this file:

- in every statement block (module, function, class, ``if``/``else``, ``with``, ``try``...),
  removes a statement ``N.metadata.create_all(ARGS)`` / ``drop_all(ARGS)``, or
  ``[await] conn.run_sync(N.metadata.create_all)``, when an earlier statement of the same
  block is the same call: same method, any of the names, same remaining source text once
  whitespace, comments and a trailing comma are ignored. A ``drop_all`` between two
  ``create_all`` calls (or the reverse) starts afresh, since their order matters. A removed
  call takes its trailing comment and the comment lines right above it along, except the
  lines above the first call of a run of such calls: those stay (they move down to the next
  statement that is kept, or to the end of the block);
- ``target_metadata = [A.metadata, B.metadata, other]`` (a list or tuple, plain or annotated
  assignment) keeps only the first ``N.metadata`` entry; when nothing else was in the
  sequence, it becomes the plain expression ``A.metadata``;
- ``for b in [A, B, other]: b.metadata.create_all(e)`` (or ``for m in [A.metadata, ...]:
  m.create_all(e)``; a list or tuple written in the ``for``) keeps only the first of the
  entries that name the Base, so the loop runs the call once for it.

What it does not do: compare calls in different blocks (``if`` body against the enclosing
function) or on one line with ``;``, look at calls on names outside ``op.names`` (a separate
base bound to its own database keeps its call), notice that a statement between two calls
rebinds their argument or drops tables by other means, or rename the kept call's Base (the
import step does). A block never ends up empty: the first call of each kind is always kept.
"""

from __future__ import annotations

import io
import tokenize
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import libcst as cst

from unibase.plan import CollapseMetadataCalls

DESCRIPTION = "Drop repeated create_all/drop_all calls and target_metadata entries on the one merged Base."

_METHODS = ("create_all", "drop_all")
_PLACEHOLDER = cst.Name("__base__")
_IGNORED_TOKENS = frozenset(
    {tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.COMMENT, tokenize.ENDMARKER}
)


@dataclass(frozen=True)
class CollapseMetadataCallsCommand:
    DESCRIPTION: ClassVar[str] = DESCRIPTION

    op: CollapseMetadataCalls

    def transform(self, module: cst.Module) -> cst.Module:
        if not self.op.names:
            return module
        return module.visit(_Collapse(frozenset(_normalise(n) for n in self.op.names)))


class _Collapse(cst.CSTTransformer):
    def __init__(self, names: frozenset[str]) -> None:
        super().__init__()
        self.names = names

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        body, carry = self._block(updated_node.body)
        return updated_node.with_changes(body=body, footer=[*carry, *updated_node.footer])

    def leave_IndentedBlock(
        self, original_node: cst.IndentedBlock, updated_node: cst.IndentedBlock
    ) -> cst.IndentedBlock:
        body, carry = self._block(updated_node.body)
        return updated_node.with_changes(body=body, footer=[*carry, *updated_node.footer])

    def leave_Assign(self, original_node: cst.Assign, updated_node: cst.Assign) -> cst.Assign:
        if any(_is_target_metadata(t.target) for t in updated_node.targets):
            return updated_node.with_changes(value=self._sequence(updated_node.value))
        return updated_node

    def leave_For(self, original_node: cst.For, updated_node: cst.For) -> cst.For:
        target = updated_node.target
        if not isinstance(target, cst.Name) or not isinstance(updated_node.iter, (cst.List, cst.Tuple)):
            return updated_node
        if not _uses_metadata_call(updated_node.body, target.value):
            return updated_node
        elements = list(updated_node.iter.elements)
        ours = [i for i, e in enumerate(elements) if isinstance(e, cst.Element) and (
            self._is_metadata(e.value) or _normalise(cst.Module([]).code_for_node(e.value)) in self.names)]
        if len(ours) < 2:
            return updated_node
        kept = [e for i, e in enumerate(elements) if i not in ours[1:]]
        kept[-1] = kept[-1].with_changes(comma=elements[-1].comma)
        return updated_node.with_changes(iter=updated_node.iter.with_changes(elements=kept))

    def leave_AnnAssign(self, original_node: cst.AnnAssign, updated_node: cst.AnnAssign) -> cst.AnnAssign:
        if _is_target_metadata(updated_node.target) and updated_node.value is not None:
            return updated_node.with_changes(value=self._sequence(updated_node.value))
        return updated_node

    def _block(self, body: Sequence[cst.BaseStatement]) -> tuple[list[cst.BaseStatement], list[cst.EmptyLine]]:
        """The statements kept, and the comment lines still waiting for a statement."""
        kept: list[cst.BaseStatement] = []
        carry: list[cst.EmptyLine] = []
        seen: set[str] = set()  # calls since the last call of the other method
        method: str | None = None
        in_run = False  # the previous statement was a create_all/drop_all call on the Base
        for stmt in body:
            key = self._call_key(stmt)
            if key is not None and key[1] in seen:
                if not in_run:  # the comments above a run of calls stay
                    carry.extend(stmt.leading_lines)
                in_run = True
                continue
            if key is not None:
                if key[0] != method:
                    method, seen = key[0], set()
                seen.add(key[1])
            in_run = key is not None
            if carry:
                stmt = stmt.with_changes(leading_lines=[*carry, *stmt.leading_lines])
                carry = []
            kept.append(stmt)
        return kept, carry

    def _call_key(self, stmt: cst.BaseStatement) -> tuple[str, str] | None:
        """(method, the statement's source with the Base replaced) for a call this step collapses."""
        if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
            return None
        if not isinstance(stmt.body[0], cst.Expr):  # one statement per line, an expression
            return None
        expr = stmt.body[0].value
        call = expr.expression if isinstance(expr, cst.Await) else expr
        if not isinstance(call, cst.Call):
            return None
        if self._is_method(call.func):
            target = call.func
        elif isinstance(call.func, cst.Attribute) and call.func.attr.value == "run_sync":
            target = next((a.value for a in call.args if self._is_method(a.value)), None)
            if target is None:
                return None
        else:
            return None
        assert isinstance(target, cst.Attribute) and isinstance(target.value, cst.Attribute)
        generic = expr.deep_replace(target.value.value, _PLACEHOLDER)
        return target.attr.value, _normalise(cst.Module([]).code_for_node(generic))

    def _is_method(self, node: cst.BaseExpression) -> bool:
        """``N.metadata.create_all`` / ``N.metadata.drop_all`` with N one of the names."""
        return (
            isinstance(node, cst.Attribute)
            and node.attr.value in _METHODS
            and self._is_metadata(node.value)
        )

    def _is_metadata(self, node: cst.BaseExpression) -> bool:
        return (
            isinstance(node, cst.Attribute)
            and node.attr.value == "metadata"
            and _normalise(cst.Module([]).code_for_node(node.value)) in self.names
        )

    def _sequence(self, value: cst.BaseExpression) -> cst.BaseExpression:
        """``[A.metadata, B.metadata, x]`` -> ``[A.metadata, x]``; ``[A.metadata, B.metadata]`` -> ``A.metadata``."""
        if not isinstance(value, (cst.List, cst.Tuple)):
            return value
        elements = list(value.elements)
        ours = [i for i, e in enumerate(elements) if isinstance(e, cst.Element) and self._is_metadata(e.value)]
        if len(ours) < 2:
            return value
        if len(ours) == len(elements):
            return elements[ours[0]].value
        kept = [e for i, e in enumerate(elements) if i not in ours[1:]]
        # the new last element takes the old last one's comma: none, or the trailing one
        kept[-1] = kept[-1].with_changes(comma=elements[-1].comma)
        return value.with_changes(elements=kept)


def _uses_metadata_call(body: cst.CSTNode, var: str) -> bool:
    """``var.metadata.create_all`` / ``var.create_all`` (or ``drop_all``) somewhere in ``body``."""
    found = False

    class Finder(cst.CSTVisitor):
        def visit_Attribute(self, node: cst.Attribute) -> None:
            nonlocal found
            owner = node.value
            if isinstance(owner, cst.Attribute) and owner.attr.value == "metadata":
                owner = owner.value
            if node.attr.value in _METHODS and isinstance(owner, cst.Name) and owner.value == var:
                found = True

    body.visit(Finder())
    return found


def _is_target_metadata(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value == "target_metadata"


def _normalise(code: str) -> str:
    """Source text as tokens joined by single spaces: no line breaks, comments or trailing commas."""
    try:
        found = tokenize.generate_tokens(io.StringIO(code).readline)
        tokens = [t.string for t in found if t.type not in _IGNORED_TOKENS]
    except (tokenize.TokenError, SyntaxError):
        return " ".join(code.split())
    # a trailing comma changes nothing: ``f(a,)`` is ``f(a)``
    return " ".join(t for t, nxt in zip(tokens, [*tokens[1:], ""]) if not (t == "," and nxt in (")", "]", "}")))
