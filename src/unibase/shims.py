"""Which modules become shims.

A base module that holds nothing but its base (a docstring, imports, the definition, an
``__all__``) has nothing left to map once the base is merged: whatever the strategy, its
importers can import the canonical base directly and the module becomes a re-export shim.
A module where anything else lives (models, helpers, a registry, code) is left to its strategy.

What it does not do: read anything but the module's top-level statements.
"""

from __future__ import annotations

import ast


def _binds(stmt: ast.stmt) -> set[str]:
    if isinstance(stmt, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
        return {stmt.name}
    if isinstance(stmt, ast.Assign):
        return {n.id for t in stmt.targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
        return {stmt.target.id}
    return {"<statement>"}  # an expression, a loop, an ``if``: code of its own


def only_the_base(tree: ast.Module | None, name: str) -> bool:
    """The module defines ``name`` and nothing else but a docstring, imports and ``__all__``."""
    if tree is None:
        return False
    defined = False
    for i, stmt in enumerate(tree.body):
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            continue
        if i == 0 and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue  # the docstring
        names = _binds(stmt)
        if names == {"__all__"}:
            continue
        if names != {name}:
            return False
        defined = True
    return defined
