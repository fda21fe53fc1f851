"""Which workers are alive, what GPUs they hold, and how their Docker engine is: the beats each
worker process publishes (workers/presence.py) and the API reads for `/metrics`, `/healthz/ready`
and the organizer's operations page.

The API never talks to a Docker engine or a worker itself (DESIGN.md): workers run on other
hosts, next to their own engines and GPUs. So each worker says, every `heartbeat_s`, what it
sees, into the store both sides already reach: the broker's Redis (a key per worker that
expires on its own when the worker stops beating), or, with the embedded filesystem broker, a
file per worker under the shared data directory. An evaluation's own heartbeat (its row) tells
that one evaluation lives; this tells that a worker lives even while it is idle.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import redis

from app.config import Settings

EngineState = Literal["ok", "down", "unknown"]
KEY_PREFIX = "podium:worker:"
KEEP_FOR_BEATS = 10
"""A beat is kept this many intervals (then dropped): long after `stale_after_s` says the
worker is lost, so the page can still show when it was last seen."""


@dataclass(frozen=True)
class WorkerBeat:
    name: str
    """The Celery node name (`celery@host`), unique per worker process."""
    host: str
    pid: int
    queues: list[str]
    gpus: list[str] = field(default_factory=list)
    """GPU ids this worker hands out (PODIUM_GPUS)."""
    gpus_leased: list[str] = field(default_factory=list)
    """Those held right now by a running evaluation (the flock in workers/gpus.py)."""
    engine: EngineState = "unknown"
    engine_error: str = ""
    images_bytes: int | None = None
    """Disk the engine's submission images (and build leftovers) take, against
    `image_disk_budget_bytes`; None when the engine could not be asked."""
    at: float = 0.0
    """Unix time of the beat."""

    def age_s(self, now: float | None = None) -> float:
        return max((time.time() if now is None else now) - self.at, 0.0)

    def alive(self, settings: Settings, now: float | None = None) -> bool:
        return self.age_s(now) <= settings.stale_after_s

    @classmethod
    def from_json(cls, raw: str | bytes) -> WorkerBeat | None:
        try:
            data: dict[str, Any] = json.loads(raw)
            return cls(
                name=str(data["name"]),
                host=str(data.get("host", "")),
                pid=int(data.get("pid", 0)),
                queues=[str(q) for q in data.get("queues", [])],
                gpus=[str(g) for g in data.get("gpus", [])],
                gpus_leased=[str(g) for g in data.get("gpus_leased", [])],
                engine=data.get("engine", "unknown"),
                engine_error=str(data.get("engine_error", "")),
                images_bytes=data.get("images_bytes"),
                at=float(data.get("at", 0.0)),
            )
        except (ValueError, KeyError, TypeError):
            return None  # a torn or foreign record is no worker


def uses_redis(settings: Settings) -> bool:
    return settings.broker_url.startswith(("redis://", "rediss://", "unix://"))


@lru_cache(maxsize=4)
def redis_client(url: str) -> redis.Redis:
    # Short timeouts: a scrape or a health check must answer even when Redis hangs.
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)


def _folder(settings: Settings) -> Path:
    return settings.data_dir / "workers"


def _file_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.@" else "_" for c in name) + ".json"


def publish(settings: Settings, beat: WorkerBeat) -> None:
    body = json.dumps(asdict(beat))
    keep_s = max(int(settings.heartbeat_s * KEEP_FOR_BEATS), 1)
    if uses_redis(settings):
        redis_client(settings.broker_url).set(KEY_PREFIX + beat.name, body, ex=keep_s)
        return
    folder = _folder(settings)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / _file_name(beat.name)
    partial = target.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(body)
    partial.replace(target)  # readers never see half a record


def withdraw(settings: Settings, name: str) -> None:
    """A worker stopping cleanly says so, instead of being taken for lost."""
    if uses_redis(settings):
        redis_client(settings.broker_url).delete(KEY_PREFIX + name)
    else:
        (_folder(settings) / _file_name(name)).unlink(missing_ok=True)


def beats(settings: Settings) -> list[WorkerBeat]:
    """Every worker beat still kept, alive or lately lost, by name. Raises the broker's error
    (redis.RedisError) when Redis cannot be read."""
    raws: list[bytes | str] = []
    if uses_redis(settings):
        client = redis_client(settings.broker_url)
        keys = list(client.scan_iter(match=KEY_PREFIX + "*", count=500))
        if keys:
            raws = [raw for raw in client.mget(keys) if raw is not None]
    else:
        folder = _folder(settings)
        keep_s = settings.heartbeat_s * KEEP_FOR_BEATS
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            try:
                if time.time() - path.stat().st_mtime > keep_s:
                    path.unlink(missing_ok=True)
                    continue
                raws.append(path.read_text())
            except OSError:
                continue  # withdrawn while we looked
    found = [beat for beat in map(WorkerBeat.from_json, raws) if beat is not None]
    return sorted(found, key=lambda beat: beat.name)
