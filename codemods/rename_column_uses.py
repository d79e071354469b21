"""UB005: rename the uses of a column whose duplicate definition was merged under another name.

Given the local names bound to the kept class in one file and the confirmed renames
(``persona_id`` -> ``personality_id``), it rewrites what it can prove refers to the class or
to one of its instances:

* keyword arguments of a call to the class: ``Conversation(persona_id=1)``;
* class attributes: ``Conversation.persona_id``;
* ``self.persona_id`` inside the methods of the kept class;
* attributes of a local variable that is only ever bound to an instance in that function:
  ``c = Conversation(...)``, ``c = session.get(Conversation, id)``,
  ``c = session.scalar(select(Conversation)...)``, ``c = session.query(Conversation).first()``,
  ``for c in session.scalars(select(Conversation))``, or a parameter annotated ``Conversation``.

What it does not do: guess. Any other ``x.persona_id`` (and every use of a member only the
deleted class had) gets a ``# TODO(unibase): ...`` comment line above its statement.
"""

from __future__ import annotations

import libcst as cst

from unibase.plan import RenameColumnUses

DESCRIPTION = "Rename uses of a merged duplicate's renamed columns; mark the ones it cannot prove."

TODO_PREFIX = "# TODO(unibase):"

# calls whose first argument is the mapped class and whose result is one instance of it
_ONE = frozenset({"get", "get_one", "merge"})
# methods that return rows of the query they end (``query(C).first()``, ``scalar(select(C))``)
_ROWS_ONE = frozenset({"first", "one", "one_or_none", "scalar", "scalar_one", "scalar_one_or_none"})
_ROWS_MANY = frozenset({"all", "scalars"})


class RenameColumnUsesCommand:
    DESCRIPTION = DESCRIPTION

    def __init__(self, op: RenameColumnUses) -> None:
        self.op = op

    def transform(self, module: cst.Module) -> cst.Module:
        return module.visit(_Transformer(self.op))


def _name(node: cst.BaseExpression | None) -> str | None:
    return node.value if isinstance(node, cst.Name) else None


class _Transformer(cst.CSTTransformer):
    def __init__(self, op: RenameColumnUses) -> None:
        self.classes = set(op.class_names)
        self.renames = dict(op.renames)
        self.todo = {old: f"{old} is now {new}" for old, new in op.renames}
        self.todo.update(dict(op.todo_attributes))
        self.notes: list[set[str]] = []
        self.in_class: list[bool] = []
        self.instances: list[set[str]] = []  # per function: names bound only to instances
        self.query_stack: list[set[str]] = []  # per function: names bound only to queries of the class
        self.queries: set[str] = set()

    # -- what denotes an instance -----------------------------------------------------------

    def _mentions_class(self, node: cst.BaseExpression) -> bool:
        """``select(C)``, ``query(C)``, ``get(C, ...)`` somewhere inside ``node``."""
        found = False
        classes = self.classes
        queries = self.queries

        class V(cst.CSTVisitor):
            def visit_Call(self, call: cst.Call) -> None:
                nonlocal found
                func = call.func
                fname = func.attr.value if isinstance(func, cst.Attribute) else _name(func)
                if fname in ("select", "query", *_ONE) and call.args and _name(call.args[0].value) in classes:
                    found = True

            def visit_Name(self, name: cst.Name) -> None:
                nonlocal found
                if name.value in queries:  # ``stmt = select(C)...`` earlier in the function
                    found = True

        node.visit(V())
        return found

    def _is_instance_expr(self, node: cst.BaseExpression) -> bool:
        if isinstance(node, cst.Await):
            node = node.expression
        if not isinstance(node, cst.Call):
            return False
        func = node.func
        if _name(func) in self.classes:
            return True
        if isinstance(func, cst.Attribute):
            method = func.attr.value
            if method in _ONE and node.args and _name(node.args[0].value) in self.classes:
                return True
            if method in _ROWS_ONE and (self._mentions_class(func.value) or
                                        any(self._mentions_class(a.value) for a in node.args)):
                return True
        return False

    def _is_instances_expr(self, node: cst.BaseExpression) -> bool:
        if isinstance(node, cst.Await):
            node = node.expression
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
            method = node.func.attr.value
            return method in _ROWS_MANY and (self._mentions_class(node.func.value) or
                                             any(self._mentions_class(a.value) for a in node.args))
        return False

    def _annotated_instance(self, annotation: cst.Annotation | None) -> bool:
        if annotation is None:
            return False
        ann = annotation.annotation
        if isinstance(ann, cst.SimpleString):
            return ann.evaluated_value in self.classes
        return _name(ann) in self.classes

    def _query_names(self, fn: cst.FunctionDef) -> set[str]:
        """Local names only ever bound to a query of the class (``stmt = select(C).where(...)``)."""
        assigned: dict[str, list[cst.BaseExpression]] = {}

        class V(cst.CSTVisitor):
            def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
                return node is fn

            def visit_Assign(self, node: cst.Assign) -> None:
                for t in node.targets:
                    if isinstance(t.target, cst.Name):
                        assigned.setdefault(t.target.value, []).append(node.value)

        fn.visit(V())
        # the largest set of names whose every binding is a query of the class or built from one
        # of them (``stmt = stmt.where(...)``): start from all, drop what does not fit, repeat
        self.queries = set(assigned)
        changed = True
        while changed:
            changed = False
            for name in sorted(self.queries):
                if not all(
                    self._mentions_class(v) and not self._is_instance_expr(v) and not self._is_instances_expr(v)
                    for v in assigned[name]
                ):
                    self.queries.discard(name)
                    changed = True
        return self.queries

    def _collect(self, fn: cst.FunctionDef) -> set[str]:
        good: set[str] = set()
        bad: set[str] = set()
        for p in fn.params.params + fn.params.kwonly_params + fn.params.posonly_params:
            (good if self._annotated_instance(p.annotation) else bad).add(p.name.value)
        outer = self

        class V(cst.CSTVisitor):
            def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
                return node is fn  # nested functions have their own scope

            def visit_ClassDef(self, node: cst.ClassDef) -> bool:
                return False

            def visit_Assign(self, node: cst.Assign) -> None:
                for t in node.targets:
                    if isinstance(t.target, cst.Name):
                        (good if outer._is_instance_expr(node.value) else bad).add(t.target.value)

            def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
                if isinstance(node.target, cst.Name):
                    ok = outer._annotated_instance(node.annotation) or (
                        node.value is not None and outer._is_instance_expr(node.value))
                    (good if ok else bad).add(node.target.value)

            def visit_AugAssign(self, node: cst.AugAssign) -> None:
                if isinstance(node.target, cst.Name):
                    bad.add(node.target.value)

            def visit_For(self, node: cst.For) -> None:
                if isinstance(node.target, cst.Name):
                    (good if outer._is_instances_expr(node.iter) else bad).add(node.target.value)

            def visit_CompFor(self, node: cst.CompFor) -> None:
                if isinstance(node.target, cst.Name):
                    (good if outer._is_instances_expr(node.iter) else bad).add(node.target.value)

            def visit_WithItem(self, node: cst.WithItem) -> None:
                if node.asname is not None and isinstance(node.asname.name, cst.Name):
                    bad.add(node.asname.name.value)

        fn.visit(V())
        return good - bad

    # -- scopes -----------------------------------------------------------------------------

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.in_class.append(node.name.value in self.classes)

    def leave_ClassDef(self, original, updated):
        self.in_class.pop()
        return updated

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.query_stack.append(self._query_names(node))
        names = self._collect(node)
        if self.in_class and self.in_class[-1] and node.params.params:
            names.add(node.params.params[0].name.value)  # self
        self.instances.append(names)

    def leave_FunctionDef(self, original, updated):
        self.instances.pop()
        self.query_stack.pop()
        self.queries = self.query_stack[-1] if self.query_stack else set()
        return updated

    def _is_instance(self, node: cst.BaseExpression) -> bool:
        return isinstance(node, cst.Name) and bool(self.instances) and node.value in self.instances[-1]

    # -- statements collect the notes of what they contain ----------------------------------

    def _open(self) -> None:
        self.notes.append(set())

    def _close(self, updated):
        notes = self.notes.pop()
        if not notes:
            return updated
        text = f"{TODO_PREFIX} " + "; ".join(sorted(notes))
        if any(l.comment is not None and l.comment.value == text for l in updated.leading_lines):
            return updated
        return updated.with_changes(
            leading_lines=[*updated.leading_lines, cst.EmptyLine(comment=cst.Comment(text))]
        )

    def visit_SimpleStatementLine(self, node) -> None:
        self._open()

    def leave_SimpleStatementLine(self, original, updated):
        return self._close(updated)

    # compound statements: only their header expressions count (the body has its own lines)
    def visit_If(self, node) -> None:
        self._open()

    def leave_If(self, original, updated):
        return self._close(updated)

    def visit_While(self, node) -> None:
        self._open()

    def leave_While(self, original, updated):
        return self._close(updated)

    def visit_For(self, node) -> None:
        self._open()

    def leave_For(self, original, updated):
        return self._close(updated)

    def visit_With(self, node) -> None:
        self._open()

    def leave_With(self, original, updated):
        return self._close(updated)

    # -- the rewrites -----------------------------------------------------------------------

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        if _name(updated.func) not in self.classes:
            return updated
        args = []
        for arg in updated.args:
            if arg.keyword is not None and arg.keyword.value in self.renames:
                arg = arg.with_changes(keyword=cst.Name(self.renames[arg.keyword.value]))
            args.append(arg)
        return updated.with_changes(args=args)

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute) -> cst.Attribute:
        attr = updated.attr.value
        provable = _name(updated.value) in self.classes or self._is_instance(updated.value)
        if provable and attr in self.renames:
            return updated.with_changes(attr=cst.Name(self.renames[attr]))
        if attr in self.todo and not provable and self.notes:
            self.notes[-1].add(self.todo[attr])
        return updated
