"""Every backend finds the optimum that brute-force enumeration finds.

The enumeration below is a second, independent implementation of the rules (numpy over
every combination of start years), not a use of the model's arrays.
"""

from __future__ import annotations

import numpy as np
import pytest

from allocator.backends.base import Settings, Status, get_backend
from allocator.engine import decode
from allocator.evaluate import evaluate
from allocator.formulation.build import build_model
from models.backends import BACKENDS
from tests.conftest import RESOURCES, prepared, project

pytestmark = pytest.mark.solver

PRICE, CAP, LIMIT = 2.0, 300.0, 0.6


def random_case(seed: int, n: int, years: list[int]):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        lo = int(rng.choice(years))
        hi = int(min(lo + rng.integers(0, 3), years[-1]))
        va = int(rng.integers(500, 3000))
        energy = int(va * rng.choice([0.1, 0.3, 0.5, 0.7]))  # some over the 0.6 limit
        land = int(rng.choice([0, 10, 20, 35]))
        rows.append(
            project(
                project_id=f"P-{i}",
                district=str(rng.choice(["xuecheng", "shizhong"])),
                sector=str(rng.choice(["new_it", "food"])),
                land_mu=land,
                kind="new" if land else "tech_upgrade",
                existing_parcel_id="" if land else f"PC-{i}",
                investment_wan_cny=400 * land or 5000,
                annual_output_wan_cny=500 * land or 5000,
                annual_tax_wan_cny=25 * land or 100,
                annual_value_added_wan_cny=va,
                energy_tce_per_year=energy,
                build_years=int(rng.integers(0, 3)),
                earliest_year=lo,
                latest_year=hi,
            )
        )
    rows[1]["requires"] = "P-0"
    rows[3]["excludes"] = "P-2"
    t = len(years)
    total_e = sum(r["energy_tce_per_year"] for r in rows)
    supplies = [
        ("energy", y, "city", round(total_e * (0.25 + 0.15 * k)), "", "")
        for k, y in enumerate(years)
    ]
    for d in ("xuecheng", "shizhong"):
        land = sum(r["land_mu"] for r in rows if r["district"] == d)
        supplies += [("land_quota", y, d, round(0.5 * land / t), "", "") for y in years]
    scenario = {
        "horizon": {"start": years[0], "end": years[-1]},
        "resources": {
            "land_quota": RESOURCES["land_quota"],
            "energy": {
                "unit": "tce",
                "kind": "recurring",
                "demand_column": "energy_tce_per_year",
                "must_buy_intensity_max": LIMIT,
                "purchase": {"price_wan_cny_per_unit": PRICE, "cap_per_year": CAP},
            },
        },
        "count_rules": [{"name": "shizhong", "district": "shizhong", "min_count": 1}],
        "group_rules": [
            {
                "name": "it_energy",
                "group": {"sector": ["new_it"]},
                "measure": "energy",
                "min_share": 0.3,
            }
        ],
    }
    return rows, supplies, scenario


def brute_force(rows: list[dict], supplies: list[tuple], years: list[int]) -> float:
    n = len(rows)
    options = [[0, *range(r["earliest_year"], r["latest_year"] + 1)] for r in rows]
    grids = np.meshgrid(*[np.array(o) for o in options], indexing="ij")
    choice = np.stack([g.ravel() for g in grids], axis=1)  # combos × projects, 0 = not approved
    on = choice > 0
    ok = np.ones(len(choice), dtype=bool)
    va = np.array([r["annual_value_added_wan_cny"] for r in rows], float)
    build = np.array([r["build_years"] for r in rows])
    energy = np.array([r["energy_tce_per_year"] for r in rows], float)
    over = energy > LIMIT * va
    land = np.array([r["land_mu"] for r in rows], float)
    district = np.array([r["district"] for r in rows])
    it = np.array([r["sector"] == "new_it" for r in rows])
    value = np.zeros(len(choice))
    for p in range(n):
        for t in options[p][1:]:
            pv = sum(1.05 ** -(u - years[0]) for u in range(t + build[p], years[0] + 10))
            value += np.where(choice[:, p] == t, va[p] * pv, 0.0)
    supply = {(r, y, s): a for r, y, s, a, *_ in supplies}
    for y in years:
        active = on & (choice <= y)
        use = active @ energy
        buy = np.maximum.reduce(
            [use - supply[("energy", y, "city")], active @ (energy * over), np.zeros(len(choice))]
        )
        ok &= buy <= CAP + 1e-9
        ok &= active @ (energy * it) >= 0.3 * use - 1e-9
        value -= PRICE * buy
        for d in ("xuecheng", "shizhong"):
            have = sum(supply[("land_quota", u, d)] for u in years if u <= y)
            ok &= active @ (land * (district == d)) <= have + 1e-9
    ok &= (on & (district == "shizhong")).sum(axis=1) >= 1
    req_p, req_q = 1, 0  # P-1 requires P-0, not later
    ok &= ~on[:, req_p] | (on[:, req_q] & (choice[:, req_q] <= choice[:, req_p]))
    ok &= ~(on[:, 3] & on[:, 2])
    assert ok.any()
    return float(value[ok].max())


INSTANCES = [(seed, 9, [2027, 2028, 2029]) for seed in range(3)]
INSTANCES += [(seed, 14, [2027]) for seed in range(10, 12)]


@pytest.mark.parametrize(("seed", "n", "years"), INSTANCES)
@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_backend_matches_brute_force(case, backend, seed, n, years):
    rows, supplies, scenario = random_case(seed, n, years)
    prep = prepared(case(rows, supplies, scenario))
    assert prep.eligibility.eligible.all()
    best = brute_force(rows, supplies, years)
    model = build_model(prep)
    result = get_backend(backend).solve(model.lp, Settings(time_limit_s=60, gap_rel=1e-9))
    assert result.status is Status.OPTIMAL, result.message
    assert result.objective == pytest.approx(best, rel=1e-7)
    assert result.gap is not None and result.gap <= 1e-6
    assert result.bound == pytest.approx(best, rel=1e-6)
    alloc = decode(model, result.x)
    check = evaluate(prep, alloc)
    assert check.ok, check.violations
    assert check.objective == pytest.approx(best, rel=1e-7)


def test_every_backend_reports_infeasible(case):
    rows = [project(project_id="P-1", land_mu=60), project(project_id="P-2", land_mu=60)]
    supplies = [("land_quota", 2027, "xuecheng", 100), ("energy", 2027, "city", 1e6)]
    prep = prepared(case(rows, supplies, {"locked_in": {"P-1": None, "P-2": None}}))
    model = build_model(prep)
    for backend in sorted(BACKENDS):
        result = get_backend(backend).solve(model.lp, Settings(time_limit_s=30))
        assert result.status is Status.INFEASIBLE, backend
        assert result.x is None


def test_enumeration_itself_sees_the_rules():
    """The oracle is not vacuous: dropping the supplies raises its optimum."""
    rows, supplies, _ = random_case(0, 9, [2027, 2028, 2029])
    rich = [(r, y, s, a * 100, *rest) for r, y, s, a, *rest in supplies]
    assert brute_force(rows, rich, [2027, 2028, 2029]) > brute_force(
        rows, supplies, [2027, 2028, 2029]
    )


def test_highs_through_pulp_then_ortools_in_one_process(case_file):
    """OR-Tools' own HiGHS crashed a process where PuLP's HiGHS had run; it is isolated."""
    import subprocess
    import sys

    path = case_file(
        [project()], [("land_quota", 2027, "xuecheng", 100), ("energy", 2027, "city", 5000)]
    )
    code = (
        "from pathlib import Path\nfrom allocator.engine import Options, solve\n"
        "from allocator.sources import read_inputs\n"
        f"inputs = read_inputs(Path({str(path)!r}))\n"
        "for b in ('pulp_highs', 'ortools_highs', 'highs', 'ortools_highs'):\n"
        "    assert solve(inputs, Options(backend=b)).result.status == 'optimal'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Running HiGHS" not in done.stdout


def test_highs_runs_with_another_thread_count_in_the_same_process(case):
    rows, supplies, scenario = random_case(3, 9, [2027, 2028, 2029])
    model = build_model(prepared(case(rows, supplies, scenario)))
    for threads in (2, 1, 2):
        result = get_backend("highs").solve(model.lp, Settings(threads=threads))
        assert result.status is Status.OPTIMAL, (threads, result.message)


@pytest.mark.parametrize("seed", range(3))
def test_highs_warm_starts_end_at_the_brute_force_optimum(case, seed):
    """A start that fits is only proven (HiGHS's heuristics off); one that breaks a row after
    every supply is halved is repaired first. Both end at the enumerated optimum."""
    from allocator.backends.highs import _repaired

    years = [2027, 2028, 2029]
    rows, supplies, scenario = random_case(seed, 9, years)
    model = build_model(prepared(case(rows, supplies, scenario)))
    first = get_backend("highs").solve(model.lp, Settings(gap_rel=1e-9))
    assert first.x is not None
    start = model.lp.named(first.x)
    again = get_backend("highs").solve(model.lp, Settings(gap_rel=1e-9, start=start))
    assert again.status is Status.OPTIMAL
    assert again.objective == pytest.approx(brute_force(rows, supplies, years), rel=1e-7)

    cut = [(r, y, s, a // 2, *rest) for r, y, s, a, *rest in supplies]
    lp = build_model(prepared(case(rows, cut, scenario))).lp
    assert lp.col_names == model.lp.col_names
    assert lp.violations(first.x)  # the old allocation no longer fits
    fixed = _repaired(lp, first.x, Settings())
    assert fixed is not None and not lp.violations(fixed)
    out = lp.integer & (first.x < 0.5)
    assert np.all(fixed[out] < 0.5)  # the repair only drops or delays what the start took
    warm = get_backend("highs").solve(lp, Settings(gap_rel=1e-9, start=start))
    assert warm.status is Status.OPTIMAL
    assert warm.objective == pytest.approx(brute_force(rows, cut, years), rel=1e-7)


def test_highs_proof_from_a_start_goes_on_with_heuristics_past_its_node_limit(case, monkeypatch):
    """With no node allowed to the heuristics-off proof, the run goes on with them on from
    its best point, and still ends at the enumerated optimum."""
    from allocator.backends import highs

    years = [2027]
    rows, supplies, scenario = random_case(0, 14, years)  # one the root does not close
    model = build_model(prepared(case(rows, supplies, scenario)))
    first = get_backend("highs").solve(model.lp, Settings(gap_rel=1e-9))
    assert first.x is not None
    runs: list[dict] = []
    make = highs._highs

    def recording(lp, settings, options):
        runs.append(dict(options))
        return make(lp, settings, options)

    monkeypatch.setattr(highs, "PROOF_NODES", 0)
    monkeypatch.setattr(highs, "_highs", recording)
    again = get_backend("highs").solve(
        model.lp, Settings(gap_rel=1e-9, start=model.lp.named(first.x))
    )
    assert again.status is Status.OPTIMAL
    assert again.objective == pytest.approx(brute_force(rows, supplies, years), rel=1e-7)
    proofs = [i for i, o in enumerate(runs) if o.get("mip_heuristic_run_rins") is False]
    assert proofs and runs[proofs[0] + 1 :] == [highs.COLD]  # then one run with heuristics
