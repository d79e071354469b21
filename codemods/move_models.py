"""UB001: move the models of a secondary base into the canonical module and leave a shim.

What it does, given a :class:`~unibase.plan.MoveModels` operation and the two modules:

* the classes named by the operation, and the helpers they need (functions, enums,
  constants, custom types, mixins), leave ``source`` and are appended to ``target`` in their
  original order, with their comments, docstrings and methods; each class that subclassed the
  secondary base now subclasses the canonical one;
* classes that clash with a name in ``target`` are renamed there, and so are the references to
  them in the moved code (resolved by scope: a method's local ``Message`` or ``x.Message`` is
  not a reference) and in its relationship strings and ``Mapped[...]`` annotations; classes
  whose table is already defined identically elsewhere are dropped, and the moved code refers
  to the kept class;
* the imports the moved code needs are added to ``target`` (after its leading imports) unless
  already present;
* ``source`` keeps every other statement (services, pydantic models, functions) and gains one
  import that re-exports the canonical ``Base`` under the old name plus every moved name, so
  old imports keep working; an import the re-export replaces goes, and so do imports that only
  the moved code used, except the names other files import from ``source``; a module left with
  nothing but imports gets an ``__all__``; one that keeps code of its own marks each re-export
  it does not use itself as ``X as X`` (PEP 484's explicit re-export; ``# noqa: F401`` where a
  name is re-exported under another one), so linters do not call them unused;
* a helper that is module state (``copied``: ``logger = getLogger(__name__)``) is copied, not
  moved: the target gets its own, and the code left in ``source`` keeps the original;
* comments above the removed base, and a module docstring, that speak of a separate base get a
  ``# TODO(unibase): ...`` line;
* a secondary base defined only inside a module-level ``if`` block (the ``else:`` of ``if
  TYPE_CHECKING:``) is replaced there, in place, by an import of the canonical base.

What it does not do: rewrite importers elsewhere (UB002), touch relationship strings outside
the moved classes (UB003), collapse ``create_all`` calls (UB004), or import into ``target`` a
dropped class kept in a third module (the plan's ``imports`` must). A model class or helper
defined under ``if``/``try``, or in a statement that also binds other names, is left where it is. It
never reads or writes files.
"""

from __future__ import annotations

import re

import libcst as cst

from unibase.codemods._imports import add_type_checking_imports, first_party, merge_into_header, place_import
from unibase.codemods._names import RenameNodes, rename_targets
from unibase.codemods._nodes import quoted
from unibase.codemods._statements import (
    all_names,
    assigns_registry,
    generating_registry,
    header_end,
    import_bound_list,
    import_bound_names,
    import_keys,
    imports_from,
    is_docstring,
    is_future,
    is_import,
    is_import_block,
    is_type_checking_block,
    prune_imports,
    replace_nested_definition,
    stmt_names,
    strip_leading_blanks,
    used_names,
)
from unibase.plan import MoveModels

from .rewrite_strings import _Relationships, _Strings

DESCRIPTION = "Move the models of a secondary base into the canonical module; leave a re-export shim."



# a comment that says the models have a base of their own ("Separate base to avoid conflicts")
_SEPARATE_BASE = re.compile(
    r"\b(separate|own|second|distinct|independent|isolated)\b[^\n]{0,40}\b(base|registry|metadata)\b"
    r"|\b(base|registry|metadata)\b[^\n]{0,40}\b(of (its|their) own|separate(ly)?)\b", re.IGNORECASE)


def _mark_stale_comments(lines: list[cst.EmptyLine], target: str) -> list[cst.EmptyLine]:
    """A ``# TODO(unibase)`` line above the comments that speak of a separate base."""
    out = []
    for line in lines:
        if line.comment is not None and _SEPARATE_BASE.search(line.comment.value) and "unibase" not in line.comment.value:
            out.append(cst.EmptyLine(indent=line.indent, comment=cst.Comment(
                f"# TODO(unibase): the comment below speaks of a separate base; the models use {target}'s now")))
        out.append(line)
    return out


def _explicit_reexport(stmt: cst.SimpleStatementLine, used: set[str]) -> cst.SimpleStatementLine:
    """``from m import A, B as C`` -> ``from m import A as A, B as C`` for the names the module
    does not use itself (only those look unused to a linter)."""
    small = stmt.body[0]
    if not isinstance(small, cst.ImportFrom) or isinstance(small.names, cst.ImportStar):
        return stmt
    names = [a if a.asname is not None or not isinstance(a.name, cst.Name) or a.name.value in used else
             a.with_changes(asname=cst.AsName(name=cst.Name(a.name.value))) for a in small.names]
    stmt = stmt.with_changes(body=[small.with_changes(names=names)])
    renamed_unused = [a for a in names if a.asname is not None and isinstance(a.asname.name, cst.Name)
                      and a.asname.name.value != cst.Module([]).code_for_node(a.name)
                      and a.asname.name.value not in used]
    if renamed_unused and stmt.trailing_whitespace.comment is None:
        # a name re-exported under another name has no explicit form but ``__all__``
        stmt = stmt.with_changes(trailing_whitespace=cst.TrailingWhitespace(
            whitespace=cst.SimpleWhitespace("  "), comment=cst.Comment("# noqa: F401  (re-exported)")))
    return stmt


class _BaseAttributes(cst.CSTTransformer):
    """``other_db.Base`` -> the canonical base's name, for the given (module alias, name) pairs."""

    def __init__(self, spellings: set[tuple[str, str]], target_base: str) -> None:
        super().__init__()
        self.spellings = spellings
        self.target_base = target_base

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute) -> cst.BaseExpression:
        if isinstance(updated.value, cst.Name) and (updated.value.value, updated.attr.value) in self.spellings:
            return cst.Name(self.target_base, lpar=updated.lpar, rpar=updated.rpar)
        return updated


class MoveModelsCommand:
    DESCRIPTION = DESCRIPTION

    def __init__(self, op: MoveModels) -> None:
        self.op = op

    def transform_pair(self, source: cst.Module, target: cst.Module) -> tuple[cst.Module, cst.Module]:
        op = self.op
        moving_names = set(op.classes) | set(op.helpers)
        dropped = {name for name, *_ in op.drop}
        relocated = set(op.relocated)

        # a base defined under ``if`` (``else:`` of ``if TYPE_CHECKING:``) becomes, where it
        # is, an import of the canonical base
        alias = f" as {op.base_name}" if op.base_name != op.target_base else ""
        source, nested = replace_nested_definition(
            source, op.base_name, f"from {'.' * op.import_level}{op.import_from} import {op.target_base}{alias}\n")
        moved: list[cst.CSTNode] = []
        removed: list[cst.CSTNode] = []
        kept: list[cst.CSTNode] = []
        base_stmt: cst.CSTNode | None = None
        base_index: int | None = None
        for stmt in source.body:
            names = stmt_names(stmt)
            if not names or is_import(stmt):
                kept.append(stmt)
            elif isinstance(stmt, cst.ClassDef) and names <= dropped:  # a drop wins over a move
                removed.append(stmt)
            elif names <= relocated:  # already placed in the target by another operation
                removed.append(stmt)
            elif names <= moving_names:
                moved.append(stmt)
                if names <= set(op.copied):  # module state: the source keeps its own
                    kept.append(stmt)
            elif names == {op.base_name}:
                removed.append(stmt)
                if base_stmt is None:
                    base_stmt, base_index = stmt, len(kept)
            else:
                kept.append(stmt)
        if not moved and not removed:
            return source, target
        here = (op.import_level, op.import_from)

        # --- target: imports, then the moved code under a header comment
        renames = dict(op.renames)
        name_map = {b: op.target_base for b in (op.base_name, *op.base_aliases) if b != op.target_base}
        strings = dict(op.string_renames)
        for name, kept_name, module, level in op.drop:
            if (level, module) == here and kept_name != name:  # the kept class is in the target
                name_map[name] = strings[name] = kept_name
        name_map.update(renames)
        renamer = RenameNodes(rename_targets(moved, name_map))
        relationships = _Relationships(_Strings(strings)) if strings else None
        base_spellings = _BaseAttributes(set(op.base_attributes), op.target_base) if op.base_attributes else None
        new_code = []
        registry = _RegistryNames(dict(op.registry_names), lazy=any(is_future(s) for s in source.body)) \
            if op.registry_names else None
        for stmt in moved:
            stmt = stmt.visit(renamer)
            if registry:
                stmt = stmt.visit(registry)
            if base_spellings:
                stmt = stmt.visit(base_spellings)
            if op.quote_annotations:
                stmt = stmt.visit(_QuoteAnnotations())
            new_code.append(stmt.visit(relationships) if relationships else stmt)
        target_body = list(target.body)
        present = set().union(*(import_keys(s) for s in target_body if is_import(s)))  # type: ignore[arg-type]
        to_add = []
        at = header_end(target_body)
        for text in op.imports:
            stmt = cst.parse_statement(text.strip() + "\n")
            keys = import_keys(stmt)  # type: ignore[arg-type]
            if not keys or not keys <= present:
                if not merge_into_header(target_body, at, stmt, present):
                    place_import(target_body, at, stmt, first_party(op.target))  # type: ignore[arg-type]
                    at += 1
                present |= keys
        if op.type_checking_imports:
            add_type_checking_imports(target_body, at, op.type_checking_imports, present, first_party(op.target))
        if new_code:
            header = cst.EmptyLine(comment=cst.Comment(f"# --- moved from {op.source} by unibase (UB001) ---"))
            first = new_code[0]
            lead = [cst.EmptyLine(), cst.EmptyLine(), header] if target_body else [header]
            first_leading = [l for l in first.leading_lines if l.comment is not None]  # type: ignore[attr-defined]
            new_code[0] = first.with_changes(leading_lines=lead + first_leading)  # type: ignore[union-attr]
            target_body.extend(new_code)
        new_target = target.with_changes(body=target_body)

        # --- source: the shim
        exported: list[str] = []
        exported.append(f"{op.target_base} as {op.base_name}" if op.base_name != op.target_base else op.target_base)
        for stmt in moved:
            for name in sorted(stmt_names(stmt) - set(op.copied)):
                new = renames.get(name, name)
                exported.append(f"{new} as {name}" if new != name else name)
        exported.extend(n for n in op.relocated if any(n in stmt_names(r) for r in removed))
        elsewhere: dict[tuple[int, str], list[str]] = {}
        for name, kept_name, kept_from, kept_level in op.drop:
            alias = f"{kept_name} as {name}" if kept_name != name else name
            if (kept_level, kept_from) == here:
                exported.append(alias)
            else:
                elsewhere.setdefault((kept_level, kept_from), []).append(alias)
        exported = list(dict.fromkeys(exported))
        dots = "." * op.import_level
        shim_text = f"from {dots}{op.import_from} import {', '.join(exported)}\n"
        if len(shim_text) > 99:
            inner = "".join(f"    {e},\n" for e in exported)
            shim_text = f"from {dots}{op.import_from} import (\n{inner})\n"
        shim = cst.parse_statement(shim_text)
        note = cst.EmptyLine(comment=cst.Comment(
            f"# These names now live in {op.target}; re-exported so old imports keep working (unibase)."))
        shims = [shim] + [
            cst.parse_statement(f"from {'.' * level}{module} import {', '.join(names)}\n")
            for (level, module), names in sorted(elsewhere.items())
        ]
        shim_names = {n for s in shims for n in import_bound_names(s)}  # type: ignore[arg-type]
        # the shim goes where the base was, or after the leading imports when there was none or
        # when code above the base already uses a name the shim now provides
        if base_index is None or any(
            not is_import(s) and used_names([s]) & shim_names for s in kept[:base_index]
        ):
            base_index = header_end(kept)
            lead = [cst.EmptyLine()] + [line for line in getattr(base_stmt, "leading_lines", ()) if line.comment]
        else:
            lead = list(base_stmt.leading_lines)  # type: ignore[union-attr]
        lead = _mark_stale_comments(lead, op.target)
        docstring = next((st for st in source.body[:1] if is_docstring(st)), None)
        if docstring is not None and _SEPARATE_BASE.search(cst.Module([]).code_for_node(docstring)):
            lead.append(cst.EmptyLine(comment=cst.Comment(
                f"# TODO(unibase): the docstring speaks of a separate base; the models use {op.target}'s now")))
        shims[0] = shim.with_changes(leading_lines=lead + [note])
        kept[base_index:base_index] = shims
        # ``reg = registry()`` + ``Base = reg.generate_base()``: the registry is the canonical one now
        reg = generating_registry(base_stmt)
        at = next((k for k, stmt in enumerate(kept) if reg and assigns_registry(stmt, reg)), None)
        if at is not None:
            removed.append(kept.pop(at))
            kept.insert(kept.index(shims[-1]) + 1, cst.parse_statement(f"{reg} = {op.base_name}.registry\n"))
        # drop imports only the moved (or removed) code needed, and those the shim replaces
        still_used = used_names([s for s in kept if not is_import(s) and not is_import_block(s)], strings=True)
        listed = all_names(source)
        drop_imports = {
            n for n in used_names(moved + removed)
            if n not in still_used and n not in listed and n not in op.imported_elsewhere
        } | shim_names
        pruned = prune_imports(kept, drop_imports, protect=shims)
        if any(is_import_block(s) for s in kept) and not any(is_type_checking_block(s) for s in pruned) \
                and "TYPE_CHECKING" not in listed | set(op.imported_elsewhere) | used_names(
                    [s for s in pruned if not is_import(s)]):
            pruned = prune_imports(pruned, {"TYPE_CHECKING"}, protect=shims)  # its last block went
        strip_leading_blanks(pruned, source.body)
        if not listed and all(is_import(s) or is_docstring(s) for s in pruned):
            # a re-export module: name what it exports (this shim, earlier ones, and the
            # imports other files rely on), so linters do not call them unused
            names = [
                n
                for s in pruned
                if is_import(s) and not is_future(s)
                for n in import_bound_list(s)  # type: ignore[arg-type]
                if n in shim_names or n in op.imported_elsewhere or imports_from(s, here)
            ]
            all_stmt = cst.parse_statement("__all__ = [" + ", ".join(f'"{n}"' for n in dict.fromkeys(names)) + "]\n")
            pruned.append(all_stmt.with_changes(leading_lines=[cst.EmptyLine()]))
        elif not listed:
            # a module that keeps code of its own: ``X as X`` marks what the shim re-exports
            # (PEP 484's explicit re-export), which an ``__all__`` could not do without changing
            # what ``from module import *`` gives
            used_here = used_names([s for s in pruned if not is_import(s)], strings=True)
            spellings = [here, *elsewhere]
            pruned = [_explicit_reexport(s, used_here) if any(imports_from(s, sp) for sp in spellings) else s
                      for s in pruned]
        return source.with_changes(body=pruned), new_target


class _RegistryNames(cst.CSTTransformer):
    """``relationship(Dropped)`` -> ``relationship("Kept")`` and ``Mapped[Dropped]`` ->
    ``Mapped[Kept]`` (``Mapped["Kept"]`` where annotations are evaluated): a dropped duplicate
    named through the class registry, where its kept class is not defined (the plan checked
    that the moved code uses the dropped name nowhere else)."""

    def __init__(self, names: dict[str, str], lazy: bool) -> None:
        super().__init__()
        self.names = names
        self.lazy = lazy

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.Call:
        func = updated_node.func
        last = func.value if isinstance(func, cst.Name) else func.attr.value if isinstance(func, cst.Attribute) else None
        if last != "relationship":
            return updated_node
        args = list(updated_node.args)
        for i, arg in enumerate(args):
            first = (i == 0 and arg.keyword is None and not arg.star) or (arg.keyword and arg.keyword.value == "argument")
            if first and isinstance(arg.value, cst.Name) and arg.value.value in self.names:
                args[i] = arg.with_changes(value=cst.SimpleString(f'"{self.names[arg.value.value]}"'))
        return updated_node.with_changes(args=args)

    def leave_Subscript(self, original_node: cst.Subscript, updated_node: cst.Subscript) -> cst.Subscript:
        value = updated_node.value
        last = value.value if isinstance(value, cst.Name) else value.attr.value if isinstance(value, cst.Attribute) else None
        if last != "Mapped":
            return updated_node
        return updated_node.with_changes(slice=[e.visit(_NamesIn(self.names, self.lazy)) for e in updated_node.slice])


class _NamesIn(cst.CSTTransformer):
    """Plain names of ``names`` (not attributes) -> their new name, or a string of it."""

    def __init__(self, names: dict[str, str], as_name: bool) -> None:
        super().__init__()
        self.names = names
        self.as_name = as_name

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        return False

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.BaseExpression:
        if updated_node.value not in self.names:
            return updated_node
        new = self.names[updated_node.value]
        return updated_node.with_changes(value=new) if self.as_name else cst.SimpleString(f'"{new}"')


class _QuoteAnnotations(cst.CSTTransformer):
    """``x: Mapped[Optional[Invoice]]`` -> ``x: "Mapped[Optional[Invoice]]"``: what ``from __future__
    import annotations`` gave the code where it was written (SQLAlchemy reads quoted ``Mapped``)."""

    def leave_Annotation(self, original_node: cst.Annotation, updated_node: cst.Annotation) -> cst.Annotation:
        return quoted(updated_node)


