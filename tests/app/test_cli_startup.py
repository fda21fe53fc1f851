"""`podium eval` starts without the server's heavy imports.

bench/helm_vs_podium.py times `podium eval` from process start: the admin commands (SQLAlchemy,
the ORM models), the team commands (httpx) and the settings (pydantic-settings) are imported only
when one of them runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner


def test_the_podium_command_imports_neither_the_orm_nor_httpx() -> None:
    code = (
        "import json, sys, app.cli; "
        "print(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))"
    )
    loaded = set(json.loads(subprocess.check_output([sys.executable, "-c", code], text=True)))
    assert "evaluator" in loaded
    assert not loaded & {
        "sqlalchemy",
        "httpx",
        "fastapi",
        "alembic",
        "celery",
        "pydantic_settings",
    }


def test_a_data_dir_flag_reaches_settings_built_before_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Settings are imported lazily; a flag still clears any built earlier in the process.
    from app.cli import main
    from app.config import get_settings

    # Restored at teardown, after the flag has overwritten it.
    monkeypatch.setenv("PODIUM_DATA_DIR", str(tmp_path / "before"))
    get_settings.cache_clear()
    before = get_settings()
    try:
        ran = CliRunner().invoke(main, ["--data-dir", str(tmp_path / "flag"), "suites"])
        assert ran.exit_code == 0, ran.output
        assert get_settings() is not before
        assert get_settings().data_dir == tmp_path / "flag"
    finally:
        get_settings.cache_clear()


def test_lazy_commands_are_listed_and_run() -> None:
    from app.cli import main

    listed = CliRunner().invoke(main, ["--help"])
    assert listed.exit_code == 0, listed.output
    for name in ("admin", "submit", "status", "leaderboard", "eval"):
        assert f"  {name} " in listed.output
    for name in ("admin", "submit", "status", "leaderboard"):
        shown = CliRunner().invoke(main, [name, "--help"])
        assert shown.exit_code == 0, shown.output
        assert f"Usage: main {name}" in shown.output


def test_serve_freezes_what_start_up_built_and_shortens_the_switch_interval(
    tmp_path: Path,
) -> None:
    # In a process of its own: the frozen objects and the interval would outlive this test.
    code = f"""
import gc, json, sys
import uvicorn
from app import cli
from app.config import Settings
from app.main import create_app

seen = {{}}
def run(app, **kwargs):
    seen.update(frozen=gc.get_freeze_count(), interval=sys.getswitchinterval())
uvicorn.run = run
settings = Settings(environment="test", data_dir={str(tmp_path)!r},
                    database_url="sqlite:///{tmp_path}/p.db", broker_url="memory://")
cli._serve(create_app(settings), "127.0.0.1", 0, settings)
print(json.dumps(seen))
"""
    seen = json.loads(subprocess.check_output([sys.executable, "-c", code], text=True))
    assert seen["interval"] == pytest.approx(0.001)
    assert seen["frozen"] > 50_000  # the app, FastAPI, SQLAlchemy, pydantic...
