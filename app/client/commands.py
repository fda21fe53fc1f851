"""Team commands of `podium`: submit, status, leaderboard. HTTP clients of the API, nothing more.

Exit codes: 0 scored (or, for `status`, still in progress), 1 the submission failed or was
cancelled, 2 the command itself could not do its job (see the message).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from app.client.api import PodiumApi
from app.client.config import resolve
from app.client.errors import ApiError, ClientError, Unreachable
from app.client.pack import pack_context, pack_weights_dir
from app.client.render import (
    TERMINAL_STATUSES,
    board_choice,
    console,
    leaderboard_table,
    progress_text,
    show_outcome,
    skipped_statuses,
)
from app.client.upload import UploadHooks, UploadResult, sha256_file, upload_file

FOLLOW_MAX_FAILURES = 30
"""Polls in a row that may fail (server restarting) before `submit` stops following."""
APPEAR_WITHIN_S = 10.0


def _server_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option(
        "--token", default=None, help="Team token (else PODIUM_TOKEN, else the config file)."
    )(func)
    return click.option(
        "--server",
        default=None,
        help="Podium URL (else PODIUM_SERVER, else the config file, else http://127.0.0.1:8000).",
    )(func)


def _transfer_bar(err: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err,
    )


def _upload_weights(api: PodiumApi, weights: Path, tmp: Path, chunk_size: int | None) -> str:
    err = console(stderr=True)
    if weights.is_dir():
        with _transfer_bar(err) as bar:
            task = bar.add_task(f"packing {weights.name}/", total=None)
            packed = pack_weights_dir(
                weights, tmp / f"{weights.name}.tar", lambda n: bar.update(task, completed=n)
            )
        err.print(f"weights: {packed.files} files, {packed.bytes:,} bytes packed as {packed.path}")
        path = packed.path
    else:
        path = weights
    size = path.stat().st_size
    with _transfer_bar(err) as bar:
        task = bar.add_task(f"hashing {path.name}", total=size)
        digest = sha256_file(path, lambda n: bar.update(task, completed=n))
    with _transfer_bar(err) as bar:
        task = bar.add_task(f"uploading {path.name}", total=size)
        hooks = UploadHooks(
            progress=lambda n: bar.update(task, completed=n),
            note=lambda line: bar.console.print(line, markup=False, highlight=False),
        )
        result: UploadResult = upload_file(
            api, path, sha256=digest, chunk_size=chunk_size, hooks=hooks
        )
    err.print(f"weights uploaded: upload {result.upload_id}, sha256 {result.sha256}")
    return result.upload_id


def follow_submission(
    api: PodiumApi,
    submission_id: str,
    poll_interval: float,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Poll the submission until its status is terminal, showing each change; returns it."""
    err = console(stderr=True)
    last: str | None = None
    last_status: str | None = None
    failures = 0
    started = time.monotonic()
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("waiting", total=None)
        while True:
            try:
                submission = api.get_submission(submission_id)
                failures = 0
            except ApiError as exc:
                # The server may answer the POST before its transaction is visible to the next
                # request; a submission just created is given a few seconds to appear.
                if exc.status_code != 404 or time.monotonic() - started > APPEAR_WITHIN_S:
                    raise
                sleep(poll_interval)
                continue
            except Unreachable as exc:
                failures += 1
                if failures > FOLLOW_MAX_FAILURES:
                    raise ClientError(
                        f"{exc}; stopped following. The submission goes on: "
                        f"`podium status {submission_id}`"
                    ) from exc
                bar.console.print(f"{exc}; trying again", markup=False, highlight=False)
                sleep(min(60.0, poll_interval * failures))
                continue
            status = str(submission.get("status"))
            progress = submission.get("progress") or {}
            # One line per phase (and per step within one, until requests are counted). The
            # line carries the request counts when known: piped output (CI logs, scripts) shows
            # no bar, and would otherwise never say how far the evaluation got.
            phase = status if progress.get("total") else progress_text(submission)
            if phase != last:
                stamp = datetime.now().strftime("%H:%M:%S")
                for passed in skipped_statuses(last_status, status):
                    bar.console.print(f"{stamp} {passed} (over between two looks)")
                line = progress_text(submission)
                bar.console.print(f"{stamp} {line}", markup=False, highlight=False)
                last, last_status = phase, status
            bar.update(
                task,
                description=progress_text(submission),
                completed=progress.get("done", 0),
                total=progress.get("total") or None,
            )
            if status in TERMINAL_STATUSES:
                return submission
            sleep(poll_interval)


def _logs_if_failed(api: PodiumApi, submission: dict[str, Any]) -> dict[str, Any] | None:
    if submission.get("status") not in ("failed", "cancelled"):
        return None
    try:
        return api.get_logs(str(submission["id"]))
    except ClientError:
        return None  # the outcome matters more than its logs


@click.command()
@click.argument(
    "directory", type=click.Path(exists=True, file_okay=False, path_type=Path), default="."
)
@click.option(
    "--weights",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="Model weights: one file (e.g. an archive), or a directory (sent as a .tar).",
)
@_server_options
@click.option("--name", default="", help="A short name for this submission.")
@click.option("--description", default="", help="What changed, for your own records.")
@click.option("--competition", default=None, help="Competition slug.")
@click.option("--track", default=None, help="Track slug within the competition.")
@click.option(
    "--dockerfile", default="Dockerfile", show_default=True, help="Path inside DIRECTORY."
)
@click.option("--follow/--no-follow", default=True, help="Wait for the result (default).")
@click.option("--poll-interval", type=float, default=2.0, show_default=True, help="Seconds.")
@click.option("--chunk-size", type=int, default=None, hidden=True)
def submit(
    directory: Path,
    weights: Path | None,
    server: str | None,
    token: str | None,
    name: str,
    description: str,
    competition: str | None,
    track: str | None,
    dockerfile: str,
    follow: bool,
    poll_interval: float,
    chunk_size: int | None,
) -> None:
    """Submit DIRECTORY (a Dockerfile build context) and optional weights; wait for the scores.

    Weights go up in resumable chunks: after a broken connection the upload goes on from where
    the server stopped, and running the same command again resumes an interrupted upload.
    Exit code 0 when scored, 1 when the submission failed, 2 when it could not be submitted.
    """
    out = console()
    err = console(stderr=True)
    config = resolve(server, token)
    with PodiumApi(config) as api, tempfile.TemporaryDirectory(prefix="podium-") as tmp:
        context = pack_context(directory, Path(tmp) / "context.tar.gz", dockerfile)
        err.print(
            f"context: {context.files} files, {context.bytes:,} bytes from {directory.resolve()}"
        )
        fields = {
            "name": name,
            "description": description,
            "dockerfile": dockerfile,
            "competition": competition or "",
            "track": track or "",
        }
        if weights is not None:
            api.list_uploads()  # token and server checked before packing and hashing gigabytes
            try:
                fields["weights_upload"] = _upload_weights(api, weights, Path(tmp), chunk_size)
            except KeyboardInterrupt:
                err.print("interrupted: run the same command again to resume the upload")
                raise SystemExit(130) from None
        submission = api.create_submission(
            context.path, {key: value for key, value in fields.items() if value}
        )
    submission_id = str(submission["id"])
    out.print(f"submission {submission_id} {submission.get('status')}")
    if not follow:
        out.print(f"follow it with: podium status {submission_id}")
        return
    with PodiumApi(config) as api:
        try:
            final = follow_submission(api, submission_id, poll_interval)
        except KeyboardInterrupt:
            err.print(f"stopped following; the submission goes on: podium status {submission_id}")
            raise SystemExit(130) from None
        code = show_outcome(out, final, _logs_if_failed(api, final))
    raise SystemExit(code)


@click.command()
@click.argument("submission_id")
@_server_options
@click.option(
    "--follow/--no-follow",
    default=False,
    help="Wait for the result, showing the build and run phases as they happen.",
)
@click.option("--poll-interval", type=float, default=2.0, show_default=True, help="Seconds.")
def status(
    submission_id: str, server: str | None, token: str | None, follow: bool, poll_interval: float
) -> None:
    """Show a submission's status, and its scores or why it failed."""
    out = console()
    with PodiumApi(resolve(server, token)) as api:
        if follow:
            try:
                submission = follow_submission(api, submission_id, poll_interval)
            except KeyboardInterrupt:
                raise SystemExit(130) from None
        else:
            submission = api.get_submission(submission_id)
        code = show_outcome(out, submission, _logs_if_failed(api, submission))
    raise SystemExit(code)


@click.command()
@click.option("--competition", default=None, help="Competition slug.")
@click.option("--track", default=None, help="Track slug.")
@click.option("--phase", default=None, help="Phase slug, or `overall`.")
@click.option("--page", type=click.IntRange(min=1), default=None, help="Page of 50 entries.")
@_server_options
def leaderboard(
    competition: str | None,
    track: str | None,
    phase: str | None,
    page: int | None,
    server: str | None,
    token: str | None,
) -> None:
    """Show the leaderboard (public; a token is sent when one is configured)."""
    out = console()
    choices = (("competition", competition), ("track", track), ("phase", phase), ("page", page))
    params = {key: str(value) for key, value in choices if value}
    with PodiumApi(resolve(server, token), need_token=False) as api:
        board = api.leaderboard(params)
    note = board_choice(board)
    if note:
        out.print(note, markup=False, highlight=False)
    if not board.get("entries"):
        out.print("no scored submissions on this leaderboard yet")
        return
    out.print(leaderboard_table(board))


TEAM_COMMANDS = (submit, status, leaderboard)
