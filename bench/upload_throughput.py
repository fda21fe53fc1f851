"""Resumable weights upload over loopback: end-to-end throughput and the API server's memory.

A real uvicorn process serves the API (SQLite, data directory under the scratch folder); the
client is the team CLI's own upload code (`app.client.upload`). A weights file of --size-gib is
generated quickly (sparse, with random 1 MiB blocks every 64 MiB so the hash has something to
chew on). Timed end to end: the client's sha256 of the file, creating the upload, every PATCH, and
completion (which on the server only finalises the hash it kept while the chunks arrived).
The server's peak RSS is its VmHWM from /proc/<pid>/status; its CPU time comes from
/proc/<pid>/stat. Each chunk size gets its own fresh server process.

    .venv/bin/python bench/upload_throughput.py [--size-gib 4] [--chunk-mib 64 --chunk-mib 256]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.client.api import PodiumApi  # noqa: E402
from app.client.config import ClientConfig  # noqa: E402
from app.client.upload import UploadHooks, sha256_file, upload_file  # noqa: E402

MIB = 1024**2
GIB = 1024**3


def make_weights(path: Path, size: int) -> None:
    with path.open("wb") as f:
        f.truncate(size)
        for offset in range(0, size - MIB, 64 * MIB):
            f.seek(offset)
            f.write(os.urandom(MIB))


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare_server_data(data_dir: Path) -> tuple[dict[str, str], str]:
    """A migrated SQLite database with one team; returns the server's env and the team token."""
    env = dict(os.environ, PODIUM_DATA_DIR=str(data_dir), PODIUM_ENVIRONMENT="test")
    script = (
        "from app.config import get_settings\n"
        "from app.kit.migrate import upgrade\n"
        "from app.kit.db import session_scope\n"
        "from app.auth.service import create_team\n"
        "s = get_settings(); s.data_dir.mkdir(parents=True, exist_ok=True)\n"
        "upgrade(s.database_url)\n"
        "with session_scope(s.database_url) as session:\n"
        "    _, token = create_team(session, 'bench')\n"
        "print(token)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True
    )
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    return env, out.stdout.strip().splitlines()[-1]


def proc_status(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return 0


def proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    chunk_mib: int
    size: int
    hash_s: float
    upload_s: float
    complete_s: float
    server_cpu_s: float
    client_cpu_s: float
    rss_idle: int
    rss_peak: int
    rss_peak_polled: int

    @property
    def total_s(self) -> float:
        return self.hash_s + self.upload_s


def run_once(weights: Path, scratch: Path, chunk_mib: int) -> Run:
    data_dir = scratch / f"server-{chunk_mib}"
    env, token = prepare_server_data(data_dir)
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "app.main:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    config = ClientConfig(url, token, "bench", "bench", scratch / "none.toml")
    try:
        import httpx

        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url + "/healthz").raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the server did not start") from None
                time.sleep(0.1)
        rss_idle = proc_status(server.pid, "VmRSS")
        peak_polled = rss_idle
        stop = threading.Event()

        def poll_rss() -> None:
            nonlocal peak_polled
            while not stop.wait(0.05):
                peak_polled = max(peak_polled, proc_status(server.pid, "VmRSS"))

        poller = threading.Thread(target=poll_rss, daemon=True)
        poller.start()
        cpu0 = proc_cpu_s(server.pid)
        me0 = resource.getrusage(resource.RUSAGE_SELF)

        t0 = time.perf_counter()
        digest = sha256_file(weights)
        t1 = time.perf_counter()
        with PodiumApi(config) as api:
            timing: dict[str, float] = {}
            complete = api.complete_upload

            def timed_complete(upload_id: str, sha256: str) -> dict[str, object]:
                start = time.perf_counter()
                try:
                    return complete(upload_id, sha256)
                finally:
                    timing["complete"] = time.perf_counter() - start

            api.complete_upload = timed_complete  # type: ignore[method-assign]
            result = upload_file(
                api,
                weights,
                sha256=digest,
                chunk_size=chunk_mib * MIB,
                hooks=UploadHooks(note=lambda line: print("  note:", line)),
            )
        t2 = time.perf_counter()
        me1 = resource.getrusage(resource.RUSAGE_SELF)
        stop.set()
        poller.join()
        stored = data_dir / "uploads" / result.upload_id / "data"
        assert stored.stat().st_size == weights.stat().st_size
        return Run(
            chunk_mib=chunk_mib,
            size=result.size,
            hash_s=t1 - t0,
            upload_s=t2 - t1,
            complete_s=timing["complete"],
            server_cpu_s=proc_cpu_s(server.pid) - cpu0,
            client_cpu_s=(me1.ru_utime + me1.ru_stime) - (me0.ru_utime + me0.ru_stime),
            rss_idle=rss_idle,
            rss_peak=proc_status(server.pid, "VmHWM"),
            rss_peak_polled=peak_polled,
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(data_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-gib", type=float, default=4.0)
    parser.add_argument("--chunk-mib", type=int, action="append", help="repeatable; default 64")
    parser.add_argument("--scratch", type=Path, default=Path("/tmp"), help="parent folder")
    args = parser.parse_args()
    size = int(args.size_gib * GIB)
    chunks = args.chunk_mib or [64]
    # The source is sparse (little disk); the server's copy is real bytes, one run at a time.
    need = size + GIB
    free = shutil.disk_usage(args.scratch).free
    if free < need:
        raise SystemExit(f"{args.scratch} has {free / GIB:.1f} GiB free; need {need / GIB:.1f}")
    with tempfile.TemporaryDirectory(prefix="podium-bench-", dir=args.scratch) as tmp:
        scratch = Path(tmp)
        weights = scratch / "weights.bin"
        make_weights(weights, size)
        sha256_file(weights)  # warm the page cache like a file the team just wrote
        runs = [run_once(weights, scratch, chunk) for chunk in chunks]

    mb = 1e6
    print()
    print(
        "| chunk MiB | size GiB | hash s | upload+complete s | complete s | end-to-end MB/s "
        "| upload-only MB/s | server CPU s | client CPU s | server RSS idle MiB "
        "| server peak RSS MiB (VmHWM / polled) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in runs:
        end_to_end, upload_only = r.size / mb / r.total_s, r.size / mb / r.upload_s
        print(
            f"| {r.chunk_mib} | {r.size / GIB:.1f} | {r.hash_s:.2f} | {r.upload_s:.2f} "
            f"| {r.complete_s:.3f} | {end_to_end:.0f} | {upload_only:.0f} "
            f"| {r.server_cpu_s:.1f} | {r.client_cpu_s:.1f} | {r.rss_idle / MIB:.0f} "
            f"| {r.rss_peak / MIB:.0f} / {r.rss_peak_polled / MIB:.0f} |"
        )


if __name__ == "__main__":
    main()
