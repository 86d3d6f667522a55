"""Benchmarks, side by side in one run: ``python -m benchmarks`` (or ``make bench``).

Prints markdown tables and writes them, with the machine's description, to
benchmarks/RESULTS.md. Instances come from the sample generator at fixed seeds. Every
time is the median over ``--repeats`` runs in this process; every solution is checked
by the evaluator.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import pyogrio
import yaml

from allocator.backends.base import Settings, get_backend
from allocator.engine import Options, decode, land_scan
from allocator.evaluate import evaluate
from allocator.formulation.build import build_model
from allocator.prepare import Prepared, prepare
from allocator.sample import generate
from allocator.sources import read_inputs
from benchmarks import hard, spreadsheet, straightforward

ROOT = Path(__file__).resolve().parents[1]
GAP = 1e-4


def cache() -> Path:
    """The land-scan cache folder: the command line's (``--cache`` reads the same variable)."""
    return Path(os.environ.get("ALLOCATOR_CACHE", ROOT / ".cache" / "allocator"))


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


def commit() -> str:
    """The checkout's commit, marked ``+changes`` when the work tree differs from it."""
    git = ["git", "-C", str(ROOT)]
    try:
        head = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        )
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head.stdout.strip() + (" +changes" if dirty.stdout.strip() else "")


def median_run(repeats: int, fn: Callable[[int], dict]) -> dict:
    """Run with seeds 0..repeats−1 (branch-and-bound times vary with the seed); medians."""
    runs = [fn(seed) for seed in range(repeats)]
    out = dict(runs[0])
    for key in ("build_s", "solve_s"):
        if key in out:
            out[key] = statistics.median(r[key] for r in runs)
    return out


def sample_scenario(folder: Path, n_projects: int = 1000, n_parcels: int = 20_000, seed: int = 20261125,
                    threads: int | None = 1) -> Path:  # fmt: skip
    """The baseline scenario on a generated city (generated once), with ``threads`` (None:
    the baseline's)."""
    data = folder / f"city-{n_projects}-{seed}"
    if not (data / "projects.csv").exists():
        generate(data, seed=seed, n_projects=n_projects, n_parcels=n_parcels)
    doc = yaml.safe_load((ROOT / "scenarios" / "baseline.yaml").read_text())
    doc["data"] = yaml.safe_load(yaml.safe_dump(doc["data"]).replace("../data/sample", str(data)))
    doc["solver"]["threads"] = threads or doc["solver"]["threads"]
    path = data / f"baseline-{doc['solver']['threads']}-threads.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def sample_prep(folder: Path, **kwargs: int) -> Prepared:
    inputs = read_inputs(sample_scenario(folder, **kwargs))
    return prepare(inputs, land_scan(inputs, Options(cache=cache())))


def engine(prep: Prepared, time_limit: float, threads: int = 1, seed: int = 0) -> dict:
    t0 = time.perf_counter()
    model = build_model(prep)
    t1 = time.perf_counter()
    settings = Settings(time_limit_s=time_limit, gap_rel=GAP, threads=threads, seed=seed)
    result = get_backend("highs").solve(model.lp, settings)
    t2 = time.perf_counter()
    alloc = decode(model, result.x) if result.x is not None else None
    check = evaluate(prep, alloc) if alloc is not None else None
    return {"build_s": t1 - t0, "solve_s": t2 - t1, "status": result.status.value,
            "objective": check.objective if check else None, "ok": bool(check and check.ok),
            "gap": result.gap, "bound": result.bound, "alloc": alloc, "check": check}  # fmt: skip


def plain(prep: Prepared, solver: str, time_limit: float, seed: int = 0) -> dict:
    built = straightforward.build(prep)
    status, seconds, bound = straightforward.solve(built, solver, time_limit, GAP, seed=seed)
    check = evaluate(prep, straightforward.allocation(built, prep))
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


def row_engine_vs_straightforward(
    prep: Prepared, scenario: Path, repeats: int, limit: float
) -> str:
    ours = median_run(repeats, lambda seed: engine(prep, limit, seed=seed))
    ours2 = median_run(repeats, lambda seed: engine(prep, limit, threads=2, seed=seed))
    rows = [["engine (s-form, highspy), 1 thread", ours["build_s"], ours["solve_s"], ours["status"],
             ours["objective"], f"{ours['gap']:.4%}" if ours["gap"] is not None else "–", ours["ok"], "1.0×"],
            ["engine, 2 threads", ours2["build_s"], ours2["solve_s"], ours2["status"], ours2["objective"],
             f"{ours2['gap']:.4%}" if ours2["gap"] is not None else "–", ours2["ok"],
             f"{ours['solve_s'] / ours2['solve_s']:.1f}×"]]  # fmt: skip
    for solver in ("highs", "cbc"):

        def run(seed: int, solver: str = solver) -> dict:
            return plain(prep, solver, limit, seed)

        r = median_run(repeats if solver == "highs" else 1, run)
        rows.append([f"straightforward PuLP + {solver.upper()}, 1 thread", r["build_s"], r["solve_s"], r["status"],
                     r["objective"], f"{r['gap']:.4%}" if r["gap"] is not None else "–", r["ok"],
                     f"{r['solve_s'] / ours['solve_s']:.1f}× slower"])  # fmt: skip
    for row in rows:
        row.append(f"{row[1] / ours['build_s']:.1f}×")
    head = ["model", "build s", "solve s", "status", "objective 万元", "gap", "evaluator ok", "solve ratio",
            "build ratio"]  # fmt: skip
    return table(head, rows) + "\n\n" + cli_sample(scenario, repeats)


def cli_sample(scenario: Path, repeats: int) -> str:
    """``allocator solve`` on the sample scenario, as a planner runs it (the baseline's solver
    settings, the land scan already cached): the whole process's wall time."""
    exe = str(Path(sys.executable).parent / "allocator")
    out = scenario.parent / "cli-out"
    runs = []
    for _ in range(repeats):
        wall, gib = measured([exe, "solve", str(scenario), "--out", str(out)], dict(os.environ))
        s = json.loads((out / "summary.json").read_text())
        runs.append((wall, s["solve_time_s"], s["total_time_s"], gib, s))
    s = runs[0][4]
    rows = [[s["threads"], statistics.median(r[0] for r in runs), statistics.median(r[2] for r in runs),
             statistics.median(r[1] for r in runs), s["build_time_s"], s["status"], f"{s['gap']:.4%}",
             s["objective_wan_cny"], f"{max(r[3] for r in runs):.2f}", s["evaluator"]["ok"]]]  # fmt: skip
    head = ["threads", "solve command wall s", "summary total s", "solve s", "build s", "status", "gap",
            "objective 万元", "peak GiB", "evaluator ok"]  # fmt: skip
    return (
        f"`allocator solve` on the sample scenario (land scan cached), median of {repeats}:\n\n"
        + table(head, rows)
    )


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


def province_scenario(data: Path, cities: int, limit: float, gap: float = GAP) -> Path:
    """The baseline's policy on a generated city or province: rules that name one city's
    projects, firms or districts are dropped, the district list is read from the data."""
    doc = yaml.safe_load((ROOT / "scenarios" / "baseline.yaml").read_text())
    doc["data"] = yaml.safe_load(yaml.safe_dump(doc["data"]).replace("../data/sample", str(data)))
    doc["name"] = f"scale-{cities}"
    if cities > 1:
        for key in ("locked_in", "locked_out", "closures"):
            doc.pop(key, None)
        doc["count_rules"] = [r for r in doc["count_rules"] if r["district"] == "each"]
        names = pyogrio.read_dataframe(data / "city.gpkg", layer="districts", read_geometry=False)
        doc["districts"] = sorted(names["district"])
    doc["solver"]["time_limit_s"] = limit
    doc["solver"]["gap_rel"] = gap
    path = data / "scenario.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    return path


def measured(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run a command; its wall time (s) and peak resident memory (GiB), read by wait4."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) not in (0, 3):
        raise RuntimeError(f"{' '.join(args)} failed: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
    return seconds, usage.ru_maxrss / 2**20


def row_scale(folder: Path, limit: float, sizes: list[tuple[int, int, int]], gap: float) -> str:
    exe = str(Path(sys.executable).parent / "allocator")
    rows = []
    for n_projects, n_parcels, cities in sizes:
        data = folder / f"scale-{n_projects}-{n_parcels}-{cities}"
        t0 = time.perf_counter()
        try:
            generate(data, n_projects=n_projects, n_parcels=n_parcels, cities=cities)
        except Exception as exc:  # one size failing must not lose the others
            rows.append([f"{n_projects:,}", f"{n_parcels:,}", cities, f"failed: {exc}"] + [""] * 12)
            continue
        gen_s = time.perf_counter() - t0
        path = province_scenario(data, cities, limit, gap)
        env = {**os.environ, "ALLOCATOR_CACHE": str(data / "cache")}
        scan = [exe, "land", "scan", str(path), "--out", str(data / "scan")]
        cold_s, cold_gib = measured(scan, env)
        cached_s, _ = measured(scan, env)
        solve_wall, solve_gib = measured([exe, "solve", str(path), "--out", str(data / "out")], env)
        s = json.loads((data / "out" / "summary.json").read_text())
        size = s["model_size"]
        rows.append([f"{n_projects:,}", f"{n_parcels:,}", cities, gen_s, cold_s, cached_s,
                     f"{cold_gib:.2f}", f"{size['columns']:,} × {size['rows']:,}", s["build_time_s"],
                     s["solve_time_s"], s["status"], fmt(s["gap"] * 100 if s["gap"] is not None else None, 4),
                     s["total_time_s"], solve_wall, f"{solve_gib:.2f}", s["evaluator"]["ok"]])  # fmt: skip
    head = ["projects", "parcels", "cities", "generate s", "scan cold s", "scan cached s",
            "scan peak GiB", "model cols × rows", "build s", "solve s", "status", "gap %",
            "solve total s", "solve command wall s", "solve peak GiB", "evaluator ok"]  # fmt: skip
    return table(head, rows)


def row_hard(folder: Path, limit: float = 10.0, factor: float = 10.0) -> str:
    rows = []
    gaps = []
    for n, k in ((100, 5), (300, 15), (500, 30)):
        for alpha in (0.25, 0.5, 0.75):
            path = hard.write(folder / f"hard-{n}-{k}-{alpha}", n, k, alpha, seed=1000 * n + k)
            ours = hard.solve_cli(path, "highs", limit, path.parent / "ours")
            refs = [
                hard.solve_cli(path, b, limit * factor, path.parent / b) for b in ("highs", "cpsat")
            ]
            found = [
                r["objective_wan_cny"] for r in [ours, *refs] if r["objective_wan_cny"] is not None
            ]
            bounds = [r["bound_wan_cny"] for r in [ours, *refs] if r["bound_wan_cny"] is not None]
            best, bound = max(found), min(bounds)
            mine = ours["objective_wan_cny"]
            to_best = (best - mine) / best
            gaps.append(to_best)
            rows.append([n, k, f"{alpha:g}", ours["status"], mine, best, f"{to_best:.4%}", bound,
                         f"{(bound - mine) / mine:.4%}"])  # fmt: skip
    rows.append(["mean", "", "", "", "", "", f"{sum(gaps) / len(gaps):.4%}", "", ""])
    head = ["projects", "resources", "α", "status at 10 s", "objective at 10 s", f"best in {factor * limit:g} s (HiGHS, CP-SAT)",
            "gap to best", "best bound", "gap to bound"]  # fmt: skip
    return table(head, rows)


def row_warm(prep: Prepared, repeats: int) -> str:
    base = build_model(prep)
    first = get_backend("highs").solve(base.lp, Settings(time_limit_s=600, gap_rel=GAP))
    assert first.x is not None, first.message
    start = base.lp.named(first.x)
    rows = []
    changes = ("energy supply 2028 −5%", "one approved project's value +10%")
    for name in changes:
        changed = copy.deepcopy(prep)
        if name.startswith("energy"):
            rows_ = (changed.supply["resource"] == "energy") & (changed.supply["year"] == 2028)
            changed.supply.loc[rows_, "amount"] *= 0.95
        else:
            pid = decode(base, first.x).starts.index[0]
            changed.pairs.loc[changed.pairs["project_id"] == pid, "value_wan_cny"] *= 1.10
        lp = build_model(changed).lp
        times = {}
        for mode, warm in (("cold", None), ("warm", start)):
            runs = [get_backend("highs").solve(lp, Settings(time_limit_s=600, gap_rel=GAP, seed=seed, start=warm))
                    for seed in range(repeats)]  # fmt: skip
            times[mode] = statistics.median(r.time_s for r in runs)
        rows.append([name, times["cold"], times["warm"], f"{times['warm'] / times['cold']:.0%}"])
    return table(["change", "cold s", "warm s", "warm / cold"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--limit", type=float, default=300.0, help="time limit of each solve, s")
    parser.add_argument("--rows", default="1,2,3,4,5,6", help="which rows to run")
    parser.add_argument(
        "--scale",
        default="1000:20000:1,5000:100000:4,20000:500000:16",
        help="row 4's sizes, projects:parcels:cities, comma-separated",
    )
    parser.add_argument(
        "--scale-gap",
        type=float,
        default=1e-3,
        help="row 4's relative gap (the scale target asks for 0.1%%)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "RESULTS.md")
    args = parser.parse_args()
    wanted = set(args.rows.split(","))
    sizes = [(int(a), int(b), int(c)) for a, b, c in (x.split(":") for x in args.scale.split(","))]
    sections = [f"# Benchmarks\n\nMachine: {machine()}.\n\nRun: `{' '.join(['python -m benchmarks', *sys.argv[1:]])}`"
                f" (repeats {args.repeats}, rows {args.rows}), started {time.strftime('%Y-%m-%d %H:%M %Z')} "
                f"on commit {commit()}; times are medians over the repeats; every solution was checked "
                f"by the evaluator; proven gap target {GAP:.2%}.\n"]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("ALLOCATOR_CACHE", str(Path(tmp) / "cache"))
        prep = sample_prep(Path(tmp))
        cli_path = sample_scenario(Path(tmp), threads=None)  # the baseline's threads
        parts = {
            "1": ("1. Engine versus the straightforward model (sample city)", lambda: row_engine_vs_straightforward(prep, cli_path, args.repeats, args.limit)),
            "2": ("2. Optimum versus the spreadsheet method", lambda: row_spreadsheet(prep, args.limit)),
            "3": ("3. Solution quality at fixed time budgets (engine, 1 thread)", lambda: row_budgets(prep)),
            "4": (f"4. Scale (CLI, 2 threads, time limit {args.limit:g} s, gap {args.scale_gap:.2%}; scan and solve in child processes)",
                  lambda: row_scale(Path(tmp), args.limit, sizes, args.scale_gap)),
            "5": ("5. Hard selection instances through the CLI (10 s, 1 thread)", lambda: row_hard(Path(tmp))),
            "6": ("6. Re-solve after a small change: warm start versus cold", lambda: row_warm(prep, args.repeats)),
        }  # fmt: skip
        for key, (title, run) in parts.items():
            if key in wanted:
                try:
                    body = run()
                except Exception as exc:  # one failing row must not lose the others
                    body = f"Failed: {type(exc).__name__}: {exc}"
                text = f"## {title}\n\n{body}\n"
                print(text, flush=True)
                sections.append(text)
                args.out.write_text("\n".join(sections), encoding="utf-8")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
