"""Download the pinned scenario files of suites into a data directory (`podium data fetch`).

An evaluation that finds a data file missing fails after the submission was built and started,
so organizers fill a directory once, up front, and point PODIUM_SCENARIO_DATA at it. Files come
from one place per run: a mirror laid out like the data directory, or the upstream repositories
(one raw file per repository, commit and path, under a base URL that a proxy or a test can
replace). Every file is checked against its sha256 pin before it is moved into place, so the
directory never holds a file that differs from the benchmark.

Not every pinned file is a byte copy of an upstream file. Capped files (the first N lines of an
upstream file) are rebuilt here from the full upstream file, whose own sha256 is pinned too. The
rest (`NOT_UPSTREAM`) cannot come from upstream at all; the reason says where they come from and
a directory or mirror that has them provides them.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from evaluator.data import NOT_VERBATIM, UPSTREAM_SOURCES, UpstreamSource, mirror_url

# Raw files are served as <base>/<owner>/<name>/<commit>/<path>.
DEFAULT_UPSTREAM_BASE = "https://raw.githubusercontent.com"
_CHUNK = 1 << 16


@dataclass(frozen=True)
class CappedFile:
    """A pinned file made of the first lines of an upstream file (data set README: "capped")."""

    # sha256 of the whole upstream file, checked before it is cut.
    upstream_sha256: str
    # Lines kept from the start, each with its newline.
    first_lines: int


# Checked against the upstream commits named in UPSTREAM_SOURCES (and the data set's
# MANIFEST.json): `head -n N` of each upstream file has the pinned sha256.
CAPPED: dict[str, CappedFile] = {
    "bbq/data/Age.jsonl": CappedFile(
        "46e805b3fc2d8cbd26eeb8e8430d98cf7b2dc9c83574ff3674e8ce4f0fca2a60", 1000
    ),
    "bbq/data/Disability_status.jsonl": CappedFile(
        "375d40d9b71f056150264445ec189b13934998f3f49a1e311aa7578eb3b45e5f", 1000
    ),
    "bbq/data/Nationality.jsonl": CappedFile(
        "a583e74666aec0341ded8aa3983e7cad694eb24de72c254d28b2df3035720090", 1000
    ),
    "bbq/data/Physical_appearance.jsonl": CappedFile(
        "e48d7e13508565f4801574e611043470c25c95a0a62af3699cb5ee7cb02608fb", 1000
    ),
    "bbq/data/Religion.jsonl": CappedFile(
        "cb9555f9f3454a52cd2df85956b59bd7fcca5aa922c8527693b1164d08417616", 1000
    ),
    "scitldr/SciTLDR-A/train.jsonl": CappedFile(
        "b222771d387be585cfdf5ae957b36757138415a352e0a3e3b23f73f87c3b1119", 200
    ),
}

# Pinned files with no upstream raw file, by path prefix (a directory ending in "/", or one
# exact path), with the reason shown to organizers.
NOT_UPSTREAM: tuple[tuple[str, str], ...] = (
    (
        "big_bench/",
        "BIG-bench task files are byte copies from the bigbench 1.0.0 source distribution "
        "(June 2022, sdist sha256 1bb398a5512c6d798cdebe0dfa0ac03f67f6033fa6b39c6ef71df978c7cbc5c2"
        ", paths bigbench/benchmark_tasks/<task>/...), not single files at a pinned commit of "
        "google/BIG-bench",
    ),
    (
        "augmentations/SAE_to_AAVE_mapping.json",
        "converted to JSON from the VALUE lexicon (SALT-NLP/value "
        "resources/sae_aave_mapping_dict.pkl); no public copy of these bytes exists",
    ),
)


def not_upstream_reason(relative: str) -> str | None:
    """Why `relative` cannot be downloaded from upstream, or None when it can."""
    for prefix, reason in NOT_UPSTREAM:
        if _under(relative, prefix):
            return reason
    return None


def _under(relative: str, prefix: str) -> bool:
    return relative.startswith(prefix) if prefix.endswith("/") else relative == prefix


def _upstream_source(relative: str) -> UpstreamSource | None:
    matches = [s for s in UPSTREAM_SOURCES if _under(relative, s.local_prefix)]
    return max(matches, key=lambda s: len(s.local_prefix)) if matches else None


@dataclass(frozen=True)
class PlannedFile:
    """One pinned file and where this run gets it."""

    # Relative path inside the data directory.
    path: str
    # Pinned sha256.
    sha256: str
    # Where it is downloaded from; None when it cannot be.
    url: str | None
    # Why there is no URL (set exactly when `url` is None).
    unavailable: str = ""
    # Set when the download is a whole upstream file that is cut to the pinned file.
    capped: CappedFile | None = None


def plan_fetch(
    pins: Mapping[str, str] | Iterable[tuple[str, str]],
    *,
    mirror: str | None = None,
    upstream_base: str = DEFAULT_UPSTREAM_BASE,
) -> list[PlannedFile]:
    """Where each pinned file comes from: `<mirror>/<path>` when a mirror is given (it serves the
    pinned bytes of every file), else its upstream raw file."""
    items = pins.items() if isinstance(pins, Mapping) else pins
    planned = []
    for path, sha256 in sorted(set(items)):
        _check_relative(path)
        if mirror:
            planned.append(PlannedFile(path, sha256, mirror_url(mirror, path)))
        else:
            planned.append(_upstream_plan(path, sha256, upstream_base))
    return planned


def _upstream_plan(path: str, sha256: str, base: str) -> PlannedFile:
    reason = not_upstream_reason(path)
    if reason is not None:
        return PlannedFile(path, sha256, None, unavailable=reason)
    source = _upstream_source(path)
    capped = CAPPED.get(path)
    if source is None or (path in NOT_VERBATIM and capped is None):
        # A pin added without saying where its bytes come from; the coverage test catches it.
        return PlannedFile(path, sha256, None, unavailable="no upstream source is recorded")
    upstream_path = source.upstream_prefix + path[len(source.local_prefix) :]
    url = f"{base.rstrip('/')}/{source.repo}/{source.commit}/{urllib.parse.quote(upstream_path)}"
    return PlannedFile(path, sha256, url, capped=capped)


def _check_relative(path: str) -> None:
    rel = PurePosixPath(path)
    # Pins come from code, but a path escaping the destination would write anywhere.
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        raise ValueError(f"data path must be relative and inside the data directory: {path!r}")


FetchStatus = Literal["present", "fetched", "unavailable", "failed", "mismatch"]


@dataclass(frozen=True)
class FetchResult:
    """What happened to one planned file."""

    path: str
    # "present": already there with the pinned sha256; "fetched": downloaded and verified;
    # "unavailable": no source for it; "failed": the download failed (HTTP error, unreachable,
    # too large); "mismatch": downloaded bytes differ from the pin and were not kept.
    status: FetchStatus
    # Pinned sha256.
    expected: str
    # sha256 of what was downloaded, for a mismatch.
    actual: str | None = None
    url: str | None = None
    # Reason for "unavailable" and "failed".
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("present", "fetched")


def file_sha256(path: Path) -> str | None:
    """sha256 of a file, None when it does not exist."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None
    return digest.hexdigest()


def fetch_file(
    planned: PlannedFile,
    dest: Path,
    *,
    timeout_s: float = 60.0,
    max_bytes: int = 1024**3,
    on_bytes: Callable[[int], None] | None = None,
) -> FetchResult:
    """Make `dest/<path>` hold the pinned bytes of `planned`, downloading them when needed.

    A file already there with the pinned sha256 is left alone. A downloaded file is written to
    a temporary name next to its place and renamed only once its sha256 matches, so `dest` never
    holds a partial or wrong file; a mismatched download replaces nothing.
    """
    target = dest.joinpath(*PurePosixPath(planned.path).parts)
    if file_sha256(target) == planned.sha256:
        return FetchResult(planned.path, "present", planned.sha256)
    if planned.url is None:
        return FetchResult(planned.path, "unavailable", planned.sha256, detail=planned.unavailable)
    try:
        data = _download(planned.url, timeout_s, max_bytes, on_bytes)
    except _DownloadError as exc:
        return FetchResult(planned.path, "failed", planned.sha256, url=planned.url, detail=str(exc))
    if planned.capped is not None:
        whole = hashlib.sha256(data).hexdigest()
        if whole != planned.capped.upstream_sha256:
            return FetchResult(
                planned.path,
                "mismatch",
                planned.sha256,
                actual=whole,
                url=planned.url,
                detail=f"the whole upstream file should have sha256 "
                f"{planned.capped.upstream_sha256} before it is cut to its first "
                f"{planned.capped.first_lines} lines",
            )
        data = first_lines(data, planned.capped.first_lines)
    actual = hashlib.sha256(data).hexdigest()
    if actual != planned.sha256:
        return FetchResult(planned.path, "mismatch", planned.sha256, actual=actual, url=planned.url)
    _write_atomically(target, data)
    return FetchResult(planned.path, "fetched", planned.sha256, url=planned.url)


def first_lines(data: bytes, count: int) -> bytes:
    """The first `count` newline-terminated lines of `data` (all of it when it has fewer),
    as `head -n` cuts them."""
    end = -1
    for _ in range(count):
        end = data.find(b"\n", end + 1)
        if end < 0:
            return data
    return data[: end + 1]


class _DownloadError(Exception):
    pass


def _download(
    url: str, timeout_s: float, max_bytes: int, on_bytes: Callable[[int], None] | None
) -> bytes:
    chunks: list[bytes] = []
    size = 0
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            while chunk := response.read(_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise _DownloadError(f"{url} is larger than {max_bytes} bytes")
                chunks.append(chunk)
                if on_bytes is not None:
                    on_bytes(len(chunk))
    except urllib.error.HTTPError as exc:
        raise _DownloadError(f"HTTP {exc.code} {exc.reason} from {url}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise _DownloadError(f"could not reach {url}: {reason}") from None
    return b"".join(chunks)


def _write_atomically(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, part_name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".part"
    )
    part = Path(part_name)
    try:
        with open(handle, "wb") as out:
            out.write(data)
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)


def how_to_provide(dest: Path | str) -> str:
    """What an organizer does about files that this run could not provide."""
    return (
        f"To provide them, copy them (same relative paths) into {dest} from a data directory "
        "that has them (for instance a copy of the scenario data set with its MANIFEST.json), "
        "or serve such a directory over HTTP and run `podium data fetch --mirror URL --dest "
        f"{dest}`. Then point PODIUM_SCENARIO_DATA at {dest} and check it with "
        "`podium suites verify`."
    )
