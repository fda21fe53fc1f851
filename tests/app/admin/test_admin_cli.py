"""`podium admin` against a real server: the commands go through the admin API, so the token
they print is one that server accepts, whatever database it runs on (both are tested). Direct
database access is only the explicit bootstrap (`bootstrap`, `--local`, `--data-dir`)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from app.cli import main
from app.client.errors import EXIT_CLIENT_ERROR
from app.config import Settings
from app.queue import RecordingQueue
from tests.app.admin.conftest import bearer
from tests.app.uploads.live_server import live_server

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def server(settings: Settings, queue: RecordingQueue) -> Iterator[str]:
    with live_server(settings, queue) as url:
        yield url


@pytest.fixture
def client_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """An organizer's shell: no PODIUM_* but what each test sets, no config file."""
    for var in [v for v in os.environ if v.startswith("PODIUM_")] + ["XDG_CONFIG_HOME"]:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PODIUM_CONFIG", str(tmp_path / "absent.toml"))
    # The in-process commands below may point PODIUM_DATA_DIR somewhere; monkeypatch undoes it.
    monkeypatch.setenv("PODIUM_DATA_DIR", str(tmp_path / "unused"))
    monkeypatch.delenv("PODIUM_DATA_DIR")
    return dict(os.environ)


def _podium(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


def _token_works(server: str, token: str) -> bool:
    return httpx.get(f"{server}/api/v1/submissions", headers=bearer(token)).status_code == 200


def test_create_team_in_its_own_process_prints_a_token_the_server_accepts(
    server: str, admin: dict[str, str], client_env: dict[str, str], tmp_path: Path
) -> None:
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    env = {
        **client_env,
        "PODIUM_SERVER": server,
        "PODIUM_TOKEN": admin["Authorization"].split()[1],
        "PYTHONPATH": str(REPO),
    }
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "admin", "create-team", "delta", "--email", "d@x.org"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip().splitlines()[-1]
    assert token.startswith("pdm_") and _token_works(server, token)
    teams = httpx.get(f"{server}/api/v1/admin/teams", headers=admin).json()["items"]
    assert [(t["name"], t["contact_email"]) for t in teams] == [("delta", "d@x.org")]
    assert list(cwd.iterdir()) == []  # no local ./.podium database was written


def test_members_rotation_and_revocation_through_the_cli(
    server: str, admin: dict[str, str], client_env: dict[str, str]
) -> None:
    flags = ["--server", server, "--token", admin["Authorization"].split()[1]]
    created = _podium("admin", "create-team", "delta", *flags)
    assert created.exit_code == 0, created.output
    added = _podium("admin", "add-member", "delta", "ana", "--email", "ana@x.org", *flags)
    assert added.exit_code == 0, added.output
    member_token = added.output.strip().splitlines()[-1]
    assert _token_works(server, member_token)

    listed = _podium("admin", "teams", *flags)
    assert listed.exit_code == 0 and "member ana <ana@x.org>" in listed.output
    assert "pdm_" not in listed.output
    token_id = next(
        line.split()[0]
        for line in listed.output.splitlines()
        if "member ana" in line and "team " in line
    )
    rotated = _podium("admin", "rotate-token", token_id[:10], *flags)
    assert rotated.exit_code == 0, rotated.output
    new_token = rotated.output.strip().splitlines()[-1]
    assert not _token_works(server, member_token) and _token_works(server, new_token)
    new_id = rotated.output.split("token id ")[1].split(";")[0]
    revoked = _podium("admin", "revoke-token", new_id, *flags)
    assert revoked.exit_code == 0 and not _token_works(server, new_token)


def test_import_teams_and_apply_through_the_cli(
    server: str, admin: dict[str, str], client_env: dict[str, str], tmp_path: Path
) -> None:
    flags = ["--server", server, "--token", admin["Authorization"].split()[1]]
    bad = tmp_path / "teams.csv"
    bad.write_text("name,email\ndelta,d@x.org\nepsilon;e@x.org,\n")
    refused = _podium("admin", "import-teams", str(bad), *flags)
    assert refused.exit_code == EXIT_CLIENT_ERROR
    assert "line 3: the team name 'epsilon;e@x.org' holds an e-mail address" in refused.output
    assert "Nothing was imported" in refused.output
    good = tmp_path / "good.csv"
    good.write_text("delta,d@x.org\nepsilon,e@x.org\n")
    imported = _podium("admin", "import-teams", str(good), *flags)
    assert imported.exit_code == 0, imported.output
    rows = [line.split(",") for line in imported.stdout.strip().splitlines()]
    assert rows[0] == ["name", "email", "token"]
    assert [r[:2] for r in rows[1:]] == [["delta", "d@x.org"], ["epsilon", "e@x.org"]]
    assert all(_token_works(server, r[2]) for r in rows[1:])

    toml = tmp_path / "cup.toml"
    toml.write_text(
        'slug = "cup"\n[[tracks]]\nslug = "main"\n[[phases]]\nslug = "open"\nsuite = "smoke"\n'
    )
    applied = _podium("admin", "apply", str(toml), *flags)
    assert applied.exit_code == 0 and "competition 'cup' created" in applied.output
    listed = _podium("admin", "competitions", *flags)
    assert "phase open: suite smoke" in listed.output


def test_refusals_say_what_to_do(
    server: str, team_a: dict[str, str], client_env: dict[str, str]
) -> None:
    no_token = _podium("admin", "teams", "--server", server)
    assert no_token.exit_code == EXIT_CLIENT_ERROR
    assert "no admin token" in no_token.output and "podium admin bootstrap" in no_token.output
    as_team = _podium(
        "admin",
        "create-team",
        "x",
        "--server",
        server,
        "--token",
        team_a["Authorization"].split()[1],
    )
    assert as_team.exit_code == EXIT_CLIENT_ERROR
    assert "not an admin token" in as_team.output
    flag = _podium("admin", "create-token", "--role", "team", "--server", server, "--token", "t")
    assert flag.exit_code == EXIT_CLIENT_ERROR and "--role team needs --team NAME" in flag.output
    for result in (no_token, as_team, flag):
        assert "Error: error" not in result.output and result.output.count("Error:") == 1


def test_bootstrap_then_local_commands_then_the_server_accepts_them(
    client_env: dict[str, str], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    boot = _podium("admin", "bootstrap", "--data-dir", str(data))
    assert boot.exit_code == 0, boot.output
    admin_token = boot.output.strip().splitlines()[-1]
    # --data-dir works before `admin`, after it, and after the command.
    for args in (
        ["--data-dir", str(data), "admin", "create-team", "one"],
        ["admin", "--data-dir", str(data), "create-team", "two"],
        ["admin", "create-team", "three", "--data-dir", str(data)],
    ):
        result = _podium(*args)
        assert result.exit_code == 0, result.output
        assert "direct access" in result.stderr
    tokens = [
        _podium("admin", "create-token", "--role", "team", "--team", "one", "--data-dir", str(data))
        .output.strip()
        .splitlines()[-1]
    ]
    settings = Settings(environment="test", data_dir=data, broker_url="memory://")
    with live_server(settings, RecordingQueue()) as url:
        teams = httpx.get(f"{url}/api/v1/admin/teams", headers=bearer(admin_token)).json()
        assert [t["name"] for t in teams["items"]] == ["one", "three", "two"]
        assert _token_works(url, tokens[0])
    both = _podium("admin", "teams", "--local", "--server", "http://127.0.0.1:1")
    assert both.exit_code == EXIT_CLIENT_ERROR and "one or the other" in both.output
