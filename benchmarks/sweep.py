"""Sweep speed-up: the same variants solved one by one and as Dask tasks, in one run.

``python -m benchmarks.sweep [--variants 4] [--workers 2] [--gap 0.001]`` solves
``--variants`` copies of scenarios/baseline.yaml with the energy supply scaled from 0.9 to
1.1, first serially in this process, then on a LocalCluster of ``--workers`` single-threaded
worker processes, checks that both give the same rows, and prints a markdown table: wall
time of each way, the ratio, and per-variant solve status and value. The land scan is
cached before either run, so both start from the same state.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from allocator.engine import Options, land_scan
from allocator.sources import read_inputs
from allocator.sweep import run_sweep
from benchmarks.__main__ import ROOT, cache, machine, table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--variants", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--gap", type=float, default=1e-3)
    args = parser.parse_args()
    scenario = ROOT / "scenarios" / "baseline.yaml"
    land_scan(read_inputs(scenario), Options(cache=cache()))  # warm the cache for both runs
    factors = np.round(np.linspace(0.9, 1.1, args.variants), 4)
    settings = [
        {"resources.energy.supply_factor": float(f), "solver.gap_rel": args.gap} for f in factors
    ]
    timings = {}
    results = {}
    for way, serial in (("serial", True), (f"Dask, {args.workers} workers", False)):
        start = time.perf_counter()
        results[way], _ = run_sweep(
            scenario, settings, workers=args.workers, serial=serial, cache=cache()
        )
        timings[way] = time.perf_counter() - start
    serial_t, dask_t = timings.values()
    same = results["serial"].equals(list(results.values())[1])
    print(f"## Sweep speed-up ({args.variants} variants of baseline, gap {args.gap:g})\n")
    print(table(["way", "wall s", "vs serial"],
                [[way, round(t, 1), f"{serial_t / t:.2f}×"] for way, t in timings.items()]))  # fmt: skip
    print()
    shown = results["serial"][["variant", "resources.energy.supply_factor", "status", "gap",
                               "value_wan_cny", "approved"]]  # fmt: skip
    shown = shown.assign(**{"resources.energy.supply_factor": shown["resources.energy.supply_factor"].map("{:.4f}".format)})  # fmt: skip
    print(table(list(shown.columns), shown.astype(object).values.tolist()))
    print(f"\nidentical rows serial vs Dask: {same}; speed-up {serial_t / dask_t:.2f}×")
    print(f"Machine: {machine()}")
    assert same, "the Dask sweep must equal the serial one"


if __name__ == "__main__":
    main()
