"""Log lines a machine can read: one JSON object per line, with the submission and evaluation in
hand on every line (`PODIUM_LOG_FORMAT=json`; the default stays the plain text people read).

Log collectors (Loki, Elasticsearch, CloudWatch) index JSON fields, so "everything that happened
to submission X" becomes one query across the API and every worker host, instead of a grep
through lines that only some messages thought to tag with the id. The ids travel in context
variables: the task entry points (workers/tasks.py) set them around a flow, and every line
logged inside, by our code or a library's, carries them. asyncio tasks inherit them; a plain
thread starts with an empty context, so a line from such a thread carries the ids only when
its message names them itself.
"""

from __future__ import annotations

import copy
import json
import logging
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

from starlette.applications import Starlette

LogFormat = Literal["text", "json"]

submission_id_var: ContextVar[str | None] = ContextVar("podium_submission_id", default=None)
evaluation_id_var: ContextVar[str | None] = ContextVar("podium_evaluation_id", default=None)

# The loggers uvicorn configures with handlers of their own and propagate=False.
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@contextmanager
def log_context(
    *, submission_id: str | None = None, evaluation_id: str | None = None
) -> Iterator[None]:
    """Tag every line logged inside the block with these ids (those not given stay as they
    were, so a nested block adds the evaluation to the submission)."""
    tokens = []
    if submission_id is not None:
        tokens.append((submission_id_var, submission_id_var.set(submission_id)))
    if evaluation_id is not None:
        tokens.append((evaluation_id_var, evaluation_id_var.set(evaluation_id)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class JsonFormatter(logging.Formatter):
    """time (UTC, ISO 8601), level, logger, message, the ids in context, and the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        submission_id = submission_id_var.get()
        evaluation_id = evaluation_id_var.get()
        if submission_id is not None:
            line["submission_id"] = submission_id
        if evaluation_id is not None:
            line["evaluation_id"] = evaluation_id
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        # default=str: a message argument that JSON cannot encode must not lose the line.
        return json.dumps(line, ensure_ascii=False, default=str)


def formatter(log_format: LogFormat) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


def use_format(log_format: LogFormat, loggers: tuple[str, ...] = ()) -> None:
    """Format every handler of the root logger (and of `loggers`) as `log_format`.

    For processes whose logging another framework has set up (Celery's worker, uvicorn): their
    handlers and levels stay, only the line format changes. With no root handler yet, one that
    writes to stderr at INFO is added.
    """
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler(sys.stderr))
        if root.level == logging.WARNING:  # the default: nothing set it on purpose
            root.setLevel(logging.INFO)
    for name in ("", *loggers):
        for handler in logging.getLogger(name or None).handlers:
            handler.setFormatter(formatter(log_format))


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's logging set-up with a plain formatter for its access lines.

    uvicorn's AccessFormatter copies every record, looks the status phrase up and checks for
    colours: a tenth of the event loop's time under a crowd of leaderboard reads, on every
    request. The line reads as uvicorn's uncoloured one, without the phrase after the status:
    `INFO:     127.0.0.1:50000 - "GET /api/v1/leaderboard?... HTTP/1.1" 200`.
    """
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["access"] = {"()": "logging.Formatter", "fmt": "INFO:     %(message)s"}
    return config


def configure_api_logging(app: Starlette, log_format: LogFormat) -> None:
    """JSON logs for the API process, uvicorn's own lines included; nothing changes for text.

    uvicorn sets up its loggers after the app is built (`uvicorn.run(create_app())`), so the
    format is applied again when the app starts serving.
    """
    if log_format != "json":
        return
    use_format("json", UVICORN_LOGGERS)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        use_format("json", UVICORN_LOGGERS)
        async with inner(app) as state:
            yield state

    app.router.lifespan_context = lifespan
