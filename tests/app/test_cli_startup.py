"""`podium eval` starts without the server's heavy imports.

bench/helm_vs_podium.py times `podium eval` from process start: the admin commands (SQLAlchemy,
the ORM models) and the team commands (httpx) are imported only when one of them runs.
"""

from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner


def test_the_podium_command_imports_neither_the_orm_nor_httpx() -> None:
    code = (
        "import json, sys, app.cli; "
        "print(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))"
    )
    loaded = set(json.loads(subprocess.check_output([sys.executable, "-c", code], text=True)))
    assert "evaluator" in loaded
    assert not loaded & {"sqlalchemy", "httpx", "fastapi", "alembic", "celery"}


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
