"""UB002: point the imports of moved names at the canonical module; unify aliases of the one Base.

What it does, in one file, given a ``RewriteImports`` operation:

* ``from <spelling> import A, B as C, helper`` becomes ``from <new> import A, B as C`` plus
  ``from <spelling> import helper``: only names listed in ``op.renames`` move. A renamed class
  keeps its local binding (``from .models import AnalyticsEvent as Event``). A new statement is
  merged into an identical ``from <new> import`` statement of the same suite when one exists
  (earlier in the suite, or later with only imports in between) and the new line has no comment;
  split off a line of the module's leading imports and merged into none, it goes to its sorted
  place in that block (as UB001's added imports do), the kept names staying where they were.
  When the new module is this very file, the moved names are dropped from the import, and a
  local alias is renamed to the name the class now has.
* A renamed name whose class lives outside the target (``op.sources``: a dropped duplicate
  kept in another module, imported under ``if TYPE_CHECKING:``) is imported from that module,
  and where it was imported under its own name its uses take the kept class's name (the one
  the class registry resolves ``Mapped[X]`` by); from this very file it is dropped the same way.
* ``import a.b.hce as h``, ``import a.b.hce`` and ``from pkg import hce`` are repointed at the
  new module when every use is ``h.X`` with ``X`` moved; ``h.X`` is renamed with the class.
* When, after that, one suite binds the canonical Base under several local names (all of them
  ``from <new> import <canonical_name> as ...``), one binding is kept, named ``canonical_name``
  when that name is bound or used nowhere else in the file, else the first alias; the other
  aliases are dropped and their uses, found by LibCST scope analysis, renamed.

What it does not do (the statement is left as it is; the shim keeps it working):

* star imports; names or modules it cannot match to a spelling of ``op.spellings`` (another
  spelling of the canonical module is not recognised when unifying Base aliases);
* a module import with no use, with a use that is not ``h.X`` of a moved name, one named in
  ``__all__``, one bound twice in its scope, or a submodule import whose new module is this file;
* a rename that would be shadowed by a local name, that would change ``__all__``, or that
  reaches a use inside a string annotation; Base aliases bound in different suites
  (e.g. one under ``if TYPE_CHECKING:``). ``op.base_names`` is not read: the Base is recognised as
  ``canonical_name`` imported from a new module, which is what a moved base's import becomes.
* It never reads or writes a file; removing a module-level alias also removes it as an export.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import libcst as cst
from libcst.helpers import get_full_name_for_node
from libcst.metadata import MetadataWrapper, Scope, ScopeProvider

from unibase.codemods._import_head import Head, is_self
from unibase.codemods._imports import drop_emptied_type_checking, first_party, place_import, with_aliases
from unibase.codemods._nodes import nodes as _nodes, walk as _walk
from unibase.codemods._statements import header_end
from unibase.plan import ModuleSpelling, Rename, RewriteImports

DESCRIPTION = "Point imports of moved models at the canonical module and unify aliases of the one Base."

_Key = tuple[int, str]  # (level, dotted module) of a ``from`` import
_NO_PARENT = (-1, "")  # the new module is a top-level module: ``import models as hce``


@dataclass
class _Edits:
    """Decisions keyed by nodes of the analysed tree; ``_Apply`` carries them out."""

    froms: dict[cst.ImportFrom, list[tuple[cst.BaseSmallStatement, bool]]] = field(default_factory=dict)
    imports: dict[cst.Import, cst.Import] = field(default_factory=dict)
    names: dict[cst.Name, str] = field(default_factory=dict)
    attrs: dict[cst.Attribute, tuple[cst.BaseExpression | None, str]] = field(default_factory=dict)


class RewriteImportsCommand:
    def __init__(self, op: RewriteImports) -> None:
        self.op = op
        self.spellings: dict[_Key, ModuleSpelling] = {(s.level, s.module): s for s in op.spellings}
        self.renames: dict[tuple[str, str], Rename] = {(r.file, r.name): r for r in op.renames}
        self.sources: dict[str, ModuleSpelling] = {s.file: s for s in op.sources}
        self.canonical_keys = {(s.new_level, s.new_module) for s in op.spellings if not is_self(s)}
        # (local name, file) of module aliases already known to be used only as ``h.X`` with
        # ``X`` moved under its own name (``transform_bytes`` checked the whole file)
        self._checked_aliases: set[tuple[str, str]] = set()
        self._tail_type_checking = False  # the part of the file ``transform_bytes`` keeps as it is uses TYPE_CHECKING

    def transform_bytes(self, data: bytes) -> bytes | None:
        """What ``transform`` makes of the file ``data`` when only import statements change
        (the common importer): LibCST parses and renders the top of the file down to the last
        of them, the rest is kept byte for byte. None when the file needs the whole tree (uses
        to rename, Base aliases to unify, this very module, syntax the interpreter rejects)."""
        facts = Head(self, data)
        end = facts.end()
        if end is None:
            return None
        if end == 0:
            return data
        head = cst.parse_module(data[:end])
        self._checked_aliases = facts.checked_aliases  # their uses are past the head
        self._tail_type_checking = b"TYPE_CHECKING" in data[end:]
        try:
            out = self.transform(head)
        finally:
            self._checked_aliases = set()
            self._tail_type_checking = False
        return data if out is head else out.bytes + data[end:]

    def transform(self, module: cst.Module) -> cst.Module:
        first = _Analysis(module)
        out = _run(first, self._plan_moves, first_party(self.op.file))
        # unifying aliases of the one Base needs a second analysis: only where a Base name is
        # spelled at all, before or after the moves (most importers import models only)
        bases = {self.op.canonical_name, *self.op.base_names}
        if any(first.names.get(name) for name in bases) or any(r.new_name in bases for r in self.op.renames):
            out = _run(first if out is module else _Analysis(out), self._plan_base_aliases)
        # a name now defined here leaves its ``if TYPE_CHECKING:`` block empty: the block goes
        return out if out is module else drop_emptied_type_checking(module, out, used_elsewhere=self._tail_type_checking)

    # -- rules 1 and 3: moved names and module imports -----------------------------------------

    def _plan_moves(self, a: _Analysis) -> _Edits:
        edits = _Edits()
        for imp in a.imports:
            names = [self._module_alias(a, imp, alias, edits) for alias in imp.names]
            if any(n is not o for n, o in zip(names, imp.names)):
                edits.imports[imp] = imp.with_changes(names=names)
        for imp in a.froms:
            if not isinstance(imp.names, cst.ImportStar):
                self._plan_from(a, imp, edits)
        return edits

    def _module_alias(self, a: _Analysis, imp: cst.Import, alias: cst.ImportAlias, edits: _Edits) -> cst.ImportAlias:
        dotted = get_full_name_for_node(alias.name) or ""
        s = self.spellings.get((0, dotted))
        if s is None or is_self(s) or s.new_level:
            return alias
        local = _as(alias) or dotted
        uses = self._attribute_uses(a, imp, local, s.file)
        if uses is None:
            return alias
        value = None if _as(alias) else cst.parse_expression(s.new_module)
        edits.attrs.update({node: (value, new) for node, new in uses.items()})
        return alias.with_changes(name=cst.parse_expression(s.new_module))

    def _plan_from(self, a: _Analysis, imp: cst.ImportFrom, edits: _Edits) -> None:
        key = _key(imp)
        spelled = self.spellings.get(key)
        groups: dict[_Key, list[tuple[cst.ImportAlias, int]]] = {}
        kept: list[tuple[cst.ImportAlias, int]] = []
        for i, alias in enumerate(imp.names):  # type: ignore[arg-type]
            name = alias.name.value  # a ``from`` import names plain identifiers
            local = _as(alias) or name
            sub = self.spellings.get((key[0], f"{key[1]}.{name}" if key[1] else name))
            r = self.renames.get((spelled.file, name)) if spelled else None
            to = self.sources.get(r.new_file, spelled) if r else spelled  # the kept class's module
            if spelled and r and is_self(to):  # the name is defined in this file now: drop it
                if local == r.new_name:
                    continue
                refs = a.refs(imp, local, {imp})
                if refs is not None and a.can_rename(imp, refs, local, r.new_name, True):
                    edits.names.update({acc.node: r.new_name for acc in refs})
                    continue
            elif spelled and r:
                if to is not spelled and local == name != r.new_name:
                    # the kept class of a dropped duplicate, seen by type checkers only: its
                    # uses take the kept class's name, the one the class registry knows
                    refs = a.refs(imp, local, {imp})
                    if refs is not None and a.can_rename(imp, refs, local, r.new_name, True):
                        edits.names.update({acc.node: r.new_name for acc in refs})
                        local = r.new_name
                groups.setdefault((to.new_level, to.new_module), []).append((_alias(alias, r.new_name, local), i))
                continue
            elif sub and not is_self(sub):
                uses = self._attribute_uses(a, imp, local, sub.file)
                if uses is not None:
                    edits.attrs.update({node: (None, new) for node, new in uses.items()})
                    parent, last = _parent(sub)
                    (kept if parent == key else groups.setdefault(parent, [])).append((_alias(alias, last, local), i))
                    continue
            kept.append((alias, i))
        if not groups and all(alias is imp.names[i] for alias, i in kept) and len(kept) == len(imp.names):
            return
        out: list[tuple[cst.BaseSmallStatement, bool]] = []
        for target, items in groups.items():
            if target == _NO_PARENT:  # only a submodule alias can have no parent package
                out += [(cst.Import(names=[alias.with_changes(comma=cst.MaybeSentinel.DEFAULT)]), False) for alias, _ in items]
            else:
                new = with_aliases(imp, items).with_changes(relative=[cst.Dot()] * target[0], module=_expr(target[1]))
                out.append((new, True))
        if kept:
            out.append((with_aliases(imp, kept), False))
        edits.froms[imp] = out

    def _attribute_uses(self, a: _Analysis, stmt: cst.CSTNode, local: str, file: str) -> dict[cst.Attribute, str] | None:
        """``{h.X: new name of X}`` when every use of ``local`` is ``h.X`` with ``X`` moved, else None."""
        if (local, file) in self._checked_aliases:
            return {}  # the uses keep their spelling
        if (quick := a.module_level_uses(stmt, local)) is not None:
            nodes = quick
        else:
            refs = a.refs(stmt, local, {stmt})
            if not refs or (a.scopes[stmt] is a.global_scope and local in a.exported):
                return None
            nodes = [acc.node for acc in refs]
        out = {}
        for node in nodes:
            parent = a.parents.get(node)
            if not isinstance(parent, cst.Attribute) or parent.value is not node:
                return None
            r = self.renames.get((file, parent.attr.value))
            if r is None:
                return None
            out[parent] = r.new_name
        return out

    # -- rule 2: one binding of the canonical Base per suite ------------------------------------

    def _plan_base_aliases(self, a: _Analysis) -> _Edits:
        edits = _Edits()
        canonical = self.op.canonical_name
        for body in a.suites:
            cands = [
                (stmt, i, _as(alias) or canonical)
                for line in body if isinstance(line, cst.SimpleStatementLine)
                for stmt in line.body
                if isinstance(stmt, cst.ImportFrom) and not isinstance(stmt.names, cst.ImportStar)
                and _key(stmt) in self.canonical_keys
                for i, alias in enumerate(stmt.names)
                if isinstance(alias.name, cst.Name) and alias.name.value == canonical
            ]
            if len(cands) < 2:
                continue
            stmts = {stmt for stmt, _, _ in cands}
            first = cands[0][2]
            kept = canonical if any(loc == canonical for _, _, loc in cands) else first
            if kept != canonical and a.free(canonical):
                refs = a.refs(cands[0][0], first, stmts)
                if refs is not None and a.can_rename(cands[0][0], refs, first, canonical, False):
                    kept = canonical  # a new name: ``free`` saw it bound and used nowhere
            binders = a.scopes[cands[0][0]].assignments[kept]
            if any(h.node not in stmts for h in binders):
                continue  # the kept name is bound by something else too: leave the suite
            renamed = {kept} | {loc for _, _, loc in cands if self._rename(a, cands[0][0], stmts, loc, kept, edits)}
            drop: dict[cst.ImportFrom, set[int]] = {}
            keeper = None
            for stmt, i, loc in cands:
                if loc not in renamed:
                    continue
                if keeper is None:
                    keeper = (stmt, i)
                else:
                    drop.setdefault(stmt, set()).add(i)
            assert keeper is not None
            stmt0, i0 = keeper
            for stmt in stmts:
                items = [(alias, i) for i, alias in enumerate(stmt.names) if i not in drop.get(stmt, ())]  # type: ignore[arg-type]
                if stmt is stmt0 and kept == canonical:
                    items = [(x.with_changes(asname=None) if i == i0 else x, i) for x, i in items]
                if stmt in drop or stmt is stmt0 and kept == canonical and _as(stmt.names[i0]):  # type: ignore[index]
                    edits.froms[stmt] = [(with_aliases(stmt, items), False)] if items else []
        return edits

    def _rename(self, a: _Analysis, stmt: cst.ImportFrom, stmts: set, old: str, new: str, edits: _Edits) -> bool:
        if old == new:
            return True
        refs = a.refs(stmt, old, stmts)
        if refs is None or not a.can_rename(stmt, refs, old, new, False):
            return False
        edits.names.update({acc.node: new for acc in refs})  # type: ignore[misc]
        return True


# --- analysis -----------------------------------------------------------------------------------


class _Analysis:
    """Imports, suites, parents, names and ``__all__`` of one tree, from one walk; its scopes on demand.

    The tree must be freshly parsed or otherwise hold no node twice (it is not copied).
    """

    def __init__(self, module: cst.Module) -> None:
        self.module = module
        self.wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
        self.parents: dict[cst.CSTNode, cst.CSTNode] = {}
        self.imports: list[cst.Import] = []
        self.froms: list[cst.ImportFrom] = []
        self.suites: list[Sequence[cst.BaseStatement]] = [module.body]
        self.names: dict[str, list[cst.Name]] = {}
        self.strings: list[str] = []
        self._all_targets: list[cst.CSTNode] = []
        for node, parent in _walk(module):
            self.parents[node] = parent
            kind = type(node)
            if kind is cst.Name:
                self.names.setdefault(node.value, []).append(node)
            elif kind is cst.SimpleString and type(parent) is not cst.Expr:  # a docstring is never an annotation
                self.strings.append(node.value)
            elif kind is cst.IndentedBlock:
                self.suites.append(node.body)
            elif kind is cst.Import:
                self.imports.append(node)
            elif kind is cst.ImportFrom:
                self.froms.append(node)
            elif kind in (cst.AssignTarget, cst.AnnAssign, cst.AugAssign):
                if isinstance(t := node.target, cst.Name) and t.value == "__all__":
                    self._all_targets.append(node)

    # scope analysis costs a full resolution: only files whose rewrite needs to reason about
    # shadowing (renames, module aliases used unusually, Base aliases) pay for it
    @functools.cached_property
    def scopes(self):
        return self.wrapper.resolve(ScopeProvider)

    @functools.cached_property
    def global_scope(self):
        return self.scopes[self.module]

    @functools.cached_property
    def exported(self) -> set:
        return {
            n.evaluated_value
            for target in self._all_targets
            for n, _ in _walk(self.parents[target])
            if isinstance(n, cst.SimpleString)
        }

    def module_level_uses(self, stmt: cst.CSTNode, local: str) -> list[cst.Name] | None:
        """The uses of ``local``, a plain name bound by ``stmt`` at module level, when nothing
        needs scope analysis: every other spelling of it in the file is ``local.X``, no string
        mentions it, and ``__all__`` does not export it. None means: ask the scopes."""
        if not local.isidentifier() or self.parents.get(self.parents.get(stmt)) is not self.module:
            return None
        own = set(_nodes(stmt))
        uses = [n for n in self.names.get(local, ()) if n not in own]
        if not uses or local in self.exported or any(re.search(rf"\b{local}\b", s) for s in self.strings):
            return None
        for n in uses:
            parent = self.parents.get(n)
            if not isinstance(parent, cst.Attribute) or parent.value is not n:
                return None
        return uses

    def refs(self, stmt: cst.CSTNode, local: str, owners: set) -> list | None:
        """Uses of ``local`` bound by ``stmt``; None when something outside ``owners`` binds it too."""
        assigns = self.scopes[stmt].assignments[local]  # type: ignore[index]
        if not assigns or any(x.node not in owners for x in assigns):
            return None
        return [acc for x in assigns for acc in x.references]

    def can_rename(self, stmt: cst.CSTNode, refs: Iterable, old: str, new: str, own_scope: bool) -> bool:
        """Every use is a Name that still means the same binding when spelled ``new``."""
        home = self.scopes[stmt]
        if home is self.global_scope and old in self.exported:
            return False
        for acc in refs:
            if not isinstance(acc.node, cst.Name):
                return False  # a string annotation: leave it
            s: Scope | None = acc.scope
            while s is not None and s is not home:
                if new in s.assignments:
                    return False
                s = None if s.parent is s else s.parent
            if s is None:
                return False
        return not (own_scope and home is not self.global_scope and new in home.assignments)

    def free(self, name: str) -> bool:
        scopes = {s for s in self.scopes.values() if s is not None}
        return name not in self.exported and not any(name in s.assignments or s.accesses[name] for s in scopes)


# --- applying edits -----------------------------------------------------------------------------


class _Apply(cst.CSTTransformer):
    def __init__(self, edits: _Edits, touched: set[cst.CSTNode], project: str | None = None) -> None:
        self.e = edits
        self.touched = touched
        self.project = project  # the file's top-level package (the sections of its import block)

    def on_visit(self, node: cst.CSTNode) -> bool:
        return node in self.touched and super().on_visit(node)

    def leave_Name(self, original: cst.Name, updated: cst.Name) -> cst.Name:
        return updated.with_changes(value=self.e.names[original]) if original in self.e.names else updated

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute) -> cst.BaseExpression:
        if original not in self.e.attrs:
            return updated
        value, attr = self.e.attrs[original]
        value = updated.value if value is None else value
        return updated.with_changes(value=value, attr=updated.attr.with_changes(value=attr))

    def leave_Import(self, original: cst.Import, updated: cst.Import) -> cst.Import:
        return self.e.imports.get(original, updated)

    def leave_Module(self, original: cst.Module, updated: cst.Module) -> cst.Module:
        body, orphans = self._suite(original.body, updated.body, header_end(original.body))
        return updated.with_changes(body=body, footer=[*orphans, *updated.footer])

    def leave_IndentedBlock(self, original: cst.IndentedBlock, updated: cst.IndentedBlock) -> cst.IndentedBlock:
        body, orphans = self._suite(original.body, updated.body)
        if not body:
            body = [cst.SimpleStatementLine([cst.Pass()], leading_lines=orphans)]
            orphans = []
        return updated.with_changes(body=body, footer=[*orphans, *updated.footer])

    def leave_SimpleStatementSuite(
        self, original: cst.SimpleStatementSuite, updated: cst.SimpleStatementSuite
    ) -> cst.SimpleStatementSuite:
        body = [s for o, u in zip(original.body, updated.body) for s, _ in self.e.froms.get(o, [(u, False)])]
        return updated.with_changes(body=body or [cst.Pass()])

    def _suite(self, originals: Sequence, updated: Sequence, header: int = 0) -> tuple[list, list[cst.EmptyLine]]:
        """The suite's statements, and the comment lines a removed last statement leaves. A line
        split off an import of the module's leading block (``header``: where that block ends)
        that joins no line goes to its sorted place in the block (``place_import``)."""
        out: list[tuple[cst.BaseStatement, bool] | None] = []
        orphans: list[cst.EmptyLine] = []  # comment lines of a removed statement
        placed: set[int] = set()  # ids of split-off lines to place in the block
        for index, (o, u) in enumerate(zip(originals, updated)):
            if orphans:
                u = u.with_changes(leading_lines=[*orphans, *u.leading_lines])
                orphans = []
            if not (isinstance(o, cst.SimpleStatementLine) and any(s in self.e.froms for s in o.body)):
                out.append((u, False))
                continue
            parts = [p for so, su in zip(o.body, u.body) for p in self.e.froms.get(so, [(su, False)])]
            if not parts:
                orphans = list(u.leading_lines) if any(x.comment for x in u.leading_lines) else []
            elif len(o.body) > 1:
                out.append((u.with_changes(body=[s for s, _ in parts]), False))
            else:
                split = index < header and len(parts) > 1 and not any(x.comment for x in u.leading_lines)
                leading = list(u.leading_lines)
                for k, (stmt, mergeable) in enumerate(parts):
                    moving = split and mergeable and k < len(parts) - 1  # the kept names stay in place
                    line = cst.SimpleStatementLine([stmt], leading_lines=[] if moving else leading)
                    leading = leading if moving else []
                    if k == len(parts) - 1:
                        line = line.with_changes(trailing_whitespace=u.trailing_whitespace)
                    quiet = not line.trailing_whitespace.comment and not any(x.comment for x in line.leading_lines)
                    if moving:
                        placed.add(id(line))
                    out.append((line, mergeable and quiet))
        for i, entry in enumerate(out):
            if entry and entry[1] and (j := _merge_target(out, i)) is not None:
                target = out[j][0]  # type: ignore[index]
                merged = _merge(target.body[0], entry[0].body[0])  # type: ignore[attr-defined]
                out[j] = (target.with_changes(body=[merged]), out[j][1])  # type: ignore[index]
                out[i] = None
                after = next((k for k in range(i + 1, len(out)) if out[k]), None)
                if after is not None and entry[0].leading_lines and not out[after][0].leading_lines:  # type: ignore[index]
                    out[after] = (out[after][0].with_changes(leading_lines=entry[0].leading_lines), out[after][1])  # type: ignore[index]
        body = [e[0] for e in out if e and id(e[0]) not in placed]
        for line in (e[0] for e in out if e and id(e[0]) in placed):
            place_import(body, header_end(body), line, self.project)  # type: ignore[arg-type]
        return body, orphans


def _merge_target(out: list, i: int) -> int | None:
    """An identical ``from X import`` line of the suite: earlier, else later past only imports."""
    key = _key(out[i][0].body[0])
    same = [j for j, e in enumerate(out) if e and j != i and _import_from_line(e[0]) and _key(e[0].body[0]) == key]
    if earlier := [j for j in same if j < i]:
        return earlier[0]
    for j in range(i + 1, len(out)):
        if out[j] and not _import_line(out[j][0]):
            return None
        if j in same:
            return j
    return None


def _import_line(line: cst.CSTNode) -> bool:
    return isinstance(line, cst.SimpleStatementLine) and all(isinstance(s, (cst.Import, cst.ImportFrom)) for s in line.body)


def _import_from_line(line: cst.CSTNode) -> bool:
    return (
        isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1 and isinstance(line.body[0], cst.ImportFrom)
        and not isinstance(line.body[0].names, cst.ImportStar)
    )


def _merge(existing: cst.ImportFrom, new: cst.ImportFrom) -> cst.ImportFrom:
    seen = {_binding(a) for a in existing.names}  # type: ignore[union-attr]
    extra = []
    for a in new.names:  # type: ignore[union-attr]
        if _binding(a) not in seen:
            seen.add(_binding(a))
            extra.append((a, None))
    if not extra:
        return existing
    return with_aliases(existing, [*((a, i) for i, a in enumerate(existing.names)), *extra])  # type: ignore[arg-type]


# --- small helpers ------------------------------------------------------------------------------


def _run(a: _Analysis, plan: Callable[[_Analysis], _Edits], project: str | None = None) -> cst.Module:
    edits = plan(a)
    if not (edits.froms or edits.imports or edits.names or edits.attrs):
        return a.module
    # rebuild only the edited nodes and their ancestors; every other subtree is kept as it is
    touched: set[cst.CSTNode] = set()
    for node in (*edits.froms, *edits.imports, *edits.names, *edits.attrs):
        while node is not None and node not in touched:
            touched.add(node)
            node = a.parents.get(node)
    return a.module.visit(_Apply(edits, touched, project))


def _key(stmt: cst.ImportFrom) -> _Key:
    return len(stmt.relative), get_full_name_for_node(stmt.module) if stmt.module else ""  # type: ignore[return-value]


def _parent(s: ModuleSpelling) -> tuple[_Key, str]:
    """The package to import the new module from, and its last component."""
    package, _, last = s.new_module.rpartition(".")
    if not package and not s.new_level:
        return _NO_PARENT, last
    return (s.new_level, package), last


def _expr(dotted: str) -> cst.Name | cst.Attribute | None:
    return cst.parse_expression(dotted) if dotted else None  # type: ignore[return-value]


def _binding(alias: cst.ImportAlias) -> tuple[str, str]:
    name = get_full_name_for_node(alias.name) or ""
    return name, _as(alias) or name


def _alias(alias: cst.ImportAlias, name: str, local: str) -> cst.ImportAlias:
    """``alias`` importing ``name`` and still binding ``local``; ``X as X`` (a re-export) stays so."""
    reexport = _as(alias) == alias.name.value  # type: ignore[union-attr]
    if local == name and not reexport:
        asname = None
    else:
        asname = alias.asname if isinstance(alias.asname, cst.AsName) else cst.AsName(name=cst.Name(local))
    return alias.with_changes(name=alias.name.with_changes(value=name), asname=asname)


def _as(alias: cst.ImportAlias) -> str | None:
    return alias.asname.name.value if isinstance(alias.asname, cst.AsName) else None  # type: ignore[attr-defined]
