"""The typed API behind the command line. No printing here: results are returned."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .discovery import DiscoverOptions, Index, discover
from .plan import Plan
from .planner import make_plan
from .settings import Settings


def scan(settings: Settings, progress: Callable[[int, int], None] | None = None) -> Index:
    return discover(settings.root, DiscoverOptions(exclude=settings.exclude), progress)


def plan_project(settings: Settings, progress: Callable[[int, int], None] | None = None) -> Plan:
    """Discover the project at ``settings.root`` and plan the merge of its bases."""
    return make_plan(scan(settings, progress), settings)


@dataclass(frozen=True)
class Finding:
    file: str
    line: int
    message: str


def check_plan(plan: Plan) -> list[Finding]:
    """One finding per base beyond the first that is in scope (not separate, not test-local)."""
    in_scope = plan.merged_bases()
    if len(in_scope) <= 1:
        return []
    canonical = next((b for b in in_scope if b.role == "canonical"), in_scope[0])
    return [
        Finding(
            b.file,
            b.line,
            f"declarative base {b.name} ({len(b.models)} models) is separate from "
            f"{canonical.file}:{canonical.name}; merge it with `unibase apply`",
        )
        for b in in_scope
        if b is not canonical
    ]


def check_project(settings: Settings) -> list[Finding]:
    return check_plan(plan_project(settings))


def relpath(root: Path, path: Path) -> str:
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()
