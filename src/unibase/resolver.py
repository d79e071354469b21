"""What a name means where it is used: which project file defines it, or which outside module."""

from __future__ import annotations

import ast

from .facts import FileFacts, ImportBinding, call_name
from .index import External, ModuleRef, Resolved, Symbol
from .project import ModuleMap

# --- resolution -------------------------------------------------------------------------------


class Resolver:
    def __init__(self, modules: ModuleMap, facts: dict[str, FileFacts]) -> None:
        self.modules = modules
        self.facts = facts
        # names bound by an import of a module outside the project, and made in ``except
        # ImportError``: the project runs with what it makes (see ``_ambiguous_bases``)
        self.fallbacks: dict[tuple[str, str], Symbol] = {}

    def module_file(self, from_file: str, level: int, module: str | None) -> str | None:
        if level:
            return self.modules.resolve_relative(from_file, level, module)
        return self.modules.resolve(module or "", from_file)

    def imported_submodule(self, from_file: str, level: int, module: str | None, name: str) -> str | None:
        """The file of ``from <module> import <name>`` when ``name`` is a submodule of the
        package ``module`` (which may be a namespace package, without an ``__init__.py``)."""
        mod = self.module_file(from_file, level, module)
        if mod is not None:
            return self.modules.submodule(mod, name)
        if level:
            parts = self.modules.package_of_relative(from_file, level, module)
            return self.modules.file_for_parts(parts + [name])
        return self.modules.resolve(f"{module}.{name}", from_file) if module else None

    def binding_target(self, file: str, binding: ImportBinding, depth: int) -> Resolved:
        if binding.attr is None:
            # ``import a.b as c``
            target = self.module_file(file, binding.level, binding.module)
            return ModuleRef(target) if target else External(binding.module or "")
        mod_file = self.module_file(file, binding.level, binding.module)
        if mod_file is None:
            # ``from pkg import x`` where ``pkg`` has no __init__.py (a namespace package)
            sub = self.imported_submodule(file, binding.level, binding.module, binding.attr)
            if sub or binding.level:
                return ModuleRef(sub) if sub else None
            return External(f"{binding.module}.{binding.attr}")
        sub = self.modules.submodule(mod_file, binding.attr)
        if sub and binding.attr not in self._top_names(mod_file):
            return ModuleRef(sub)
        return self.name(mod_file, binding.attr, depth + 1)

    def _top_names(self, file: str) -> dict:
        f = self.facts.get(file)
        return f.bindings if f else {}

    def name(self, file: str, name: str, depth: int = 0, function: str | None = None) -> Resolved:
        """What ``name`` means at the top of ``file`` (or inside ``function`` there)."""
        if depth > 12:
            return None
        f = self.facts.get(file)
        if f is None:
            # a project file discovery did not parse: the name is at least defined there
            return Symbol(file, name)
        binding = None
        if function is not None:
            scope = function
            while scope and binding is None:
                binding = f.function_bindings.get(scope, {}).get(name)
                scope = scope.rpartition(".")[0]
        if binding is None:
            binding = f.bindings.get(name)
        if binding is None:
            # a file of which only the import lines were read: the name may be defined there
            return Symbol(file, name) if f.partial else None
        if isinstance(binding, ImportBinding):
            if (file, name) in self.fallbacks:
                return self.fallbacks[file, name]
            return self.binding_target(file, binding, depth)
        if binding.kind == "assign" and isinstance(binding.value, (ast.Name, ast.Attribute)):
            # an alias: ``Base = other.Base``
            target = self.expr(file, binding.value, depth + 1)
            if isinstance(target, (Symbol, External)):
                return target
        return Symbol(file, name)

    def expr(self, file: str, node: ast.expr, depth: int = 0, function: str | None = None) -> Resolved:
        if isinstance(node, ast.Name):
            return self.name(file, node.id, depth, function)
        if isinstance(node, ast.Attribute):
            owner = self.expr(file, node.value, depth, function)
            if isinstance(owner, ModuleRef):
                sub = self.modules.submodule(owner.file, node.attr)
                if sub and node.attr not in self._top_names(owner.file):
                    return ModuleRef(sub)
                return self.name(owner.file, node.attr, depth + 1)
            if isinstance(owner, External):
                # ``import pkg.mod`` then ``pkg.mod.X``, where ``pkg`` is a namespace package
                sub = self.modules.resolve(f"{owner.qualname}.{node.attr}", file)
                return ModuleRef(sub) if sub else External(f"{owner.qualname}.{node.attr}")
            if isinstance(owner, Symbol):
                return Symbol(owner.file, f"{owner.name}.{node.attr}")
        return None


def _is_sqla(resolved: Resolved, *names: str) -> bool:
    if isinstance(resolved, External):
        q = resolved.qualname
        return any(q.endswith("." + n) or q == n for n in names) and (
            q.startswith("sqlalchemy") or q.startswith("flask_sqlalchemy") or "." not in q
        )
    return False


def _named(node: ast.expr, resolved: Resolved, *names: str) -> bool:
    """A SQLAlchemy name, or the bare name when its import cannot be seen (star imports)."""
    return _is_sqla(resolved, *names) or (resolved is None and call_name(node) in names)
