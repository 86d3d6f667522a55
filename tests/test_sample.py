"""The sample city meets the realism targets stated in allocator/sample.py."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from allocator.inputs import load_inputs
from allocator.prepare import prepare
from allocator.sample import generate


def test_realism_targets(sample_dir, sample_scenario, tmp_path):
    prep = prepare(load_inputs(sample_scenario(tmp_path)))
    pr = prep.inputs.projects
    parks = prep.inputs.parks
    assert set(pr["district"]) == set(prep.scenario.districts)
    assert 25 <= len(parks) <= 35 and parks["chemical_park"].sum() == 3
    assert len(pr) == 1000
    assert set(pr["sector"]) == set(prep.scenario.sectors)
    inv = pr["investment_wan_cny"]
    assert 25_000 <= inv.median() <= 35_000
    assert inv.min() >= 5_000 and inv.max() <= 2_000_000
    assert abs(np.log(inv).skew()) < 0.5  # log-normal: the log is symmetric
    assert pr["land_mu"].between(0, 1500).all()
    assert 0.25 <= (pr["land_mu"] == 0).mean() <= 0.35
    assert pr["energy_tce_per_year"].between(0, 500_000).all()
    coal_sectors = {"high_end_chemicals", "building_materials", "coal_power"}
    assert set(pr.loc[pr["coal_t_per_year"] > 0, "sector"]) <= coal_sectors
    infra = pr["kind"] == "infrastructure"
    assert 0.03 <= infra.mean() <= 0.07
    assert (pr.loc[~infra, "bond_wan_cny"] == 0).all() and (pr.loc[infra, "bond_wan_cny"] > 0).all()
    ineligible = (prep.eligibility.reason.str.startswith("INELIGIBLE")).mean()
    assert 0.10 <= ineligible <= 0.20, ineligible
    for name, res in prep.scenario.resources.items():
        demand = prep.demand[name].sum()
        supply = prep.supply[prep.supply["resource"] == name]
        if res.kind == "recurring":
            supply = supply[supply["year"] == prep.scenario.horizon.end]
        share = supply["amount"].sum() / demand
        assert 0.40 <= share <= 0.70, (name, share)


def test_generation_is_deterministic(sample_dir, tmp_path):
    again = generate(tmp_path / "again")
    for name in ("projects.csv", "firms.csv", "supplies.csv", "parks.csv"):
        first = hashlib.sha256((sample_dir / name).read_bytes()).hexdigest()
        assert hashlib.sha256((again / name).read_bytes()).hexdigest() == first, name
    assert not pd.read_csv(again / "projects.csv")["project_id"].duplicated().any()
