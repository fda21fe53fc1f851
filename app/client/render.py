"""How the team CLI shows submissions, scores, failures and the leaderboard."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

TERMINAL_STATUSES = {"scored", "failed", "cancelled"}
LIFECYCLE = ("queued", "building", "evaluating")
"""The order a submission goes through before its terminal status."""
LOG_TAIL_LINES = 40
BUILD_LOG_IN_MESSAGE = "\n--- last log lines ---\n"
"""How a build failure's message (workers/sandbox/docker_build.py) appends the log's last lines;
the CLI prints the build log itself, so the message is shown without them."""


def console(*, stderr: bool = False) -> Console:
    # Piped output (CI logs, tests) gets a width that keeps ids and score columns whole.
    probe = Console(stderr=stderr)
    return Console(stderr=stderr, width=None if probe.is_terminal else 160)


def _score(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, int | float) else "-"


def _number(value: Any, digits: int) -> str:
    return f"{value:.{digits}f}" if isinstance(value, int | float) else "-"


def progress_text(submission: dict[str, Any]) -> str:
    """The status, and what is happening within it (the same words as the web page)."""
    progress = submission.get("progress") or {}
    done, total = progress.get("done", 0), progress.get("total", 0)
    status = str(submission.get("status"))
    if total:
        return f"{status} ({done}/{total} requests)"
    evaluation = submission.get("evaluation") or {}
    detail = {
        "queued": "waiting for a worker to build it",
        "building": "building the image; its log comes when the build ends",
        "evaluating": "starting the server, waiting until it answers"
        if evaluation.get("status") == "running"
        else "built; waiting for a free evaluation worker",
    }.get(status)
    return f"{status} ({detail})" if detail else status


def skipped_statuses(before: str | None, now: str) -> list[str]:
    """The statuses passed between two polls (a fast build is over before the next look)."""
    order = [*LIFECYCLE, "scored"]
    if before not in order or now not in order:
        return []
    return order[order.index(before) + 1 : order.index(now)]


def scores_table(submission: dict[str, Any]) -> Table:
    table = Table()
    table.add_column("scenario")
    table.add_column("score", justify="right")
    for name, value in sorted((submission.get("scores") or {}).items()):
        table.add_row(name, _score(value))
    table.add_section()
    table.add_row("overall", _score(submission.get("overall")), style="bold")
    return table


def _tail(text: str, lines: int = LOG_TAIL_LINES) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def show_outcome(out: Console, submission: dict[str, Any], logs: dict[str, Any] | None) -> int:
    """Print a submission's outcome; returns the exit code (0 scored or still going, 1 failed)."""
    status = submission.get("status")
    name = f" ({submission['name']})" if submission.get("name") else ""
    if status == "scored":
        out.print(f"[bold green]submission {submission.get('id')}{name} scored[/]")
        out.print(scores_table(submission))
        return 0
    if status in ("failed", "cancelled"):
        reason = submission.get("failure_reason") or status
        message = submission.get("failure_message") or ""
        if ((logs or {}).get("build_log") or "").strip():
            message = message.partition(BUILD_LOG_IN_MESSAGE)[0]  # the log follows, once
        out.print(f"[bold red]submission {submission.get('id')}{name} {status}[/]: {reason}")
        if message:
            out.print(message, markup=False, highlight=False)
        withheld = bool((logs or {}).get("container_log_withheld"))
        container = "container log, start-up only" if withheld else "container log"
        for key, title in (("build_log", "build log"), ("container_log", container)):
            text = (logs or {}).get(key) or ""
            if text.strip():
                out.rule(f"{title} (last {LOG_TAIL_LINES} lines)")
                out.print(_tail(text), markup=False, highlight=False)
        return 1
    out.print(f"submission {submission.get('id')}{name}: {progress_text(submission)}")
    return 0


def board_choice(board: dict[str, Any]) -> str | None:
    """Which board the server picked for options left out, and the others; None: no choice."""
    picked = board.get("picked") or []
    parts = []
    boards = [str(c) for c in board.get("competitions") or [] if c != board.get("competition")]
    if "competition" in picked and boards:
        parts.append(
            f"competition {board.get('competition')} (others: {', '.join(boards)}; "
            "choose with --competition)"
        )
    tracks = [str(t) for t in board.get("tracks") or [] if t != board.get("track")]
    if "track" in picked and tracks:
        parts.append(f"track {board.get('track')} (others: {', '.join(tracks)}; --track)")
    if "phase" in picked and parts and board.get("phase"):
        parts.append(f"phase {board.get('phase')} (the current one; --phase)")
    return "showing " + ", ".join(parts) if parts else None


def leaderboard_table(board: dict[str, Any]) -> Table:
    entries = board.get("entries") or []
    scenarios = list(board.get("scenarios") or []) or sorted(
        {name for e in entries for name in (e.get("scores") or {})}
    )
    context = [
        f"{key} {board[key]}"
        for key in ("competition", "track", "phase", "mode")
        if isinstance(board.get(key), str)
    ]
    table = Table(title="leaderboard" + (f" ({', '.join(context)})" if context else ""))
    table.add_column("rank", justify="right")
    table.add_column("team")
    table.add_column("overall", justify="right")
    for name in scenarios:
        table.add_column(name, justify="right")
    table.add_column("latency p50 (s)", justify="right")
    table.add_column("tokens/s", justify="right")
    table.add_column("submission", overflow="fold")
    for entry in entries:
        scores = entry.get("scores") or {}
        rank = entry.get("rank")
        table.add_row(
            "baseline" if entry.get("is_baseline") else str(rank if rank is not None else "-"),
            str(entry.get("team", "")),
            _score(entry.get("overall")),
            *(_score(scores.get(name)) for name in scenarios),
            _number(entry.get("latency_p50_s"), 2),
            _number(entry.get("tokens_per_s"), 1),
            str(entry.get("submission_id", "")),
        )
    total = board.get("total")
    if isinstance(total, int) and total > len(entries):
        table.caption = f"{len(entries)} of {total} entries (page {board.get('page', 1)})"
    return table
