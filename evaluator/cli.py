"""Command line of the evaluator: `eval` a model server with a suite, list and verify `suites`,
`data fetch` the suites' scenario files (evaluator/fetch.py).

Mounted in the `podium` command (`main.add_command(eval_command)`,
`main.add_command(suites_command)`); `cli` groups both for standalone use. Not imported by
`evaluator/__init__`, so the library never loads click or rich.

Scenario data comes from `--data-dir` (env PODIUM_SCENARIO_DATA), else `--mirror`
(env PODIUM_SCENARIO_MIRROR), else the canonical upstream files; the last two download into
`--data-cache`. Every file is checked against its sha256 pin before the first request.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from rich import filesize
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from evaluator.cache import MemoryResponseCache, ResponseCache, SqliteResponseCache
from evaluator.clients import PROTOCOLS, create_client
from evaluator.data import DataSource, FileCheck
from evaluator.errors import EvaluatorError
from evaluator.fetch import (
    DEFAULT_UPSTREAM_BASE,
    FetchResult,
    PlannedFile,
    fetch_file,
    how_to_provide,
    plan_fetch,
)
from evaluator.results import SuiteResult, percentile
from evaluator.runner import run_suite
from evaluator.suites import Suite, get_suite, list_suites

DEFAULT_CACHE_DIR = Path("~/.cache/podium")
RESPONSE_CACHE_FILE = "responses.sqlite"
DATA_CACHE_DIR = "scenarios"
# Width used when output is not a terminal (files, pipes, tests): hashes and tables stay whole.
_PIPE_WIDTH = 160


def _console(*, stderr: bool = False) -> Console:
    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal:
        console.width = _PIPE_WIDTH
    return console


def _data_source(data_dir: Path | None, mirror: str | None, data_cache: Path | None) -> DataSource:
    cache = (data_cache or DEFAULT_CACHE_DIR / DATA_CACHE_DIR).expanduser()
    return DataSource.from_settings(data_dir, mirror, cache)


def _data_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--data-dir, --mirror and --data-cache, shared by `eval` and `suites verify`."""
    options = [
        click.option(
            "--data-dir",
            type=click.Path(path_type=Path, file_okay=False, exists=True),
            envvar="PODIUM_SCENARIO_DATA",
            help="Scenario data directory laid out like the upstream files "
            "(env PODIUM_SCENARIO_DATA). Takes precedence over --mirror.",
        ),
        click.option(
            "--mirror",
            metavar="URL",
            envvar="PODIUM_SCENARIO_MIRROR",
            help="Base URL serving the data files as <URL>/<relative path> "
            "(env PODIUM_SCENARIO_MIRROR). Default: the canonical upstream files.",
        ),
        click.option(
            "--data-cache",
            type=click.Path(path_type=Path, file_okay=False),
            help=f"Where downloaded data files are kept [default: "
            f"{DEFAULT_CACHE_DIR / DATA_CACHE_DIR}].",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _fail(exc: Exception) -> click.ClickException:
    reason = getattr(exc, "reason", None)
    # click prints "Error: " before the message already.
    if reason and reason != "internal_error":
        return click.ClickException(f"evaluation failed ({reason}): {exc}")
    return click.ClickException(str(exc))


def _suite(suite_name: str, conf_path: Path | None) -> Suite:
    if conf_path is None:
        return get_suite(suite_name)
    from evaluator.conf import suite_from_conf

    built = suite_from_conf(
        conf_path.read_bytes(), name=f"conf:{conf_path.stem}", source=conf_path.name
    )
    return built.suite


@click.command("eval")
@click.option(
    "--base-url", required=True, metavar="URL", help="Model server, e.g. http://127.0.0.1:8080."
)
@click.option(
    "--protocol",
    type=click.Choice(PROTOCOLS.names()),
    default="neurips2023",
    show_default=True,
    help="Wire protocol of the server.",
)
@click.option("--suite", "suite_name", default="smoke", show_default=True, help="Suite to run.")
@click.option(
    "--conf",
    "conf_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Run a HELM run-entry file (entries: [{description: ..., priority: N}]) instead of "
    "--suite. The whole file is checked before any request.",
)
@click.option(
    "--max-instances",
    type=click.IntRange(min=1),
    default=None,
    help="Evaluate at most N instances per run spec (a quick check; the result records it).",
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=16,
    show_default=True,
    help="Completion requests in flight at once.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write the full result (scores, per-instance details, efficiency) as JSON here.",
)
@click.option(
    "--cache",
    "cache_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help=f"Response cache (SQLite) [default: {DEFAULT_CACHE_DIR / RESPONSE_CACHE_FILE}]. "
    "A re-run sends only the requests it has no answer for.",
)
@click.option("--no-cache", is_flag=True, help="Keep answers in memory only, for this run.")
@click.option(
    "--cache-salt",
    default=None,
    help="Names the model in every cache key [default: the base URL]. Change it when the "
    "model behind the same URL changes, or answers of the old one are reused.",
)
@click.option(
    "--wait-ready",
    type=click.FloatRange(min=0.1),
    default=60.0,
    show_default=True,
    help="Seconds to wait for the server to answer before giving up.",
)
@click.option(
    "--request-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=120.0,
    show_default=True,
    help="Seconds allowed for one request.",
)
@click.option(
    "--max-retries",
    type=click.IntRange(min=0),
    default=3,
    show_default=True,
    help="Retries of a request that failed transiently (connection error, 5xx, timeout).",
)
@_data_options
def eval_command(
    base_url: str,
    protocol: str,
    suite_name: str,
    conf_path: Path | None,
    max_instances: int | None,
    concurrency: int,
    out: Path | None,
    cache_path: Path | None,
    no_cache: bool,
    cache_salt: str | None,
    wait_ready: float,
    request_timeout: float,
    max_retries: int,
    data_dir: Path | None,
    mirror: str | None,
    data_cache: Path | None,
) -> None:
    """Evaluate the model server at --base-url with a suite and print its scores."""
    console, status = _console(), _console(stderr=True)
    try:
        suite = _suite(suite_name, conf_path)
        data = _data_source(data_dir, mirror, data_cache)
        status.print(f"suite {suite.name} ({suite.content_hash[:12]}), data from {data.origin}")
        # Before any request: a bad data directory should not cost a server start.
        data.verify(suite.data_files)
    except EvaluatorError as exc:
        raise _fail(exc) from None

    with _response_cache(cache_path, no_cache) as cache:
        client = create_client(protocol, base_url, timeout_s=request_timeout)
        try:
            result = asyncio.run(
                _evaluate(
                    client,
                    suite,
                    data,
                    cache,
                    status=status,
                    wait_ready_s=wait_ready,
                    concurrency=concurrency,
                    max_instances=max_instances,
                    request_timeout_s=request_timeout,
                    max_retries=max_retries,
                    cache_salt=base_url if cache_salt is None else cache_salt,
                )
            )
        except EvaluatorError as exc:
            raise _fail(exc) from None

    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        from evaluator.scoring.helm_columns import helm_columns

        # HELM's core_scenarios column names ("MMLU - EM", ...), ready for `podium rank`.
        payload = {**result.to_json(), "helm_columns": helm_columns(result.per_run_spec)}
        out.write_text(_result_text(payload))
    _print_result(console, suite, result)
    if out is not None:
        console.print(f"result written to {out}")


def _result_text(payload: dict[str, Any]) -> str:
    """The result as JSON text: indented, but one line per instance. Indenting all of it went
    through json's pure-Python encoder (0.15 s for the 6,157 instances of the 2023 open conf,
    after the last answer); a line each is the C encoder's, and still reads and greps well."""
    parts = []
    for key, value in payload.items():
        if key == "instances" and value:
            lines = ",\n".join(f"    {json.dumps(item, allow_nan=False)}" for item in value)
            text = f"[\n{lines}\n  ]"
        else:
            text = json.dumps(value, indent=2, allow_nan=False).replace("\n", "\n  ")
        parts.append(f"  {json.dumps(key)}: {text}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


@contextmanager
def _response_cache(path: Path | None, disabled: bool) -> Iterator[ResponseCache]:
    if disabled:
        yield MemoryResponseCache()
        return
    path = (path or DEFAULT_CACHE_DIR / RESPONSE_CACHE_FILE).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    with SqliteResponseCache(path) as cache:
        yield cache


@contextmanager
def _progress_bar(console: Console) -> Iterator[Callable[[int, int], None]]:
    with Progress(
        TextColumn("evaluating"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("evaluating", total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


async def _evaluate(
    client: Any,
    suite: Suite,
    data: DataSource,
    cache: ResponseCache,
    *,
    status: Console,
    wait_ready_s: float,
    **options: Any,
) -> SuiteResult:
    async with client:
        with status.status(f"waiting up to {wait_ready_s:g}s for {client.base_url} to answer"):
            await client.wait_ready(timeout_s=wait_ready_s, poll_s=min(1.0, wait_ready_s / 4))
        with _progress_bar(status) as progress:
            return await run_suite(suite, client, cache, data, progress=progress, **options)


@dataclass(frozen=True)
class _GroupFigures:
    score: float | None
    run_specs: int
    instances: int
    errors: int
    latency_p50_s: float | None
    latency_p95_s: float | None


def _group_figures(suite: Suite, result: SuiteResult) -> dict[str, _GroupFigures]:
    figures: dict[str, _GroupFigures] = {}
    for group in suite.groups:
        specs = [s for s in result.per_run_spec.values() if s.group == group]
        names = {s.name for s in specs}
        latencies = sorted(
            i.latency_s
            for i in result.instances
            if i.run_spec in names and i.error is None and i.latency_s is not None
        )
        figures[group] = _GroupFigures(
            score=result.scores.get(group),
            run_specs=len(specs),
            instances=sum(s.instances for s in specs),
            errors=sum(s.errors for s in specs),
            latency_p50_s=percentile(latencies, 0.5),
            latency_p95_s=percentile(latencies, 0.95),
        )
    return figures


def _number(value: float | None, digits: int = 3) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def _print_result(console: Console, suite: Suite, result: SuiteResult) -> None:
    table = Table(title=f"{suite.name}: scores")
    table.add_column("scenario")
    for header in ("score", "run specs", "instances", "errors", "latency p50", "latency p95"):
        table.add_column(header, justify="right")
    for group, f in _group_figures(suite, result).items():
        table.add_row(
            group,
            _number(f.score),
            str(f.run_specs),
            str(f.instances),
            str(f.errors),
            _seconds(f.latency_p50_s),
            _seconds(f.latency_p95_s),
        )
    table.add_section()
    table.add_row(
        "overall",
        _number(result.overall),
        str(len(result.per_run_spec)),
        str(len(result.instances)),
        str(result.errors),
        _seconds(result.efficiency.latency_p50_s),
        _seconds(result.efficiency.latency_p95_s),
    )
    console.print(table)

    e = result.efficiency
    efficiency = Table(title="efficiency", show_header=False)
    efficiency.add_column("figure")
    efficiency.add_column("value", justify="right")
    rows = [
        ("completions answered", str(e.requests)),
        ("requests sent by this run", str(result.requests_sent)),
        ("answers from the cache", str(e.cached)),
        ("latency p50 / p95", f"{_seconds(e.latency_p50_s)} / {_seconds(e.latency_p95_s)}"),
        ("inference time, summed over requests in flight", f"{e.total_inference_s:.2f} s"),
        ("generated tokens (estimated: UTF-8 bytes / 4)", str(e.generated_tokens)),
        ("generated tokens / s (estimated)", _number(e.generated_tokens_per_s, 1)),
        ("wall time", f"{result.wall_s:.2f} s"),
    ]
    for label, value in rows:
        efficiency.add_row(label, value)
    console.print(efficiency)
    if result.max_instances is not None:
        console.print(
            f"partial run: at most {result.max_instances} instances per run spec; "
            "scores are not comparable with full runs"
        )
    console.print(f"suite {result.suite_name} content hash {result.suite_hash}")
    console.print(f"evaluator {result.evaluator_version}")


@click.group("suites", invoke_without_command=True)
@click.pass_context
def suites_command(ctx: click.Context) -> None:
    """List the registered suites (content hash, run specs, scenario groups)."""
    if ctx.invoked_subcommand is not None:
        return
    table = Table(title="suites")
    table.add_column("suite", no_wrap=True)
    table.add_column("content hash", no_wrap=True)
    table.add_column("run specs", no_wrap=True, justify="right")
    table.add_column("data files", no_wrap=True, justify="right")
    table.add_column("groups")
    suites = [get_suite(name) for name in list_suites()]
    for suite in suites:
        table.add_row(
            suite.name,
            suite.content_hash,
            str(len(suite.run_specs)),
            str(len(suite.data_files)),
            ", ".join(suite.groups),
        )
    console = _console()
    console.print(table)
    # Descriptions are sentences; in a table column they would squeeze the hashes.
    for suite in suites:
        console.print(f"[bold]{suite.name}[/bold]: {suite.description}", markup=True)


_STATUS_LABEL = {"ok": "OK", "mismatch": "MISMATCH", "missing": "MISSING"}
_STATUS_COLOUR = {"ok": "green", "mismatch": "red", "missing": "red"}


@suites_command.command("verify")
@click.pass_context
@click.option(
    "--suite",
    "suite_names",
    multiple=True,
    help="Check only this suite (repeatable) [default: every suite].",
)
@_data_options
def verify_command(
    ctx: click.Context,
    suite_names: Sequence[str],
    data_dir: Path | None,
    mirror: str | None,
    data_cache: Path | None,
) -> None:
    """Check every data file of every suite against its sha256 pin (exit 1 on any problem)."""
    try:
        suites = [get_suite(name) for name in (suite_names or list_suites())]
    except EvaluatorError as exc:
        raise _fail(exc) from None
    data = _data_source(data_dir, mirror, data_cache)
    # One check per distinct (path, pin): suites share files.
    pins = sorted({pin for suite in suites for pin in suite.data_files.items()})
    names = ", ".join(suite.name for suite in suites)
    click.echo(f"checking {len(pins)} data files of suites {names} in {data.origin}")
    checks = [data.check(path, sha256) for path, sha256 in pins]
    for check in checks:
        click.echo(_verify_line(check))
    problems = [c for c in checks if not c.ok]
    summary = (
        f"{len(checks)} files: {len(checks) - len(problems)} ok, "
        f"{sum(c.status == 'mismatch' for c in problems)} mismatched, "
        f"{sum(c.status == 'missing' for c in problems)} missing"
    )
    if problems:
        click.secho(summary, fg="red", err=True)
        ctx.exit(1)
    click.secho(summary, fg="green")


def _verify_line(check: FileCheck) -> str:
    label = click.style(f"{_STATUS_LABEL[check.status]:<8}", fg=_STATUS_COLOUR[check.status])
    line = f"{label} {check.path}"
    if check.status == "mismatch":
        line += f"  expected sha256 {check.expected}, actual {check.actual}"
    elif check.status == "missing":
        line += f"  expected sha256 {check.expected}"
        if check.detail:
            line += f" ({check.detail})"
    return line


@click.group("data")
def data_command() -> None:
    """Get the scenario data files the suites read (see `data fetch`)."""


@data_command.command("fetch")
@click.pass_context
@click.option(
    "--suite",
    "suite_names",
    multiple=True,
    help="Fetch only this suite's files (repeatable) [default: every suite].",
)
@click.option(
    "--dest",
    type=click.Path(path_type=Path, file_okay=False),
    envvar="PODIUM_SCENARIO_DATA",
    default=DEFAULT_CACHE_DIR / DATA_CACHE_DIR,
    show_default=True,
    help="Data directory to fill (env PODIUM_SCENARIO_DATA); files already there with the "
    "pinned sha256 are kept.",
)
@click.option(
    "--mirror",
    metavar="URL",
    envvar="PODIUM_SCENARIO_MIRROR",
    help="Take every file from <URL>/<relative path> (env PODIUM_SCENARIO_MIRROR) instead of "
    "the upstream repositories.",
)
@click.option(
    "--upstream",
    "upstream_base",
    metavar="URL",
    envvar="PODIUM_SCENARIO_UPSTREAM",
    default=DEFAULT_UPSTREAM_BASE,
    show_default=True,
    help="Base of the upstream raw-file URLs, <URL>/<owner>/<repo>/<commit>/<path> (env "
    "PODIUM_SCENARIO_UPSTREAM), e.g. a proxy of that host.",
)
@click.option(
    "--dry-run", is_flag=True, help="Only print where each file would come from; fetch nothing."
)
def fetch_command(
    ctx: click.Context,
    suite_names: Sequence[str],
    dest: Path,
    mirror: str | None,
    upstream_base: str,
    dry_run: bool,
) -> None:
    """Download the pinned data files of suites into a directory, checking each sha256.

    Exits 1 when any file could not be provided, naming each one and how to provide it.
    """
    try:
        suites = [get_suite(name) for name in (suite_names or list_suites())]
    except EvaluatorError as exc:
        raise _fail(exc) from None
    dest = dest.expanduser().absolute()
    pins = {pin for suite in suites for pin in suite.data_files.items()}
    planned = plan_fetch(pins, mirror=mirror, upstream_base=upstream_base)
    origin = f"mirror {mirror}" if mirror else f"upstream ({upstream_base})"
    names = ", ".join(suite.name for suite in suites)
    console = _console()
    if dry_run:
        for file in planned:
            click.echo(f"{file.path}  {file.url or 'NOT AVAILABLE: ' + file.unavailable}")
        return
    console.print(f"fetching {len(planned)} data files of suites {names} from {origin} into {dest}")
    results = _fetch_all(console, planned, dest)
    problems = [r for r in results if not r.ok]
    fetched = sum(r.status == "fetched" for r in results)
    summary = (
        f"{len(results)} files: {fetched} downloaded, {len(results) - len(problems) - fetched} "
        f"already present, {len(problems)} not provided"
    )
    if not problems:
        console.print(f"[green]{summary}[/green]")
        console.print(f"use them with: export PODIUM_SCENARIO_DATA={dest}")
        return
    err = _console(stderr=True)
    _print_fetch_problems(err, problems)
    err.print(f"[red]{summary}[/red]")
    err.print(how_to_provide(dest), markup=False, soft_wrap=True)
    ctx.exit(1)


def _fetch_all(console: Console, planned: Sequence[PlannedFile], dest: Path) -> list[FetchResult]:
    with Progress(
        TextColumn("fetching"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("files, {task.fields[received]} downloaded"),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        files = bar.add_task("files", total=len(planned), received="0 bytes")
        lock = threading.Lock()
        received = [0]

        def on_bytes(n: int) -> None:
            # The byte count moves inside large files too, where the file count stands still.
            with lock:
                received[0] += n
                bar.update(files, received=filesize.decimal(received[0]))

        def one(file: PlannedFile) -> FetchResult:
            result = fetch_file(file, dest, on_bytes=on_bytes)
            bar.update(files, advance=1)
            return result

        # Files are small and many: a few in flight hide the per-request latency.
        with ThreadPoolExecutor(max_workers=8) as pool:
            return list(pool.map(one, planned))


_PROBLEM_HEADINGS = {
    "unavailable": "not available from this source",
    "failed": "download failed",
    "mismatch": "refused: the downloaded sha256 differs from the pin (nothing was kept)",
}


def _print_fetch_problems(console: Console, problems: Sequence[FetchResult]) -> None:
    for status, heading in _PROBLEM_HEADINGS.items():
        group = [p for p in problems if p.status == status]
        if not group:
            continue
        files = "1 file" if len(group) == 1 else f"{len(group)} files"
        console.print(f"[red]{heading}[/red] ({files}):")
        reasons = dict.fromkeys(p.detail for p in group if status == "unavailable")
        for reason in reasons:
            # One reason covers many files (every BIG-bench task): say it once.
            console.print(f"  reason: {reason}", markup=False, soft_wrap=True)
        for p in group:
            line = f"  {p.path}"
            if status == "failed":
                line += f": {p.detail}"
            elif status == "mismatch":
                line += f": expected sha256 {p.expected}, got {p.actual} from {p.url}"
                if p.detail:
                    line += f" ({p.detail})"
            console.print(line, markup=False, soft_wrap=True)


@click.command("rank")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--rules",
    type=click.Choice(["neurips2023", "winrate", "mean"]),
    default="neurips2023",
    show_default=True,
    help="neurips2023: the 2023 organizers' arithmetic exactly; winrate: Podium's cleaned-up "
    "win rate (ties half, over the others, missing last); mean: plain means.",
)
def rank_command(path: Path, rules: str) -> None:
    """Re-rank a board offline from a JSON file of per-metric numbers (see the README)."""
    from evaluator.scoring.rank_file import RankFileError, rank_board

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise click.ClickException(f"{path} is not valid JSON: {exc}") from exc
    try:
        board, notes = rank_board(data, rules)
    except (RankFileError, ValueError) as exc:
        raise click.ClickException(f"{path}: {exc}") from exc
    for note in notes:
        click.echo(f"note: {note}", err=True)
    click.echo(json.dumps(board, indent=2))


@click.group("evaluator")
def cli() -> None:
    """Evaluate model servers with pinned HELM-style suites."""


cli.add_command(eval_command)
cli.add_command(suites_command)
cli.add_command(rank_command)
cli.add_command(data_command)


if __name__ == "__main__":
    cli()
