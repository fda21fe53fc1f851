"""PODIUM_LOG_FORMAT=json: one JSON object per line, with the ids of the work being handled on
every line logged inside it, and none outside."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import pytest

from app.config import Settings, get_settings
from app.kit.db import session_scope
from app.logging import JsonFormatter, log_context
from app.submissions.models import Evaluation
from tests.app.factories import competition, scored
from workers.logs import evaluation_logged, submission_logged


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("podium.test")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield out
    logger.removeHandler(handler)


def _read(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_ids_on_every_line_inside_and_none_outside(lines: io.StringIO) -> None:
    log = logging.getLogger("podium.test")
    log.info("before")
    with log_context(submission_id="s1"):
        log.info("build step %d", 3)
        with log_context(evaluation_id="e1"):
            log.warning('from a library, with a quote " and ünïcode')

            async def in_a_task() -> None:
                log.info("inside an asyncio task")

            asyncio.run(in_a_task())
            try:
                raise RuntimeError("boom")
            except RuntimeError:
                log.exception("failed")
        log.info("evaluation over")
    log.info("after")
    got = _read(lines)
    assert [line["message"] for line in got] == [
        "before",
        "build step 3",
        'from a library, with a quote " and ünïcode',
        "inside an asyncio task",
        "failed",
        "evaluation over",
        "after",
    ]
    assert set(got[0]) == {"time", "level", "logger", "message"}
    assert got[1]["submission_id"] == "s1" and "evaluation_id" not in got[1]
    for line in got[2:5]:
        assert (line["submission_id"], line["evaluation_id"]) == ("s1", "e1")
    assert got[2]["level"] == "WARNING" and got[2]["logger"] == "podium.test"
    assert "RuntimeError: boom" in str(got[4]["exception"])
    assert "evaluation_id" not in got[5] and "submission_id" not in got[6]
    assert str(got[0]["time"]).endswith("+00:00")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_task_contexts_name_the_submission_of_an_evaluation(
    settings: Settings, lines: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    competition(settings, [{"slug": "open", "title": "Open"}])
    submission = scored(settings, "alpha", {"mmlu": 0.5})
    with session_scope(settings.database_url) as session:
        evaluation = session.query(Evaluation).filter_by(submission_id=submission).one().id
    monkeypatch.setenv("PODIUM_DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    try:
        log = logging.getLogger("podium.test")
        with evaluation_logged(evaluation):
            log.info("evaluating")
        with submission_logged(submission):
            log.info("building")
        with evaluation_logged("0" * 32):  # gone: the lines still carry the evaluation
            log.info("no such evaluation")
    finally:
        get_settings.cache_clear()
    first, second, third = _read(lines)
    assert (first["submission_id"], first["evaluation_id"]) == (submission, evaluation)
    assert second["submission_id"] == submission and "evaluation_id" not in second
    assert third["evaluation_id"] == "0" * 32 and "submission_id" not in third


@pytest.fixture
def uvicorn_loggers_restored() -> Iterator[None]:
    names = ("uvicorn", "uvicorn.error", "uvicorn.access")
    saved = {n: (logging.getLogger(n).handlers[:], logging.getLogger(n).level) for n in names}
    propagate = {n: logging.getLogger(n).propagate for n in names}
    yield
    for name, (handlers, level) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate[name]


def test_access_lines_use_a_plain_formatter_and_keep_uvicorns_wording(
    uvicorn_loggers_restored: None,
) -> None:
    import logging.config

    from app.logging import uvicorn_log_config

    config = uvicorn_log_config()
    stream = io.StringIO()
    config["handlers"]["access"]["stream"] = stream
    logging.config.dictConfig(config)
    access = logging.getLogger("uvicorn.access")
    handler = access.handlers[0]
    assert type(handler.formatter) is logging.Formatter  # not uvicorn's AccessFormatter
    # uvicorn's own call (protocols/http/h11_impl.py): client, method, path, version, status.
    access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:50000", "GET", "/healthz", "1.1", 200)
    assert stream.getvalue() == 'INFO:     127.0.0.1:50000 - "GET /healthz HTTP/1.1" 200\n'
    # uvicorn's module-level LOGGING_CONFIG is left as it was.
    from uvicorn.config import LOGGING_CONFIG

    assert LOGGING_CONFIG["formatters"]["access"]["()"] == "uvicorn.logging.AccessFormatter"
