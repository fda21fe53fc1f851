"""`eval` and `suites` through click's CliRunner, against the shipped fake server."""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from evaluator import get_suite
from evaluator.cli import cli, eval_command, suites_command
from evaluator.testing import FakeModelServer, always

SMOKE_SIZE = 40  # 4 subjects x 10 instances
TAMPERED = "mmlu/data/test/computer_security_test.csv"
REMOVED = "mmlu/data/dev/abstract_algebra_dev.csv"


def _invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def _smoke_copy(scenario_root: Path, target: Path) -> Path:
    """The smoke suite's data files, copied under `target`."""
    for relative in get_suite("smoke").data_files:
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(scenario_root / relative, target / relative)
    return target


def _tamper(path: Path) -> None:
    path.write_bytes(path.read_bytes().replace(b",A\n", b",B\n", 1))


def test_commands_are_exported_for_the_podium_command() -> None:
    assert eval_command.name == "eval" and suites_command.name == "suites"
    assert set(cli.commands) == {"eval", "suites", "rank", "data"}


def test_eval_prints_scores_and_writes_json(scenario_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "results" / "smoke.json"
    with FakeModelServer(answer=always(" B")) as server:
        result = _invoke(
            "eval",
            "--base-url",
            server.base_url,
            "--data-dir",
            scenario_root,
            "--cache",
            tmp_path / "cache.sqlite",
            "--concurrency",
            "4",
            "--out",
            out,
        )
        assert server.stats.process_requests == SMOKE_SIZE
        assert 1 <= server.stats.max_in_flight <= 4
    assert result.exit_code == 0, result.output
    text = out.read_text()
    payload = json.loads(text)
    # Indented, one line per instance (read with json.loads; grep finds an instance's line).
    lines = text.splitlines()
    assert lines[0] == "{" and lines[1].startswith('  "suite_name": ')
    instance_lines = [line for line in lines if line.startswith('    {"run_spec": ')]
    assert [json.loads(line.rstrip(",")) for line in instance_lines] == payload["instances"]
    smoke = get_suite("smoke")
    assert payload["suite_name"] == "smoke"
    assert payload["suite_hash"] == smoke.content_hash
    assert payload["max_instances"] is None
    assert payload["requests_sent"] == SMOKE_SIZE
    assert len(payload["instances"]) == SMOKE_SIZE
    assert {i["completion"] for i in payload["instances"]} == {" B"}
    assert set(payload["scores"]) == {"mmlu"} and 0 < payload["overall"] < 1
    assert set(payload["per_run_spec"]) == {spec.name for spec in smoke.run_specs}

    output = result.stdout
    assert "latency p50" in output and "latency p95" in output
    mmlu_row = next(line for line in output.splitlines() if "mmlu" in line and "│" in line)
    assert f"{payload['scores']['mmlu']:.3f}" in mmlu_row and " 40 " in mmlu_row
    assert "generated tokens / s" in output
    assert smoke.content_hash in output
    assert "40/40" in result.output  # the progress bar, on stderr


def test_rerun_with_the_same_cache_sends_nothing(scenario_root: Path, tmp_path: Path) -> None:
    args = ["--data-dir", scenario_root, "--cache", tmp_path / "cache.sqlite"]
    with FakeModelServer(answer=always(" C")) as server:
        first = _invoke("eval", "--base-url", server.base_url, *args, "--out", tmp_path / "1.json")
        sent = (server.stats.process_requests, server.stats.tokenize_requests)
        second = _invoke("eval", "--base-url", server.base_url, *args, "--out", tmp_path / "2.json")
        # The readiness probe is the only request of the second run.
        assert server.stats.process_requests == sent[0] == SMOKE_SIZE
        assert server.stats.tokenize_requests == sent[1] + 1
    assert first.exit_code == second.exit_code == 0, second.output
    one, two = (json.loads((tmp_path / f"{n}.json").read_text()) for n in (1, 2))
    assert two["requests_sent"] == 0 and two["efficiency"]["cached"] == SMOKE_SIZE
    assert one["scores"] == two["scores"]


def test_cache_salt_keeps_models_behind_one_url_apart(scenario_root: Path, tmp_path: Path) -> None:
    args = ["--data-dir", scenario_root, "--cache", tmp_path / "c.sqlite", "--max-instances", "1"]
    with FakeModelServer() as server:
        for salt in ("model-1", "model-2", "model-1"):
            result = _invoke("eval", "--base-url", server.base_url, "--cache-salt", salt, *args)
            assert result.exit_code == 0, result.output
        assert server.stats.process_requests == 8


def test_default_cache_lives_under_the_home_directory(
    scenario_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    with FakeModelServer() as server:
        args = ["--base-url", server.base_url, "--data-dir", scenario_root, "--max-instances", "1"]
        assert _invoke("eval", *args).exit_code == 0
        assert _invoke("eval", *args).exit_code == 0
        assert server.stats.process_requests == 4
    assert (tmp_path / ".cache" / "podium" / "responses.sqlite").is_file()


def test_no_cache_sends_everything_again(scenario_root: Path, tmp_path: Path) -> None:
    args = ["--data-dir", scenario_root, "--no-cache", "--max-instances", "2"]
    with FakeModelServer() as server:
        for _ in range(2):
            result = _invoke("eval", "--base-url", server.base_url, *args)
            assert result.exit_code == 0, result.output
            assert "at most 2 instances per run spec" in result.stdout
        assert server.stats.process_requests == 16


def test_openai_protocol(scenario_root: Path, tmp_path: Path) -> None:
    with FakeModelServer(protocol="openai", answer=always(" A")) as server:
        result = _invoke(
            "eval",
            "--base-url",
            server.base_url,
            "--protocol",
            "openai",
            "--data-dir",
            scenario_root,
            "--no-cache",
            "--max-instances",
            "1",
            "--out",
            tmp_path / "out.json",
        )
        assert server.stats.process_requests == 4
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "out.json").read_text())["errors"] == 0


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_server_not_answering_fails_with_a_clear_message(scenario_root: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    result = _invoke(
        "eval", "--base-url", url, "--data-dir", scenario_root, "--no-cache", "--wait-ready", "0.5"
    )
    assert result.exit_code == 1
    assert f"the server at {url} did not answer POST /tokenize within 0.5s" in result.stderr
    assert "start_timeout" in result.stderr


def test_server_failing_every_request_fails_the_run(scenario_root: Path) -> None:
    # Ready (tokenize works) but every completion is refused with 503.
    with FakeModelServer(fail_first=10_000) as server:
        result = CliRunner().invoke(
            eval_command,
            [
                "--base-url",
                server.base_url,
                "--data-dir",
                str(scenario_root),
                "--no-cache",
                "--concurrency",
                "1",
                "--max-instances",
                "1",
                "--max-retries",
                "0",
            ],
        )
    assert result.exit_code == 1
    assert "evaluation failed (server_unreachable)" in result.stderr
    assert "HTTP 503" in result.stderr


def test_data_mismatch_fails_before_any_request(scenario_root: Path, tmp_path: Path) -> None:
    data = _smoke_copy(scenario_root, tmp_path / "data")
    pin = get_suite("smoke").data_files[TAMPERED]
    _tamper(data / TAMPERED)
    actual = hashlib.sha256((data / TAMPERED).read_bytes()).hexdigest()
    with FakeModelServer() as server:
        result = _invoke("eval", "--base-url", server.base_url, "--data-dir", data, "--no-cache")
        assert server.stats.process_requests == server.stats.tokenize_requests == 0
    assert result.exit_code == 1
    assert TAMPERED in result.stderr and pin in result.stderr and actual in result.stderr


def test_unknown_suite_suggests_the_near_name(scenario_root: Path) -> None:
    result = _invoke("eval", "--base-url", "http://127.0.0.1:1", "--suite", "smok")
    assert result.exit_code == 1
    assert "unknown suite 'smok'" in result.stderr and "'smoke'" in result.stderr


@contextmanager
def _static_server(root: Path) -> Iterator[str]:
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(root)))
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host!s}:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_eval_with_data_from_a_mirror(
    scenario_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A local data directory would take precedence over the mirror.
    monkeypatch.delenv("PODIUM_SCENARIO_DATA", raising=False)
    served = _smoke_copy(scenario_root, tmp_path / "served" / "scenarios")
    with _static_server(served.parent) as base, FakeModelServer() as server:
        result = _invoke(
            "eval",
            "--base-url",
            server.base_url,
            "--mirror",
            f"{base}/scenarios",
            "--data-cache",
            tmp_path / "data-cache",
            "--no-cache",
            "--max-instances",
            "1",
        )
    assert result.exit_code == 0, result.output
    for relative in get_suite("smoke").data_files:
        assert (tmp_path / "data-cache" / relative).is_file()


def test_suites_lists_hash_run_specs_and_groups() -> None:
    result = _invoke("suites")
    assert result.exit_code == 0
    smoke = get_suite("smoke")
    line = next(line for line in result.stdout.splitlines() if smoke.content_hash in line)
    assert "smoke" in line and " 4 " in line and "mmlu" in line


def test_suites_verify_ok(scenario_root: Path) -> None:
    result = _invoke("suites", "verify", "--suite", "smoke", "--data-dir", scenario_root)
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.startswith("OK")]
    assert len(lines) == len(get_suite("smoke").data_files)
    assert "12 files: 12 ok, 0 mismatched, 0 missing" in result.stdout


def test_suites_verify_reports_tampered_and_missing_files(
    scenario_root: Path, tmp_path: Path
) -> None:
    data = _smoke_copy(scenario_root, tmp_path / "data")
    _tamper(data / TAMPERED)
    (data / REMOVED).unlink()
    actual = hashlib.sha256((data / TAMPERED).read_bytes()).hexdigest()
    pins = get_suite("smoke").data_files

    result = _invoke("suites", "verify", "--suite", "smoke", "--data-dir", data)
    assert result.exit_code == 1
    by_path = {line.split()[1]: line for line in result.stdout.splitlines()[1:]}
    assert by_path[TAMPERED].startswith("MISMATCH")
    assert pins[TAMPERED] in by_path[TAMPERED] and actual in by_path[TAMPERED]
    assert by_path[REMOVED].startswith("MISSING") and pins[REMOVED] in by_path[REMOVED]
    assert sum(line.startswith("OK") for line in by_path.values()) == len(pins) - 2
    assert "10 ok, 1 mismatched, 1 missing" in result.stderr
