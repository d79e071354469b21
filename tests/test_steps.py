"""The step registry, and every step's example run through the real planner and codemods: the
example ``unibase explain`` prints is what the step does."""

from __future__ import annotations

import pytest

from conftest import make_project
from unibase import api, runner
from unibase.plan import OPERATION_TYPES
from unibase.settings import load_settings
from unibase.steps import STEPS, step_of


@pytest.mark.parametrize("step", STEPS, ids=lambda s: s.code)
def test_step_example(step, tmp_path):
    example = step.example
    root = make_project(tmp_path / "project", dict(example.project))
    plan = api.plan_project(load_settings(root))
    assert not plan.unresolved and not plan.warnings
    phases = {p.step.code: p for p in runner.compute_phases(root, plan)}
    assert step.code in phases, f"{step.code} does nothing on its example"
    changes = {c.path: c for c in phases[step.code].changes}
    assert sorted(changes) == sorted(example.after)
    for rel, change in changes.items():
        assert change.before.decode() == ("" if change.created else example.file_before(rel)), rel
        after = change.after.decode()
        if example.excerpt:
            assert change.created and example.after[rel] in after, rel
        else:
            assert after == example.after[rel], rel


def test_every_operation_type_has_one_step_and_a_command():
    for t in OPERATION_TYPES.values():
        owners = [s.code for s in STEPS if t in s.operations]
        assert owners == [t.step], t.__name__  # the type names the step whose registry entry lists it
        path = dict(step_of(t).commands)[t]
        module, _, name = path.partition(":")
        assert callable(getattr(__import__(module, fromlist=[name]), name)), path
    assert {t for s in STEPS for t in s.operations} == set(OPERATION_TYPES.values())
