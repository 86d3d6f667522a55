"""Hard selection instances: multi-dimensional knapsacks written as scenarios.

One year, no land, ``objective.value_column``; K declared resources whose demands and the
values are integers drawn independently (uncorrelated instances, the hard kind), and each
supply b_r = α · Σ_p d_pr. Solved through the real CLI like any scenario.
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
    """Write projects, supplies and a scenario; return the scenario path."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    demand = rng.integers(1, 1000, size=(n, k))
    value = rng.integers(1, 1000, size=n)
    base = {**PROJECT_TEMPLATE, "kind": "tech_upgrade", "land_mu": 0, "existing_parcel_id": "PC-1",
            "energy_tce_per_year": 0}  # fmt: skip
    rows = []
    for i in range(n):
        row = {**base, "project_id": f"P-{i:04d}", "score_wan_cny": int(value[i])}
        row.update({f"d{r:02d}_unit": int(demand[i, r]) for r in range(k)})
        rows.append(row)
    pd.DataFrame(rows).to_csv(folder / "projects.csv", index=False)
    supply = np.floor(alpha * demand.sum(axis=0))
    pd.DataFrame({"resource": [f"r{r:02d}" for r in range(k)], "year": 2027, "scope": "city",
                  "amount": supply}).to_csv(folder / "supplies.csv", index=False)  # fmt: skip
    doc = {
        "name": f"hard-{n}-{k}-{alpha}",
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
