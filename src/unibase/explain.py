"""What ``unibase explain CODE`` prints: a step (UB001...), a check rule (UB101...) or a
warning (W001...). The command only prints what this module returns."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Explanation:
    title: str  # "UB001 merge-models"
    summary: str
    sections: tuple[tuple[str, str], ...]  # (heading, text), printed in order


def explanation(code: str) -> Explanation | None:
    """The explanation of ``code`` (any case), or None when no step, rule or warning has it."""
    from .rules import rule
    from .steps import step
    from .warning_codes import warning_code

    if (r := rule(code)) is not None:
        return Explanation(f"{r.code} {r.name}", r.summary, (("example", r.example), ("fix", r.fix)))
    if (s := step(code)) is not None:
        return Explanation(f"{s.code} {s.name}", s.summary, (("before", s.before), ("after", s.after)))
    if (w := warning_code(code)) is not None:
        return Explanation(f"{w} {w.label}", w.meaning, (("what to do", w.todo),))
    return None


def unknown_code(code: str) -> str:
    """The one sentence for a code nothing has."""
    from .rules import RULE_CODES
    from .steps import STEP_CODES
    from .warning_codes import WarningCode

    return (f"unknown step or rule {code}; the steps are {', '.join(STEP_CODES)}, the check rules "
            f"{', '.join(RULE_CODES)}, and the warnings {', '.join(WarningCode)}")
