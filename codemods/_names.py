"""Renaming the globals of moved code by scope: a definition and the references to it, never an
attribute, a keyword or a local name of the same spelling. Pure tree to tree.
"""

from __future__ import annotations

from collections.abc import Sequence

import libcst as cst


from libcst.metadata import MetadataWrapper, ScopeProvider

class RenameNodes(cst.CSTTransformer):
    """Rename the Name nodes given by identity (references resolved by scope, definitions)."""

    def __init__(self, targets: dict[int, str]) -> None:
        super().__init__()
        self.targets = targets

    def leave_Name(self, original: cst.Name, updated: cst.Name) -> cst.Name:
        new = self.targets.get(id(original))
        return updated.with_changes(value=new) if new else updated


def rename_targets(moved: Sequence[cst.BaseStatement], name_map: dict[str, str]) -> dict[int, str]:
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
