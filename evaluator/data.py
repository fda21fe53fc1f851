"""Scenario data files, verified against sha256 pins, from one of three places.

- a local directory laid out like the upstream sources (e.g. `mmlu/data/test/anatomy_test.csv`):
  `DataSource(root)`;
- a mirror serving that same layout under a base URL: `DataSource.from_mirror(base_url, cache)`;
- the canonical upstream files (a raw-file URL per path, built from `UPSTREAM_SOURCES`):
  `DataSource.from_upstream(cache)`.

A file whose hash differs from its pin is an error, never a silent change of the benchmark.
Downloads go to a temporary file next to their place in the cache and are moved into place only
once their hash matches, so the cache never holds a bad file (not even after a killed process).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Literal

from evaluator.errors import DataIntegrityError, EvaluatorError

# Where canonical copies are served, one raw file per (repository, commit, path).
RAW_FILE_URL = "https://raw.githubusercontent.com/{repo}/{commit}/{path}"
_CHUNK = 1 << 16


class DataFetchError(EvaluatorError):
    """A scenario data file could not be downloaded (unreachable host, HTTP error, too large)."""


class DownloadMismatchError(DataIntegrityError):
    """A downloaded file's sha256 differs from its pin; nothing was written to the cache."""

    def __init__(self, path: str, expected: str, actual: str, url: str) -> None:
        super().__init__(path, expected, actual)
        self.url = url
        self.args = (f"{self.args[0]} (downloaded from {url}; not kept in the cache)",)


@dataclass(frozen=True)
class UpstreamSource:
    """Where the files under one local path prefix come from (copied from MANIFEST.json)."""

    # Local relative path prefix (a directory ending in "/", or one exact file path).
    local_prefix: str
    # GitHub repository, "owner/name".
    repo: str
    # Commit the pinned bytes were taken from.
    commit: str
    # Path prefix inside the repository that replaces `local_prefix`.
    upstream_prefix: str

    def url(self, relative: str) -> str:
        path = self.upstream_prefix + relative[len(self.local_prefix) :]
        return RAW_FILE_URL.format(
            repo=self.repo, commit=self.commit, path=urllib.parse.quote(path)
        )


UPSTREAM_SOURCES: tuple[UpstreamSource, ...] = (
    UpstreamSource(
        "mmlu/data/",
        "FranxYao/chain-of-thought-hub",
        "d8f0f8bd9189f24b5e4cc6b19eb8a7689db42651",
        "MMLU/data/",
    ),
    UpstreamSource(
        "mmlu/LICENSE", "hendrycks/test", "4450500f923c49f1fb1dd3d99108a0bd9717b660", "LICENSE"
    ),
    UpstreamSource(
        "gsm8k/",
        "openai/grade-school-math",
        "3101c7d5072418e28b9008a6636bde82a006892c",
        "grade_school_math/data/",
    ),
    UpstreamSource(
        "gsm8k/LICENSE",
        "openai/grade-school-math",
        "3101c7d5072418e28b9008a6636bde82a006892c",
        "LICENSE",
    ),
    UpstreamSource(
        "truthful_qa/", "sylinrl/TruthfulQA", "d71c110897f5d31c5d7f309e7bc316c152f6f031", ""
    ),
    UpstreamSource("bbq/", "nyu-mll/BBQ", "bea11bd97d79217245b5871acd247b9d6eb24598", ""),
    UpstreamSource(
        "scitldr/", "allenai/scitldr", "5ccad9c00a60ad75c9e04abf7f27d0f53f983b20", "SciTLDR-Data/"
    ),
    UpstreamSource(
        "scitldr/LICENSE", "allenai/scitldr", "5ccad9c00a60ad75c9e04abf7f27d0f53f983b20", "LICENSE"
    ),
    UpstreamSource(
        "big_bench_hard/",
        "suzgunmirac/BIG-Bench-Hard",
        "9ee07bd481feebf959a6b59d61ea57bdcf30964d",
        "",
    ),
    UpstreamSource(
        "augmentations/correct_to_misspelling.json",
        "stanford-crfm/helm",
        "63754d05db6f874e41a395880fb573890a13e791",
        "src/helm/benchmark/augmentations/correct_to_misspelling.json",
    ),
)

# Pinned files that are not byte copies of an upstream file (capped to their first lines, or
# converted); their pins can only be met by a mirror or a local directory.
NOT_VERBATIM: frozenset[str] = frozenset(
    {
        "bbq/data/Age.jsonl",
        "bbq/data/Disability_status.jsonl",
        "bbq/data/Nationality.jsonl",
        "bbq/data/Physical_appearance.jsonl",
        "bbq/data/Religion.jsonl",
        "scitldr/SciTLDR-A/train.jsonl",
        "augmentations/SAE_to_AAVE_mapping.json",
    }
)


def upstream_url(relative: str) -> str:
    """Raw-file URL of the canonical copy of `relative` (DataFetchError if there is none)."""
    if relative in NOT_VERBATIM:
        raise DataFetchError(
            f"scenario data file {relative} is not a verbatim upstream file (capped or "
            "converted); use a mirror or a local data directory for it"
        )
    matches = [s for s in UPSTREAM_SOURCES if _under(relative, s.local_prefix)]
    if not matches:
        raise DataFetchError(f"scenario data file {relative} has no known upstream source")
    return max(matches, key=lambda s: len(s.local_prefix)).url(relative)


def _under(relative: str, prefix: str) -> bool:
    return relative.startswith(prefix) if prefix.endswith("/") else relative == prefix


def mirror_url(base_url: str, relative: str) -> str:
    """`<base>/<relative>`, with the path percent-encoded."""
    return f"{base_url.rstrip('/')}/{urllib.parse.quote(relative)}"


@dataclass(frozen=True)
class FileCheck:
    """Outcome of checking one pinned file."""

    # Relative path.
    path: str
    # Pinned sha256.
    expected: str
    # "ok", "mismatch" (the file differs from its pin) or "missing" (absent or not fetchable).
    status: Literal["ok", "mismatch", "missing"]
    # sha256 found, for a mismatch.
    actual: str | None = None
    # Why a file is missing when that is not obvious (e.g. the HTTP error of a download).
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class DataSource:
    """Read-only access to pinned scenario files.

    With `url_for`, `root` is a download cache: a file absent from it (or, since the cache is
    ours, one that no longer matches its pin) is fetched from `url_for(relative)`. Without it,
    `root` is a data directory that is only read.
    """

    def __init__(
        self,
        root: Path | str,
        *,
        url_for: Callable[[str], str] | None = None,
        origin: str | None = None,
        fetch_timeout_s: float = 60.0,
        max_file_bytes: int = 1024**3,
    ) -> None:
        self.root = Path(root)
        self._url_for = url_for
        # How the source describes itself in messages and repr.
        self.origin = origin or (f"downloads into {self.root}" if url_for else str(self.root))
        self.fetch_timeout_s = fetch_timeout_s
        self.max_file_bytes = max_file_bytes
        # Verified contents by relative path: a suite reads each file once, and re-hashing a
        # multi-megabyte file for every run spec would be wasted work.
        self._verified: dict[str, bytes] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_mirror(
        cls,
        base_url: str,
        cache_dir: Path | str,
        *,
        fetch_timeout_s: float = 60.0,
        max_file_bytes: int = 1024**3,
    ) -> DataSource:
        """Files fetched from `<base_url>/<relative path>` into `cache_dir`."""
        base = base_url.rstrip("/")
        return cls(
            cache_dir,
            url_for=lambda relative: mirror_url(base, relative),
            origin=f"mirror {base} (cache {cache_dir})",
            fetch_timeout_s=fetch_timeout_s,
            max_file_bytes=max_file_bytes,
        )

    @classmethod
    def from_upstream(
        cls,
        cache_dir: Path | str,
        *,
        fetch_timeout_s: float = 60.0,
        max_file_bytes: int = 1024**3,
    ) -> DataSource:
        """Files fetched from their canonical upstream repositories into `cache_dir`."""
        return cls(
            cache_dir,
            url_for=upstream_url,
            origin=f"upstream repositories (cache {cache_dir})",
            fetch_timeout_s=fetch_timeout_s,
            max_file_bytes=max_file_bytes,
        )

    @classmethod
    def from_settings(
        cls,
        local_dir: Path | str | None,
        mirror: str | None,
        cache_dir: Path | str,
        *,
        fetch_timeout_s: float = 60.0,
        max_file_bytes: int = 1024**3,
    ) -> DataSource:
        """The local directory if given, else the mirror if given, else upstream (the last
        two download into `cache_dir`)."""
        if local_dir is not None:
            return cls(local_dir)
        if mirror:
            return cls.from_mirror(
                mirror, cache_dir, fetch_timeout_s=fetch_timeout_s, max_file_bytes=max_file_bytes
            )
        return cls.from_upstream(
            cache_dir, fetch_timeout_s=fetch_timeout_s, max_file_bytes=max_file_bytes
        )

    @property
    def downloads(self) -> bool:
        """Whether missing files are fetched (mirror or upstream) rather than only read."""
        return self._url_for is not None

    def __repr__(self) -> str:
        return f"DataSource({self.origin!r})"

    def path(self, relative: str) -> Path:
        rel = PurePosixPath(relative)
        # Pins come from code, but a path escaping the root would read arbitrary files.
        if rel.is_absolute() or ".." in rel.parts:
            raise ValueError(f"data path must be relative and inside the data root: {relative!r}")
        return self.root.joinpath(*rel.parts)

    def read_bytes(self, relative: str, sha256: str) -> bytes:
        """Contents of `relative`, after checking them against `sha256` (downloading them first
        when this source downloads and the cache lacks them)."""
        with self._lock:
            cached = self._verified.get(relative)
        if cached is not None:
            return cached
        target = self.path(relative)
        try:
            data: bytes | None = target.read_bytes()
        except FileNotFoundError:
            data = None
        if data is not None:
            actual = hashlib.sha256(data).hexdigest()
            if actual != sha256:
                if self._url_for is None:
                    raise DataIntegrityError(relative, sha256, actual)
                # A cache entry that no longer matches was damaged after it was verified;
                # the pin decides, so fetch it again.
                data = None
        if data is None:
            if self._url_for is None:
                raise DataIntegrityError(relative, sha256, "missing")
            data = self._download(relative, sha256, target)
        with self._lock:
            self._verified[relative] = data
        return data

    def check(self, relative: str, sha256: str) -> FileCheck:
        """Check one pinned file without raising: ok, mismatch or missing."""
        try:
            self.read_bytes(relative, sha256)
        except DataIntegrityError as exc:
            if exc.actual == "missing":
                return FileCheck(relative, sha256, "missing")
            return FileCheck(relative, sha256, "mismatch", actual=exc.actual, detail=str(exc))
        except DataFetchError as exc:
            return FileCheck(relative, sha256, "missing", detail=str(exc))
        return FileCheck(relative, sha256, "ok", actual=sha256)

    def verify(self, pins: Mapping[str, str] | Iterable[tuple[str, str]]) -> None:
        """Check every pinned file up front, so a bad data directory fails before any request."""
        items = pins.items() if isinstance(pins, Mapping) else pins
        for relative, sha256 in items:
            self.read_bytes(relative, sha256)

    def _download(self, relative: str, sha256: str, target: Path) -> bytes:
        assert self._url_for is not None
        url = self._url_for(relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, part_name = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".part"
        )
        part = Path(part_name)
        try:
            with open(handle, "wb") as out:
                data, actual = self._fetch(relative, url, out)
            if actual != sha256:
                raise DownloadMismatchError(relative, sha256, actual, url)
            # Atomic: a concurrent reader sees the old state or the verified file, never a part.
            os.replace(part, target)
        finally:
            part.unlink(missing_ok=True)
        return data

    def _fetch(self, relative: str, url: str, out: BinaryIO) -> tuple[bytes, str]:
        """Stream `url` into `out` (a binary file); (contents, sha256)."""
        digest = hashlib.sha256()
        chunks: list[bytes] = []
        size = 0
        try:
            with urllib.request.urlopen(url, timeout=self.fetch_timeout_s) as response:
                while chunk := response.read(_CHUNK):
                    size += len(chunk)
                    if size > self.max_file_bytes:
                        raise DataFetchError(
                            f"scenario data file {relative} from {url} is larger than "
                            f"{self.max_file_bytes} bytes"
                        )
                    digest.update(chunk)
                    chunks.append(chunk)
                    out.write(chunk)
        except urllib.error.HTTPError as exc:
            raise DataFetchError(
                f"could not download scenario data file {relative} from {url}: "
                f"HTTP {exc.code} {exc.reason}"
            ) from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            raise DataFetchError(
                f"could not download scenario data file {relative} from {url}: {reason}"
            ) from None
        return b"".join(chunks), digest.hexdigest()
