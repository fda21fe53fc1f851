"""A worker killed with SIGKILL in the middle of an evaluation: nothing is lost. The reaper sees
its heartbeat stop, re-queues the evaluation, and a new worker resumes it from the responses
stored so far, asking the model only what is missing."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.e2e.conftest import running_stack
from tests.e2e.test_golden_path import asked_keys, context_tar

pytestmark = [pytest.mark.e2e, pytest.mark.docker, pytest.mark.postgres, pytest.mark.redis]

REDIS_URL = "redis://127.0.0.1:6379/13"


def test_sigkilled_worker_is_resumed_by_the_reaper(tmp_path: Path) -> None:
    fast_reaper = {"PODIUM_REAP_EVERY_S": "2", "PODIUM_EVAL_CONCURRENCY": "1"}
    with running_stack(tmp_path / "data", REDIS_URL, fast_reaper, beat=True) as stack:
        resp = stack.submit("phoenix", context_tar(["slow", "0.25"]))
        assert resp.status_code == 201, resp.text
        sid = resp.json()["id"]
        headers = stack.team("phoenix")
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            body = httpx.get(f"{stack.url}/api/v1/submissions/{sid}", headers=headers).json()
            if body["progress"]["done"] >= 8:
                break
            assert body["status"] in ("queued", "building", "evaluating"), body
            time.sleep(0.3)
        total = body["progress"]["total"]
        stack.stop_worker(kill=True)
        stack.start_worker()
        final = stack.wait("phoenix", sid, timeout_s=300)
        assert final["status"] == "scored", final
        assert final["progress"] == {"done": total, "total": total}
        second_run = asked_keys(stack.logs("phoenix", sid)["container_log"])
        engine = create_engine(
            stack.env["PODIUM_DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1)
        )
        with engine.connect() as conn:
            attempts, saved = conn.execute(
                text(
                    "select e.attempts, (select count(*) from cached_responses) "
                    "from evaluations e where e.submission_id = :sid"
                ),
                {"sid": sid},
            ).one()
        engine.dispose()
        assert attempts == 2
        # The new container was asked only what the killed run had not stored.
        assert 0 < len(second_run) <= total - 8
        assert saved >= total
