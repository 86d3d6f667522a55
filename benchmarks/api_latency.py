"""Read latency of the scenario service under concurrent clients.

``python -m benchmarks.api_latency [--clients 50] [--seconds 20] [--scenario baseline]
[--port 0] [--data-dir DIR]``

Starts ``allocator serve`` (one uvicorn process, worker on, SQLite in a temporary data
dir) on 127.0.0.1, submits a bundled scenario and waits for its solve (the time is
printed), then runs two phases of ``--seconds`` each with ``--clients`` concurrent
asyncio clients (one httpx.AsyncClient, so one keep-alive connection, per client):

1. ``GET /healthz`` only: the floor (HTTP, routing, the client itself), no database.
2. A fixed, seeded mix of every read but the exports: the scenario's status, the scenario
   list (limit 20), summary, an allocations page (limit 100, varying offset), allocations
   filtered by district and status=approved, one project by id (ids taken from the
   allocations), resources, the dataset list.
3. Exports, cold: ``--export-clients`` (200) concurrent clients read the reuse-list GeoJSON
   and the Chinese report of the same result, neither made before the phase starts (the
   case that gave 56% errors before exports were made once and served as files).

Each client sends its next request as soon as the last one is answered (closed loop), so
requests/s is the throughput at that concurrency and latency includes queueing. Latency
is wall time from send to the whole body read (time.perf_counter); percentiles are
numpy's. Every response must be 200; others (and client errors) are counted and shown.
Before timing, each endpoint is read once so that result tables are in the server's
cache. Client and server share the machine, so the client's own CPU use is in the
figures too; the CPU seconds of both are printed. Output is printed only, as markdown.
``--data-dir`` keeps the data dir, so a rerun with the same scenario is served from the
store and skips the solve.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlencode

import httpx
import numpy as np
from sqlalchemy.orm import Session

from api.store import connect, create_key, migrate
from benchmarks.__main__ import machine, table

HOST = "127.0.0.1"
SEED = 20261125
MIX = (
    "status",
    "scenario list",
    "summary",
    "allocations page",
    "allocations filtered",
    "project",
    "resources",
    "datasets",
)


@dataclass
class Samples:
    """Latencies (s) of the 200 responses and the status of every other one (0: no answer)."""

    latencies: list[float] = field(default_factory=list)
    failures: Counter[int] = field(default_factory=Counter)
    no_answer: Counter[str] = field(default_factory=Counter)  # by the client's error


@dataclass
class Result:
    seconds: float
    by_name: dict[str, Samples]
    server_cpu_s: float | None
    client_cpu_s: float


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def planner_key(data_dir: Path) -> str:
    engine = connect(f"sqlite:///{data_dir / 'allocator.db'}")
    migrate(engine)
    with Session(engine) as session, session.begin():
        _, key = create_key(session, "api latency benchmark", "planner")
    engine.dispose()
    return key


def start_server(data_dir: Path, port: int, log: IO[bytes]) -> subprocess.Popen[bytes]:
    exe = str(Path(sys.executable).parent / "allocator")
    env = {**os.environ, "ALLOCATOR_DATA_DIR": str(data_dir), "ALLOCATOR_RUN_WORKER": "true"}
    args = [exe, "serve", "--host", HOST, "--port", str(port)]
    return subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)


def stop_server(proc: subprocess.Popen[bytes]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    return proc.wait()


def wait_ready(client: httpx.Client, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode}")
        try:
            if client.get("/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server was not ready after {timeout:g} s")


def solve(client: httpx.Client, scenario: str, timeout: float = 3600) -> tuple[str, str]:
    """Submit the scenario and wait for it; its id and a line on how long it took.

    The server commits a submission after sending its 202, so a status read right after
    it may be a 404 for a moment; those are retried (for up to 30 s) and counted.
    """
    t0 = time.perf_counter()
    reply = client.post("/v1/scenarios", json={"base": scenario})
    reply.raise_for_status()
    scenario_id = reply.json()["id"]
    early_404s = 0
    while True:
        reply = client.get(f"/v1/scenarios/{scenario_id}")
        elapsed = time.perf_counter() - t0
        if reply.status_code == 404 and elapsed < 30:
            early_404s += 1
        else:
            reply.raise_for_status()
            job: dict[str, Any] = reply.json()
            if job["status"] in ("done", "failed", "cancelled"):
                break
        if elapsed > timeout:
            raise RuntimeError(f"scenario {scenario_id} not done after {timeout:g} s")
        time.sleep(0.5)
    if job["status"] != "done":
        raise RuntimeError(f"scenario {scenario_id} {job['status']}: {job['message']}")
    late = f"; {early_404s} status read(s) got 404 just after the 202" if early_404s else ""
    if job["started_at"] is None:
        return scenario_id, f"served from the store (solved in an earlier run), no solve{late}"
    wall = "–" if job["wall_s"] is None else f"{job['wall_s']:.1f}"
    return scenario_id, (
        f"{elapsed:.1f} s from submission to done (job wall_s {wall}, "
        f"result {job['result_status']}){late}"
    )


@dataclass
class Plan:
    """What the mix draws from: the scenario, its project ids, districts, allocation rows."""

    scenario_id: str
    project_ids: list[str]
    districts: list[str]
    rows: int

    def request(self, rng: random.Random) -> tuple[str, str]:
        base = f"/v1/scenarios/{self.scenario_id}"
        name = rng.choice(MIX)
        if name == "status":
            return name, base
        if name == "scenario list":
            return name, "/v1/scenarios?limit=20"
        if name == "datasets":
            return name, "/v1/datasets"
        if name == "summary":
            return name, f"{base}/summary"
        if name == "allocations page":
            offset = rng.randrange(0, max(self.rows, 1), 100)
            return name, f"{base}/allocations?limit=100&offset={offset}"
        if name == "allocations filtered":
            query = {"district": rng.choice(self.districts), "status": "approved", "limit": 100}
            return name, f"{base}/allocations?{urlencode(query)}"
        if name == "project":
            return name, f"{base}/projects/{rng.choice(self.project_ids)}"
        return name, f"{base}/resources"


EXPORTS = ("reuse list", "report")


@dataclass
class Exports:
    """The heavy reads of one result: its reuse-list GeoJSON and its report."""

    scenario_id: str

    def request(self, rng: random.Random) -> tuple[str, str]:
        name = rng.choice(EXPORTS)
        base = f"/v1/scenarios/{self.scenario_id}"
        return name, f"{base}/reuse-list" if name == "reuse list" else f"{base}/report?lang=zh"


def make_plan(client: httpx.Client, scenario_id: str) -> Plan:
    reply = client.get(f"/v1/scenarios/{scenario_id}/allocations", params={"limit": 5000})
    reply.raise_for_status()
    page = reply.json()
    items = page["items"]
    if not items:
        raise RuntimeError(f"scenario {scenario_id} has no allocations to read")
    ids = sorted(str(r["project_id"]) for r in items)
    districts = sorted({str(r["district"]) for r in items})
    return Plan(scenario_id, ids, districts, int(page["total"]))


def warm_up(client: httpx.Client, plan: Plan) -> None:
    """Each endpoint once, so the result tables are read into the server's cache."""
    rng = random.Random(SEED)
    seen: set[str] = set()
    while len(seen) < len(MIX):
        name, path = plan.request(rng)
        if name not in seen:
            client.get(path).raise_for_status()
            seen.add(name)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux only)."""
    stat = Path(f"/proc/{pid}/stat")
    if not stat.exists():
        return None
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run_client(
    client: httpx.AsyncClient,
    rng: random.Random,
    plan: Plan | Exports | None,
    deadline: float,
    by_name: dict[str, Samples],
) -> None:
    while time.perf_counter() < deadline:
        name, path = plan.request(rng) if plan else ("/healthz", "/healthz")
        samples = by_name.setdefault(name, Samples())
        t0 = time.perf_counter()
        try:
            reply = await client.get(path)
        except httpx.HTTPError as exc:
            samples.failures[0] += 1
            samples.no_answer[type(exc).__name__] += 1
            continue
        elapsed = time.perf_counter() - t0
        if reply.status_code == 200:
            samples.latencies.append(elapsed)
        else:
            samples.failures[reply.status_code] += 1
            if reply.status_code == 503:  # overloaded, as the server says: wait as it asks
                await asyncio.sleep(float(reply.headers.get("Retry-After", "5")))


async def phase(
    base_url: str,
    key: str,
    clients: int,
    seconds: float,
    plan: Plan | Exports | None,
    server_pid: int,
) -> Result:
    """``clients`` closed-loop clients for ``seconds``; the mix if a plan is given, else /healthz."""
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    pool = [
        httpx.AsyncClient(
            base_url=base_url,
            headers={"X-API-Key": key},
            timeout=300,
            limits=limits,
            trust_env=False,
        )
        for _ in range(clients)
    ]
    try:
        await asyncio.gather(*(c.get("/healthz") for c in pool))  # open the connections
        by_name: dict[str, Samples] = {}
        rngs = [random.Random(SEED + i) for i in range(clients)]
        server0, client0 = cpu_seconds(server_pid), time.process_time()
        t0 = time.perf_counter()
        await asyncio.gather(
            *(
                run_client(c, r, plan, t0 + seconds, by_name)
                for c, r in zip(pool, rngs, strict=True)
            )
        )
        elapsed = time.perf_counter() - t0
        server1, client1 = cpu_seconds(server_pid), time.process_time()
    finally:
        await asyncio.gather(*(c.aclose() for c in pool))
    server_cpu = server1 - server0 if server0 is not None and server1 is not None else None
    return Result(elapsed, by_name, server_cpu, client1 - client0)


def row(name: str, samples: Samples, seconds: float, floor_p50: float | None) -> list[object]:
    ms = np.asarray(samples.latencies) * 1000
    p50, p95, p99 = np.percentile(ms, [50, 95, 99]) if ms.size else (np.nan,) * 3
    ratio = f"{p50 / floor_p50:.1f}×" if floor_p50 else "1.0×"
    failed = sum(samples.failures.values())
    return [name, f"{ms.size + failed:,}", f"{p50:.1f}", f"{p95:.1f}", f"{p99:.1f}",
            f"{(ms.size + failed) / seconds:,.0f}", ratio, str(failed)]  # fmt: skip


def report(
    health: Result, mix: Result, exports: Result | None = None, exports_clients: int = 0
) -> str:
    floor = float(np.percentile(health.by_name["/healthz"].latencies, 50)) * 1000
    rows = [row("/healthz (alone)", health.by_name["/healthz"], health.seconds, None)]
    everything = Samples()
    for name in MIX:
        samples = mix.by_name.get(name, Samples())
        rows.append(row(name, samples, mix.seconds, floor))
        everything.latencies += samples.latencies
        everything.failures.update(samples.failures)
    rows.append(row("**mix (all of the above)**", everything, mix.seconds, floor))
    if exports is not None:
        for name in EXPORTS:
            rows.append(row(f"{name} (cold, {exports_clients} clients)",
                            exports.by_name.get(name, Samples()), exports.seconds, floor))  # fmt: skip
    head = ["endpoint", "requests", "p50 ms", "p95 ms", "p99 ms", "requests/s",
            "p50 / healthz p50", "non-200"]  # fmt: skip
    return table(head, rows)


def log_problems(log: IO[bytes]) -> list[str]:
    """Server log lines that are not access-log lines of 2xx answers nor plain INFO."""
    log.seek(0)
    lines = log.read().decode(errors="replace").splitlines()
    return [
        line
        for line in lines
        if not line.startswith("INFO:") or ('HTTP/1.1" ' in line and '" 2' not in line)
    ]


@dataclass
class Run:
    solved: str
    plan: Plan
    health: Result
    mix: Result
    exports: Result | None = None
    exit_code: int | None = None
    log_problems: list[str] = field(default_factory=list)


def measure(args: argparse.Namespace, data_dir: Path, log: IO[bytes]) -> Run:
    """Start the server, solve, run both phases, stop the server."""
    port = args.port or free_port()
    base_url = f"http://{HOST}:{port}"
    key = planner_key(data_dir)
    proc = start_server(data_dir, port, log)
    try:
        headers = {"X-API-Key": key}
        with httpx.Client(base_url=base_url, headers=headers, timeout=60, trust_env=False) as c:
            wait_ready(c, proc)
            note(f"server ready on {base_url}; solving {args.scenario!r}…")
            scenario_id, solved = solve(c, args.scenario)
            note(f"solve: {solved}")
            plan = make_plan(c, scenario_id)
            warm_up(c, plan)
        note(f"measuring /healthz, {args.clients} clients, {args.seconds:g} s…")
        health = asyncio.run(phase(base_url, key, args.clients, args.seconds, None, proc.pid))
        note(f"measuring the read mix, {args.clients} clients, {args.seconds:g} s…")
        mix = asyncio.run(phase(base_url, key, args.clients, args.seconds, plan, proc.pid))
        exports = None
        if args.export_clients:
            note(f"measuring exports (cold), {args.export_clients} clients, {args.seconds:g} s…")
            exports = asyncio.run(phase(base_url, key, args.export_clients, args.seconds,
                                        Exports(scenario_id), proc.pid))  # fmt: skip
    finally:
        code = stop_server(proc)
    return Run(solved, plan, health, mix, exports, code, log_problems(log))


def note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def cpu_share(seconds: float | None, wall: float) -> str:
    return "–" if seconds is None else f"{seconds / wall:.2f}"


def print_run(args: argparse.Namespace, run: Run) -> None:
    health, mix = run.health, run.mix
    cpu = "; ".join(
        f"{name}: server {cpu_share(r.server_cpu_s, r.seconds)}, "
        f"client {cpu_share(r.client_cpu_s, r.seconds)}"
        for name, r in (("/healthz", health), ("mix", mix))
    )
    print(f"## Read latency of the scenario service ({args.scenario})\n")
    print(report(health, mix, run.exports, args.export_clients))
    print(
        f"\nMachine: {machine()}; fastapi {version('fastapi')}, uvicorn {version('uvicorn')}, "
        f"httpx {version('httpx')}.\n"
        f"Run: `python -m benchmarks.api_latency --clients {args.clients} --seconds "
        f"{args.seconds:g} --scenario {args.scenario} --export-clients {args.export_clients}`: "
        f"{args.clients} concurrent clients, "
        f"{args.seconds:g} s per phase ({health.seconds:.1f} s /healthz, {mix.seconds:.1f} s "
        f"mix); one uvicorn process on {HOST}, SQLite, access log on.\n"
        f"Solve: {run.solved}; {run.plan.rows:,} allocation rows, "
        f"{len(run.plan.districts)} districts.\n"
        f"CPU (seconds per wall second): {cpu}.\n"
        f"Server exit code {run.exit_code}; {len(run.log_problems)} server log line(s) "
        f"other than INFO{':' if run.log_problems else '.'}"
    )
    for line in run.log_problems[:20]:
        print(f"    {line}")
    failures = {
        name: dict(s.failures)
        for r in (health, mix, run.exports)
        if r is not None
        for name, s in r.by_name.items()
        if s.failures
    }
    if failures:
        print(f"Non-200 answers by status (0: no answer): {failures}")
        errors = {name: dict(s.no_answer) for r in (health, mix, run.exports) if r is not None
                  for name, s in r.by_name.items() if s.no_answer}  # fmt: skip
        print(f"Requests without an answer, by the client's error: {errors}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    parser.add_argument("--scenario", default="baseline", help="bundled scenario to solve")
    parser.add_argument("--export-clients", type=int, default=200,
                        help="clients of the cold exports phase (0: none)")  # fmt: skip
    parser.add_argument("--port", type=int, default=0, help="0: a free port")
    parser.add_argument("--data-dir", type=Path, help="kept (reruns skip the solve)")
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="allocator-api-latency-"))
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryFile() as log:
            try:
                run = measure(args, data_dir, log)
            except Exception:
                log.seek(0)
                note("server log (end):\n" + log.read().decode(errors="replace")[-4000:])
                raise
    finally:
        if args.data_dir is None:
            shutil.rmtree(data_dir, ignore_errors=True)
    print_run(args, run)


if __name__ == "__main__":
    main()
