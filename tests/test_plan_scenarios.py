"""Every bundled scenario is planned as its seed describes (data in fixtures/*/scenario.toml)."""

from __future__ import annotations

import json

import pytest

from conftest import FIXTURES, SCENARIOS, scenario, unibase


@pytest.fixture(scope="module", params=SCENARIOS)
def planned(request):
    name = request.param
    proc = unibase("plan", str(FIXTURES / name), "--json")
    return name, scenario(name), proc


def test_exit_code(planned):
    name, spec, proc = planned
    assert proc.returncode == spec["expect"]["plan_exit"], proc.stderr


def test_json_is_the_only_output(planned):
    _, _, proc = planned
    data = json.loads(proc.stdout)
    for key in ("version", "root", "canonical", "bases", "operations", "conflicts", "warnings"):
        assert key in data


def test_canonical(planned):
    _, spec, proc = planned
    data = json.loads(proc.stdout)
    assert data["canonical"]["file"] == spec["expect"]["canonical"]


def test_bases_and_models(planned):
    _, spec, proc = planned
    data = json.loads(proc.stdout)
    got = {(b["file"], b["name"]): b for b in data["bases"]}
    want = {(b["file"], b["name"]): b for b in spec["expect"]["bases"]}
    assert set(got) == set(want)
    for key, b in want.items():
        assert got[key]["role"] == b["role"], key
        assert sorted(m["name"] for m in got[key]["models"]) == sorted(b["models"]), key


def test_cross_base_references(planned):
    _, spec, proc = planned
    data = json.loads(proc.stdout)
    got = {(r["kind"], r["source"], r["target"]) for r in data["cross_references"]}
    want = {(r["kind"], r["source"], r["target"]) for r in spec["expect"].get("cross_references", [])}
    assert got == want


def test_conflicts_and_resolutions(planned):
    _, spec, proc = planned
    data = json.loads(proc.stdout)
    got = {(c["kind"], c["subject"], c["resolution"] is not None) for c in data["conflicts"]}
    want = {(c["kind"], c["subject"], c["resolved"]) for c in spec["expect"].get("conflicts", [])}
    assert got == want


def test_check_fails_on_every_scenario(planned):
    name, _, _ = planned
    proc = unibase("check", str(FIXTURES / name))
    assert proc.returncode == 1
    assert "declarative bases are in scope" in proc.stderr
