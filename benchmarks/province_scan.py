"""Province-scale land scan: single-machine versus spatially partitioned, in one run.

``python -m benchmarks.province_scan [--projects 20000] [--parcels 500000] [--cities 16]
[--partitions 8] [--data DIR]`` generates the province with the sample generator (or reuses
``--data``), then runs ``allocator land scan`` cold (an empty cache each time) with
``land.partitions: 0`` and with ``land.partitions: N``, and prints a markdown table of wall
time and peak memory, and whether the two reuse lists are byte-identical.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

from allocator.sample import generate
from benchmarks.__main__ import machine, measured, province_scenario, table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--projects", type=int, default=20_000)
    parser.add_argument("--parcels", type=int, default=500_000)
    parser.add_argument("--cities", type=int, default=16)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--data", type=Path, default=None)
    args = parser.parse_args()
    data = args.data or Path(tempfile.mkdtemp(prefix="province-"))
    if not (data / "city.gpkg").exists():
        t0 = time.perf_counter()
        generate(data, n_projects=args.projects, n_parcels=args.parcels, cities=args.cities)
        print(f"generated in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    base = province_scenario(data, args.cities, 300)
    exe = str(Path(sys.executable).parent / "allocator")
    rows: list[list[object]] = []
    outputs: list[bytes] = []
    for parts in (0, args.partitions):
        doc = yaml.safe_load(base.read_text())
        doc.setdefault("land", {})["partitions"] = parts
        path = data / f"scan-{parts}.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
        cache, out = data / f"cache-{parts}", data / f"scan-{parts}"
        shutil.rmtree(cache, ignore_errors=True)
        env = {**os.environ, "ALLOCATOR_CACHE": str(cache)}
        seconds, gib = measured([exe, "land", "scan", str(path), "--out", str(out)], env)
        outputs.append((out / "reuse_list.csv").read_bytes() + (out / "findings.csv").read_bytes())
        rows.append([f"{parts or 'none'}", f"{seconds:.1f}", f"{gib:.2f}"])
    same = outputs[0] == outputs[1]
    print(f"## Land scan, {args.parcels:,} parcels, {args.cities} cities (cold, empty cache)\n")
    print(table(["partitions", "wall s", "peak GiB"], rows))
    print(f"\nreuse list and findings byte-identical: {same}\nMachine: {machine()}")


if __name__ == "__main__":
    main()
