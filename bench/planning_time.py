"""Time to plan a HELM conf in-process: data verified, every run spec planned, no server.

This is the CPU work `podium eval` does before (and, for a large suite, while) it sends requests:
parsing the data files, drawing instances, in-context examples and perturbed copies. It needs no
server and is less sensitive to other processes on the machine than the end-to-end benchmark.

    .venv/bin/python bench/planning_time.py               # the organizers' open conf, 3 rounds
    .venv/bin/python bench/planning_time.py --rounds 5 --conf FILE.conf
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONF = ROOT.parent / "shared" / "challenge-2023" / "run_specs_open_2000_budget.conf"
DEFAULT_DATA = ROOT.parent / "shared" / "scenarios"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conf", type=Path, default=DEFAULT_CONF)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    started = time.perf_counter()
    from evaluator.conf import suite_from_conf
    from evaluator.data import DataSource
    from evaluator.planning import plan_suite

    imported = time.perf_counter() - started
    suite = suite_from_conf(args.conf.read_bytes(), name="conf", source=args.conf.name).suite
    print(
        f"{args.conf.name}: {len(suite.run_specs)} run specs; evaluator imported in {imported:.2f}s"
    )
    for round_no in range(1, args.rounds + 1):
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        cpu0, t0 = time.process_time(), time.perf_counter()
        data = DataSource(args.data)  # fresh each round: nothing is kept between rounds
        data.verify(suite.data_files)
        t1 = time.perf_counter()
        plans = plan_suite(suite.run_specs, data)
        t2, cpu = time.perf_counter(), time.process_time() - cpu0
        units = sum(len(plan.evaluation_items()) for plan in plans)
        print(
            f"round {round_no}: verify {t1 - t0:.2f}s, plan {t2 - t1:.2f}s, total {t2 - t0:.2f}s "
            f"wall / {cpu:.2f}s CPU, {units} units; load avg {load}"
        )


if __name__ == "__main__":
    main()
