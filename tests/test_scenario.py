"""The scenario model: published schema, defaults, and the bundled scenarios."""

from __future__ import annotations

import json
from pathlib import Path

from allocator.sources import read_scenario
from models.scenario import Scenario, scenario_schema

ROOT = Path(__file__).resolve().parents[1]


def test_published_schema_is_current():
    published = json.loads((ROOT / "scenarios" / "schema.json").read_text(encoding="utf-8"))
    assert published == scenario_schema(), "run `make schema` and commit scenarios/schema.json"


def test_every_field_is_documented_or_self_evident():
    schema = scenario_schema()
    undocumented = [
        f"{model}.{name}"
        for model, spec in schema["$defs"].items()
        for name, prop in spec.get("properties", {}).items()
        if "description" not in prop
    ]
    assert undocumented == []


def test_bundled_scenarios_validate():
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        sc = read_scenario(path)
        assert isinstance(sc, Scenario)


def test_defaults_follow_rules_md():
    sc = Scenario()
    assert sc.eligibility.intensity_floor_wan_cny_per_mu == {
        "national": 350.0,
        "provincial": 280.0,
        "other": 220.0,
    }
    assert sc.eligibility.tax_per_mu_min_wan_cny == 20.0
    assert sc.eligibility.bond_coverage_min == 1.1
    assert sc.resources["energy"].must_buy_intensity_max == 0.6
    assert sc.resources["coal"].substitution_ratio["power"] == 1.1
    assert sc.resources["coal"].substitution_ratio["chemicals"] == 1.2
    assert sc.freed_share == 0.8
    assert sc.objective.discount_rate == 0.05 and sc.objective.evaluation_years == 10
