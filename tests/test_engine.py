"""The one way into the engine: a scenario, its tables and its layers built in memory solve
without touching the disk (but for the land-scan cache); options it cannot honour are
refused by name; a run without a solution says why by the type of its error."""

from __future__ import annotations

import builtins
import io
import os
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from allocator.backends.base import Status
from allocator.engine import Options, solve
from allocator.errors import Infeasible, InputError
from allocator.explain.result import result_of
from allocator.inputs import Tables, check_inputs, validated
from tests.conftest import RESOURCES, project, tiny
from tests.landkit import AS_OF, FIRM, cell, city_layers, parcel

pytestmark = pytest.mark.solver

IDLE = {"status": "not_started", "transfer_date": "2020-01-01", "agreed_start_date": "2022-01-01",
        "developed_area_share": 0.0}  # fmt: skip


def _land_inputs() -> Any:
    """Two idle 10-mu parcels side by side (one 20-mu site in park PK-A) and a 15-mu project
    with no new land quota: it can only go on the site."""
    layers = city_layers([parcel(f"I{i}", cell(i), **IDLE) for i in range(2)])
    row = project(land_mu=15, investment_wan_cny=6000, park="PK-A", annual_output_wan_cny=7500,
                  annual_tax_wan_cny=375, annual_value_added_wan_cny=1500)  # fmt: skip
    supplies = pd.DataFrame([("land_quota", 2027, "xuecheng", 0.0), ("energy", 2027, "city", 1e6)],
                            columns=["resource", "year", "scope", "amount"])  # fmt: skip
    doc = {"name": "in_memory", "as_of": AS_OF, "horizon": {"start": 2027, "end": 2027},
           "resources": RESOURCES, "objective": {"bonus_weights": {}},
           "solver": {"time_limit_s": 30, "gap_rel": 1e-9}}  # fmt: skip
    tables = Tables(projects=pd.DataFrame([row]), supplies=supplies, firms=pd.DataFrame([FIRM]),
                    parks=layers["parks"], parcels=layers["parcels"],
                    districts=layers["districts"], exclusions=(layers["exclusions"],))  # fmt: skip
    return check_inputs(validated(doc, "in memory"), tables)


def test_a_scenario_built_in_memory_solves_without_touching_the_disk(tmp_path, monkeypatch):
    inputs = _land_inputs()
    cache = tmp_path / "cache"
    allowed = (str(cache), os.devnull, sys.prefix, sys.base_prefix)  # the cache; the libraries
    touched: list[str] = []

    def guard(opener: Any) -> Any:
        def guarded(file: Any, *args: Any, **kw: Any) -> Any:
            if not isinstance(file, int):
                path = os.path.abspath(os.fsdecode(file))
                if not path.startswith(allowed):
                    touched.append(path)
            return opener(file, *args, **kw)

        return guarded

    for module, name in ((builtins, "open"), (io, "open"), (os, "open")):
        monkeypatch.setattr(module, name, guard(getattr(module, name)))
    first = solve(inputs, Options(cache=cache))
    again = solve(inputs, Options(cache=cache))
    result = result_of(first)
    monkeypatch.undo()
    assert touched == []
    assert list(cache.glob("land-*.pkl")), "the land scan was cached in the folder given"
    assert first.prep.land is not None and not first.prep.land.cached
    assert again.prep.land is not None and again.prep.land.cached
    assert first.result.status is Status.OPTIMAL
    assert first.placed.to_dict() == {"P-1": "S-00001"}  # 15 mu on the 20-mu reuse site
    assert result.allocations is not None
    assert result.allocations.set_index("project_id").at["P-1", "land_source"] == "reuse"
    assert result.summary.land["sites_used"] == 1


def test_options_a_run_cannot_honour_are_refused_by_name():
    inputs = tiny([project()], [("land_quota", 2027, "xuecheng", 100), ("energy", 2027, "city", 5000)])  # fmt: skip
    with pytest.raises(InputError) as info:
        solve(inputs, Options(backend="gurobi", threads=0, time_limit_s=float("nan")))
    found = {p.field: p for p in info.value.problems}
    assert set(found) == {"backend", "threads", "time_limit_s"}
    assert "highs" in found["backend"].rule and found["backend"].value == "gurobi"


def test_options_override_the_scenario_and_the_summary_says_so():
    inputs = tiny([project()], [("land_quota", 2027, "xuecheng", 100), ("energy", 2027, "city", 5000)])  # fmt: skip
    run = solve(inputs, Options(backend="cpsat", threads=2, time_limit_s=7))
    summary = result_of(run).summary
    assert (summary.backend, summary.threads, summary.time_limit_s) == ("cpsat", 2, 7)
    assert summary.backend_details["duals_from"] == "highs"  # CP-SAT gives none


def test_a_run_without_a_solution_raises_by_type():
    rows = [project(project_id="P-1", land_mu=60), project(project_id="P-2", land_mu=60)]
    inputs = tiny(rows, [("land_quota", 2027, "xuecheng", 100), ("energy", 2027, "city", 1e6)],
                  {"locked_in": {"P-1": 2027, "P-2": 2027}, "horizon": {"start": 2027, "end": 2027}})  # fmt: skip
    run = solve(inputs)
    assert run.result.status is Status.INFEASIBLE and run.diagnosis is not None
    with pytest.raises(
        Infeasible, match=r"^情景无解：.*新增建设用地指标 2027 薛城区：缺口 20\.00 亩"
    ):
        run.solution()
    assert Infeasible.exit_code == 3


def test_reading_a_result_loads_neither_the_engine_nor_a_solver():
    import subprocess

    code = ("import sys, allocator.compare, allocator.report\n"
            "bad = [m for m in ('allocator.engine', 'allocator.backends', 'allocator.formulation',"
            " 'highspy', 'ortools', 'pulp') if m in sys.modules]\n"
            "assert not bad, bad\n")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1])  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
