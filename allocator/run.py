"""One scenario run: load, check, prepare, build, solve, decode, evaluate (and diagnose)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from allocator.backends.base import Settings, SolveResult, Status, get_backend
from allocator.diagnose import diagnose
from allocator.evaluate import Allocation, Evaluation, evaluate
from allocator.formulation.build import Model, build_model
from allocator.inputs import Inputs, load_inputs
from allocator.io import InputError
from allocator.land.scan import LandScan, scan_land
from allocator.marginals import marginal_values
from allocator.prepare import Prepared, prepare
from models.result import Diagnosis
from models.tables import Problem


@dataclass
class Run:
    prep: Prepared
    model: Model
    result: SolveResult
    allocation: Allocation | None = None
    evaluation: Evaluation | None = None
    diagnosis: Diagnosis | None = None
    marginals: pd.DataFrame | None = None  # per supply row, see marginals.py
    times: dict[str, float] = field(default_factory=dict)

    @property
    def starts(self) -> pd.Series:
        return self.allocation.starts if self.allocation else pd.Series(dtype=int)

    @property
    def placed(self) -> pd.Series:
        return self.allocation.placed if self.allocation else pd.Series(dtype=object)


def land_of(path: Path, partitions: int | None = None) -> tuple[Inputs, LandScan]:
    """The inputs of a scenario and its land scan (cached); the scenario needs parcels.
    ``partitions`` overrides the scenario's ``land.partitions``."""
    inputs = load_inputs(path)
    if partitions is not None:
        rules = inputs.scenario.land.model_copy(update={"partitions": partitions})
        inputs = replace(inputs, scenario=inputs.scenario.model_copy(update={"land": rules}))
    return inputs, scanned(inputs, path)


def scanned(inputs: Inputs, path: Path) -> LandScan:
    """The land scan (cached) of a scenario read from ``path``; it needs parcels."""
    sc = inputs.scenario
    if not sc.data.parcels:
        raise InputError([Problem(path.name, "the scenario names no parcel layer",
                                  field="data.parcels")])  # fmt: skip
    return scan_land(sc, path.parent, inputs.firms, inputs.parks, inputs.hashes.get("firms"))


def settings_of(prep: Prepared) -> Settings:
    s = prep.scenario.solver
    return Settings(
        time_limit_s=s.time_limit_s,
        gap_rel=s.gap_rel,
        threads=s.threads,
        seed=s.seed,
        cpsat_purchase_step=s.cpsat_purchase_step,
    )


def check_locks(prep: Prepared) -> None:
    """A locked-in project must be eligible and offered: that is an input error, not a
    question for the solver."""
    sc = prep.scenario
    reason = prep.eligibility.reason
    problems = [
        Problem(
            prep.inputs.path.name,
            f"project is locked in but {reason[pid]}: remove the lock or fix the project's data",
            field="locked_in",
            value=pid,
        )
        for pid in sc.locked_in
        if reason[pid] != ""
    ]
    if problems:
        raise InputError(problems)


def decode(model: Model, x: np.ndarray) -> Allocation:
    """Start years, purchases per supply row and placements, from a solution."""
    on = model.s[x[model.s["col"].to_numpy()] > 0.5]
    first = on.drop_duplicates("project_id", keep="first")  # started by t: from t on
    starts = pd.Series(first["year"].to_numpy(), index=first["project_id"].to_numpy(), dtype=int)
    buy = model.buy
    amounts = np.where(buy["col"] >= 0, x[buy["col"].clip(lower=0).to_numpy()], 0.0)
    amounts = np.round(amounts, 6) + 0.0  # no -0.0 in outputs
    index = pd.MultiIndex.from_frame(buy[["resource", "year", "scope"]])
    y = model.y[x[model.y["col"].to_numpy()] > 0.5] if not model.y.empty else model.y
    placed = pd.Series(
        y["site_id"].to_numpy() if len(y) else [],
        index=y["project_id"].to_numpy() if len(y) else [],
        dtype=object,
    )
    return Allocation(starts, pd.Series(amounts, index=index), placed)


def load_prepared(path: Path, say: Callable[[str], None]) -> tuple[Prepared, float]:
    """Read, check and prepare a scenario (with its land scan); the scan's seconds."""
    say("reading and checking inputs")
    inputs = load_inputs(path)
    land = None
    scan_s = 0.0
    if inputs.scenario.data.parcels:
        say("scanning the parcel layer")
        land = scanned(inputs, path)
        scan_s = 0.0 if land.cached else land.seconds
    prep = prepare(inputs, land)
    check_locks(prep)
    return prep, scan_s


def solve_scenario(
    path: Path, backend: str | None = None, progress: Callable[[str], None] | None = None
) -> Run:
    """Run a scenario; raises ``InputError`` (with every problem) on bad input."""
    say = progress or (lambda _msg: None)
    t0 = time.perf_counter()
    prep, scan_s = load_prepared(path, say)
    t1 = time.perf_counter()
    say("building the model")
    model = build_model(prep)
    t2 = time.perf_counter()
    name = backend or prep.scenario.solver.backend
    rows, cols = model.lp.shape
    say(f"solving with {name} ({cols:,} columns, {rows:,} rows)")
    settings = settings_of(prep)
    result = get_backend(name)(model.lp, settings)
    t3 = time.perf_counter()
    run = Run(prep, model, result)
    if result.x is not None:
        run.allocation = decode(model, result.x)
        say("checking the allocation against the tables")
        run.evaluation = evaluate(prep, run.allocation)
        say("marginal values of the supply rows")
        run.marginals = marginal_values(prep, model, result, settings, name, say)
    elif result.status is Status.INFEASIBLE:
        say("infeasible: finding the rows that must give way")
        units = {k: r.unit for k, r in prep.scenario.resources.items()}
        run.diagnosis = diagnose(model, settings, name, units)
    run.times = {
        "load_s": t1 - t0,
        "scan_s": scan_s,
        "build_s": t2 - t1,
        "solve_s": t3 - t2,
        "explain_s": time.perf_counter() - t3,
        "total_s": time.perf_counter() - t0,
    }
    return run
