"""What tasks are waiting in the broker: the reaper's way to tell "queued behind other work"
from "its task was lost".

Only messages not yet delivered are listed. A task a worker holds is vouched for by that
worker's heartbeats instead (a dead worker's unacked message would otherwise look alive for
the broker's whole visibility timeout). Any failure to look returns None, and the reaper then
falls back to resending work untouched for `lost_after_s` (a duplicate task is harmless).
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterable
from typing import Any

import redis

from app.config import Settings
from app.evaluations.recovery import KnownTasks
from app.queue import BUILD_QUEUE, BUILD_TASK, EVALUATE_QUEUE, EVALUATE_TASK

log = logging.getLogger(__name__)

# kombu's Redis transport keeps priority n > 0 of queue q under `q\x06\x16n`.
_PRIORITY_SEP = "\x06\x16"
_PRIORITY_STEPS = (3, 6, 9)
_MAX_MESSAGES = 200_000


def known_tasks(settings: Settings) -> KnownTasks | None:
    try:
        if settings.uses_filesystem_broker:
            raw = _filesystem_messages(settings)
        elif settings.broker_url.startswith(("redis://", "rediss://")):
            raw = _redis_messages(settings.broker_url)
        else:
            return None
        return _sort(_task_and_first_arg(message) for message in raw)
    except Exception as exc:  # the broker may be the thing that is down
        log.warning("could not list the tasks waiting in the broker: %s", exc)
        return None


def _redis_messages(url: str) -> list[bytes]:
    client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    try:
        keys = [
            name + suffix
            for name in (BUILD_QUEUE, EVALUATE_QUEUE)
            for suffix in ("", *(f"{_PRIORITY_SEP}{step}" for step in _PRIORITY_STEPS))
        ]
        pipe = client.pipeline()
        for key in keys:
            pipe.lrange(key, 0, _MAX_MESSAGES)
        return [item for items in pipe.execute() for item in items]
    finally:
        client.close()


def _filesystem_messages(settings: Settings) -> list[bytes]:
    folder = settings.broker_dir / "queue"
    out: list[bytes] = []
    for path in folder.glob("*.msg"):
        try:
            out.append(path.read_bytes())
        except FileNotFoundError:  # taken by a worker meanwhile
            continue
    return out


def _task_and_first_arg(raw: bytes) -> tuple[str, str] | None:
    try:
        message: dict[str, Any] = json.loads(raw)
        task = str(message["headers"]["task"])
        body: Any = message["body"]
        if message.get("properties", {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        payload = json.loads(body)
        args = payload["args"] if isinstance(payload, dict) else payload[0]
        return task, str(args[0])
    except (ValueError, KeyError, IndexError, TypeError):
        return None  # not a message of ours


def _sort(found: Iterable[tuple[str, str] | None]) -> KnownTasks:
    build: set[str] = set()
    evaluate: set[str] = set()
    for item in found:
        if item is None:
            continue
        task, arg = item
        if task == BUILD_TASK:
            build.add(arg)
        elif task == EVALUATE_TASK:
            evaluate.add(arg)
    return KnownTasks(builds=frozenset(build), evaluations=frozenset(evaluate))
