"""The team CLI is a client of the HTTP API: it imports nothing of the service."""

from __future__ import annotations

import ast
from pathlib import Path

import app.client

CLIENT_DIR = Path(app.client.__file__).parent


def test_client_imports_only_itself_from_app() -> None:
    offending = []
    for path in sorted(CLIENT_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offending += [
                f"{path.name}: {name}"
                for name in names
                if name.split(".")[0] in ("app", "workers") and not name.startswith("app.client")
            ]
    assert offending == []
