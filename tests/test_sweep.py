"""Scenario sweeps on Dask: the same rows as solving the variants one by one."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from allocator.cli import app
from allocator.errors import InputError
from allocator.sources.files import read_yaml
from allocator.sweep import run_sweep, variants
from tests.conftest import project, write_case

pytestmark = [pytest.mark.solver, pytest.mark.slow]

ONE_YEAR = {"horizon": {"start": 2027, "end": 2027}}


@pytest.fixture
def city(tmp_path):
    """Three projects needing 1,000 / 2,000 / 3,000 tce of a 4,000-tce energy quota."""
    projects = [project(project_id=f"P-{i}", energy_tce_per_year=1000 * i,
                        annual_value_added_wan_cny=value)
                for i, value in ((1, 3000), (2, 5000), (3, 6500))]  # fmt: skip
    supplies = [("land_quota", 2027, "xuecheng", 1000), ("energy", 2027, "city", 4000)]
    return write_case(tmp_path / "city", projects, supplies, ONE_YEAR)


def write_grid(path, doc):
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def test_sweep_on_two_workers_equals_serial_and_isolates_a_failure(city, tmp_path):
    grid = write_grid(tmp_path / "grid.yaml", {"grid": {
        "resources.energy.supply_factor": [0.25, 0.5, 0.75, 1.0],
        "locked_out": [[], ["P-3"]]}})  # fmt: skip
    settings = variants(read_yaml(grid))
    assert len(settings) == 8
    settings.append({"horizon.start": 1800})  # breaks a rule: this variant fails alone
    serial, serial_freq = run_sweep(city, settings, serial=True)
    table, freq = run_sweep(city, settings, workers=2)
    pd.testing.assert_frame_equal(table, serial)
    pd.testing.assert_frame_equal(freq, serial_freq)
    assert (table["status"] == "optimal").sum() == 8
    bad = table.iloc[-1]
    assert bad["status"] == "error" and "horizon" in bad["error"] and "1800" in bad["error"]
    none_out = table["locked_out"].map(lambda v: isinstance(v, list) and not v)
    full = table[(table["resources.energy.supply_factor"] == 1.0) & none_out].iloc[0]
    # 4,000 tce and up to 1,000 bought: P-2 + P-3 (5,000 tce, 11,500 万元 a year)
    assert full["approved"] == 2 and full["used_energy"] == 5000
    quarter = table[table["resources.energy.supply_factor"] == 0.25].iloc[0]
    assert quarter["approved"] == 1 and quarter["used_energy"] == 2000  # 1,000 + 1,000: P-2
    assert set(freq["project_id"]) == {"P-1", "P-2", "P-3"}
    assert freq["approved_in"].sum() == table["approved"].sum()
    assert (freq["frequency"] == freq["approved_in"] / 8).all()


def test_samples_are_seeded_draws(tmp_path):
    grid = write_grid(tmp_path / "g.yaml", {"grid": {"freed_share": [0.5]},
                                            "samples": {"resources.energy.supply_factor": {"uniform": [0.9, 1.1]}}})  # fmt: skip
    a, b = (
        variants(read_yaml(grid), samples=5, seed=7),
        variants(read_yaml(grid), samples=5, seed=7),
    )
    assert a == b and len(a) == 5 and all(0.9 <= v["resources.energy.supply_factor"] <= 1.1 for v in a)  # fmt: skip
    assert variants(read_yaml(grid), samples=5, seed=8) != a
    bad = write_grid(tmp_path / "bad.yaml", {"samples": {"freed_share": {"beta": [1, 2]}}})
    with pytest.raises(InputError, match="give one of uniform"):
        variants(read_yaml(bad), samples=2)


def test_sweep_command_writes_csv_and_parquet(city, tmp_path):
    grid = write_grid(tmp_path / "grid.yaml", {"grid": {"resources.energy.supply_factor": [0.5, 1.0]}})  # fmt: skip
    out = tmp_path / "sweep"
    result = CliRunner().invoke(app, ["sweep", str(city), "--grid", str(grid), "--workers", "2",
                                      "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    table = pd.read_parquet(out / "variants.parquet")
    assert list(table["status"]) == ["optimal", "optimal"]
    assert (out / "variants.csv").exists() and (out / "frequency.parquet").exists()
    broken = write_grid(tmp_path / "broken.yaml", {"grid": {"x": 1}})
    bad = CliRunner().invoke(app, ["sweep", str(city), "--grid", str(broken)])
    assert bad.exit_code == 2 and "grid.x" in bad.output


def test_uncertain_project_values_are_drawn_per_project_and_seeded(city, tmp_path):
    grid = write_grid(tmp_path / "g.yaml", {"samples": {
        "projects.annual_value_added_wan_cny": {"lognormal": [0.0, 0.5]}}})  # fmt: skip
    settings = variants(read_yaml(grid), samples=4, seed=3)
    assert all(s["projects.annual_value_added_wan_cny"].startswith("lognormal(0.0, 0.5) seed ")
               for s in settings)  # fmt: skip
    first, _ = run_sweep(city, settings, serial=True)
    again, _ = run_sweep(city, settings, serial=True)
    pd.testing.assert_frame_equal(first, again)
    assert (first["status"] == "optimal").all() and first["value_wan_cny"].nunique() == 4
    base, _ = run_sweep(city, [{}], serial=True)
    assert base["value_wan_cny"].iloc[0] not in set(first["value_wan_cny"])
    bad = write_grid(tmp_path / "bad.yaml", {"samples": {"projects.x": {"choice": [1, 2]}}})
    with pytest.raises(InputError, match="give uniform, normal or lognormal"):
        variants(read_yaml(bad), samples=1)
    missing = write_grid(tmp_path / "m.yaml", {"samples": {"projects.nope": {"uniform": [1, 2]}}})
    row, _ = run_sweep(city, variants(read_yaml(missing), samples=1), serial=True)
    assert row["status"].iloc[0] == "error" and "no such column" in row["error"].iloc[0]


def test_sweep_on_a_running_scheduler(city, tmp_path):
    from dask.distributed import LocalCluster

    grid = write_grid(tmp_path / "grid.yaml", {"grid": {"resources.energy.supply_factor": [0.5, 1.0]}})  # fmt: skip
    settings = variants(read_yaml(grid))
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:  # fmt: skip
        remote, _ = run_sweep(city, settings, scheduler=cluster.scheduler_address)
        assert len(cluster.scheduler.workers) == 1  # the cluster given, not a new one
    serial, _ = run_sweep(city, settings, serial=True)
    pd.testing.assert_frame_equal(remote, serial)
