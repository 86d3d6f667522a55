"""Jobs through kill -9s of the scenario service and its workers.

``python -m benchmarks.chaos [--jobs 100] [--kills 10] [--seed 7] [--database-url URL]``

A small city (``generate-sample --projects 200 --parcels 1500``) and a scenario on it
without locks or count rules (each solve takes a few seconds) are bundled in a temporary
folder; ``allocator serve`` runs on it (SQLite in the data folder, or ``--database-url``,
e.g. a PostgreSQL URL). The jobs are submitted in ``--kills`` rounds, each with its own
Idempotency-Key and energy supply factor; after each round, at a moment drawn from the
seed, the server's whole process group (the server and its solver processes) is killed
with SIGKILL and started again, and a few earlier submissions are sent again with their
keys. A submission that got no answer because of a kill is sent again after the restart,
as a workflow would. At the end every job must reach a final state.

Counted: jobs lost (404 after a 202), stuck (not final after ``--wait`` seconds), failed,
done with a result that cannot be read whole (summary, allocations), replays answered
with another id than the first answer, and temporary folders left in the data folder.
Printed as markdown.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import yaml
from sqlalchemy.orm import Session

from api.store import connect, create_key, migrate
from benchmarks.__main__ import machine, table
from benchmarks.api_latency import HOST, free_port, wait_ready

ROOT = Path(__file__).resolve().parents[1]
FINAL = ("done", "failed", "cancelled")


def bundle(root: Path) -> None:
    """The small city and its scenario, laid out as the service's bundled folders."""
    exe = str(Path(sys.executable).parent / "allocator")
    subprocess.run([exe, "generate-sample", "--out", str(root / "data" / "sample"),
                    "--projects", "200", "--parcels", "1500"], check=True, capture_output=True)  # fmt: skip
    doc = yaml.safe_load((ROOT / "scenarios" / "baseline.yaml").read_text(encoding="utf-8"))
    doc.update(name="chaos", description="A small city for the chaos run.", locked_in={},
               locked_out=[], count_rules=[], closures=[])  # fmt: skip
    doc["solver"] = {**doc.get("solver", {}), "time_limit_s": 30}
    (root / "scenarios").mkdir()
    text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    (root / "scenarios" / "chaos.yaml").write_text(text, encoding="utf-8")


def planner_key(url: str) -> str:
    engine = connect(url)
    migrate(engine)
    with Session(engine) as session, session.begin():
        _, key = create_key(session, "chaos run", "planner")
    engine.dispose()
    return key


@dataclass
class Server:
    root: Path
    url: str
    port: int
    log: IO[bytes]
    proc: subprocess.Popen[bytes] | None = None

    def start(self, run_worker: bool = True, extra: dict[str, str] | None = None) -> None:
        env = {**os.environ, "ALLOCATOR_DATA_DIR": str(self.root / "var"),
               "ALLOCATOR_DATABASE_URL": self.url,
               "ALLOCATOR_BUNDLED_DATA_DIR": str(self.root / "data"),
               "ALLOCATOR_BUNDLED_SCENARIOS_DIR": str(self.root / "scenarios"),
               "ALLOCATOR_RUN_WORKER": str(run_worker).lower(), "ALLOCATOR_STALE_AFTER_S": "3",
               "ALLOCATOR_POLL_INTERVAL_S": "0.2", "ALLOCATOR_MAX_ATTEMPTS": "20", **(extra or {})}  # fmt: skip
        exe = str(Path(sys.executable).parent / "allocator")
        args = [exe, "serve", "--host", HOST, "--port", str(self.port)]
        self.proc = subprocess.Popen(args, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)  # fmt: skip

    def kill(self) -> None:
        """SIGKILL to the server and every process it started."""
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):  # already gone
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Figures:
    jobs: int = 0
    kills: int = 0
    resubmitted: int = 0  # sent again after a kill left them unanswered
    replays: int = 0
    replays_other_id: int = 0
    lost: int = 0
    stuck: int = 0
    failed: list[str] = field(default_factory=list)
    done: int = 0
    unreadable: list[str] = field(default_factory=list)
    temporary_left: int = 0
    attempts_max: int = 0
    seconds: float = 0.0


def submit(client: httpx.Client, key: str, factor: float) -> str | None:
    """The id answered for a submission, or None if the server did not answer."""
    body = {"base": "chaos", "overrides": {"resources": {"energy": {"supply_factor": factor}}}}
    try:
        reply = client.post("/v1/scenarios", json=body, headers={"Idempotency-Key": key})
    except httpx.TransportError:
        return None
    if reply.status_code != 202:
        raise RuntimeError(f"submission {key}: {reply.status_code} {reply.text[:300]}")
    return str(reply.json()["id"])


def run(jobs: int, kills: int, seed: int, database_url: str | None, wait_s: float,
        root: Path, log: IO[bytes]) -> Figures:  # fmt: skip
    rng = random.Random(seed)
    bundle(root)
    (root / "var").mkdir()
    url = database_url or f"sqlite:///{root / 'var' / 'allocator.db'}"
    key = planner_key(url)
    server = Server(root, url, free_port(), log)
    figures = Figures(jobs=jobs)
    factors = {f"chaos-{i:03d}": round(0.80 + 0.4 * i / max(jobs - 1, 1), 4) for i in range(jobs)}
    answered: dict[str, str] = {}
    sent: list[str] = []
    keys = list(factors)
    rounds = [keys[i::kills] for i in range(kills)] if kills else [keys]
    t0 = time.perf_counter()
    server.start()
    base = f"http://{HOST}:{server.port}"
    with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=30, trust_env=False) as c:
        for batch in rounds:
            wait_ready(c, server.proc)  # type: ignore[arg-type]
            unanswered = [k for k in sent if k not in answered]  # the last kill cut them off
            figures.resubmitted += len(unanswered)
            for k in [*unanswered, *batch]:
                if k not in sent:
                    sent.append(k)
                found = submit(c, k, factors[k])
                if found is not None:
                    answered[k] = found
            for k in rng.sample(sorted(answered), min(3, len(answered))):
                again = submit(c, k, factors[k])
                figures.replays += 1
                figures.replays_other_id += again is not None and again != answered[k]
            if kills:
                time.sleep(rng.uniform(0.5, 4.0))  # the solves of this round under way
                server.kill()
                figures.kills += 1
                server.start()
        wait_ready(c, server.proc)  # type: ignore[arg-type]
        for k in [k for k in factors if k not in answered]:
            found = submit(c, k, factors[k])
            if found is not None:
                answered[k] = found
        deadline = time.monotonic() + wait_s
        states: dict[str, dict[str, Any]] = {}
        while time.monotonic() < deadline:
            states = {}
            for k, sid in answered.items():
                reply = c.get(f"/v1/scenarios/{sid}")
                states[k] = reply.json() if reply.status_code == 200 else {"status": "lost"}
            if all(s["status"] in (*FINAL, "lost") for s in states.values()):
                break
            time.sleep(1.0)
        figures.seconds = time.perf_counter() - t0
        figures.lost = sum(s["status"] == "lost" for s in states.values()) + jobs - len(answered)
        figures.stuck = sum(s["status"] not in (*FINAL, "lost") for s in states.values())
        figures.failed = [
            f"{k}: {s.get('message', '')}" for k, s in states.items() if s["status"] == "failed"
        ]
        figures.attempts_max = max(
            (int(s.get("attempts") or 0) for s in states.values()), default=0
        )
        for k, s in states.items():
            if s["status"] != "done":
                continue
            figures.done += 1
            sid = answered[k]
            try:
                summary = c.get(f"/v1/scenarios/{sid}/summary")
                rows = c.get(f"/v1/scenarios/{sid}/allocations", params={"limit": 5000})
                whole = summary.status_code == rows.status_code == 200
                whole = whole and json.loads(summary.text)["status"] in ("optimal", "feasible")
                whole = whole and rows.json()["total"] == len(rows.json()["items"]) > 0
            except (httpx.HTTPError, ValueError, KeyError):
                whole = False
            if not whole:
                figures.unreadable.append(k)
    server.stop()
    var = root / "var"
    figures.temporary_left = (
        sum(1 for p in (var / "results").glob(".*")) if (var / "results").exists() else 0
    )
    return figures


def print_figures(args: argparse.Namespace, f: Figures) -> None:
    store = "PostgreSQL" if args.database_url else "SQLite"
    print(f"## Chaos: {f.jobs} jobs through {f.kills} kill -9s ({store})\n")
    rows: list[list[object]] = [["jobs submitted", f.jobs], ["kill -9s of the server and its workers", f.kills],
            ["submissions sent again after a kill left them unanswered", f.resubmitted],
            ["jobs lost", f.lost], ["jobs stuck (not final)", f.stuck],
            ["jobs failed", len(f.failed)], ["jobs done", f.done],
            ["done but not readable whole", len(f.unreadable)],
            ["idempotent replays", f.replays], ["replays answered with another id", f.replays_other_id],
            ["temporary result folders left (removed at the next start after an hour)", f.temporary_left],
            ["most runs of one job", f.attempts_max], ["wall seconds", f"{f.seconds:.0f}"]]  # fmt: skip
    print(table(["figure", "value"], rows))
    print(f"\nMachine: {machine()}.\nRun: `python -m benchmarks.chaos --jobs {args.jobs} "
          f"--kills {args.kills} --seed {args.seed}`; one server process, one solver "
          "process, stale_after_s 3, max_attempts 20.")  # fmt: skip
    for line in f.failed[:10]:
        print(f"    failed {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", help="default: SQLite in the data folder")
    parser.add_argument("--wait", type=float, default=1800, help="seconds for jobs to finish")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="allocator-chaos-"))
    try:
        with tempfile.TemporaryFile() as log:
            figures = run(args.jobs, args.kills, args.seed, args.database_url, args.wait, root, log)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print_figures(args, figures)


if __name__ == "__main__":
    main()
