"""The reader that walks one parsed file into its :class:`~unibase.facts.FileFacts`."""

from __future__ import annotations

import ast

from .class_facts import _class_fact, _table_fact
from .facts import (
    AssignFact,
    Binding,
    FileFacts,
    ImportBinding,
    LocalBinding,
    MetadataLoop,
    MetadataUse,
    TargetMetadataFact,
    _kw,
    import_bindings,
    import_module_call,
    import_stmt,
    unparse,
)

def _is_type_checking(test: ast.expr) -> bool:
    return unparse(test).endswith("TYPE_CHECKING")


def _type_checking_branches(node: ast.If) -> tuple[list[ast.stmt], list[ast.stmt]] | None:
    """(type-checking only, run time) statements of ``if TYPE_CHECKING:`` / ``if not TYPE_CHECKING:``."""
    if isinstance(node.test, ast.UnaryOp) and isinstance(node.test.op, ast.Not) and _is_type_checking(node.test.operand):
        return node.orelse, node.body
    if _is_type_checking(node.test):
        return node.body, node.orelse
    return None


# --- the reader -----------------------------------------------------------------------------


class _Reader(ast.NodeVisitor):
    def __init__(self, facts: FileFacts, statements_only: bool = False) -> None:
        self.facts = facts
        self.statements_only = statements_only
        self.function_stack: list[str] = []
        self.scope_stack: list[str] = []
        self.statement_line = 0
        self.type_checking_only: set[str] = set()  # names bound so far only for type checkers
        # inside a module-level ``if``/``try``: names bound there are not top-level statements
        # (a move cannot take them), though they bind module names like ``try`` bodies do
        self.blocks = 0

    # scopes
    def _scope(self) -> str:
        if self.function_stack:
            return "function"
        return self.scope_stack[-1] if self.scope_stack else "module"

    def _bind(self, name: str, binding: Binding) -> None:
        if self.function_stack:
            self.facts.function_bindings.setdefault(self.function_stack[-1], {})[name] = binding
        elif (scope := self._scope()) in ("module", "type-checking", "conditional"):
            # the first binding wins for names bound twice in try/except import fallbacks; one the
            # program runs beats one only type checkers see (``if TYPE_CHECKING: ... else: ...``)
            if scope == "module" or name not in self.facts.bindings or (
                    scope == "conditional" and name in self.type_checking_only):
                self.facts.bindings[name] = binding
                if scope == "type-checking":
                    self.type_checking_only.add(name)
                else:
                    self.type_checking_only.discard(name)

    def visit(self, node: ast.AST) -> None:
        if isinstance(node, ast.stmt):
            prev = self.statement_line
            self.statement_line = node.lineno
            super().visit(node)
            self.statement_line = prev
        elif not self.statements_only:
            super().visit(node)

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        imp = import_stmt(node, self._scope())
        self.facts.imports.append(imp)
        for name, binding in import_bindings(imp):
            self._bind(name, binding)

    visit_ImportFrom = visit_Import

    def visit_If(self, node: ast.If) -> None:
        self._in_block(self._visit_if, node)

    def _visit_if(self, node: ast.If) -> None:
        if self.function_stack:
            self.generic_visit(node)
            return
        branches = _type_checking_branches(node)
        if branches is None:
            branches = ([], node.body + node.orelse)
        self.scope_stack.append("type-checking")
        for stmt in branches[0]:
            self.visit(stmt)
        self.scope_stack[-1] = "conditional"
        for stmt in branches[1]:
            self.visit(stmt)
        self.scope_stack.pop()

    def _in_block(self, visit, node) -> None:
        self.blocks += 1
        try:
            visit(node)
        finally:
            self.blocks -= 1

    def visit_Try(self, node: ast.Try) -> None:
        self._in_block(self._visit_try, node)

    def _visit_try(self, node: ast.Try) -> None:
        if self.function_stack:
            self.generic_visit(node)
            return
        for stmt in node.body:
            self.visit(stmt)
        self.scope_stack.append("conditional")
        for handler in node.handlers:
            for stmt in handler.body:
                self.visit(stmt)
        for stmt in node.orelse + node.finalbody:
            self.visit(stmt)
        self.scope_stack.pop()

    visit_TryStar = visit_Try

    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        qual = ".".join(self.function_stack + [node.name]) if self.function_stack else node.name
        if not self.function_stack and not self.scope_stack:
            self._bind(node.name, LocalBinding("def", node.lineno))
        if not self.function_stack and not self.scope_stack and not self.blocks:
            self.facts.top_level.append((node.name, _first_line(node), node.end_lineno or node.lineno, "def"))
        self.function_stack.append(qual)
        for stmt in node.body:
            self.visit(stmt)
        self.function_stack.pop()

    visit_FunctionDef = _visit_function
    visit_AsyncFunctionDef = _visit_function

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        if self.function_stack:
            # classes inside functions are local helpers (or what a base factory returns);
            # their bodies still use metadata
            self.facts.local_classes.setdefault(self.function_stack[-1], {})[node.name] = tuple(node.bases)
            fact = _class_fact(node)
            if fact.tablename or fact.table_call:
                self.facts.local_mapped.append((self.function_stack[-1], fact))
            self.generic_visit(node)
            return
        fact = _class_fact(node)
        self.facts.classes.append(fact)
        self._bind(node.name, LocalBinding("class", node.lineno))
        if not self.scope_stack and not self.blocks:
            self.facts.top_level.append((node.name, _first_line(node), node.end_lineno or node.lineno, "class"))
        # methods may use metadata, imports...
        self.scope_stack.append("class")
        for stmt in node.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.function_stack.append(f"{node.name}.{stmt.name}")
                for s in stmt.body:
                    self.visit(s)
                self.function_stack.pop()
            elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
                self.visit(stmt)
        self.scope_stack.pop()

    def visit_For(self, node: ast.For) -> None:
        if isinstance(node.target, ast.Name) and isinstance(node.iter, (ast.List, ast.Tuple)) and any(
                _loop_metadata_call(node.target.id, n) for stmt in node.body for n in ast.walk(stmt)):
            function = self.function_stack[-1] if self.function_stack else None
            self.facts.metadata_loops.append(MetadataLoop(node.lineno, tuple(node.iter.elts), function))
        self.generic_visit(node)

    def visit_Return(self, node: ast.Return) -> None:
        if self.function_stack and node.value is not None:
            self.facts.function_returns.setdefault(self.function_stack[-1], []).append(node.value)
        self.generic_visit(node)

    def _assign(self, node: ast.stmt, targets: list[ast.expr], value: ast.expr | None) -> None:
        at_top = not self.function_stack and self._scope() != "class"
        module = import_module_call(value)
        for t in targets:
            if isinstance(t, ast.Name):
                # ``orm = importlib.import_module("sqlalchemy.orm")`` binds ``orm`` as
                # ``import sqlalchemy.orm as orm`` would (the statement stays an assignment)
                binding = ImportBinding(0, module, None, node.lineno) if module else LocalBinding("assign", node.lineno, value)
                if at_top or module is not None:
                    self._bind(t.id, binding)
                if at_top:
                    if not self.scope_stack and not self.blocks:
                        self.facts.top_level.append((t.id, node.lineno, node.end_lineno or node.lineno, "assign"))
                    if value is not None:
                        self.facts.assigns.append(AssignFact(t.id, node.lineno, node.end_lineno or node.lineno, value))
                    if t.id == "__all__" and isinstance(value, (ast.List, ast.Tuple)):
                        self.facts.all_names = tuple(
                            e.value for e in value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)
                        )
                if t.id == "target_metadata" and value is not None:
                    self.facts.target_metadata.append(TargetMetadataFact(node.lineno, value))
            if isinstance(value, ast.Call):
                table = _table_fact(t.id if isinstance(t, ast.Name) else None, value)
                if table is not None:
                    self.facts.tables.append(table)
        if value is not None:
            self.visit(value)

    def visit_Assign(self, node: ast.Assign) -> None:
        self._assign(node, node.targets, node.value)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._assign(node, [node.target], node.value)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Attribute) and func.value.attr == "metadata":
            bind = node.args[0] if node.args else _kw(node, "bind")
            self._metadata_use(func.value.value, func.attr, unparse(bind) if bind is not None else None, node)
        else:
            # ``run_sync(Base.metadata.create_all)``: a method passed as a value
            for arg in node.args:
                if isinstance(arg, ast.Attribute) and isinstance(arg.value, ast.Attribute) and arg.value.attr == "metadata":
                    self._metadata_use(arg.value.value, arg.attr, None, arg)
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if (
            isinstance(node.value, ast.Attribute)
            and node.value.attr == "metadata"
            and node.attr in ("tables", "sorted_tables")
        ):
            self._metadata_use(node.value.value, node.attr, None, node)
        self.generic_visit(node)

    def _metadata_use(self, owner: ast.expr, attr: str, bind: str | None, node: ast.expr) -> None:
        self.facts.metadata_uses.append(
            MetadataUse(owner, attr, bind, node.lineno, node.end_lineno or node.lineno, node.col_offset,
                        self.function_stack[-1] if self.function_stack else None, self.statement_line)
        )

    def visit_Expr(self, node: ast.Expr) -> None:
        if not self.function_stack and not self.scope_stack and isinstance(node.value, ast.Call):
            table = _table_fact(None, node.value)
            if table is not None:
                self.facts.tables.append(table)
        self.generic_visit(node)


def _first_line(node: ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    return node.decorator_list[0].lineno if node.decorator_list else node.lineno


def read_facts(path: str, tree: ast.Module, statements_only: bool = False) -> FileFacts:
    """The facts of one parsed file. ``statements_only`` skips looking inside expressions (for
    metadata uses): right for files the pre-filter found no SQLAlchemy words in."""
    facts = FileFacts(path=path)
    reader = _Reader(facts, statements_only)
    for stmt in tree.body:
        reader.visit(stmt)
    return facts


def _loop_metadata_call(var: str, node: ast.AST) -> bool:
    """``var.metadata.create_all`` / ``var.create_all`` (and ``drop_all``)."""
    if not isinstance(node, ast.Attribute) or node.attr not in ("create_all", "drop_all"):
        return False
    owner = node.value
    if isinstance(owner, ast.Attribute) and owner.attr == "metadata":
        owner = owner.value
    return isinstance(owner, ast.Name) and owner.id == var
