"""What verify reports: the result of each check, and the schema differences a plan declares."""

from __future__ import annotations

from dataclasses import dataclass

from ..decisions import MetadataOptionChange
from ..plan import Plan


PASS, FAIL, PRE_EXISTING, SKIPPED = "pass", "fail", "pre-existing", "skipped"
NOT_PROVEN = "not proven"  # a check that could not run for reasons outside unibase; not a failure
TAIL_LINES = 40  # lines of a failing command's output shown


class VerifyError(ValueError):
    """Bad input for verify (exit 2): the path, the revision or the interpreter does not exist."""


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: str  # "pass" | "fail" | "pre-existing" | "not proven" | "skipped"
    detail: str


@dataclass(frozen=True)
class VerifyReport:
    checks: tuple[CheckResult, ...]
    against: str | None  # the commit the schema was compared with

    @property
    def ok(self) -> bool:
        return all(c.status != FAIL for c in self.checks)

    def check(self, name: str) -> CheckResult | None:
        return next((c for c in self.checks if c.name == name), None)


@dataclass(frozen=True)
class DeclaredChange:
    """A schema difference the plan announced, so verify accepts it.

    ``metadata-options``: the table takes the canonical metadata's option named in ``detail``
    (``naming_convention``: constraint and index names may differ, nothing else;
    ``type_annotation_map``: column types may differ too; ``schema``: anything on the table).
    ``duplicate-table`` / ``identical-duplicate-table``: one definition of the table won, so
    anything on that table may differ.
    """

    kind: str
    table: str
    detail: str = ""


def declared_from_plan(plan: Plan) -> tuple[DeclaredChange, ...]:
    out: list[DeclaredChange] = []
    for c in plan.conflicts:
        if c.kind == "metadata-options":
            change = c.options if isinstance(c.options, MetadataOptionChange) else None
            option = (change.option if change else "") or c.detail
            out.extend(DeclaredChange(c.kind, str(t), option) for t in (change.tables if change else ()))
        elif c.kind in ("duplicate-table", "identical-duplicate-table"):
            out.append(DeclaredChange(c.kind, c.subject, c.resolution or c.detail))
    return tuple(dict.fromkeys(out))


def last_lines(text: str, lines: int = TAIL_LINES) -> str:
    return "\n".join((text or "").rstrip().splitlines()[-lines:])
