"""Evaluator throughput against the fake neurips2023 server with a fixed latency.

Measures, for each concurrency, the request phase's wall time against the ideal
(requests x latency / concurrency), CPU time per request and peak memory of the evaluator process,
then the time to score 10,000 finished instances. The fake server runs in its own process so its
work is not charged to the evaluator. Every configuration runs in a fresh child process, so peak
RSS belongs to that configuration alone.

    .venv/bin/python bench/evaluator_throughput.py [--data /path/to/scenarios]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evaluator import (  # noqa: E402
    DataSource,
    MemoryResponseCache,
    Neurips2023Client,
    ResponseCache,
    SqliteResponseCache,
    Suite,
    get_suite,
    run_suite,
)
from evaluator.core import Request, RequestResult, Token  # noqa: E402
from evaluator.metrics import prediction_text, score_instance, truncate_completion  # noqa: E402
from evaluator.results import (  # noqa: E402
    InstanceResult,
    SuiteResult,
    efficiency,
    score_groups,
    score_run_specs,
)
from evaluator.suites.run_specs import mmlu_run_spec  # noqa: E402
from evaluator.testing import FakeModelServer, always  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "scenarios"


def bench_suite(data_root: Path, per_subject: int) -> Suite:
    """MMLU 5-shot over all 57 subjects, `per_subject` instances each, pinned from MANIFEST.json."""
    manifest = json.loads((data_root / "MANIFEST.json").read_text())
    pins = {entry["file"]: entry["sha256"] for entry in manifest}
    subjects = sorted(
        path.split("/")[-1].removesuffix("_test.csv")
        for path in pins
        if path.startswith("mmlu/data/test/")
    )
    specs = tuple(mmlu_run_spec(s, pins, max_eval_instances=per_subject) for s in subjects)
    return replace(get_suite("smoke"), name="bench", run_specs=specs)


def _serve(latency_s: float, ready: Any, stop: Any) -> None:
    # A thread waking from its latency sleep waits for the GIL up to the switch interval (5 ms
    # by default) while another handler thread computes; that would be server jitter, not
    # evaluator overhead.
    sys.setswitchinterval(0.0002)
    with FakeModelServer(answer=always(" A"), latency_s=latency_s) as server:
        ready.put(server.base_url)
        stop.wait()


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def run_one(
    data_root: Path, concurrency: int, requests: int, latency_s: float, cache: str
) -> dict[str, Any]:
    """One configuration in this (fresh) process."""
    per_subject = -(-requests // 57)
    suite = bench_suite(data_root, per_subject)
    data = DataSource(data_root)
    context = multiprocessing.get_context("fork")
    ready, stop = context.Queue(), context.Event()
    server = context.Process(target=_serve, args=(latency_s, ready, stop), daemon=True)
    server.start()
    base_url = ready.get(timeout=30)
    phase: dict[str, float] = {}

    def progress(done: int, total: int) -> None:
        # The request phase starts once data is loaded and instances are planned.
        if done == 0:
            phase["start_wall"] = time.perf_counter()
            usage = resource.getrusage(resource.RUSAGE_SELF)
            phase["start_cpu"] = usage.ru_utime + usage.ru_stime
            phase["start_rss"] = _rss_mib()

    with tempfile.TemporaryDirectory() as tmp:
        store: ResponseCache = (
            SqliteResponseCache(Path(tmp) / "cache.sqlite")
            if cache == "sqlite"
            else MemoryResponseCache()
        )

        async def main(report: bool) -> SuiteResult:
            async with Neurips2023Client(base_url) as client:
                await client.wait_ready(timeout_s=30, poll_s=0.05)
                return await run_suite(
                    suite,
                    client,
                    store,
                    data,
                    concurrency=concurrency,
                    progress=progress if report else None,
                )

        started = time.perf_counter()
        result = asyncio.run(main(True))
        ended = time.perf_counter()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu_end = usage.ru_utime + usage.ru_stime

        # Re-run with every answer cached: what resuming a finished run costs.
        rerun_started = time.perf_counter()
        again = asyncio.run(main(False))
        rerun_s = time.perf_counter() - rerun_started
        assert again.requests_sent == 0
    stop.set()
    server.join(timeout=10)

    n = len(result.instances)
    request_wall = ended - phase["start_wall"]
    ideal = n * latency_s / concurrency
    return {
        "concurrency": concurrency,
        "requests": n,
        "errors": result.errors,
        "setup_s": phase["start_wall"] - started,
        "wall_s": request_wall,
        "ideal_s": ideal,
        "over_ideal_pct": 100 * (request_wall - ideal) / ideal,
        "cpu_ms_per_request": 1000 * (cpu_end - phase["start_cpu"]) / n,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_before_requests_mib": phase["start_rss"],
        "cached_rerun_s": rerun_s,
        "latency_p50_ms": 1000 * (result.efficiency.latency_p50_s or 0.0),
        "latency_p95_ms": 1000 * (result.efficiency.latency_p95_s or 0.0),
        # What the run would take if the evaluator added nothing to the latencies the server
        # actually delivered (the fake server is not exact under load).
        "observed_ideal_s": result.efficiency.total_inference_s / concurrency,
    }


def score_many(count: int) -> dict[str, Any]:
    """Time to score `count` finished instances: post-process, metrics, aggregation, JSON."""
    specs = [
        replace(mmlu_run_spec(f"subject_{i}", _FakePins(), max_eval_instances=None))
        for i in range(57)
    ]
    mapping = {"A": "first option", "B": "second option", "C": "third option", "D": "fourth"}
    request = Request(prompt="p", temperature=0.0, max_tokens=1, top_k_per_token=5)
    letters = "ABCD"
    finished = [
        (
            specs[i % 57],
            RequestResult(text=f" {letters[i % 4]}", tokens=(Token(" A", -0.1),), latency_s=0.02),
            mapping[letters[(i // 4) % 4]],
        )
        for i in range(count)
    ]
    started = time.perf_counter()
    instances = []
    for spec, result, gold in finished:
        completion = truncate_completion(result, request)
        prediction = prediction_text(completion, mapping)
        metrics = score_instance(spec.metrics, (gold,), prediction)
        instances.append(
            InstanceResult(
                run_spec=spec.name,
                instance_id="id0",
                split="test",
                request_key="k",
                completion=completion,
                prediction=prediction,
                golds=(gold,),
                gold_label=None,
                metrics=metrics,
                correct=metrics["exact_match"] == 1.0,
                error=None,
                num_train_instances=5,
                prompt_truncated=False,
                latency_s=result.latency_s,
                generated_tokens=len(result.tokens),
                cached=True,
            )
        )
    per_spec = score_run_specs(specs, instances)
    score_groups(per_spec)
    efficiency(instances)
    scored = time.perf_counter() - started
    json_started = time.perf_counter()
    json.dumps([{"run_spec": i.run_spec, "metrics": dict(i.metrics)} for i in instances])
    return {"instances": count, "score_s": scored, "json_s": time.perf_counter() - json_started}


class _FakePins(dict[str, str]):
    """Pins for made-up subjects (scoring needs run specs, not data)."""

    def __missing__(self, key: str) -> str:
        return "0" * 64


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data", type=Path, default=Path(os.environ.get("PODIUM_SCENARIO_DATA", DEFAULT_DATA))
    )
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--requests", type=int, default=2052, help="57 subjects x 36")
    parser.add_argument(
        "--serial-requests",
        type=int,
        default=228,
        help="requests at concurrency 1 (57 subjects x 4), to keep it short",
    )
    parser.add_argument("--cache", choices=["sqlite", "memory"], default="sqlite")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    latency = args.latency_ms / 1000

    if args.one is not None:
        requests = args.serial_requests if args.one == 1 else args.requests
        print(json.dumps(run_one(args.data, args.one, requests, latency, args.cache)))
        return

    rows = []
    for concurrency in (1, 16, 64):
        child = subprocess.run(
            [
                sys.executable,
                __file__,
                "--data",
                str(args.data),
                "--latency-ms",
                str(args.latency_ms),
                "--requests",
                str(args.requests),
                "--serial-requests",
                str(args.serial_requests),
                "--cache",
                args.cache,
                "--one",
                str(concurrency),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        rows.append(json.loads(child.stdout.strip().splitlines()[-1]))

    print(
        f"fake server latency {args.latency_ms:g} ms, cache {args.cache}, "
        f"{os.cpu_count()} CPUs, python {sys.version.split()[0]}"
    )
    header = (
        "concurrency",
        "requests",
        "errors",
        "wall s",
        "ideal s",
        "vs ideal",
        "vs observed latency",
        "latency p50/p95 ms",
        "CPU ms/request",
        "peak RSS MiB",
        "setup s",
        "cached re-run s",
    )
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in rows:
        over_observed = 100 * (r["wall_s"] / r["observed_ideal_s"] - 1)
        cells = [
            f"{r['concurrency']}",
            f"{r['requests']}",
            f"{r['errors']}",
            f"{r['wall_s']:.2f}",
            f"{r['ideal_s']:.2f}",
            f"{r['over_ideal_pct']:+.1f}%",
            f"{over_observed:+.1f}%",
            f"{r['latency_p50_ms']:.1f}/{r['latency_p95_ms']:.1f}",
            f"{r['cpu_ms_per_request']:.2f}",
            f"{r['peak_rss_mib']:.0f}",
            f"{r['setup_s']:.2f}",
            f"{r['cached_rerun_s']:.2f}",
        ]
        print("| " + " | ".join(cells) + " |")
    scoring = score_many(10_000)
    print(
        f"scoring {scoring['instances']} finished instances: {scoring['score_s'] * 1000:.0f} ms "
        f"(+ {scoring['json_s'] * 1000:.0f} ms to JSON)"
    )


if __name__ == "__main__":
    main()
