"""While a suite is planned beside the event loop, nothing the loop needs waits on planning.

- The GIL switch interval is lowered and the cyclic collector is off while planning runs, and
  both come back afterwards (process-wide settings, counted over concurrent planners).
- The objects alive when planning ends are frozen out of later collections until the run ends.
- Metrics that load a package on first use (ROUGE: rouge-score, numpy, nltk) are warmed up in
  the planning thread, not on the event loop where it stopped every answer for 0.4-1 s.
- A SuiteResult's repr is a summary: Python 3.11's `asyncio.run` reprs the main task's result.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
from collections.abc import Iterator

import pytest

import evaluator.metrics.reference as reference
from evaluator import (
    DataSource,
    MemoryResponseCache,
    Neurips2023Client,
    get_suite,
    loop_priority,
    run_suite,
)
from evaluator.metrics import warm_metrics
from evaluator.testing import FakeModelServer, always


@pytest.fixture
def restored() -> Iterator[None]:
    switch, enabled = sys.getswitchinterval(), gc.isenabled()
    yield
    sys.setswitchinterval(switch)
    gc.unfreeze()
    gc.enable() if enabled else gc.disable()


def test_planning_lowers_the_switch_interval_and_pauses_the_collector(restored: None) -> None:
    sys.setswitchinterval(0.005)
    gc.enable()
    gc.unfreeze()
    with loop_priority.run():
        with loop_priority.planning():
            assert sys.getswitchinterval() == pytest.approx(loop_priority.PLANNING_SWITCH_S)
            assert not gc.isenabled()
            with loop_priority.planning():  # a second, concurrent planner
                assert not gc.isenabled()
            # The first one is still planning: nothing is restored yet.
            assert not gc.isenabled()
            assert sys.getswitchinterval() == pytest.approx(loop_priority.PLANNING_SWITCH_S)
        assert sys.getswitchinterval() == pytest.approx(0.005)
        assert gc.isenabled()
        # What planning built is frozen while the run lasts...
        assert gc.get_freeze_count() > 0
    # ...and collectable again once it ends.
    assert gc.get_freeze_count() == 0


def test_a_collector_turned_off_by_the_caller_stays_off(restored: None) -> None:
    gc.disable()
    with loop_priority.run(), loop_priority.planning():
        pass
    assert not gc.isenabled()


def test_settings_come_back_when_planning_fails(restored: None) -> None:
    sys.setswitchinterval(0.005)
    gc.enable()
    with pytest.raises(RuntimeError), loop_priority.run(), loop_priority.planning():
        raise RuntimeError("a broken data file")
    assert sys.getswitchinterval() == pytest.approx(0.005)
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_each_warm_up_runs_for_the_metrics_that_need_it(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(reference, "_WARM_UPS", {})
    reference.register_warm_up(("m1", "m2"), lambda: calls.append("shared"))
    reference.register_warm_up(("m3",), lambda: calls.append("own"))
    warm_metrics(["m1", "m2", "exact_match"])
    assert calls == ["shared"]
    warm_metrics(["m3", "m1"])
    assert calls == ["shared", "own", "shared"]


def test_rouge_registers_its_warm_up() -> None:
    assert {"rouge_1", "rouge_2", "rouge_l"} <= set(reference._WARM_UPS)


def test_the_runner_warms_metrics_in_the_planning_thread(
    data: DataSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[str] = []
    during: list[tuple[bool, float]] = []

    def warm_up() -> None:
        threads.append(threading.current_thread().name)
        during.append((gc.isenabled(), sys.getswitchinterval()))

    monkeypatch.setattr(reference, "_WARM_UPS", {})
    reference.register_warm_up(("exact_match",), warm_up)
    enabled_before, switch_before = gc.isenabled(), sys.getswitchinterval()

    async def main() -> int:
        async with Neurips2023Client(server.base_url) as client:
            result = await run_suite(get_suite("smoke"), client, MemoryResponseCache(), data)
        return len(result.instances)

    with FakeModelServer(answer=always(" B")) as server:
        assert asyncio.run(main()) == 40
    assert threads == ["podium-planning"]
    # The runner plans inside loop_priority.planning() and runs inside loop_priority.run().
    assert during == [(False, pytest.approx(loop_priority.PLANNING_SWITCH_S))]
    assert (gc.isenabled(), sys.getswitchinterval()) == (enabled_before, switch_before)
    assert gc.get_freeze_count() == 0


def test_a_suite_result_repr_is_a_summary(data: DataSource) -> None:
    async def main() -> str:
        async with Neurips2023Client(server.base_url) as client:
            result = await run_suite(get_suite("smoke"), client, MemoryResponseCache(), data)
        return repr(result)

    with FakeModelServer(answer=always(" B")) as server:
        text = asyncio.run(main())
    assert text.startswith("SuiteResult(suite_name='smoke'")
    assert "instances=40" in text and "InstanceResult" not in text
