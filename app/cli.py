"""The `podium` command: start the service, run workers, manage teams and tokens."""

from __future__ import annotations

import atexit
import functools
import gc
import importlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from docker import DockerClient
    from fastapi import FastAPI

    from app.config import Settings


def _configure(data_dir: Path | None) -> None:
    # Settings are read from the environment, so a flag becomes the variable every part reads,
    # the worker subprocess included.
    if data_dir is not None:
        os.environ["PODIUM_DATA_DIR"] = str(data_dir.expanduser().absolute())
    # Settings are built on first use (app.config, imported only by the commands that read them:
    # pydantic-settings is 60 ms that `podium eval` does not need); clear any built earlier.
    config = sys.modules.get("app.config")
    if config is not None:
        config.get_settings.cache_clear()


class _Commands(click.Group):
    """Commands whose modules are imported only when they run (or help lists them): `admin`
    pulls in SQLAlchemy and the ORM models, the team commands httpx, over half a second that
    `podium eval` (timed from process start in bench/helm_vs_podium.py) does not need."""

    LAZY = {
        "admin": "app.admin.cli",  # calls the admin API of a running server
        # HTTP clients of the API (app/client/commands.py TEAM_COMMANDS)
        "submit": "app.client.commands",
        "status": "app.client.commands",
        "leaderboard": "app.client.commands",
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.LAZY})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.LAZY and cmd_name not in self.commands:
            module = importlib.import_module(self.LAZY[cmd_name])
            self.add_command(getattr(module, cmd_name), cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=_Commands)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Where Podium keeps its database, uploads and queue (env PODIUM_DATA_DIR).",
)
def main(data_dir: Path | None) -> None:
    """Podium: evaluation service for LLM efficiency competitions."""
    _configure(data_dir)
    _exit_without_final_collection()


@functools.cache
def _exit_without_final_collection() -> None:
    # At exit the interpreter runs a full garbage collection over everything still alive; after
    # `podium eval` that is the whole result, 50-100 ms between the last line and the exit.
    # Frozen objects are skipped, and nothing needs collecting in a process about to end.
    atexit.register(gc.freeze)


@main.command()
def migrate() -> None:
    """Create or upgrade the database schema (Alembic migrations)."""
    settings = _ready_settings()
    click.echo(f"schema is up to date ({_redact(settings.database_url)})")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--worker/--no-worker", default=True, help="Also start one worker.")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Where Podium keeps its database, uploads and queue (env PODIUM_DATA_DIR).",
)
def up(host: str, port: int, worker: bool, data_dir: Path | None) -> None:
    """Start the API and one worker on embedded defaults (SQLite, filesystem queue)."""
    if data_dir is not None:
        _configure(data_dir)
    from app.auth.models import Role
    from app.auth.service import create_token, has_admin_token
    from app.kit.db import session_scope
    from app.main import create_app

    settings = _ready_settings()
    if worker:  # before the admin token is made, so a refused start does not swallow it
        _check_oci_runtime(settings)
        _check_scenario_data(settings, "podium up")
    with session_scope(settings.database_url) as session:
        admin_token = (
            None
            if has_admin_token(session)
            else create_token(session, Role.admin, label="first start")
        )
    worker_proc = _spawn_worker(["build", "evaluate"], settings.gpu_ids, 2) if worker else None
    click.echo(f"Podium is up: http://{host}:{port}  (data in {settings.data_dir})")
    activate = Path(sys.prefix) / "bin" / "activate"
    if sys.prefix != sys.base_prefix and activate.is_file():
        click.echo(f"podium and python in another shell: source {activate}")
    if admin_token:
        click.echo("Admin token (shown once, keep it):")
        click.echo(admin_token)
    try:
        _serve(create_app(settings), host, port, settings)
    finally:
        if worker_proc is not None:
            worker_proc.send_signal(signal.SIGTERM)
            try:
                worker_proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker_proc.kill()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Serve the API alone, for a deployment with separate workers (docker-compose.yml).

    Use it rather than the bare `uvicorn` command: it adds the request-head timeout
    (PODIUM_HEADER_TIMEOUT_S) that keeps slow clients from holding every connection.
    """
    from app.main import create_app

    settings = _ready_settings()
    _serve(create_app(settings), host, port, settings)


SWITCH_INTERVAL_S = 0.001


def _serve(app: FastAPI, host: str, port: int, settings: Settings) -> None:
    import uvicorn

    from app.kit.http import header_timeout_protocol
    from app.logging import uvicorn_log_config

    protocol = header_timeout_protocol(settings.header_timeout_s)
    # Handlers that touch the database run in threads beside the event loop. A thread whose
    # query has returned waits for the GIL until the loop's thread lets go of it, up to the
    # switch interval (5 ms by default) per round trip: under a crowd of board reads (served
    # in the loop) a submission GET's few queries took 13 ms instead of 5. 1 ms keeps that
    # wait short at a negligible cost (bench/README.md, "Leaderboard reads at scale").
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    # What is imported and built by now lives as long as the process: moved out of the
    # collector's sight, it is no longer walked by every full collection (~130,000 objects,
    # 28-93 ms in which no request is answered, bench/README.md).
    gc.collect()
    gc.freeze()
    uvicorn.run(
        app, host=host, port=port, log_level="info", http=protocol, log_config=uvicorn_log_config()
    )


def _check_scenario_data(settings: Settings, command: str) -> None:
    """Refuse to start a worker whose evaluations would fail on missing scenario files
    (app/scenario_data.py); say where the files will come from otherwise."""
    from app.scenario_data import check_scenario_data, refusal, suites_in_use

    suites, notes = suites_in_use(settings)
    report = check_scenario_data(settings, suites)
    for note in [*notes, *report.notes]:
        click.secho(f"note: {note}", fg="yellow", err=True)
    if not report.ok:
        click.secho(refusal(report, command, settings), fg="red", err=True)
        raise SystemExit(2)


def _check_oci_runtime(settings: Settings) -> None:
    """Refuse to start a worker that would run submissions on an OCI runtime the engine lacks:
    every evaluation would fail, each with the same engine error."""
    if not settings.oci_runtime:
        return
    from workers.sandbox.docker_runtime import missing_oci_runtime

    problem = missing_oci_runtime(settings.oci_runtime)
    if problem is not None:
        click.secho(f"error: {problem}", fg="red", err=True)
        raise SystemExit(2)


def _worker_argv(queues: list[str], concurrency: int, pool: str, beat: bool = False) -> list[str]:
    return [*_celery_worker(queues, concurrency, pool), *(["--beat"] if beat else [])]


def _celery_worker(queues: list[str], concurrency: int, pool: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "workers.celery_app",
        "worker",
        "--queues",
        ",".join(queues),
        "--concurrency",
        str(concurrency),
        "--pool",
        pool,
        "--loglevel",
        "INFO",
        "--without-gossip",
        "--without-mingle",
    ]


def _die_with_parent() -> None:
    # uvicorn re-raises SIGTERM after its shutdown, which ends `podium up` before any `finally`
    # runs; the kernel then tells the worker to stop, so no orphan keeps consuming the queue.
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _spawn_worker(queues: list[str], gpus: list[str], concurrency: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PODIUM_GPUS=",".join(gpus))
    return subprocess.Popen(
        _worker_argv(queues, concurrency, "threads", beat=True),
        env=env,
        preexec_fn=_die_with_parent,
    )


@main.command()
@click.option(
    "--queues",
    default="build,evaluate",
    show_default=True,
    help="Comma-separated: build, evaluate.",
)
@click.option("--gpus", default="", help="GPU ids this worker hands out, e.g. 0,1,2,3.")
@click.option(
    "--concurrency",
    type=int,
    default=None,
    help="Tasks at once; default: number of GPUs (or 1), plus 1 for builds.",
)
@click.option(
    "--pool",
    default="prefork",
    show_default=True,
    type=click.Choice(["prefork", "threads", "solo"]),
)
@click.option(
    "--beat",
    is_flag=True,
    help="Also run the scheduler (the reaper, every minute); exactly one worker of a "
    "deployment should have it.",
)
def worker(queues: str, gpus: str, concurrency: int | None, pool: str, beat: bool) -> None:
    """Run a Celery worker for the build and/or evaluate queues."""
    queue_list = [q.strip() for q in queues.split(",") if q.strip()]
    unknown = set(queue_list) - {"build", "evaluate"}
    if unknown:
        raise click.BadParameter(f"unknown queue(s) {sorted(unknown)}; use build and/or evaluate")
    gpu_list = [g.strip() for g in gpus.split(",") if g.strip()]
    if concurrency is None:
        concurrency = max(len(gpu_list), 1) + (1 if "build" in queue_list else 0)
    from app.config import get_settings

    if "evaluate" in queue_list:  # builds never use the OCI runtime
        _check_oci_runtime(get_settings())
    if "evaluate" in queue_list:  # build-only workers read no scenario data
        _check_scenario_data(get_settings(), "podium worker")
    os.environ["PODIUM_GPUS"] = ",".join(gpu_list)
    os.execv(sys.executable, _worker_argv(queue_list, concurrency, pool, beat=beat))


@main.command("base-images")
def base_images_cmd() -> None:
    """List the base images team Dockerfiles may start FROM, and whether this engine has them.

    Exits 1 when an allowed image is missing (builds on it fail) or is a submission image.
    """
    from sqlalchemy import select

    from app.competitions.models import Competition, Phase
    from app.kit.db import session_scope

    settings = _ready_settings()
    allowed: list[tuple[str, list[str]]] = [
        ("default (PODIUM_DEFAULT_BASE_IMAGES)", list(settings.default_base_images))
    ]
    with session_scope(settings.database_url) as session:
        phases = session.execute(
            select(Competition.slug, Phase.slug, Phase.sandbox)
            .join(Phase, Phase.competition_id == Competition.id)
            .order_by(Competition.slug, Phase.slug)
        ).all()
    for competition, phase, sandbox in phases:
        images = (sandbox or {}).get("base_images")
        if isinstance(images, list):
            allowed.append((f"{competition}/{phase}", [str(i) for i in images]))
        else:
            allowed.append((f"{competition}/{phase}", []))
    status = _engine_status({i for _, images in allowed for i in images})
    problems = 0
    for scope, images in allowed:
        if not images and scope != allowed[0][0]:
            click.echo(f"{scope}: the default above")
            continue
        click.echo(f"{scope}:")
        for image in images or ["(none: only FROM scratch)"]:
            state = status.get(image, "")
            problems += state.startswith(("MISSING", "REFUSED"))
            click.echo(f"  {image:<40} {state}")
    if "" in status:
        click.secho(status[""], fg="yellow", err=True)
    if problems:
        raise SystemExit(1)


def _engine_status(images: set[str]) -> dict[str, str]:
    """Per image: present (with its id), MISSING, or REFUSED (a submission image). Key "" holds a
    note when the engine cannot be asked."""
    import docker

    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:  # docker-py raises its own errors and raw requests ones here
        return {"": f"note: no Docker engine reachable ({exc}); presence not checked"}
    status: dict[str, str] = {}
    try:
        for image in images:
            status[image] = _image_state(client, image)
    finally:
        client.close()
    return status


def _image_state(client: DockerClient, image: str) -> str:
    import docker.errors

    try:
        found = client.images.get(image)
    except docker.errors.ImageNotFound:
        return "MISSING on this engine (scripts/build-base-images.sh, or docker load)"
    except docker.errors.APIError as exc:
        return f"MISSING: the engine refused the name ({exc.explanation})"
    if "podium.submission" in (found.labels or {}):
        return "REFUSED: a submission image; builds on it are refused"
    return f"present ({str(found.id)[7:19]})"


def _ready_settings() -> Settings:
    """Settings with a database whose schema is at head (cheap when it already is)."""
    from app.config import get_settings
    from app.kit.migrate import upgrade

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.database_url)
    return settings


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def _mount_evaluator_commands() -> None:
    from evaluator.cli import data_command, eval_command, rank_command, suites_command

    main.add_command(eval_command, "eval")
    main.add_command(suites_command, "suites")
    main.add_command(rank_command, "rank")
    main.add_command(data_command, "data")


_mount_evaluator_commands()

if __name__ == "__main__":
    main()
