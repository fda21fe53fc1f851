"""Where the CLI gets its server and token, and what it says when it cannot use them."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from app.client.config import DEFAULT_SERVER, resolve
from app.client.errors import EXIT_CLIENT_ERROR
from tests.app.client.conftest import podium, token_of


def test_flags_win_over_environment_over_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('server = "http://file:1"\ntoken = "file-token"\n')
    env = {"PODIUM_CONFIG": str(path)}
    assert (resolve(env=env).server, resolve(env=env).token) == ("http://file:1", "file-token")
    assert resolve(env=env).token_source == str(path)

    env |= {"PODIUM_SERVER": "http://env:2/", "PODIUM_TOKEN": "env-token"}
    got = resolve(env=env)
    assert (got.server, got.token, got.token_source) == (
        "http://env:2",
        "env-token",
        "PODIUM_TOKEN",
    )

    got = resolve("flag:3", "flag-token", env=env)
    assert (got.server, got.token, got.server_source) == ("http://flag:3", "flag-token", "--server")


def test_defaults_and_config_location(tmp_path: Path) -> None:
    got = resolve(env={"XDG_CONFIG_HOME": str(tmp_path)})
    assert got.server == DEFAULT_SERVER and got.token is None
    assert got.config_path == tmp_path / "podium" / "config.toml"
    (tmp_path / "podium").mkdir()
    (tmp_path / "podium" / "config.toml").write_text('token = "t"\n')
    assert resolve(env={"XDG_CONFIG_HOME": str(tmp_path)}).token == "t"


def test_bad_config_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("token = \n")
    with pytest.raises(Exception, match="config.toml"):
        resolve(env={"PODIUM_CONFIG": str(path)})
    path.write_text("token = 5\n")
    with pytest.raises(Exception, match="must be a string"):
        resolve(env={"PODIUM_CONFIG": str(path)})


def test_no_token_says_how_to_get_one(config_file: Path) -> None:
    result = podium("status", "abc")
    assert result.exit_code == EXIT_CLIENT_ERROR
    assert "no API token" in result.output
    assert "PODIUM_TOKEN" in result.output and "create-team" in result.output


def test_unreachable_server_is_named(config_file: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = podium("status", "abc", "--server", f"127.0.0.1:{port}", "--token", "t")
    assert result.exit_code == EXIT_CLIENT_ERROR
    assert f"server not reachable at http://127.0.0.1:{port}" in result.output


def test_rejected_token_is_named(config_file: Path, server: str) -> None:
    config_file.write_text(f'server = "{server}"\ntoken = "pdm_wrong"\n')
    result = podium("status", "abc")
    assert result.exit_code == EXIT_CLIENT_ERROR
    assert "rejected the token" in result.output and str(config_file) in result.output


def test_env_token_is_used(
    config_file: Path, server: str, team_a: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PODIUM_SERVER", server)
    monkeypatch.setenv("PODIUM_TOKEN", token_of(team_a))
    result = podium("status", "0" * 32)
    assert result.exit_code == EXIT_CLIENT_ERROR
    assert "404" in result.output and "no submission" in result.output
