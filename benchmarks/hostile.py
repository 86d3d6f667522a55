"""Racing retries and upload bombs against the scenario service.

``python -m benchmarks.hostile [--submissions 50] [--limit-mb 16]``

``allocator serve`` on the small city of ``benchmarks.chaos`` (SQLite, worker off, so the
jobs stay queued), with ``ALLOCATOR_MAX_EXTRACTED_BYTES`` at ``--limit-mb``:

1. ``--submissions`` concurrent submissions of one body with one Idempotency-Key (one
   thread and connection each, released together): how many jobs, which statuses, whether
   every answer names the same id.
2. Upload bombs as zipped Shapefiles: a member of zeros packed about 1000 times, and
   archives declaring 4× the limit in members packed under 200 times; while each upload
   runs, the bytes under the data folder's ``datasets/`` are sampled every 5 ms: the most
   seen, against the limit.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import io
import random
import tempfile
import threading
import time
import zipfile
from collections import Counter
from pathlib import Path

import httpx

from benchmarks.__main__ import machine, table
from benchmarks.api_latency import HOST, free_port, wait_ready
from benchmarks.chaos import Server, bundle, planner_key


def bytes_under(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0


def racing(base: str, key: str, n: int) -> list[object]:
    start = threading.Barrier(n)
    headers = {"X-API-Key": key, "Idempotency-Key": "race-1"}

    def post(_: int) -> httpx.Response:
        with httpx.Client(base_url=base, timeout=120, trust_env=False) as c:
            start.wait()
            return c.post("/v1/scenarios", json={"base": "chaos"}, headers=headers)

    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        answers = list(pool.map(post, range(n)))
    took = time.perf_counter() - t0
    ids = Counter(a.json().get("id") for a in answers if a.status_code == 202)
    statuses = Counter(a.status_code for a in answers)
    replays = sum(bool(a.json().get("replayed")) for a in answers if a.status_code == 202)
    return [n, dict(statuses), len(ids), replays, f"{took:.1f}"]


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def bomb(base: str, key: str, root: Path, name: str, data: bytes, limit: int) -> list[object]:
    seen, done = [0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            seen[0] = max(seen[0], bytes_under(root / "var" / "datasets"))
            time.sleep(0.005)

    watcher = threading.Thread(target=sample)
    watcher.start()
    with httpx.Client(base_url=base, timeout=300, trust_env=False) as c:
        reply = c.post("/v1/datasets", files={"file": ("parcels.zip", data)},
                       data={"kind": "parcels"}, headers={"X-API-Key": key})  # fmt: skip
    done.set()
    watcher.join()
    rule = reply.json()["detail"][0]["rule"] if reply.status_code == 422 else reply.text[:80]
    return [name, f"{len(data) / 2**20:.1f}", reply.status_code, f"{seen[0]:,}",
            f"{seen[0] / limit:.3f}×", rule]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=50)
    parser.add_argument("--limit-mb", type=int, default=16, help="max_extracted_bytes, MiB")
    args = parser.parse_args()
    limit = args.limit_mb * 2**20
    root = Path(tempfile.mkdtemp(prefix="allocator-hostile-"))
    bundle(root)
    (root / "var").mkdir()
    url = f"sqlite:///{root / 'var' / 'allocator.db'}"
    key = planner_key(url)
    with tempfile.TemporaryFile() as log:
        server = Server(root, url, free_port(), log)
        server.start(run_worker=False, extra={"ALLOCATOR_MAX_EXTRACTED_BYTES": str(limit)})
        base = f"http://{HOST}:{server.port}"
        try:
            with httpx.Client(base_url=base, trust_env=False) as c:
                wait_ready(c, server.proc)  # type: ignore[arg-type]
            race = racing(base, key, args.submissions)
            rng = random.Random(7)
            four = bytes(rng.choice(b"ACGT") for _ in range(2**20))  # packs about 4 times
            per = 4 * limit // 8
            bombs = [
                bomb(base, key, root, "zeros packed ~1000×", zipped({"p.shp": bytes(limit * 4)}), limit),
                bomb(base, key, root, "4× the limit, packed ~4×",
                     zipped({"p.shp": b"x", **{f"p{i}.dbf": four * (per // len(four)) for i in range(8)}}), limit),
            ]  # fmt: skip
        finally:
            server.stop()
    print("## Racing retries and upload bombs\n")
    print(
        table(
            [
                "submissions at once",
                "answers by status",
                "jobs (distinct ids)",
                "replays",
                "seconds",
            ],
            [race],
        )
    )
    print()
    print(
        table(["upload", "MiB sent", "status", "most bytes written", "of the limit", "rule"], bombs)
    )
    print(f"\nMachine: {machine()}.\nRun: `python -m benchmarks.hostile --submissions "
          f"{args.submissions} --limit-mb {args.limit_mb}`; one server process, SQLite, worker off.")  # fmt: skip


if __name__ == "__main__":
    main()
