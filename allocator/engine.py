"""One way into the engine: ``solve(inputs, options) -> Run``, on objects in memory.

``inputs`` is a checked scenario with its tables and layers (``allocator.inputs``; read from
files by ``allocator.sources``, or built by the caller). ``options`` carry everything that
is not the scenario: the backend, threads and time limit when they differ from the
scenario's, a warm start, the land-scan cache folder, the language of the words in the
outputs and a progress callback; nothing comes through the environment. A run loads
nothing and writes nothing but the land-scan cache (when a folder is given).

A run: the land scan (with a parcel layer), eligibility and prepared tables, the model,
the solve, the allocation decoded and checked by the evaluator, and the marginal values
of the supply rows (or, when infeasible, the smallest relaxation).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from allocator.backends.base import Settings, SolveResult, Status, duals_backend, get_backend
from allocator.diagnose import diagnose
from allocator.errors import Infeasible, InputError, NoSolution, SolverError
from allocator.evaluate import Allocation, Evaluation, evaluate
from allocator.formulation.build import Model, build_model
from allocator.inputs import Inputs
from allocator.land.scan import LandScan, scan_land
from allocator.marginals import marginal_values
from allocator.prepare import Prepared, prepare
from allocator.words import LANGS, label, word
from models.backends import BACKENDS
from models.result import Diagnosis
from models.scenario import Scenario
from models.tables import Problem


@dataclass(frozen=True)
class Options:
    """How to run a scenario, beyond what the scenario says."""

    backend: str | None = None  # default: the scenario's solver.backend
    threads: int | None = None  # default: the scenario's solver.threads
    time_limit_s: float | None = None  # default: the scenario's solver.time_limit_s
    start: Mapping[str, float] | None = None  # a known solution by column name
    cache: Path | None = None  # land-scan cache folder; None: scan every time
    lang: Literal["en", "zh"] | None = None  # default: the scenario's lang
    progress: Callable[[str], None] | None = None

    def say(self, message: str) -> None:
        if self.progress is not None:
            self.progress(message)


def check_options(options: Options) -> None:
    """Refuse options no run can honour, naming the option."""
    problems = []
    if options.backend is not None and options.backend not in BACKENDS:
        rule = f"must be one of {', '.join(BACKENDS)}"
        problems.append(Problem("options", rule, field="backend", value=options.backend))
    if options.threads is not None and not 1 <= options.threads <= 64:
        problems.append(Problem("options", "must be 1 to 64", field="threads",
                                value=str(options.threads)))  # fmt: skip
    limit = options.time_limit_s
    if limit is not None and not (math.isfinite(limit) and limit > 0):
        problems.append(Problem("options", "must be a positive number of seconds",
                                field="time_limit_s", value=str(limit)))  # fmt: skip
    if options.lang is not None and options.lang not in LANGS:
        rule = f"must be one of {', '.join(LANGS)}"
        problems.append(Problem("options", rule, field="lang", value=str(options.lang)))
    if problems:
        raise InputError(problems)


@dataclass
class Run:
    prep: Prepared
    model: Model
    result: SolveResult
    settings: Settings  # what the backend was asked for
    options: Options
    allocation: Allocation | None = None
    evaluation: Evaluation | None = None
    diagnosis: Diagnosis | None = None
    marginals: pd.DataFrame | None = None  # per supply row, see marginals.py
    times: dict[str, float] = field(default_factory=dict)

    @property
    def lang(self) -> str:
        """The language of the words in the outputs."""
        return self.options.lang or self.prep.scenario.lang

    @property
    def backend(self) -> str:
        return self.result.backend

    @property
    def duals_from(self) -> str | None:
        """The backend that gave the duals of the marginal values, when not the run's."""
        if self.marginals is None:
            return None
        name = duals_backend(self.backend).name
        return name if name != self.backend else None

    @property
    def starts(self) -> pd.Series:
        return self.allocation.starts if self.allocation else pd.Series(dtype=int)

    @property
    def placed(self) -> pd.Series:
        return self.allocation.placed if self.allocation else pd.Series(dtype=object)

    def solution(self) -> Allocation:
        """The checked allocation, or the error that says why there is none."""
        status = self.result.status
        if self.evaluation is not None and not self.evaluation.ok:
            shown = "; ".join(self.evaluation.violations[:5])
            raise SolverError(f"the evaluator rejected the solver's allocation: {shown}")
        if self.allocation is not None:
            return self.allocation
        if status is Status.INFEASIBLE:
            text = self.diagnosis.text if self.diagnosis else ""
            raise Infeasible(
                word(
                    "text.infeasible", self.lang, text=text or label("run", "infeasible", self.lang)
                )
            )
        if status is Status.NO_SOLUTION:
            raise NoSolution(f"no solution within the limits ({self.result.message})")
        raise SolverError(f"no solution: {status.value} ({self.result.message})")


def settings_of(scenario: Scenario, options: Options = Options()) -> Settings:
    s = scenario.solver
    return Settings(
        time_limit_s=options.time_limit_s if options.time_limit_s is not None else s.time_limit_s,
        gap_rel=s.gap_rel,
        threads=options.threads if options.threads is not None else s.threads,
        seed=s.seed,
        cpsat_purchase_step=s.cpsat_purchase_step,
        start=dict(options.start) if options.start is not None else None,
    )


def land_scan(inputs: Inputs, options: Options = Options()) -> LandScan:
    """The land scan of the inputs' parcel layer (from the options' cache when there)."""
    given = inputs.given
    return scan_land(inputs.scenario, given, inputs.firms, inputs.parks, options.cache)


def check_locks(prep: Prepared) -> None:
    """A locked-in project must be eligible and offered: that is an input error, not a
    question for the solver."""
    reason = prep.eligibility.reason
    rule = "project is locked in but {}: remove the lock or fix the project's data"
    problems = [Problem(prep.inputs.label("scenario"), rule.format(reason[pid]), field="locked_in",
                        value=pid)
                for pid in prep.scenario.locked_in if reason[pid] != ""]  # fmt: skip
    if problems:
        raise InputError(problems)


def prepared(inputs: Inputs, options: Options = Options()) -> tuple[Prepared, float]:
    """The land scan (with a parcel layer), eligibility and prepared tables, the locks
    checked; and the scan's seconds (0 from the cache)."""
    check_options(options)
    land, scan_s = None, 0.0
    if inputs.given.parcels is not None:
        options.say("scanning the parcel layer")
        land = land_scan(inputs, options)
        scan_s = 0.0 if land.cached else land.seconds
    prep = prepare(inputs, land)
    check_locks(prep)
    return prep, scan_s


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


def _explained(run: Run, marginals: bool) -> None:
    """The allocation, its check and (if asked) the marginal values; or why there is none."""
    prep, result, say = run.prep, run.result, run.options.say
    if result.x is not None:
        run.allocation = decode(run.model, result.x)
        say("checking the allocation against the tables")
        run.evaluation = evaluate(prep, run.allocation)
        if marginals:
            say("marginal values of the supply rows")
            run.marginals = marginal_values(prep, run.model, result, run.settings, run.backend, say)
    elif result.status is Status.INFEASIBLE:
        say("infeasible: finding the rows that must give way")
        units = {k: r.unit for k, r in prep.scenario.resources.items()}
        run.diagnosis = diagnose(run.model, run.settings, run.backend, units, run.lang)


def solve(inputs: Inputs, options: Options = Options(), marginals: bool = True) -> Run:
    """Run a scenario; raises ``InputError`` (with every problem) on bad input. A run
    without a solution is returned with its status (``Run.solution`` says why). Without
    ``marginals`` the supply rows' marginal values are not computed (a what-if that only
    starts from the portfolio does not read them)."""
    t0 = time.perf_counter()
    options.say("checking the projects against the rules")
    prep, scan_s = prepared(inputs, options)
    t1 = time.perf_counter()
    options.say("building the model")
    model = build_model(prep)
    t2 = time.perf_counter()
    name = options.backend or prep.scenario.solver.backend
    rows, cols = model.lp.shape
    options.say(f"solving with {name} ({cols:,} columns, {rows:,} rows)")
    settings = settings_of(prep.scenario, options)
    result = get_backend(name).solve(model.lp, settings)
    t3 = time.perf_counter()
    run = Run(prep, model, result, settings, options)
    _explained(run, marginals)
    run.times = {"load_s": t1 - t0, "scan_s": scan_s, "build_s": t2 - t1, "solve_s": t3 - t2,
                 "explain_s": time.perf_counter() - t3, "total_s": time.perf_counter() - t0}  # fmt: skip
    return run
