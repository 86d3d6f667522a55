"""Benchmarks, side by side in one run: ``python -m benchmarks`` (or ``make bench``).

Prints markdown tables and writes them, with the machine's description, to
benchmarks/RESULTS.md. Instances come from the sample generator at fixed seeds. Every
time is the median over ``--repeats`` runs in this process; every solution is checked
by the evaluator.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import yaml

from allocator.backends.base import Settings, get_backend
from allocator.evaluate import evaluate
from allocator.formulation.build import build_model
from allocator.prepare import Prepared, prepare
from allocator.run import decode, land_of
from allocator.sample import generate
from benchmarks import spreadsheet, straightforward

ROOT = Path(__file__).resolve().parents[1]
GAP = 1e-4


def machine() -> str:
    cpu = "unknown CPU"
    info = Path("/proc/cpuinfo")
    if info.exists():
        names = [
            line.split(":", 1)[1].strip()
            for line in info.read_text().splitlines()
            if line.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    mem = ""
    if Path("/proc/meminfo").exists():
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 2**20:.0f} GiB"
    return (f"{platform.system()} {platform.machine()}, {cpu}, {os.cpu_count()} cores{mem}; "
            f"Python {platform.python_version()}, highspy {version('highspy')}, "
            f"ortools {version('ortools')}, PuLP {version('PuLP')}")  # fmt: skip


def median_run(repeats: int, fn: Callable[[], dict]) -> dict:
    runs = [fn() for _ in range(repeats)]
    out = dict(runs[0])
    for key in ("build_s", "solve_s"):
        if key in out:
            out[key] = statistics.median(r[key] for r in runs)
    return out


def sample_prep(folder: Path, n_projects: int = 1000, n_parcels: int = 20_000, seed: int = 20261125,
                threads: int = 1) -> tuple[Prepared, Path]:  # fmt: skip
    data = folder / f"city-{n_projects}-{seed}"
    if not (data / "projects.csv").exists():
        generate(data, seed=seed, n_projects=n_projects, n_parcels=n_parcels)
    doc = yaml.safe_load((ROOT / "scenarios" / "baseline.yaml").read_text())
    doc["data"] = yaml.safe_load(yaml.safe_dump(doc["data"]).replace("../data/sample", str(data)))
    doc["solver"]["threads"] = threads
    path = data / "baseline.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    inputs, land = land_of(path)
    return prepare(inputs, land), path


def engine(prep: Prepared, time_limit: float, threads: int = 1) -> dict:
    t0 = time.perf_counter()
    model = build_model(prep)
    t1 = time.perf_counter()
    result = get_backend("highs")(
        model.lp, Settings(time_limit_s=time_limit, gap_rel=GAP, threads=threads)
    )
    t2 = time.perf_counter()
    alloc = decode(model, result.x) if result.x is not None else None
    check = evaluate(prep, alloc) if alloc is not None else None
    return {"build_s": t1 - t0, "solve_s": t2 - t1, "status": result.status.value,
            "objective": check.objective if check else None, "ok": bool(check and check.ok),
            "gap": result.gap, "bound": result.bound, "alloc": alloc, "check": check}  # fmt: skip


def plain(prep: Prepared, solver: str, time_limit: float) -> dict:
    built = straightforward.build(prep)
    status, seconds, bound = straightforward.solve(built, solver, time_limit, GAP)
    check = evaluate(prep, straightforward.allocation(built, prep))
    if bound is not None:
        bound = -bound  # PuLP's HiGHS minimises the negated objective
    gap = None if bound is None else max(bound - check.objective, 0) / abs(check.objective)
    return {"build_s": built.seconds, "solve_s": seconds, "status": status, "objective": check.objective,
            "ok": check.ok, "gap": gap}  # fmt: skip


def fmt(v: object, digits: int = 1) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    return str(v)


def table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += [
        "| " + " | ".join(fmt(c) if not isinstance(c, str) else c for c in row) + " |"
        for row in rows
    ]
    return "\n".join(lines)


def row_engine_vs_straightforward(prep: Prepared, repeats: int, limit: float) -> str:
    ours = median_run(repeats, lambda: engine(prep, limit))
    ours2 = median_run(repeats, lambda: engine(prep, limit, threads=2))
    rows = [["engine (s-form, highspy), 1 thread", ours["build_s"], ours["solve_s"], ours["status"],
             ours["objective"], f"{ours['gap']:.4%}" if ours["gap"] is not None else "–", ours["ok"], "1.0×"],
            ["engine, 2 threads", ours2["build_s"], ours2["solve_s"], ours2["status"], ours2["objective"],
             f"{ours2['gap']:.4%}" if ours2["gap"] is not None else "–", ours2["ok"],
             f"{ours['solve_s'] / ours2['solve_s']:.1f}×"]]  # fmt: skip
    for solver in ("highs", "cbc"):
        r = median_run(repeats if solver == "highs" else 1, lambda s=solver: plain(prep, s, limit))
        rows.append([f"straightforward PuLP + {solver.upper()}, 1 thread", r["build_s"], r["solve_s"], r["status"],
                     r["objective"], f"{r['gap']:.4%}" if r["gap"] is not None else "–", r["ok"],
                     f"{r['solve_s'] / ours['solve_s']:.1f}× slower"])  # fmt: skip
    head = [
        "model",
        "build s",
        "solve s",
        "status",
        "objective 万元",
        "gap",
        "evaluator ok",
        "solve ratio",
    ]
    return table(head, rows)


def row_spreadsheet(prep: Prepared, limit: float) -> str:
    ours = engine(prep, limit)
    t0 = time.perf_counter()
    alloc = spreadsheet.greedy(prep)
    seconds = time.perf_counter() - t0
    rows = []
    for name, check, chosen, secs in (("engine optimum", ours["check"], ours["alloc"], ours["solve_s"]),
                                      ("spreadsheet method", evaluate(prep, alloc), alloc, seconds)):  # fmt: skip
        use = check.resources.groupby("resource")["used"].sum()
        rows.append([name, secs, check.objective, f"{check.objective / ours['objective']:.3f}",
                     len(chosen.starts), len(chosen.placed), use.get("land_quota", 0.0),
                     use.get("energy", 0.0), use.get("coal", 0.0), use.get("bond", 0.0),
                     len(check.violations)])  # fmt: skip
    head = ["method", "seconds", "objective 万元", "ratio", "approved", "on reuse sites", "land quota mu",
            "energy tce·yr", "coal t·yr", "bond 万元", "rules broken"]  # fmt: skip
    return table(head, rows)


def row_budgets(prep: Prepared) -> str:
    rows = []
    for budget in (1.0, 10.0):
        r = engine(prep, budget)
        rows.append(
            [
                f"{budget:g} s",
                r["status"],
                r["objective"],
                f"{r['gap']:.4%}" if r["gap"] is not None else "–",
                r["ok"],
            ]
        )
    return table(
        ["time budget", "status", "objective 万元", "gap to the bound", "evaluator ok"], rows
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--limit", type=float, default=600.0, help="time limit of each solve, s")
    parser.add_argument("--rows", default="1,2,3", help="which rows to run")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "RESULTS.md")
    args = parser.parse_args()
    wanted = set(args.rows.split(","))
    sections = [f"# Benchmarks\n\nMachine: {machine()}.\n\nRun: `python -m benchmarks --repeats "
                f"{args.repeats} --rows {args.rows}`; times are medians over the repeats; every "
                f"solution was checked by the evaluator; proven gap target {GAP:.2%}.\n"]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("ALLOCATOR_CACHE", str(Path(tmp) / "cache"))
        prep, _ = sample_prep(Path(tmp))
        parts = {
            "1": ("1. Engine versus the straightforward model (sample city)", lambda: row_engine_vs_straightforward(prep, args.repeats, args.limit)),
            "2": ("2. Optimum versus the spreadsheet method", lambda: row_spreadsheet(prep, args.limit)),
            "3": ("3. Solution quality at fixed time budgets (engine, 1 thread)", lambda: row_budgets(prep)),
        }  # fmt: skip
        for key, (title, run) in parts.items():
            if key in wanted:
                text = f"## {title}\n\n{run()}\n"
                print(text, flush=True)
                sections.append(text)
    args.out.write_text("\n".join(sections), encoding="utf-8")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
