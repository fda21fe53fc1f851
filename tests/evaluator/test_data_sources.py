"""Data sources: local directory, mirror over HTTP (a local http.server on 127.0.0.1), upstream
URL table. Nothing here reaches beyond 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from evaluator import DataFetchError, DataIntegrityError, DataSource
from evaluator.data import NOT_VERBATIM, DownloadMismatchError, mirror_url, upstream_url

FILE = "mmlu/data/dev/anatomy_dev.csv"
CONTENT = b"What is it?,a,b,c,d,A\n"
PIN = hashlib.sha256(CONTENT).hexdigest()


class _Mirror:
    """A static file server on 127.0.0.1 over `root`, recording the paths asked for."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[str] = []
        mirror = self

        class Handler(SimpleHTTPRequestHandler):
            def do_GET(self) -> None:
                mirror.requests.append(self.path)
                super().do_GET()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/data"

    def publish(self, relative: str, content: bytes) -> None:
        target = self.root / "data" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)

    def __enter__(self) -> _Mirror:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[_Mirror]:
    with _Mirror(tmp_path / "served") as server:
        yield server


def _cache_files(cache: Path) -> list[str]:
    if not cache.exists():
        return []
    return sorted(str(p.relative_to(cache)) for p in cache.rglob("*") if p.is_file())


def test_mirror_downloads_verifies_and_caches(mirror: _Mirror, tmp_path: Path) -> None:
    mirror.publish(FILE, CONTENT)
    cache = tmp_path / "cache"
    data = DataSource.from_mirror(mirror.url + "/", cache)
    assert data.downloads and mirror.url in repr(data)
    assert data.read_bytes(FILE, PIN) == CONTENT
    assert (cache / FILE).read_bytes() == CONTENT
    assert _cache_files(cache) == [FILE]
    assert mirror.requests == ["/data/" + FILE]

    # Another process (a fresh source) reads the cache and asks the mirror for nothing.
    assert DataSource.from_mirror(mirror.url, cache).read_bytes(FILE, PIN) == CONTENT
    assert len(mirror.requests) == 1


def test_mirror_mismatch_names_file_and_hashes_and_keeps_nothing(
    mirror: _Mirror, tmp_path: Path
) -> None:
    tampered = CONTENT.replace(b",A", b",B")
    mirror.publish(FILE, tampered)
    cache = tmp_path / "cache"
    data = DataSource.from_mirror(mirror.url, cache)
    with pytest.raises(DataIntegrityError) as caught:
        data.read_bytes(FILE, PIN)
    error = caught.value
    assert isinstance(error, DownloadMismatchError)
    assert (error.path, error.expected) == (FILE, PIN)
    assert error.actual == hashlib.sha256(tampered).hexdigest()
    message = str(error)
    assert FILE in message and PIN in message and error.actual in message
    assert mirror_url(mirror.url, FILE) in message
    # Neither the bad file nor a partial download is left behind.
    assert _cache_files(cache) == []
    check = data.check(FILE, PIN)
    assert (check.status, check.actual) == ("mismatch", error.actual)


def test_mirror_without_the_file_is_a_fetch_error(mirror: _Mirror, tmp_path: Path) -> None:
    data = DataSource.from_mirror(mirror.url, tmp_path / "cache")
    with pytest.raises(DataFetchError, match=r"anatomy_dev\.csv.*HTTP 404"):
        data.read_bytes(FILE, PIN)
    check = data.check(FILE, PIN)
    assert check.status == "missing" and "HTTP 404" in check.detail
    assert _cache_files(tmp_path / "cache") == []


def test_unreachable_mirror_is_a_fetch_error(tmp_path: Path) -> None:
    with _Mirror(tmp_path / "served") as gone:
        url = gone.url
    with pytest.raises(DataFetchError, match="could not download"):
        DataSource.from_mirror(url, tmp_path / "cache", fetch_timeout_s=5).read_bytes(FILE, PIN)


def test_damaged_cache_entry_is_fetched_again(mirror: _Mirror, tmp_path: Path) -> None:
    mirror.publish(FILE, CONTENT)
    cache = tmp_path / "cache"
    DataSource.from_mirror(mirror.url, cache).read_bytes(FILE, PIN)
    (cache / FILE).write_bytes(b"damaged")
    assert DataSource.from_mirror(mirror.url, cache).read_bytes(FILE, PIN) == CONTENT
    assert (cache / FILE).read_bytes() == CONTENT
    assert len(mirror.requests) == 2


def test_oversized_download_is_refused(mirror: _Mirror, tmp_path: Path) -> None:
    mirror.publish(FILE, CONTENT)
    data = DataSource.from_mirror(mirror.url, tmp_path / "cache", max_file_bytes=8)
    with pytest.raises(DataFetchError, match="larger than 8 bytes"):
        data.read_bytes(FILE, PIN)
    assert _cache_files(tmp_path / "cache") == []


def test_local_directory_is_only_read(tmp_path: Path) -> None:
    (tmp_path / FILE).parent.mkdir(parents=True)
    (tmp_path / FILE).write_bytes(b"damaged")
    data = DataSource(tmp_path)
    assert not data.downloads
    with pytest.raises(DataIntegrityError):
        data.read_bytes(FILE, PIN)
    assert data.check(FILE, PIN).status == "mismatch"
    assert data.check("mmlu/data/dev/absent.csv", PIN).status == "missing"
    assert (tmp_path / FILE).read_bytes() == b"damaged"


def test_from_settings_prefers_local_then_mirror_then_upstream(tmp_path: Path) -> None:
    local = DataSource.from_settings(tmp_path / "data", "http://127.0.0.1:1/m", tmp_path / "c")
    assert local.root == tmp_path / "data" and not local.downloads
    mirrored = DataSource.from_settings(None, "http://127.0.0.1:1/m", tmp_path / "c")
    assert mirrored.downloads and mirrored.origin.startswith("mirror http://127.0.0.1:1/m")
    upstream = DataSource.from_settings(None, None, tmp_path / "c")
    assert upstream.downloads and upstream.origin.startswith("upstream")
    assert upstream.root == tmp_path / "c"


def test_mirror_urls_are_percent_encoded() -> None:
    assert mirror_url("http://127.0.0.1:1/m/", "bbq/data/Age.jsonl") == (
        "http://127.0.0.1:1/m/bbq/data/Age.jsonl"
    )
    assert mirror_url("http://127.0.0.1:1", "a b/c#d.csv") == "http://127.0.0.1:1/a%20b/c%23d.csv"


def test_upstream_urls_match_the_manifest(scenario_root: Path) -> None:
    """Every verbatim file's URL is built from its manifest entry; capped or converted ones
    have none. (URLs are only compared, never fetched.)"""
    manifest = json.loads((scenario_root / "MANIFEST.json").read_text())
    not_verbatim = set()
    for item in manifest:
        note = item.get("note", "")
        if "Capped: first" in note or "NOT VERBATIM" in note:
            not_verbatim.add(item["file"])
            with pytest.raises(DataFetchError, match="not a verbatim upstream file"):
                upstream_url(item["file"])
            continue
        expected = (
            f"https://raw.githubusercontent.com/{item['upstream_repo']}/"
            f"{item['upstream_commit']}/{item['upstream_path']}"
        )
        assert upstream_url(item["file"]) == expected, item["file"]
    assert not_verbatim == NOT_VERBATIM


def test_file_without_upstream_source() -> None:
    with pytest.raises(DataFetchError, match="no known upstream source"):
        upstream_url("unknown/file.csv")
