"""Where the team CLI finds its server and token: flags, then environment, then a config file.

    --server / --token              flags of the command
    PODIUM_SERVER / PODIUM_TOKEN    environment
    ~/.config/podium/config.toml    server = "https://...", token = "pdm_..."
                                    (another file: PODIUM_CONFIG=/path/to/config.toml)

The CLI is a client of the HTTP API like any other: this is the one place it reads the
environment, and it does not use the service's Settings.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from app.client.errors import ClientError

DEFAULT_SERVER = "http://127.0.0.1:8000"
"""Where `podium up` listens by default."""


@dataclass(frozen=True)
class ClientConfig:
    server: str
    token: str | None
    server_source: str
    """Where `server` came from, for error messages: a flag, a variable, the file or the default."""
    token_source: str
    config_path: Path

    def require_token(self) -> str:
        if not self.token:
            raise ClientError(
                'no API token: pass --token, set PODIUM_TOKEN, or put token = "..." in '
                f"{self.config_path}. Your team's token comes from the organizers "
                "(`podium admin create-team NAME` prints it)."
            )
        return self.token


def config_path(env: Mapping[str, str]) -> Path:
    if env.get("PODIUM_CONFIG"):
        return Path(env["PODIUM_CONFIG"]).expanduser()
    base = Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else Path.home() / ".config"
    return base / "podium" / "config.toml"


def _read_file(path: Path) -> dict[str, str]:
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ClientError(f"cannot read the config file {path}: {exc}") from exc
    values: dict[str, str] = {}
    for key in ("server", "token"):
        if key in raw:
            if not isinstance(raw[key], str):
                raise ClientError(f'{path}: {key} must be a string, e.g. {key} = "..."')
            values[key] = raw[key].strip()
    return values


def _first(choices: list[tuple[str | None, str]]) -> tuple[str, str] | None:
    for value, source in choices:
        if value and value.strip():
            return value.strip(), source
    return None


def resolve(
    server: str | None = None, token: str | None = None, env: Mapping[str, str] | None = None
) -> ClientConfig:
    """Flags win over the environment, which wins over the config file."""
    env = os.environ if env is None else env
    path = config_path(env)
    from_file = _read_file(path)
    chosen_server, server_source = _first(
        [
            (server, "--server"),
            (env.get("PODIUM_SERVER"), "PODIUM_SERVER"),
            (from_file.get("server"), str(path)),
        ]
    ) or (DEFAULT_SERVER, "the default")
    chosen_token, token_source = _first(
        [
            (token, "--token"),
            (env.get("PODIUM_TOKEN"), "PODIUM_TOKEN"),
            (from_file.get("token"), str(path)),
        ]
    ) or (None, "nowhere")
    if "://" not in chosen_server:
        chosen_server = "http://" + chosen_server
    return ClientConfig(
        server=chosen_server.rstrip("/"),
        token=chosen_token,
        server_source=server_source,
        token_source=token_source,
        config_path=path,
    )
