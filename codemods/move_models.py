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
from collections.abc import Iterable, Sequence

import libcst as cst
from libcst.metadata import MetadataWrapper, ScopeProvider

from unibase.codemods._imports import first_party, ordered_names, place_import
from unibase.codemods._nodes import walk
from unibase.codemods.rewrite_imports import _with_aliases
from unibase.plan import MoveModels

from .rewrite_strings import _Relationships, _Strings

DESCRIPTION = "Move the models of a secondary base into the canonical module; leave a re-export shim."

_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")
_CODE = cst.Module([]).code_for_node


def _stmt_names(stmt: cst.CSTNode) -> set[str]:
    """Top-level names a statement binds (class, def, simple assignment)."""
    if isinstance(stmt, (cst.ClassDef, cst.FunctionDef)):
        return {stmt.name.value}
    if isinstance(stmt, cst.SimpleStatementLine):
        names = set()
        for small in stmt.body:
            if isinstance(small, cst.Assign):
                for t in small.targets:
                    if isinstance(t.target, cst.Name):
                        names.add(t.target.value)
            elif isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name):
                names.add(small.target.value)
        return names
    return set()


class _NestedDefinition(cst.CSTTransformer):
    """Replace the statements that define ``name`` inside a module-level ``if`` block (``if
    TYPE_CHECKING: ... else: Base = declarative_base()``) by ``replacement``. Function and class
    bodies are not entered, nor ``try`` blocks: ``try: from .db import Base`` / ``except
    ImportError: Base = declarative_base()`` is a fallback whose meaning depends on the machine."""

    def __init__(self, name: str, replacement: cst.SimpleStatementLine) -> None:
        self.name = name
        self.replacement = replacement
        self.replaced = 0

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def visit_Try(self, node: cst.Try) -> bool:
        return False

    def _replace(self, updated):
        if _stmt_names(updated) == {self.name} and not _is_import(updated):
            self.replaced += 1
            return self.replacement.with_changes(leading_lines=updated.leading_lines)
        return updated

    def leave_SimpleStatementLine(self, original, updated):
        return self._replace(updated)

    def leave_ClassDef(self, original, updated):
        return self._replace(updated)


def replace_nested_definition(module: cst.Module, name: str, import_text: str) -> tuple[cst.Module, bool]:
    """When ``name`` is defined only inside module-level ``if`` blocks, replace each of those
    definitions by the import ``import_text``, in place; True when something changed."""
    if any(_stmt_names(s) == {name} and not _is_import(s) for s in module.body):
        return module, False
    replacer = _NestedDefinition(name, cst.parse_statement(import_text))  # type: ignore[arg-type]
    body = [s.visit(replacer) if isinstance(s, cst.If) else s for s in module.body]
    return (module.with_changes(body=body), True) if replacer.replaced else (module, False)


def _used_names(nodes: Iterable[cst.CSTNode], *, strings: bool = False) -> set[str]:
    """Every name the nodes mention; with ``strings``, also every identifier inside a plain
    string (a quoted annotation may be the only use of an import: keeping one too many is safe)."""
    found: set[str] = set()
    for root in nodes:
        for node, parent in walk(root):
            if type(node) is cst.Name:
                if not (type(parent) is cst.Attribute and parent.attr is node):  # ``x.name`` uses x only
                    found.add(node.value)
            elif strings and type(node) is cst.SimpleString and type(parent) is not cst.Expr:
                # a string statement (a docstring) names nothing; an annotation or argument may
                found.update(_IDENTIFIER.findall(node.raw_value))
    return found


def _is_import(stmt: cst.CSTNode) -> bool:
    return isinstance(stmt, cst.SimpleStatementLine) and any(
        isinstance(s, (cst.Import, cst.ImportFrom)) for s in stmt.body
    )


def _is_docstring(stmt: cst.CSTNode) -> bool:
    return (
        isinstance(stmt, cst.SimpleStatementLine)
        and len(stmt.body) == 1
        and isinstance(stmt.body[0], cst.Expr)
        and isinstance(stmt.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


def _is_future(stmt: cst.CSTNode) -> bool:
    return (
        isinstance(stmt, cst.SimpleStatementLine)
        and isinstance(stmt.body[0], cst.ImportFrom)
        and isinstance(stmt.body[0].module, cst.Name)
        and stmt.body[0].module.value == "__future__"
    )


def _header_end(body: Sequence[cst.CSTNode]) -> int:
    """The index after the module docstring and the leading block of imports."""
    i = 1 if body and _is_docstring(body[0]) else 0
    while i < len(body) and _is_import(body[i]):
        i += 1
    return i


def _alias_bound(alias: cst.ImportAlias) -> str:
    if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
        return alias.asname.name.value
    return cst.Module([]).code_for_node(alias.name).split(".")[0]


def _import_bound_list(stmt: cst.SimpleStatementLine) -> list[str]:
    names = []
    for small in stmt.body:
        if isinstance(small, (cst.Import, cst.ImportFrom)) and not isinstance(small.names, cst.ImportStar):
            names.extend(_alias_bound(alias) for alias in small.names)
    return names


def _import_bound_names(stmt: cst.SimpleStatementLine) -> set[str]:
    return set(_import_bound_list(stmt))


def _import_keys(stmt: cst.SimpleStatementLine) -> set[tuple[int, str, str, str]]:
    """(level, module, name, local name) of each alias: what the statement imports, however spelt."""
    code = cst.Module([]).code_for_node
    keys = set()
    for small in stmt.body:
        if isinstance(small, cst.ImportFrom) and not isinstance(small.names, cst.ImportStar):
            module = code(small.module) if small.module is not None else ""
            keys |= {(len(small.relative), module, code(a.name), _alias_bound(a)) for a in small.names}
        elif isinstance(small, cst.Import):
            keys |= {(-1, "", code(a.name), _alias_bound(a)) for a in small.names}
    return keys


def _prune_import(stmt: cst.SimpleStatementLine, drop: set[str]) -> cst.SimpleStatementLine | None:
    """Remove the aliases of ``stmt`` that bind a name in ``drop``; None when nothing is left."""
    body = []
    for small in stmt.body:
        if isinstance(small, (cst.Import, cst.ImportFrom)) and not isinstance(small.names, cst.ImportStar):
            kept = [alias for alias in small.names if _alias_bound(alias) not in drop]
            if not kept:
                continue
            if len(kept) < len(small.names):
                # the last alias keeps the original last one's comma: a trailing comma and the
                # line break before ``)`` survive, and an unparenthesized import gets none
                kept[-1] = kept[-1].with_changes(comma=small.names[-1].comma)
                small = small.with_changes(names=kept)
        body.append(small)
    if not body:
        return None
    if len(body) < len(stmt.body):
        body[-1] = body[-1].with_changes(semicolon=cst.MaybeSentinel.DEFAULT)
    return stmt.with_changes(body=body)


def _merge_lines(first: Sequence[cst.EmptyLine], then: Sequence[cst.EmptyLine]) -> list[cst.EmptyLine]:
    """``first`` (a removed statement's leading lines) before ``then``, without piling up blank
    lines: a run of blank lines is no longer than the longest run in either part."""

    def longest(lines: Sequence[cst.EmptyLine]) -> int:
        best = run = 0
        for line in lines:
            run = run + 1 if line.comment is None else 0
            best = max(best, run)
        return best

    cap = max(longest(first), longest(then))
    out: list[cst.EmptyLine] = []
    run = 0
    for line in [*first, *then]:
        run = run + 1 if line.comment is None else 0
        if run <= cap:
            out.append(line)
    return out


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


def _prune_imports(body: Sequence[cst.CSTNode], drop: set[str], protect: Sequence[cst.CSTNode] = ()) -> list[cst.CSTNode]:
    """Prune the top-level imports of ``body`` (not the ``protect`` ones) of the names in
    ``drop``; the blank lines and comments above an import that goes move to the next statement."""
    out: list[cst.CSTNode] = []
    carry: list[cst.EmptyLine] = []
    for stmt in body:
        if _is_import_block(stmt):  # ``if TYPE_CHECKING:`` imports: pruned alike, gone when empty
            inner = _prune_imports(stmt.body.body, drop)  # type: ignore[attr-defined]
            if not inner:
                carry = _merge_lines(carry, stmt.leading_lines)  # type: ignore[attr-defined]
                continue
            stmt = stmt.with_changes(body=stmt.body.with_changes(body=inner))  # type: ignore[attr-defined]
        elif (
            isinstance(stmt, cst.SimpleStatementLine)
            and _is_import(stmt)
            and not any(stmt is p for p in protect)
            and _import_bound_names(stmt) & drop
        ):
            new = _prune_import(stmt, drop)
            if new is None:
                carry = _merge_lines(carry, stmt.leading_lines)
                continue
            stmt = new
        if carry:
            stmt = stmt.with_changes(leading_lines=_merge_lines(carry, stmt.leading_lines))  # type: ignore[attr-defined]
            carry = []
        out.append(stmt)
    return out


def _strip_leading_blanks(body: list[cst.CSTNode], original: Sequence[cst.CSTNode]) -> None:
    """A module whose first statement changed should not start with blank lines it never had."""
    if not body or (original and body[0] is original[0]):
        return
    was = original[0].leading_lines if original else ()  # type: ignore[attr-defined]
    if was and was[0].comment is None:
        return
    lines = list(body[0].leading_lines)  # type: ignore[attr-defined]
    while lines and lines[0].comment is None:
        lines.pop(0)
    body[0] = body[0].with_changes(leading_lines=lines)


class _Rename(cst.CSTTransformer):
    """Rename the Name nodes given by identity (references resolved by scope, definitions)."""

    def __init__(self, targets: dict[int, str]) -> None:
        super().__init__()
        self.targets = targets

    def leave_Name(self, original: cst.Name, updated: cst.Name) -> cst.Name:
        new = self.targets.get(id(original))
        return updated.with_changes(value=new) if new else updated


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


def _rename_targets(moved: Sequence[cst.BaseStatement], name_map: dict[str, str]) -> dict[int, str]:
    """The Name nodes of the moved statements that define or refer to a global in ``name_map``.

    Only the moved code is analysed (a module of those statements alone): a name bound in the
    rest of the source is then unbound here, which the "not bound at all" rule below covers,
    and a long source costs no more than the code that moves.
    """
    if not name_map or not moved:
        return {}
    module = cst.Module(body=moved)
    scopes = MetadataWrapper(module, unsafe_skip_copy=True).resolve(ScopeProvider)
    scope = scopes[module]
    targets: dict[int, str] = {}
    for old, new in name_map.items():
        if not scope.assignments[old]:  # bound by ``import *`` or not at all: by spelling
            for inner in set(scopes.values()):
                for access in inner.accesses[old]:
                    if isinstance(access.node, cst.Name) and not access.referents:
                        targets[id(access.node)] = new
        for assignment in scope.assignments[old]:
            node = getattr(assignment, "node", None)
            if isinstance(node, (cst.ClassDef, cst.FunctionDef)):
                targets[id(node.name)] = new
            elif isinstance(node, cst.Name):
                targets[id(node)] = new
            for ref in assignment.references:
                # libcst also lists here a function's ``x = x or ...`` when ``x`` is a parameter;
                # the access's own referents tell
                if isinstance(ref.node, cst.Name) and all(r.scope is scope for r in ref.referents):
                    targets[id(ref.node)] = new
    return targets


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
            names = _stmt_names(stmt)
            if not names or _is_import(stmt):
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
        renamer = _Rename(_rename_targets(moved, name_map))
        relationships = _Relationships(_Strings(strings)) if strings else None
        base_spellings = _BaseAttributes(set(op.base_attributes), op.target_base) if op.base_attributes else None
        new_code = []
        registry = _RegistryNames(dict(op.registry_names), lazy=any(_is_future(s) for s in source.body)) \
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
        present = set().union(*(_import_keys(s) for s in target_body if _is_import(s)))  # type: ignore[arg-type]
        to_add = []
        at = _header_end(target_body)
        for text in op.imports:
            stmt = cst.parse_statement(text.strip() + "\n")
            keys = _import_keys(stmt)  # type: ignore[arg-type]
            if not keys or not keys <= present:
                if not _merge_into_header(target_body, at, stmt, present):
                    place_import(target_body, at, stmt, first_party(op.target))  # type: ignore[arg-type]
                    at += 1
                present |= keys
        if op.type_checking_imports:
            _add_type_checking_imports(target_body, at, op.type_checking_imports, present, first_party(op.target))
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
            for name in sorted(_stmt_names(stmt) - set(op.copied)):
                new = renames.get(name, name)
                exported.append(f"{new} as {name}" if new != name else name)
        exported.extend(n for n in op.relocated if any(n in _stmt_names(r) for r in removed))
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
        shim_names = {n for s in shims for n in _import_bound_names(s)}  # type: ignore[arg-type]
        # the shim goes where the base was, or after the leading imports when there was none or
        # when code above the base already uses a name the shim now provides
        if base_index is None or any(
            not _is_import(s) and _used_names([s]) & shim_names for s in kept[:base_index]
        ):
            base_index = _header_end(kept)
            lead = [cst.EmptyLine()] + [line for line in getattr(base_stmt, "leading_lines", ()) if line.comment]
        else:
            lead = list(base_stmt.leading_lines)  # type: ignore[union-attr]
        lead = _mark_stale_comments(lead, op.target)
        docstring = next((st for st in source.body[:1] if _is_docstring(st)), None)
        if docstring is not None and _SEPARATE_BASE.search(cst.Module([]).code_for_node(docstring)):
            lead.append(cst.EmptyLine(comment=cst.Comment(
                f"# TODO(unibase): the docstring speaks of a separate base; the models use {op.target}'s now")))
        shims[0] = shim.with_changes(leading_lines=lead + [note])
        kept[base_index:base_index] = shims
        # ``reg = registry()`` + ``Base = reg.generate_base()``: the registry is the canonical one now
        reg = _generating_registry(base_stmt)
        at = next((k for k, stmt in enumerate(kept) if reg and _assigns_registry(stmt, reg)), None)
        if at is not None:
            removed.append(kept.pop(at))
            kept.insert(kept.index(shims[-1]) + 1, cst.parse_statement(f"{reg} = {op.base_name}.registry\n"))
        # drop imports only the moved (or removed) code needed, and those the shim replaces
        still_used = _used_names([s for s in kept if not _is_import(s) and not _is_import_block(s)], strings=True)
        all_names = _all_names(source)
        drop_imports = {
            n for n in _used_names(moved + removed)
            if n not in still_used and n not in all_names and n not in op.imported_elsewhere
        } | shim_names
        pruned = _prune_imports(kept, drop_imports, protect=shims)
        if any(_is_import_block(s) for s in kept) and not any(_is_type_checking_block(s) for s in pruned) \
                and "TYPE_CHECKING" not in all_names | set(op.imported_elsewhere) | _used_names(
                    [s for s in pruned if not _is_import(s)]):
            pruned = _prune_imports(pruned, {"TYPE_CHECKING"}, protect=shims)  # its last block went
        _strip_leading_blanks(pruned, source.body)
        if not all_names and all(_is_import(s) or _is_docstring(s) for s in pruned):
            # a re-export module: name what it exports (this shim, earlier ones, and the
            # imports other files rely on), so linters do not call them unused
            names = [
                n
                for s in pruned
                if _is_import(s) and not _is_future(s)
                for n in _import_bound_list(s)  # type: ignore[arg-type]
                if n in shim_names or n in op.imported_elsewhere or _imports_from(s, here)
            ]
            all_stmt = cst.parse_statement("__all__ = [" + ", ".join(f'"{n}"' for n in dict.fromkeys(names)) + "]\n")
            pruned.append(all_stmt.with_changes(leading_lines=[cst.EmptyLine()]))
        elif not all_names:
            # a module that keeps code of its own: ``X as X`` marks what the shim re-exports
            # (PEP 484's explicit re-export), which an ``__all__`` could not do without changing
            # what ``from module import *`` gives
            used_here = _used_names([s for s in pruned if not _is_import(s)], strings=True)
            spellings = [here, *elsewhere]
            pruned = [_explicit_reexport(s, used_here) if any(_imports_from(s, sp) for sp in spellings) else s
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
        ann = updated_node.annotation
        if isinstance(ann, (cst.SimpleString, cst.ConcatenatedString)):
            return updated_node
        code = cst.Module([]).code_for_node(ann)
        if "\n" in code or ('"' in code and "'" in code):
            return updated_node  # cannot be one plain string literal: left as written
        quote = "'" if '"' in code else '"'
        return updated_node.with_changes(annotation=cst.SimpleString(f"{quote}{code}{quote}"))


def _is_import_block(stmt: cst.CSTNode) -> bool:
    """A top-level ``if TYPE_CHECKING:`` of imports only, without ``else``."""
    return (_is_type_checking_block(stmt) and stmt.orelse is None  # type: ignore[attr-defined]
            and isinstance(stmt.body, cst.IndentedBlock)  # type: ignore[attr-defined]
            and all(_is_import(s) for s in stmt.body.body))  # type: ignore[attr-defined]


def _is_type_checking_block(stmt: cst.CSTNode) -> bool:
    if not isinstance(stmt, cst.If):
        return False
    test = stmt.test
    return (isinstance(test, cst.Name) and test.value == "TYPE_CHECKING") or (
        isinstance(test, cst.Attribute) and test.attr.value == "TYPE_CHECKING")


def _add_type_checking_imports(body: list[cst.CSTNode], at: int, texts: Sequence[str],
                               present: set[tuple[int, str, str, str]], project: str | None) -> None:
    """Put ``texts`` under the module's first top-level ``if TYPE_CHECKING:`` (made after the
    header imports, with its own import, when there is none)."""
    stmts = [cst.parse_statement(t.strip() + "\n") for t in texts]
    stmts = [x for x in stmts if not _import_keys(x) <= present]  # type: ignore[arg-type]  # imported where it runs
    if not stmts:
        return
    for k, stmt in enumerate(body):
        if _is_type_checking_block(stmt) and isinstance(stmt.body, cst.IndentedBlock):
            known = set().union(*(_import_keys(x) for x in stmt.body.body if _is_import(x)))  # type: ignore[arg-type]
            new = [x for x in stmts if not _import_keys(x) <= known]  # type: ignore[arg-type]
            if new:
                body[k] = stmt.with_changes(body=stmt.body.with_changes(body=[*stmt.body.body, *new]))
            return
    bound = {key[3] for x in body if _is_import(x) for key in _import_keys(x)} | {key[3] for key in present}  # type: ignore[arg-type]
    block = cst.parse_statement("if TYPE_CHECKING:\n" + "".join(f"    {cst.Module([]).code_for_node(x)}" for x in stmts))
    block = block.with_changes(leading_lines=[cst.EmptyLine()])
    if "TYPE_CHECKING" not in bound:
        name = cst.parse_statement("from typing import TYPE_CHECKING\n")
        if not _merge_into_header(body, at, name, present):
            place_import(body, at, name, project)  # type: ignore[arg-type]
            at += 1
    body.insert(at, block)


def _merge_into_header(body: list[cst.CSTNode], end: int, stmt: cst.CSTNode,
                       present: set[tuple[int, str, str, str]]) -> bool:
    """Add the names of ``from m import a`` to a ``from m import ...`` line of the header
    (``body[:end]``), in that line's style; False when there is none to add them to."""
    if not (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1
            and isinstance(new := stmt.body[0], cst.ImportFrom) and not isinstance(new.names, cst.ImportStar)):
        return False
    key = (len(new.relative), cst.Module([]).code_for_node(new.module) if new.module is not None else "")
    for k in range(end):
        line = body[k]
        if not (isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1
                and isinstance(old := line.body[0], cst.ImportFrom) and not isinstance(old.names, cst.ImportStar)
                and line.trailing_whitespace.comment is None):  # ``# noqa`` and the like speak of that line
            continue
        if (len(old.relative), cst.Module([]).code_for_node(old.module) if old.module is not None else "") != key:
            continue
        extra = [a for a in new.names if (*key, *_import_key_names(a)) not in present]
        items = [*((a, i) for i, a in enumerate(old.names)), *((a, None) for a in extra)]
        order = ordered_names([_CODE(a.name) for a in old.names], [_CODE(a.name) for a in extra])
        items.sort(key=lambda item: order.index(_CODE(item[0].name)))
        body[k] = line.with_changes(body=[_with_aliases(old, items)])
        return True
    return False


def _import_key_names(alias: cst.ImportAlias) -> tuple[str, str]:
    return cst.Module([]).code_for_node(alias.name), _alias_bound(alias)


def _generating_registry(stmt: cst.CSTNode | None) -> str | None:
    """``reg`` when ``stmt`` is ``Base = reg.generate_base(...)``."""
    if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(a := stmt.body[0], cst.Assign):
        call = a.value
        if (isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute) and call.func.attr.value == "generate_base"
                and isinstance(call.func.value, cst.Name)):
            return call.func.value.value
    return None


def _assigns_registry(stmt: cst.CSTNode, name: str) -> bool:
    """``stmt`` is ``name = registry(...)`` (or ``orm.registry(...)``)."""
    if not (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(a := stmt.body[0], cst.Assign)):
        return False
    func = a.value.func if isinstance(a.value, cst.Call) else None
    called = func.value if isinstance(func, cst.Name) else func.attr.value if isinstance(func, cst.Attribute) else None
    return called == "registry" and [t.target for t in a.targets if isinstance(t.target, cst.Name) and t.target.value == name] != []


def _imports_from(stmt: cst.CSTNode, spelling: tuple[int, str]) -> bool:
    return isinstance(stmt, cst.SimpleStatementLine) and any(
        isinstance(s, cst.ImportFrom)
        and (len(s.relative), cst.Module([]).code_for_node(s.module) if s.module is not None else "") == spelling
        for s in stmt.body
    )


def _all_names(module: cst.Module) -> set[str]:
    for stmt in module.body:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if (
                    isinstance(small, cst.Assign)
                    and any(isinstance(t.target, cst.Name) and t.target.value == "__all__" for t in small.targets)
                    and isinstance(small.value, (cst.List, cst.Tuple))
                ):
                    return {
                        e.value.evaluated_value
                        for e in small.value.elements
                        if isinstance(e.value, cst.SimpleString) and isinstance(e.value.evaluated_value, str)
                    }
    return set()
