"""`podium data fetch` against real HTTP servers on 127.0.0.1 (a mirror, and a stand-in for the
upstream raw-file host), never an outside address."""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
from collections.abc import Callable, Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

import pytest
from click.testing import CliRunner, Result

from evaluator import get_suite, list_suites
from evaluator.cli import cli
from evaluator.data import NOT_VERBATIM
from evaluator.fetch import (
    CAPPED,
    NOT_UPSTREAM,
    CappedFile,
    PlannedFile,
    fetch_file,
    first_lines,
    not_upstream_reason,
    plan_fetch,
)

CORRUPTED = "mmlu/data/test/computer_security_test.csv"
ABSENT = "mmlu/data/dev/abstract_algebra_dev.csv"
# serve(directory) -> base URL of an HTTP server for it on 127.0.0.1.
Serve = Callable[[Path], str]


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def serve() -> Iterator[Serve]:
    servers: list[ThreadingHTTPServer] = []

    def start(directory: Path) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(directory)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _smoke_mirror(scenario_root: Path, target: Path) -> Path:
    for relative in get_suite("smoke").data_files:
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(scenario_root / relative, target / relative)
    return target


def _leftovers(dest: Path) -> list[Path]:
    return [p for p in dest.rglob("*") if p.name.endswith(".part")]


def test_fetch_from_a_mirror_fills_the_directory(
    serve: Serve, scenario_root: Path, tmp_path: Path
) -> None:
    base = serve(_smoke_mirror(scenario_root, tmp_path / "mirror"))
    dest = tmp_path / "data"
    result = _invoke("data", "fetch", "--suite", "smoke", "--mirror", base, "--dest", dest)
    assert result.exit_code == 0, result.output
    assert "12 files: 12 downloaded, 0 already present, 0 not provided" in result.output
    assert f"export PODIUM_SCENARIO_DATA={dest}" in result.output
    for relative in get_suite("smoke").data_files:
        assert (dest / relative).read_bytes() == (scenario_root / relative).read_bytes()
    again = _invoke("data", "fetch", "--suite", "smoke", "--mirror", base, "--dest", dest)
    assert again.exit_code == 0, again.output
    assert "0 downloaded, 12 already present" in again.output


def test_corrupted_and_absent_files_are_named_and_not_kept(
    serve: Serve, scenario_root: Path, tmp_path: Path
) -> None:
    mirror = _smoke_mirror(scenario_root, tmp_path / "mirror")
    bad = (mirror / CORRUPTED).read_bytes().replace(b"A", b"B", 1)
    (mirror / CORRUPTED).write_bytes(bad)
    (mirror / ABSENT).unlink()
    base = serve(mirror)
    dest = tmp_path / "data"
    result = _invoke("data", "fetch", "--suite", "smoke", "--mirror", base, "--dest", dest)
    assert result.exit_code == 1, result.output
    pins = get_suite("smoke").data_files
    # The refused file: named with both hashes, and nothing of it left in the directory.
    assert f"{CORRUPTED}: expected sha256 {pins[CORRUPTED]}, got {_sha(bad)}" in result.output
    assert not (dest / CORRUPTED).exists()
    # The absent one: named with the HTTP error, and how to provide it.
    assert f"{ABSENT}: HTTP 404" in result.output
    assert not (dest / ABSENT).exists()
    assert "To provide them, copy them" in result.output
    assert f"--mirror URL --dest {dest}" in result.output
    assert "10 downloaded, 0 already present, 2 not provided" in result.output
    assert _leftovers(dest) == []
    # The others were still fetched and verified.
    for relative in set(pins) - {CORRUPTED, ABSENT}:
        assert _sha((dest / relative).read_bytes()) == pins[relative]


def test_a_bad_download_does_not_replace_a_local_file(
    serve: Serve, scenario_root: Path, tmp_path: Path
) -> None:
    mirror = _smoke_mirror(scenario_root, tmp_path / "mirror")
    (mirror / CORRUPTED).write_bytes(b"tampered\n")
    dest = tmp_path / "data"
    (dest / CORRUPTED).parent.mkdir(parents=True)
    (dest / CORRUPTED).write_bytes(b"local edit\n")
    result = _invoke("data", "fetch", "--suite", "smoke", "--mirror", serve(mirror), "--dest", dest)
    assert result.exit_code == 1
    assert (dest / CORRUPTED).read_bytes() == b"local edit\n"


def _upstream_tree(scenario_root: Path, target: Path, base: str, suite: str) -> None:
    """Lay the suite's files out as the raw-file host serves them: <owner>/<repo>/<commit>/..."""
    for file in plan_fetch(get_suite(suite).data_files, upstream_base=base):
        if file.url is None or file.capped is not None:
            continue
        served = target / file.url[len(base) + 1 :]
        served.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(scenario_root / file.path, served)


def test_fetch_from_upstream_uses_the_configured_base(
    serve: Serve, scenario_root: Path, tmp_path: Path
) -> None:
    host = tmp_path / "raw"
    host.mkdir()
    base = serve(host)
    _upstream_tree(scenario_root, host, base, "smoke")
    dest = tmp_path / "data"
    result = _invoke("data", "fetch", "--suite", "smoke", "--upstream", base, "--dest", dest)
    assert result.exit_code == 0, result.output
    assert "from upstream (http://127.0.0.1:" in result.output
    for relative in get_suite("smoke").data_files:
        assert (dest / relative).read_bytes() == (scenario_root / relative).read_bytes()
    # Upstream paths are the repositories' own (MMLU/data/...), not the local layout.
    assert (host / "FranxYao" / "chain-of-thought-hub").is_dir()


def test_files_not_on_upstream_are_named_with_their_reason(serve: Serve, tmp_path: Path) -> None:
    empty = tmp_path / "raw"
    empty.mkdir()
    dest = tmp_path / "data"
    result = _invoke(
        "data", "fetch", "--suite", "neurips2023-final-open", "--upstream", serve(empty),
        "--dest", dest,
    )  # fmt: skip
    assert result.exit_code == 1
    assert "not available from this source" in result.output
    assert "big_bench/auto_debugging/task.json" in result.output
    assert "bigbench 1.0.0 source distribution" in result.output
    assert "augmentations/SAE_to_AAVE_mapping.json" in result.output
    assert "To provide them" in result.output


def test_a_capped_file_is_rebuilt_from_the_whole_upstream_file(
    serve: Serve, scenario_root: Path, tmp_path: Path
) -> None:
    pinned = (scenario_root / "scitldr/SciTLDR-A/train.jsonl").read_bytes()
    whole = pinned + b'{"source": ["more"], "target": ["lines"]}\n' * 3
    host = tmp_path / "raw"
    host.mkdir()
    (host / "train.jsonl").write_bytes(whole)
    (host / "other.jsonl").write_bytes(whole + b"{}\n")
    base = serve(host)
    lines = pinned.count(b"\n")
    capped = CappedFile(_sha(whole), lines)
    planned = PlannedFile("x/train.jsonl", _sha(pinned), f"{base}/train.jsonl", capped=capped)
    got = fetch_file(planned, tmp_path / "data")
    assert got.status == "fetched", got
    assert (tmp_path / "data/x/train.jsonl").read_bytes() == pinned
    # A different whole file is refused even if its first lines happen to match.
    wrong = PlannedFile("y/train.jsonl", _sha(pinned), f"{base}/other.jsonl", capped=capped)
    refused = fetch_file(wrong, tmp_path / "data")
    assert refused.status == "mismatch"
    assert refused.actual == _sha(whole + b"{}\n")
    assert not (tmp_path / "data/y/train.jsonl").exists()


def test_first_lines_cuts_like_head() -> None:
    assert first_lines(b"a\nb\nc\n", 2) == b"a\nb\n"
    assert first_lines(b"a\r\nb\rc\n", 1) == b"a\r\n"
    assert first_lines(b"a\nb", 5) == b"a\nb"


def _every_pin() -> dict[str, str]:
    pins: dict[str, str] = {}
    for name in list_suites():
        pins.update(get_suite(name).data_files)
    return pins


def test_every_shipped_file_has_an_upstream_source_or_a_reason() -> None:
    planned = plan_fetch(_every_pin())
    unrecorded = [f.path for f in planned if f.url is None and not_upstream_reason(f.path) is None]
    assert unrecorded == []
    assert {p for p, _ in NOT_UPSTREAM} == {"big_bench/", "augmentations/SAE_to_AAVE_mapping.json"}
    # Every pinned file that is not a byte copy is either rebuilt (capped) or named as such.
    assert all(p in CAPPED or not_upstream_reason(p) for p in NOT_VERBATIM)
    assert set(CAPPED) <= NOT_VERBATIM


def test_upstream_urls_match_the_data_set_manifest(scenario_root: Path) -> None:
    manifest = scenario_root / "MANIFEST.json"
    if not manifest.is_file():  # a directory filled by `podium data fetch` has none
        pytest.skip(f"{manifest} is absent")
    entries = json.loads(manifest.read_text())
    by_path = {e["file"]: e for e in entries}
    base = "http://127.0.0.1:9"  # never contacted: only the URLs are compared
    checked = 0
    for file in plan_fetch(_every_pin(), upstream_base=base):
        if file.url is None:
            continue
        entry = by_path[file.path]
        expected = f"{base}/{entry['upstream_repo']}/{entry['upstream_commit']}/"
        assert unquote(file.url) == expected + entry["upstream_path"], file.path
        assert entry["sha256"] == file.sha256
        checked += 1
    assert checked >= 170
