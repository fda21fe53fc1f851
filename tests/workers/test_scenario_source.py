"""A worker without the scenario directory reads the pinned files from a mirror."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

import evaluator
from app.config import Settings
from evaluator.testing.fake_server import FakeServerConfig
from tests.conftest import SCENARIO_DATA
from tests.workers.test_flows import Harness
from workers import flows


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def mirror() -> Iterator[str]:
    handler = functools.partial(_Quiet, directory=str(SCENARIO_DATA))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_evaluation_reads_scenarios_from_a_mirror(settings: Settings, mirror: str) -> None:
    remote = settings.model_copy(update={"scenario_data": None, "scenario_mirror": mirror})
    harness = Harness(remote, FakeServerConfig())
    sid = harness.submission()
    harness.build(sid)
    flows.evaluate(harness.ctx, harness.evaluation_id())
    sub, _ = harness.get(sid)
    assert sub.status.value == "scored", sub.failure_message
    cache = remote.data_dir / "scenario-cache"
    for relative in evaluator.get_suite("smoke").data_files:
        assert (cache / relative).read_bytes() == (SCENARIO_DATA / relative).read_bytes()
