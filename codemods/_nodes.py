"""Reading a LibCST tree without visiting it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import libcst as cst

# Fields that hold only whitespace, punctuation or flags: nothing the analysis looks for.
SKIPPED_FIELDS = frozenset({
    "lpar", "rpar", "leading_lines", "header", "footer", "trailing_whitespace", "comma", "dot",
    "semicolon", "lines_after_decorators", "colon", "equal", "operator", "newline", "relative",
    "lbracket", "rbracket", "lbrace", "rbrace", "asynchronous",
})
_FIELDS: dict[type, tuple[str, ...]] = {}


def walk(root: cst.CSTNode) -> Iterator[tuple[cst.CSTNode, cst.CSTNode | None]]:
    """Every node under ``root`` with its parent, read from the dataclass fields.

    A visitor rebuilds every node it passes (a LibCST visit is a transform that changes
    nothing); reading the fields costs a fraction of that, and nothing here needs whitespace.
    """
    stack: list[tuple[cst.CSTNode, cst.CSTNode | None]] = [(root, None)]
    while stack:
        node, parent = stack.pop()
        yield node, parent
        fields = _FIELDS.get(type(node))
        if fields is None:
            fields = _FIELDS[type(node)] = tuple(
                f.name for f in dataclasses.fields(node)  # type: ignore[arg-type]
                if f.name not in SKIPPED_FIELDS and not f.name.startswith("whitespace")
            )
        for name in fields:
            value = getattr(node, name)
            if type(value) in (list, tuple):
                stack.extend((child, node) for child in reversed(value))
            elif isinstance(value, cst.CSTNode):
                stack.append((value, node))


def nodes(root: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """Every node under ``root`` (whitespace and punctuation aside)."""
    return (node for node, _ in walk(root))


def quoted(annotation: cst.Annotation) -> cst.Annotation:
    """``x: Mapped[Optional[Invoice]]`` -> ``x: "Mapped[Optional[Invoice]]"``; an annotation that
    is a string already, or that cannot be one plain string literal, as it is."""
    ann = annotation.annotation
    if isinstance(ann, (cst.SimpleString, cst.ConcatenatedString)):
        return annotation
    code = cst.Module([]).code_for_node(ann)
    if "\n" in code or ('"' in code and "'" in code):
        return annotation  # cannot be one plain string literal: left as written
    quote = "'" if '"' in code else '"'
    return annotation.with_changes(annotation=cst.SimpleString(f"{quote}{code}{quote}"))
