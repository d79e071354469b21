"""UB002's shortcut: how much of an importer ``RewriteImportsCommand.transform`` can change,
decided with the interpreter's parser before LibCST parses anything.

Most importers change only import statements near the top: LibCST then parses and renders that
head alone, and the rest of the file is kept byte for byte. What it does not do: change
anything itself; when unsure it says so (None) and the whole file is parsed.
"""

from __future__ import annotations

import ast
import functools
import re
import warnings
from collections import Counter
from typing import Any

from unibase.plan import ModuleSpelling


class Head:
    """Decides, with the interpreter's parser, how much of a file ``transform`` can change.

    ``end()`` is the byte offset after the last top-level statement (extended over the imports
    that follow it) that holds an import the rewrite changes: 0 when nothing changes, None when
    changes can reach further than import statements, or when unsure.
    """

    def __init__(self, command: Any, data: bytes) -> None:
        # ``command``: the RewriteImportsCommand asking (not imported: the two modules would import each other)
        self.c = command
        self.data = data
        self.checked_aliases: set[tuple[str, str]] = set()

    def end(self) -> int | None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # invalid escapes and the like are the file's own
                self.tree = ast.parse(self.data)
        except (SyntaxError, ValueError):
            return None
        body = self.tree.body
        if self._base_bindings(body) > 1:
            return None
        last = -1
        for i, stmt in enumerate(body):
            for node in ast.walk(stmt):
                for suite in (getattr(node, f, None) for f in ("body", "orelse", "finalbody")):
                    if isinstance(suite, list) and self._base_bindings(suite) > 1:
                        return None  # Base aliases to unify: their uses are renamed
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    changes = self._changes(node, top=node is stmt)
                    if changes is None:
                        return None
                    if changes:
                        last = i
        if last < 0:
            return 0
        while last + 1 < len(body) and isinstance(body[last + 1], (ast.Import, ast.ImportFrom)):
            last += 1  # a new import merges into a later one with only imports in between
        end_line = body[last].end_lineno or body[last].lineno
        if last + 1 < len(body):
            after = body[last + 1]
            if min([after.lineno, *(d.lineno for d in getattr(after, "decorator_list", ()))]) <= end_line:
                return None  # ``import x; y = 1``: the head would split a line
        return sum(len(line) for line in self.data.splitlines(keepends=True)[:end_line])

    def _base_bindings(self, suite: list) -> int:
        """How many names of ``suite``'s imports bind the canonical Base once the moves are done."""
        canonical, count = self.c.op.canonical_name, 0
        for stmt in suite:
            if not isinstance(stmt, ast.ImportFrom):
                continue
            key = (stmt.level, stmt.module or "")
            spelled = self.c.spellings.get(key)
            for alias in stmt.names:
                r = self.c.renames.get((spelled.file, alias.name)) if spelled else None
                if r is not None:
                    count += r.new_name == canonical
                elif key in self.c.canonical_keys:
                    count += alias.name == canonical
        return count

    def _changes(self, node: ast.Import | ast.ImportFrom, top: bool) -> bool | None:
        """Whether the rewrite changes this import statement; None when it changes more."""
        spellings, changed = self.c.spellings, False
        if isinstance(node, ast.Import):
            for alias in node.names:
                s = spellings.get((0, alias.name))
                if s is None or is_self(s) or s.new_level:
                    continue
                uses = self._attribute_uses(alias.asname, s.file, top) if alias.asname else None
                if uses is None:
                    return None
                changed = changed or uses
            return changed
        level, module = node.level, node.module or ""
        spelled = spellings.get((level, module))
        for alias in node.names:
            if alias.name == "*":
                continue
            sub = spellings.get((level, f"{module}.{alias.name}" if module else alias.name))
            if spelled and (r := self.c.renames.get((spelled.file, alias.name))):
                if is_self(spelled) or r.new_file in self.c.sources:
                    return None  # uses to rename: the whole file
                changed = True
            elif sub and not is_self(sub):
                uses = self._attribute_uses(alias.asname or alias.name, sub.file, top)
                if uses is None:
                    return None
                changed = changed or uses
        return changed

    def _attribute_uses(self, local: str, file: str, top: bool) -> bool | None:
        """True when ``local`` (a module bound once, at top level) is used only as ``local.X``
        with every ``X`` moved under its own name; False when it is not used; else None."""
        if not top or self._bindings[local] != 1 or any(re.search(rf"\b{local}\b", s) for s in self._strings):
            return None
        uses = self._loads.get(local, [])
        for name in uses:
            attr = self._attrs.get(id(name))
            r = self.c.renames.get((file, attr)) if attr else None
            if r is None or r.new_name != attr:
                return None
        if uses:
            self.checked_aliases.add((local, file))
        return bool(uses)

    @functools.cached_property
    def _facts(self) -> tuple[Counter, dict[str, list[ast.Name]], dict[int, str], list[str]]:
        bindings: Counter = Counter()
        loads: dict[str, list[ast.Name]] = {}
        attrs: dict[int, str] = {}
        strings: list[str] = []
        docstrings = {
            id(n.value) for n in ast.walk(self.tree) if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)
        }
        for n in ast.walk(self.tree):
            if isinstance(n, ast.Name):
                if isinstance(n.ctx, ast.Load):
                    loads.setdefault(n.id, []).append(n)
                else:
                    bindings[n.id] += 1
            elif isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name):
                attrs[id(n.value)] = n.attr
            elif isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings:
                strings.append(n.value)
            elif isinstance(n, ast.alias):
                bindings[n.asname or n.name.partition(".")[0]] += 1
            elif isinstance(n, ast.arg):
                bindings[n.arg] += 1
            elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                bindings[n.name] += 1
            elif isinstance(n, (ast.Global, ast.Nonlocal)):
                bindings.update(n.names)
            elif isinstance(n, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and n.name:
                bindings[n.name] += 1
            elif isinstance(n, ast.MatchMapping) and n.rest:
                bindings[n.rest] += 1
        return bindings, loads, attrs, strings

    @property
    def _bindings(self) -> Counter:
        return self._facts[0]

    @property
    def _loads(self) -> dict[str, list[ast.Name]]:
        return self._facts[1]

    @property
    def _attrs(self) -> dict[int, str]:
        return self._facts[2]

    @property
    def _strings(self) -> list[str]:
        return self._facts[3]


def is_self(s: ModuleSpelling) -> bool:
    return s.new_level == 0 and s.new_module == ""
