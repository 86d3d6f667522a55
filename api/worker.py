"""The job runner: one thread per server that starts each solve in its own process.

The thread claims queued jobs (a conditional update, so two servers on one database never
run the same job), relays progress, heartbeats, cancels, stops over-long solves, records
results and delivers callbacks. A job whose heartbeat stops (its server died) is queued
again, or failed with the reason once it has been tried ``max_attempts`` times.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import json
import logging
import multiprocessing
import os
import secrets
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from api.settings import ApiSettings
from api.store import ApiKey, Job, Result, audit, now
from api.submissions import resolve_all

log = logging.getLogger("allocator.api")


def solve_in_child(document: dict[str, Any], locations: dict[str, str], out: str, cache: str,
                   conn: Connection) -> None:  # fmt: skip
    """Run in a fresh process: solve as ``allocator solve`` does, report over ``conn``."""
    from allocator.engine import Options, solve
    from allocator.errors import AllocatorError, Infeasible, InputError, internal_error
    from allocator.explain.result import result_of
    from allocator.writers.folder import write_result
    from api.errors import kept
    from api.submissions import read_job_inputs

    try:
        options = Options(cache=Path(cache), progress=lambda m: conn.send(("progress", m)))
        run = solve(read_job_inputs(document, locations), options)
        with contextlib.suppress(Infeasible):  # a result: its summary has the diagnosis
            run.solution()
        summary = write_result(result_of(run), Path(out))
        conn.send(("done", summary.model_dump(mode="json")))
    except InputError as exc:
        conn.send(("invalid", kept(exc.problems)))
    except AllocatorError as exc:
        conn.send(("failed", str(exc)))
    except Exception as exc:  # a bug: logged with its id; the job says the id, the server stays up
        conn.send(
            ("failed", f"internal error {internal_error(exc)} (a bug, not the data; see the log)")
        )


@dataclass
class Running:
    process: Any  # multiprocessing.Process (spawn context)
    conn: Connection
    started: float
    input_hash: str
    progress: str = ""
    outcome: tuple[str, Any] | None = None


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over ``timestamp.body``, as ``sha256=<hex>``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class Dispatcher:
    def __init__(self, settings: ApiSettings, sessions: sessionmaker[Session]):
        self.settings = settings
        self.sessions = sessions
        self.id = f"{os.getpid()}-{secrets.token_hex(4)}"
        self.running: dict[str, Running] = {}
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="allocator-worker", daemon=True)
        self.ctx = multiprocessing.get_context("spawn")

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        """Stop the loop; solves in progress are killed and queued again (nothing lost)."""
        self.stop_event.set()
        self.thread.join(timeout=30)
        with self.sessions.begin() as session:
            for job_id, run in self.running.items():
                run.process.kill()
                run.process.join(5)
                session.execute(
                    update(Job)
                    .where(Job.id == job_id, Job.status == "running")
                    .values(
                        status="queued",
                        worker=None,
                        attempts=Job.attempts - 1,
                        progress="queued again: the server stopped during the solve",
                    )
                )
        self.running.clear()

    def _loop(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.step()
            except Exception:  # logged; the loop must outlive a bad moment of the database
                log.exception("worker step failed")
            self.stop_event.wait(self.settings.poll_interval_s)

    def step(self) -> None:
        self._recover()
        self._watch()
        while len(self.running) < self.settings.workers and self._claim():
            pass
        self._callbacks()

    # -- jobs ---------------------------------------------------------------------------
    def _recover(self) -> None:
        """Jobs left running by a server that stopped: run again or fail with the reason."""
        stale = now() - dt.timedelta(seconds=self.settings.stale_after_s)
        with self.sessions.begin() as session:
            jobs = session.scalars(
                select(Job).where(Job.status == "running", Job.heartbeat_at < stale)
            ).all()
            for job in jobs:
                if job.id in self.running:
                    continue
                if job.cancel_requested:
                    job.status, job.finished_at = "cancelled", now()
                    job.message = "cancelled (its server stopped during the solve)"
                elif job.attempts >= self.settings.max_attempts:
                    job.status, job.finished_at = "failed", now()
                    job.message = (
                        f"interrupted: the server running it stopped during the solve, "
                        f"{job.attempts} time(s) of max_attempts = {self.settings.max_attempts}"
                    )
                else:
                    job.status, job.worker = "queued", None
                    job.progress = f"queued again after an interrupted run (attempt {job.attempts})"
                audit(session, None, "scenario.recover", job.id, status=job.status)

    def _claim(self) -> bool:
        with self.sessions.begin() as session:
            busy = [run.input_hash for run in self.running.values()]  # one solve per input hash
            job = session.scalars(
                select(Job)
                .where(Job.status == "queued", Job.input_hash.not_in(busy))
                .order_by(Job.created_at, Job.id)
                .limit(1)
            ).first()
            if job is None:
                return False
            claimed = session.execute(  # type: ignore[attr-defined]
                update(Job)
                .where(Job.id == job.id, Job.status == "queued")
                .values(
                    status="running",
                    worker=self.id,
                    attempts=Job.attempts + 1,
                    started_at=now(),
                    heartbeat_at=now(),
                    progress="starting",
                )
            ).rowcount
            if claimed != 1:
                return True  # another server took it: look again
            if session.get(Result, job.input_hash) is not None:
                self._finish(session, job.id, "done", job.input_hash, "served from the store")
                return True
            resolve = resolve_all(session, self.settings, job.document)
            job_id, document, input_hash = job.id, job.document, job.input_hash
        locations = {k: a.location for k, a in resolve.items()}
        out = self.settings.data_dir / "results" / input_hash
        parent, child = self.ctx.Pipe(duplex=False)
        cache = str((self.settings.data_dir / "cache").resolve())
        process = self.ctx.Process(
            target=solve_in_child, args=(document, locations, str(out), cache, child), daemon=True
        )
        process.start()
        child.close()
        self.running[job_id] = Running(process, parent, time.monotonic(), input_hash)
        return True

    @staticmethod
    def _drain(run: Running) -> None:
        try:
            while run.conn.poll():
                kind, payload = run.conn.recv()
                if kind == "progress":
                    run.progress = str(payload)
                else:
                    run.outcome = (kind, payload)
        except (EOFError, OSError):
            pass

    def _watch(self) -> None:
        for job_id, run in list(self.running.items()):
            self._drain(run)
            with self.sessions.begin() as session:
                job = session.get(Job, job_id)
                if job is None:
                    continue
                stop = None
                if job.cancel_requested:
                    stop = ("cancelled", "cancelled while running")
                elif time.monotonic() - run.started > self.settings.max_job_wall_s:
                    limit = self.settings.max_job_wall_s
                    stop = ("failed", f"stopped after max_job_wall_s = {limit:g} s")
                if stop is not None:
                    run.process.kill()
                    run.process.join(5)
                    self._finish(session, job_id, stop[0], None, stop[1])
                    continue
                job.heartbeat_at = now()
                job.progress = run.progress or job.progress
                if run.process.is_alive():
                    continue
                run.process.join()
                self._drain(run)  # what it sent between the last look and its exit
                self._record(session, job_id, run)

    def _record(self, session: Session, job_id: str, run: Running) -> None:
        if run.outcome is None:
            code = run.process.exitcode
            self._finish(
                session,
                job_id,
                "failed",
                None,
                f"the solve process ended without a result (exit code {code})",
            )
            return
        kind, payload = run.outcome
        if kind == "invalid":
            job = session.get(Job, job_id)
            assert job is not None
            job.problems = payload
            self._finish(
                session, job_id, "failed", None, f"invalid input: {len(payload)} problem(s)"
            )
        elif kind == "failed":
            self._finish(session, job_id, "failed", None, str(payload))
        else:
            if session.get(Result, run.input_hash) is None:
                session.add(
                    Result(
                        input_hash=run.input_hash,
                        status=payload["status"],
                        summary=payload,
                        path=f"results/{run.input_hash}",
                        created_at=now(),
                    )
                )
                session.flush()
            message = payload["status"] + (f": {payload['message']}" if payload["message"] else "")
            self._finish(session, job_id, "done", run.input_hash, message)

    def _finish(
        self, session: Session, job_id: str, status: str, result: str | None, message: str
    ) -> None:
        job = session.get(Job, job_id)
        assert job is not None
        job.status, job.result_hash, job.message, job.finished_at = status, result, message, now()
        if job.started_at is not None:
            job.wall_s = (job.finished_at - job.started_at).total_seconds()
        if job.callback_url and status in ("done", "failed"):
            job.callback_state, job.callback_next_at = "pending", now()
        audit(session, None, f"scenario.{status}", job_id, message=message)
        self.running.pop(job_id, None)

    # -- callbacks ------------------------------------------------------------------------
    def _callbacks(self) -> None:
        with self.sessions.begin() as session:
            due = session.scalars(
                select(Job).where(Job.callback_state == "pending", Job.callback_next_at <= now())
            ).all()
            for job in due:
                key = session.get(ApiKey, job.created_by)
                result = session.get(Result, job.result_hash) if job.result_hash else None
                body = json.dumps(
                    {
                        "scenario_id": job.id,
                        "status": job.status,
                        "message": job.message,
                        "summary": result.summary if result else None,
                        "timestamp": now().isoformat() + "Z",
                    },
                    ensure_ascii=False,
                    sort_keys=True,
                ).encode()
                stamp = str(int(time.time()))
                headers = {
                    "Content-Type": "application/json",
                    "X-Allocator-Timestamp": stamp,
                    "X-Allocator-Signature": sign(key.secret if key else "", stamp, body),
                }
                job.callback_attempts += 1
                try:
                    response = httpx.post(
                        str(job.callback_url),
                        content=body,
                        headers=headers,
                        timeout=10,
                        follow_redirects=False,
                    )
                    response.raise_for_status()
                    job.callback_state, job.callback_error = "delivered", ""
                except httpx.HTTPError as exc:
                    job.callback_error = f"{type(exc).__name__}: {exc}"
                    if job.callback_attempts >= self.settings.callback_attempts:
                        job.callback_state = "failed"
                    else:
                        delay = self.settings.callback_backoff_s * 2 ** (job.callback_attempts - 1)
                        job.callback_next_at = now() + dt.timedelta(seconds=delay)
