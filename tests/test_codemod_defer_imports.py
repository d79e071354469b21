"""UB002 defer-imports: before/after pairs; every pair is also run a second time (no change)."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from unibase.codemods.defer_imports import DeferImportsCommand
from unibase.plan import DeferImports


def op(*names: str, quote: bool = True) -> DeferImports:
    return DeferImports(file="app/models.py", names=names, imports=(), quote=quote,
                        cycle=("app.models", "app.domain", "app.models"))


CASES = [
    pytest.param(op("Service"), '''\
        from sqlalchemy import Column

        from app.domain import Service


        class User:
            def served_by(self, service: Service) -> Service | None:
                return None
        ''', '''\
        from typing import TYPE_CHECKING

        from sqlalchemy import Column

        if TYPE_CHECKING:
            from app.domain import Service


        class User:
            def served_by(self, service: "Service") -> "Service | None":
                return None
        ''', id="moved-and-quoted"),
    pytest.param(op("Svc"), '''\
        from typing import TYPE_CHECKING

        from .domain import Service as Svc, helper

        if TYPE_CHECKING:
            from .other import Thing


        def run(s: Svc, t: "Thing") -> int:
            return helper()
        ''', '''\
        from typing import TYPE_CHECKING

        from .domain import helper

        if TYPE_CHECKING:
            from .other import Thing
            from .domain import Service as Svc


        def run(s: "Svc", t: "Thing") -> int:
            return helper()
        ''', id="alias-split-from-its-line-into-the-existing-block"),
    pytest.param(op("domain", quote=False), '''\
        from __future__ import annotations

        # the domain layer
        import app.domain as domain
        import os


        def run(s: domain.Service) -> str:
            return os.sep
        ''', '''\
        from __future__ import annotations

        # the domain layer
        import os
        from typing import TYPE_CHECKING

        if TYPE_CHECKING:
            import app.domain as domain


        def run(s: domain.Service) -> str:
            return os.sep
        ''', id="plain-import-future-annotations-not-quoted"),
    pytest.param(op("Service"), '''\
        from sqlalchemy import Column

        def run(x: int) -> int:
            from app.domain import Service
            return x
        ''', None, id="no-op-import-in-a-function"),
    pytest.param(op("Service"), '''\
        from typing import TYPE_CHECKING

        if TYPE_CHECKING:
            from app.domain import Service


        def run(s: "Service") -> None:
            pass
        ''', None, id="no-op-already-deferred"),
]


@pytest.mark.parametrize(("operation", "before", "after"), CASES)
def test_defer_imports(operation, before, after):
    before = textwrap.dedent(before)
    after = before if after is None else textwrap.dedent(after)
    command = DeferImportsCommand(operation)
    out = command.transform(cst.parse_module(before)).code
    assert out == after
    assert command.transform(cst.parse_module(out)).code == out  # a second run changes nothing
    compile(out, "<after>", "exec")
