"""Hard selection instances: multi-dimensional knapsacks written as scenarios.

One year, no land, ``objective.value_column``; K declared resources, each supply
b_r = α · Σ_p d_pr. Two families:

- ``write``: demands and values integers drawn independently (uncorrelated, row 5 of
  ``python -m benchmarks``);
- ``write_chu_beasley``: Chu and Beasley's form (1998): demands uniform integers in
  [0, 1000], values correlated with them, c_p = Σ_r d_pr / K + 500 u_p (u uniform in [0, 1]);
  our own generator and seeds.

Solved through the real CLI like any scenario. ``python -m benchmarks.hard`` runs the
Chu–Beasley family (100×5, 250×10, 500×30 at α 0.25, 0.5, 0.75) through ``allocator solve``
and through plain HiGHS (highspy, default options, the same limit and one thread) side by
side: for each class how many each proves optimal and the mean gap to its own bound.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from allocator.sample import PROJECT_TEMPLATE


def write(folder: Path, n: int, k: int, alpha: float, seed: int) -> Path:
    """Write an uncorrelated instance: projects, supplies and a scenario; return the
    scenario path."""
    rng = np.random.default_rng(seed)
    demand = rng.integers(1, 1000, size=(n, k))
    value = rng.integers(1, 1000, size=n)
    return _write(
        folder, demand, value, np.floor(alpha * demand.sum(axis=0)), f"hard-{n}-{k}-{alpha}"
    )


def chu_beasley(
    n: int, k: int, alpha: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Demands (n × k), values (n) and supplies (k) of a Chu–Beasley-style instance."""
    rng = np.random.default_rng(seed)
    demand = rng.integers(0, 1001, size=(n, k))
    value = np.floor(demand.sum(axis=1) / k + 500 * rng.random(n)).astype(int)
    return demand, value, np.floor(alpha * demand.sum(axis=0))


def write_chu_beasley(folder: Path, n: int, k: int, alpha: float, seed: int) -> Path:
    """Write a Chu–Beasley-style instance as a scenario; return its path."""
    demand, value, supply = chu_beasley(n, k, alpha, seed)
    return _write(folder, demand, value, supply, f"cb-{n}-{k}-{alpha}-{seed}")


def _write(folder: Path, demand: np.ndarray, value: np.ndarray, supply: np.ndarray,
           name: str) -> Path:  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    n, k = demand.shape
    base = {**PROJECT_TEMPLATE, "kind": "tech_upgrade", "land_mu": 0, "existing_parcel_id": "PC-1",
            "energy_tce_per_year": 0}  # fmt: skip
    rows = []
    for i in range(n):
        row = {**base, "project_id": f"P-{i:04d}", "score_wan_cny": int(value[i])}
        row.update({f"d{r:02d}_unit": int(demand[i, r]) for r in range(k)})
        rows.append(row)
    pd.DataFrame(rows).to_csv(folder / "projects.csv", index=False)
    pd.DataFrame({"resource": [f"r{r:02d}" for r in range(k)], "year": 2027, "scope": "city",
                  "amount": supply}).to_csv(folder / "supplies.csv", index=False)  # fmt: skip
    doc = {
        "name": name,
        "data": {"projects": "projects.csv", "supplies": "supplies.csv", "firms": None, "parks": None},
        "horizon": {"start": 2027, "end": 2027},
        "resources": {f"r{r:02d}": {"unit": "unit", "kind": "one_off", "demand_column": f"d{r:02d}_unit"}
                      for r in range(k)},
        "objective": {"value_column": "score_wan_cny"},
        "solver": {"time_limit_s": 10, "gap_rel": 1e-9, "threads": 1},
    }  # fmt: skip
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def solve_cli(path: Path, backend: str, time_limit: float, out: Path) -> dict:
    """Run ``allocator solve`` in a child process; return its summary."""
    doc = yaml.safe_load(path.read_text())
    doc["solver"]["time_limit_s"] = time_limit
    variant = path.with_name(f"{backend}-{time_limit:g}.yaml")
    variant.write_text(yaml.safe_dump(doc, sort_keys=False))
    cmd = [
        sys.executable,
        "-m",
        "allocator.cli",
        "solve",
        str(variant),
        "--out",
        str(out),
        "--backend",
        backend,
    ]
    subprocess.run(cmd, capture_output=True, text=True, check=False)
    return json.loads((out / "summary.json").read_text())


def plain_highs(demand: np.ndarray, value: np.ndarray, supply: np.ndarray,
                time_limit: float) -> dict[str, float | bool]:  # fmt: skip
    """The knapsack max c·x, D·x ≤ b, x binary, solved by HiGHS with its default options
    (one thread, seed 0): proved or not, value, bound, gap to the bound."""
    import highspy

    n, k = demand.shape
    h = highspy.Highs()
    h.silent()
    for key, option in {"time_limit": time_limit, "threads": 1, "mip_rel_gap": 1e-9}.items():
        h.setOptionValue(key, option)
    h.addVars(n, np.zeros(n), np.ones(n))
    h.changeColsIntegrality(n, np.arange(n, dtype=np.int32),
                            np.full(n, highspy.HighsVarType.kInteger))  # fmt: skip
    h.changeColsCost(n, np.arange(n, dtype=np.int32), value.astype(float))
    h.changeObjectiveSense(highspy.ObjSense.kMaximize)
    for r in range(k):
        h.addRow(-highspy.kHighsInf, float(supply[r]), n, np.arange(n, dtype=np.int32),
                 demand[:, r].astype(float))  # fmt: skip
    h.run()
    info = h.getInfo()
    found, bound = info.objective_function_value, info.mip_dual_bound
    return {"proved": h.getModelStatus() == highspy.HighsModelStatus.kOptimal, "value": found,
            "bound": bound, "gap": (bound - found) / max(abs(found), 1e-9)}  # fmt: skip


def compare_chu_beasley(folder: Path, seeds: int, limit: float) -> str:
    """The table of the module docstring: per class, proved count and mean gap, both ways."""
    rows: list[list[str]] = []
    proved_all: dict[str, int] = {"ours": 0, "plain": 0}
    gaps_all: dict[str, list[float]] = {"ours": [], "plain": []}
    for n, k in ((100, 5), (250, 10), (500, 30)):
        for alpha in (0.25, 0.5, 0.75):
            got: dict[str, list[tuple[bool, float]]] = {"ours": [], "plain": []}
            for seed in range(seeds):
                path = write_chu_beasley(folder / f"cb-{n}-{k}-{alpha}-{seed}", n, k, alpha, seed)
                ours = solve_cli(path, "highs", limit, path.parent / "ours")
                value, bound = ours["objective_wan_cny"], ours["bound_wan_cny"]
                got["ours"].append((ours["status"] == "optimal", (bound - value) / value))
                plain = plain_highs(*chu_beasley(n, k, alpha, seed), limit)
                got["plain"].append((bool(plain["proved"]), float(plain["gap"])))
            cells = []
            for who in ("ours", "plain"):
                proved = sum(p for p, _ in got[who])
                gaps = [g for _, g in got[who]]
                proved_all[who] += proved
                gaps_all[who] += gaps
                cells += [f"{proved} of {seeds}", f"{np.mean(gaps):.4%}"]
            rows.append([f"{n} × {k}", f"{alpha:g}", *cells])
    count = 9 * seeds
    rows.append(["all", "", *(c for who in ("ours", "plain") for c in
                (f"{proved_all[who]} of {count}", f"{np.mean(gaps_all[who]):.4%}"))])  # fmt: skip
    head = ["projects × resources", "α", f"allocator solve: proved at {limit:g} s", "mean gap",
            f"plain HiGHS: proved at {limit:g} s", "mean gap"]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(description="Chu–Beasley-style knapsacks, side by side.")
    parser.add_argument("--seeds", type=int, default=3, help="instances per class")
    parser.add_argument("--limit", type=float, default=10.0, help="time limit of each solve, s")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(compare_chu_beasley(Path(tmp), args.seeds, args.limit))
    print(
        f"\nRun: `python -m benchmarks.hard --seeds {args.seeds} --limit {args.limit:g}`; "
        "gap: (bound − value) / value at the end of each solve, one thread each."
    )


if __name__ == "__main__":
    main()
