"""Leaderboard reads at scale: every board mode, JSON and CSV, and submission GET under board load.

Seeds a throwaway PostgreSQL database (created as tests/conftest.py does, dropped at the end)
through the services: 300 teams (`create_team`), one competition (`apply_competition`) with three
phases, one per board mode (`mean`, `winrate`, `neurips2023`, the last with a hidden scenario),
and 10,000 submissions, each evaluated the way a worker does it (`new_evaluation`, `claim`,
`finish`), with per-instance results and a container log of realistic size, so that a board that
loaded them would pay for it. Only the upload is skipped: submissions are inserted in
`evaluating` with an image, as a finished build leaves them.

The API then runs in its own process (`podium serve`), and an open-loop client (raw HTTP/1.1 on
keep-alive connections, asyncio) offers a fixed rate per route for --seconds: each request is
timed from when it was *due*, so a server that falls behind shows it in the percentiles instead
of slowing the client down. Printed per route: requests, errors, achieved throughput, p50, p99.

    .venv/bin/python bench/leaderboard_reads.py                  # about 4 minutes on 2 cores
    .venv/bin/python bench/leaderboard_reads.py --submissions 2000 --seconds 5
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from app.auth.models import Role  # noqa: E402
from app.auth.service import create_team, create_token  # noqa: E402
from app.competitions.config import CompetitionConfig  # noqa: E402
from app.competitions.service import apply_competition  # noqa: E402
from app.evaluations import service as evaluations  # noqa: E402
from app.kit.db import dispose_engines, get_engine, session_scope, utcnow  # noqa: E402
from app.kit.migrate import upgrade  # noqa: E402
from app.queue import RecordingQueue  # noqa: E402
from app.submissions.models import INITIAL, Submission, SubmissionStatus  # noqa: E402

ADMIN_URL = os.environ.get(
    "PODIUM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
SCENARIOS = ["mmlu", "gsm", "bbq", "truthfulqa", "cnn", "sam_sum"]
PHASES = [("p-mean", "mean"), ("p-winrate", "winrate"), ("p-neurips", "neurips2023")]


@dataclass
class FakeResult:
    """What `evaluations.finish` reads from the evaluator's `SuiteResult`."""

    scores: dict[str, float]
    overall: float
    suite_hash: str = "ab" * 32
    instances: int = 40

    def to_json(self) -> dict[str, Any]:
        return {
            "scores": self.scores,
            "overall": self.overall,
            "instances": [
                {"id": f"i{i}", "prediction": "x" * 120, "references": ["y" * 60], "score": 1.0}
                for i in range(self.instances)
            ],
            "efficiency": {"latency_p50_s": 0.25, "generated_tokens_per_s": 80.0},
        }


def seed(url: str, submissions: int, teams: int) -> tuple[str, list[str]]:
    """Returns a team token and that team's submission ids."""
    now = utcnow()
    config = CompetitionConfig.model_validate(
        {
            "slug": "bench",
            "tracks": [{"slug": "main"}],
            "phases": [
                {
                    "slug": slug,
                    "suite": "smoke",
                    "opens_at": now - timedelta(days=10 - i),
                    "closes_at": now + timedelta(days=10 + i),
                    "leaderboard": {"mode": mode},
                    **({"hidden_scenarios": ["mmlu"]} if mode == "neurips2023" else {}),
                }
                for i, (slug, mode) in enumerate(PHASES)
            ],
        }
    )
    queue = RecordingQueue()
    with session_scope(url) as session:
        apply_competition(session, config)
        from app.competitions.models import Phase, Track

        phase_ids = [session.query(Phase).filter_by(slug=s).one().id for s, _ in PHASES]
        track_id = session.query(Track).filter_by(slug="main").one().id
        team_ids = []
        token = ""
        for t in range(teams):
            team, plain = create_team(session, f"team-{t:03d}")
            team_ids.append(team.id)
            if t == 0:
                token = plain
        create_token(session, Role.organizer, label="bench")
    mine: list[str] = []
    batch = 250
    started = time.monotonic()
    for first in range(0, submissions, batch):
        with session_scope(url) as session:
            for n in range(first, min(first + batch, submissions)):
                team = n % teams
                sub = Submission(
                    team_id=team_ids[team],
                    context_sha256="0" * 64,
                    status=SubmissionStatus.evaluating,
                    phase_id=phase_ids[n % len(phase_ids)],
                    track_id=track_id,
                    image_id="sha256:" + "1" * 64,
                    is_baseline=n < 3,
                    build_log="step 1/9 ...\n" * 200,
                )
                session.add(sub)
                session.flush()
                evaluation = evaluations.new_evaluation(session, sub, "smoke", queue, INITIAL)
                assert evaluations.claim(session, evaluation.id, 60.0) is not None
                evaluation.container_log = "server: answered a request\n" * 150
                # Deterministic, varied scores: every mode has ties and a real order.
                scores = {
                    s: ((n * 7919 + i * 104729) % 1000) / 1000 for i, s in enumerate(SCENARIOS)
                }
                evaluations.finish(
                    session,
                    evaluation.id,
                    FakeResult(scores, sum(scores.values()) / len(scores)),
                    queue,
                )
                if team == 0:
                    mine.append(sub.id)
        print(
            f"\rseeded {min(first + batch, submissions)}/{submissions} "
            f"({time.monotonic() - started:.0f} s)",
            end="",
            file=sys.stderr,
        )
    print(file=sys.stderr)
    return token, mine


def reuse_seed(url: str) -> tuple[str, list[str]]:
    """A kept database: a fresh token for its first team, and that team's submission ids."""
    from app.auth.models import Team

    with session_scope(url) as session:
        team = session.query(Team).filter_by(name="team-000").one()
        token = create_token(session, Role.team, team_id=team.id, label="bench")
        mine = [s.id for s in session.query(Submission).filter_by(team_id=team.id)]
    return token, mine


# --- the client -------------------------------------------------------------------------------


@dataclass
class Route:
    name: str
    paths: list[str]
    rate: float
    headers: dict[str, str] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed: float = 0.0
    steal: float | None = None
    """The share of CPU time the host took from this machine while the route was measured
    (`steal` in /proc/stat): where it is high, the latencies are the host's, not the server's."""


async def _request(
    conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], path: str, headers: dict[str, str]
) -> int:
    reader, writer = conn
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n{extra}\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = next(
        int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")
    )
    await reader.readexactly(length)
    return status


async def offer(port: int, route: Route, seconds: float, connections: int = 64) -> None:
    """Send `route.rate` requests a second for `seconds`, whatever the answers' pace."""
    Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]
    # None: a connection still to open (or to open again after the server closed one).
    pool: asyncio.Queue[Conn | None] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(None)
    loop = asyncio.get_running_loop()

    async def one(due: float, path: str) -> None:
        conn = await pool.get()
        for attempt in (1, 2):  # a keep-alive connection the server closed is retried once
            try:
                if conn is None:
                    conn = await asyncio.open_connection("127.0.0.1", port)
                status = await _request(conn, path, route.headers)
                break
            except (OSError, asyncio.IncompleteReadError, StopIteration, ValueError):
                if conn is not None:
                    conn[1].close()
                conn = None
                if attempt == 2:
                    route.errors += 1
                    pool.put_nowait(None)
                    return
        route.latencies.append(loop.time() - due)
        if status != 200:
            route.errors += 1
        pool.put_nowait(conn)

    total = int(route.rate * seconds)
    start = loop.time() + 0.05
    tasks = []
    for i in range(total):
        due = start + i / route.rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(due, route.paths[i % len(route.paths)])))
    await asyncio.gather(*tasks)
    route.elapsed = loop.time() - start
    while not pool.empty():
        left = pool.get_nowait()
        if left is not None:
            left[1].close()


def _cpu_times() -> tuple[int, int] | None:
    """(steal, total) jiffies of all CPUs since boot, or None where /proc/stat has no steal."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    return (fields[7], sum(fields[:8])) if len(fields) >= 8 else None


def measured(phase: Coroutine[Any, Any, None], *routes: Route) -> None:
    """Run one measured phase with this client's garbage collector paused (collected before),
    and note on `routes` how much CPU the host stole meanwhile.

    The client keeps every request's task until its phase ends; with thousands alive, its own
    full collections paused it for up to 70 ms, and every request in flight then counted the
    pause as server latency.
    """
    gc.collect()
    gc.disable()
    before = _cpu_times()
    try:
        asyncio.run(phase)
    finally:
        gc.enable()
    after = _cpu_times()
    if before and after and after[1] > before[1]:
        for route in routes:
            route.steal = (after[0] - before[0]) / (after[1] - before[1])


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def report(route: Route) -> str:
    ok = len(route.latencies)
    return (
        f"| {route.name} | {route.rate:.0f} | {ok} | {route.errors} | "
        f"{ok / route.elapsed if route.elapsed else 0:.0f} | "
        f"{_pct(route.latencies, 0.5) * 1000:.1f} | {_pct(route.latencies, 0.99) * 1000:.1f} | "
        f"{'?' if route.steal is None else f'{100 * route.steal:.1f}'} |"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_ready(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("the API server exited at start")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the API server did not start within 60 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=10_000)
    parser.add_argument("--teams", type=int, default=300)
    parser.add_argument("--rate", type=float, default=200.0, help="offered requests/s per route")
    parser.add_argument("--seconds", type=float, default=10.0, help="per route")
    parser.add_argument(
        "--get-rate", type=float, default=20.0, help="submission GETs/s beside a board's load"
    )
    parser.add_argument(
        "--beside-seconds",
        type=float,
        default=30.0,
        help="length of the GET-beside-a-board phase (600 GETs at the default rate: a p99 "
        "from 200 would be the second-slowest request)",
    )
    parser.add_argument(
        "--beside-runs",
        type=int,
        default=1,
        help="repeat the GET-beside-a-board phase this many times (each reported on its own "
        "line): one run's p99 says little on shared cores",
    )
    parser.add_argument(
        "--beside-only",
        action="store_true",
        help="skip the per-route board phases (the first reads still run)",
    )
    parser.add_argument(
        "--keep-database",
        metavar="NAME",
        help="seed into this database once and keep it, so that later runs skip the seeding "
        "(drop it yourself when done); default: a throwaway database",
    )
    args = parser.parse_args()

    name = args.keep_database or f"podium_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        reuse = args.keep_database is not None and exists.first() is not None
        if not reuse:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    server: subprocess.Popen[bytes] | None = None
    data_dir = tempfile.mkdtemp(prefix="podium-bench-")
    try:
        upgrade(url)
        if reuse:
            token, mine = reuse_seed(url)
            print(f"reusing the seeded database {name}", file=sys.stderr)
        else:
            t0 = time.monotonic()
            token, mine = seed(url, args.submissions, args.teams)
            print(f"seeding: {time.monotonic() - t0:.1f} s", file=sys.stderr)
        get_engine(url).dispose()

        port = free_port()
        env = dict(
            os.environ,
            PODIUM_DATABASE_URL=url,
            PODIUM_ENVIRONMENT="test",
            PODIUM_BROKER_URL="memory://",
            PODIUM_DATA_DIR=data_dir,
        )
        server = subprocess.Popen(
            [str(ROOT / ".venv/bin/podium"), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_ready(port, server)
        base = "/api/v1/leaderboard?competition=bench&track=main&phase="
        boards = [(slug, mode) for slug, mode in PHASES] + [("overall", "overall (neurips2023)")]

        # The first read of each board computes and stores its view; later changes recompute it.
        import urllib.request

        cold = []
        for slug, _ in boards:
            for fmt in ("json", "csv"):
                start = time.monotonic()
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{base}{slug}&format={fmt}"):
                    pass
                cold.append(f"{slug}/{fmt} {1000 * (time.monotonic() - start):.0f} ms")
        print("first reads (views computed): " + ", ".join(cold))

        routes = []
        for slug, mode in [] if args.beside_only else boards:
            for fmt in ("json", "csv"):
                route = Route(f"board {mode} {fmt}", [f"{base}{slug}&format={fmt}"], args.rate)
                measured(offer(port, route, args.seconds), route)
                routes.append(route)
        for run in range(1, args.beside_runs + 1):
            suffix = f", run {run}" if args.beside_runs > 1 else ""
            board = Route(
                f"board neurips2023 json (beside GET{suffix})", [f"{base}p-neurips"], args.rate
            )
            get = Route(
                f"GET /submissions/{{id}} (while the board is read{suffix})",
                [f"/api/v1/submissions/{sid}" for sid in mine],
                args.get_rate,
                {"Authorization": f"Bearer {token}"},
            )

            async def both(board: Route = board, get: Route = get) -> None:
                await asyncio.gather(
                    offer(port, board, args.beside_seconds),
                    offer(port, get, args.beside_seconds, 16),
                )

            measured(both(), board, get)
            routes += [board, get]

        print(
            f"\n{args.submissions} scored submissions, {args.teams} teams, "
            f"{args.seconds:.0f} s per route ({args.beside_seconds:.0f} s for the GETs beside a "
            f"board); loadavg {Path('/proc/loadavg').read_text().strip()}"
        )
        print("| route | offered rps | answered | errors | rps | p50 ms | p99 ms | host steal % |")
        print("|---|---|---|---|---|---|---|---|")
        for route in routes:
            print(report(route))
        means = [statistics.mean(r.latencies) * 1000 for r in routes if r.latencies]
        print(f"(mean latency over routes: {statistics.mean(means):.1f} ms)")
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(data_dir, ignore_errors=True)
        dispose_engines(url)
        if args.keep_database is None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
