from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from app.cli import main
from app.config import Settings
from app.queue import RecordingQueue
from tests.app.uploads.live_server import live_server


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean client environment: no PODIUM_SERVER/TOKEN, the config file at this (absent) path."""
    for var in ("PODIUM_SERVER", "PODIUM_TOKEN", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    path = tmp_path / "podium.toml"
    monkeypatch.setenv("PODIUM_CONFIG", str(path))
    return path


@pytest.fixture
def server(settings: Settings, queue: RecordingQueue) -> Iterator[str]:
    with live_server(settings, queue) as url:
        yield url


def token_of(headers: dict[str, str]) -> str:
    return headers["Authorization"].split(" ", 1)[1]


def podium(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))
