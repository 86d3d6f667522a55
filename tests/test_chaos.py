"""The chaos run in the small form CI affords (benchmarks/chaos.py runs the full one): jobs
through kill -9s of the server and its solver processes — none lost, none stuck, every done
result readable whole, every idempotent replay answered with the first id."""

from __future__ import annotations

import tempfile

import pytest

from benchmarks.chaos import run


@pytest.mark.slow
@pytest.mark.solver
def test_jobs_survive_kill_9s_of_the_server_and_its_workers(tmp_path):
    with tempfile.TemporaryFile() as log:
        f = run(jobs=8, kills=2, seed=7, database_url=None, wait_s=300, root=tmp_path, log=log)
        log.seek(0)
        tail = log.read().decode(errors="replace")[-3000:]
    assert f.kills == 2 and f.jobs == 8
    assert (f.lost, f.stuck, f.failed, f.unreadable) == (0, 0, [], []), tail
    assert f.done == 8 and f.replays >= 3 and f.replays_other_id == 0
