"""Issue 7, item 1 (and the archive parts of items 8 and 9): an uploaded archive must never
write outside its extraction directory, and every bad archive gets a 4xx naming the entry.

Each attack is performed for real: the archive bytes are built here the way public proofs of
concept build them, then unpacked by `extract_archive` and, for the worst ones, posted to
`POST /api/v1/submissions` (SQLite and PostgreSQL) as the build context and as the weights.
A canary file outside the data directory must keep its content, no file may appear next to it,
and nothing may stay behind in staging, contexts or weights. The CVE-2025-4517 archive
overwrites the canary when handed to `tarfile.extractall(filter="data")` on the Python this
project runs (3.11.7), so these tests fail if extraction ever goes back to trusting it.
"""

from __future__ import annotations

import io
import os
import stat
import subprocess
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.auth.service import create_team
from app.config import Settings
from app.kit.db import session_scope
from app.kit.errors import InsufficientStorage
from app.main import create_app
from app.queue import RecordingQueue
from app.submissions.archive import (
    ArchiveError,
    ExtractLimits,
    extract_archive,
    unwrap_single_directory,
)
from app.submissions.models import Submission
from tests.helpers import MINIMAL_DOCKERFILE

CANARY = b"original canary content\n"
PAYLOAD = b"written by the attacker\n"
LIMITS = ExtractLimits(max_bytes=5 * 1024 * 1024, max_files=500)

Member = tuple[tarfile.TarInfo, bytes | None]


# --- archive builders ------------------------------------------------------------------------


def _dir(name: str) -> Member:
    info = tarfile.TarInfo(name)
    info.type, info.mode = tarfile.DIRTYPE, 0o755
    return info, None


def _file(name: str, data: bytes, mode: int = 0o644) -> Member:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    return info, data


def _sym(name: str, target: str) -> Member:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    return info, None


def _hard(name: str, target: str) -> Member:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.LNKTYPE, target
    return info, None


def _special(name: str, kind: bytes) -> Member:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.devmajor, info.devminor = 1, 3
    return info, None


def tar_bytes(members: list[Member], *, gz: bool = False) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if gz else "w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def cve_2025_4517(ups: int, outside: str, *, dest_len: int = 80, create: bool = False) -> bytes:
    """The public proof of concept for CVE-2025-4517: sixteen nested directories of long
    names, each reachable through a one-letter symlink, so that `a/b/.../p` is short but its
    real path, plus one more name, exceeds PATH_MAX and `os.path.realpath` gives up resolving
    it. A link at the bottom climbs back to the root; `escape` then goes `ups` levels above
    the root, which the filter cannot see. A hard link through `escape` plus a regular file of
    the same name overwrites the target; with `create`, a file is written through `escape`.

    As in the public PoC, the names are sized to the extraction path (`dest_len`, give or take
    a hundred characters): the directories must still fit in PATH_MAX, the lookup must not."""
    comp = "d" * min(247, (4096 - 128 - dest_len) // 16 - 1)
    steps = "abcdefghijklmnop"
    members: list[Member] = []
    path = ""
    for step in steps:
        members.append(_dir(os.path.join(path, comp)))
        members.append(_sym(os.path.join(path, step), comp))
        path = os.path.join(path, comp)
    linkpath = os.path.join(*steps, "l" * 254)
    members.append(_sym(linkpath, "../" * len(steps)))
    members.append(_sym("escape", linkpath + "/.." * ups + "/" + outside))
    if create:
        members.append(_file("escape/created.txt", PAYLOAD))
    else:
        members.append(_hard("flaglink", "escape/canary.txt"))
        members.append(_file("flaglink", PAYLOAD))
    return tar_bytes(members)


def short_chain_escape(ups: int, outside: str, *, write: bool = True) -> bytes:
    """The same trick without long names: `r1` is the root, so `r2/r2/r2/..` is lexically
    inside but really above it. Links to links, then (with `write`) a hard link and a write
    through them."""
    members = [
        _file("Dockerfile", MINIMAL_DOCKERFILE),
        _sym("r1", "."),
        _sym("r2", "r1"),
        _sym("escape", "r2/r2/r2" + "/.." * ups + "/" + outside),
    ]
    if write:
        members += [_hard("flaglink", "escape/canary.txt"), _file("flaglink", PAYLOAD)]
    return tar_bytes(members)


def _zip_info(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # Unix: the upper bits of external_attr are st_mode
    info.external_attr = mode << 16
    return info


def zip_bytes(entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for info, data in entries:
            zf.writestr(info, data)
    return buf.getvalue()


def lying_zip(real: int, declared: int) -> bytes:
    """One deflated member of `real` zero bytes whose local and central headers claim
    `declared` bytes: the zip bomb that passes a check of declared sizes."""
    raw = bytearray(zip_bytes([("Dockerfile", MINIMAL_DOCKERFILE), ("bomb.bin", b"\0" * real)]))
    size = declared.to_bytes(4, "little")
    patched = 0
    for signature, name_at, size_at in ((b"PK\x03\x04", 30, 22), (b"PK\x01\x02", 46, 24)):
        at = raw.find(signature)
        while at >= 0:
            if raw[at + name_at : at + name_at + 8] == b"bomb.bin":
                raw[at + size_at : at + size_at + 4] = size
                patched += 1
            at = raw.find(signature, at + 4)
    assert patched == 2
    return bytes(raw)


def truncated_tar(*, gz: bool) -> bytes:
    data = tar_bytes(
        [_file("Dockerfile", MINIMAL_DOCKERFILE), _file("big.bin", os.urandom(200_000))], gz=gz
    )
    return data[: len(data) // 2]


# --- direct extraction -----------------------------------------------------------------------


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory next to the extraction root with a canary an attacker wants to overwrite."""
    place = tmp_path / "outside"
    place.mkdir()
    (place / "canary.txt").write_bytes(CANARY)
    return place


def _assert_outside_untouched(outside: Path) -> None:
    assert (outside / "canary.txt").read_bytes() == CANARY
    assert sorted(p.name for p in outside.iterdir()) == ["canary.txt"]


# dest is tmp_path/x/y/dest: three levels of `..` from it reach tmp_path, four the parent.
UPS = 3

BAD_ARCHIVES: dict[str, tuple[bytes, list[str]]] = {
    "cve_2025_4517_overwrite": (cve_2025_4517(UPS, "outside"), ["'dddd", "longer than 1024"]),
    "cve_2025_4517_create": (
        cve_2025_4517(UPS, "outside", create=True),
        ["'dddd", "longer than 1024"],
    ),
    "links_to_links_escape": (
        short_chain_escape(UPS, "outside", write=False),
        ["symlink 'escape'", "points outside the archive"],
    ),
    "hardlink_through_escaping_link": (
        short_chain_escape(UPS, "outside"),
        ["hard link 'flaglink'", "through the symlink 'escape'"],
    ),
    "symlink_dotdot": (
        tar_bytes([_file("f", b"x"), _sym("up", "../outside")]),
        ["symlink 'up'", "points outside"],
    ),
    "symlink_absolute": (tar_bytes([_sym("etc", "/etc")]), ["'etc'", "absolute"]),
    "hardlink_to_earlier_symlink": (
        tar_bytes([_file("a.txt", b"x"), _sym("s", "a.txt"), _hard("h", "s")]),
        ["hard link 'h'", "which is a symlink"],
    ),
    "hardlink_to_symlink_out": (
        tar_bytes([_sym("s", "../outside/canary.txt"), _hard("h", "s"), _file("h", PAYLOAD)]),
        ["hard link 'h'", "which is a symlink"],
    ),
    "hardlink_dotdot": (
        tar_bytes([_hard("h", "../outside/canary.txt"), _file("h", PAYLOAD)]),
        ["'h'", "'..'"],
    ),
    "hardlink_absolute": (tar_bytes([_hard("h", "/etc/passwd")]), ["'h'", "absolute"]),
    "hardlink_to_later_file": (
        tar_bytes([_hard("h", "later.txt"), _file("later.txt", b"x")]),
        ["'h'", "stored earlier"],
    ),
    "dir_replaced_by_link": (
        tar_bytes([_dir("d"), _sym("d", "../outside"), _file("d/created.txt", PAYLOAD)]),
        ["'d'", "appears twice"],
    ),
    "file_through_link": (
        tar_bytes([_sym("d", "../outside"), _file("d/created.txt", PAYLOAD)]),
        ["'d/created.txt'", "below 'd', which is a symlink"],
    ),
    "file_through_inside_link": (
        tar_bytes([_dir("real"), _sym("d", "real"), _file("d/x", b"x")]),
        ["'d/x'", "store the directory itself"],
    ),
    "absolute_path": (tar_bytes([_file("/tmp/created.txt", PAYLOAD)]), ["/tmp/created.txt"]),
    "dotdot_path": (
        tar_bytes([_file("a/../../outside/created.txt", PAYLOAD)]),
        ["'a/../../outside/created.txt'", "'..'"],
    ),
    "char_device": (tar_bytes([_special("null", tarfile.CHRTYPE)]), ["'null'", "device"]),
    "block_device": (tar_bytes([_special("sda", tarfile.BLKTYPE)]), ["'sda'", "device"]),
    "fifo": (tar_bytes([_special("pipe", tarfile.FIFOTYPE)]), ["'pipe'", "FIFO"]),
    "link_loop": (tar_bytes([_sym("a", "b"), _sym("b", "a")]), ["symlink 'a'", "loop"]),
    "too_many_hops": (
        tar_bytes(
            [_file("f", b"x"), _sym("l0", "f")] + [_sym(f"l{i}", f"l{i - 1}") for i in range(1, 45)]
        ),
        ["symlink 'l40'", "more than 40 symlinks"],
    ),
    "dangling_link": (tar_bytes([_sym("x", "missing")]), ["'x'", "archive lacks"]),
    "link_through_file": (
        tar_bytes([_file("f", b"x"), _sym("x", "f/../../outside")]),
        ["'x'", "not a directory"],
    ),
    "file_type_changes": (
        tar_bytes([_file("a", b"x"), _dir("a")]),
        ["'a'", "appears twice"],
    ),
    "zip_symlink_out": (
        zip_bytes([(_zip_info("lnk", stat.S_IFLNK | 0o777), b"../outside")]),
        ["'lnk'", "outside"],
    ),
    "zip_file_through_symlink": (
        zip_bytes(
            [
                (_zip_info("lnk", stat.S_IFLNK | 0o777), b"."),
                (_zip_info("lnk/created.txt", stat.S_IFREG | 0o644), PAYLOAD),
            ]
        ),
        ["'lnk/created.txt'", "symlink"],
    ),
    "zip_symlink_nul": (
        zip_bytes([("f", b"x"), (_zip_info("lnk", stat.S_IFLNK | 0o777), b"f\0../../etc")]),
        ["'lnk'", "NUL"],
    ),
    "zip_fifo": (zip_bytes([(_zip_info("pipe", stat.S_IFIFO | 0o644), b"")]), ["'pipe'", "FIFO"]),
    "zip_dotdot": (zip_bytes([("../outside/created.txt", PAYLOAD)]), ["'..'"]),
    "zip_lying_size_bomb": (lying_zip(real=20 * 1024 * 1024, declared=100), ["'bomb.bin'"]),
    "zip_size_claims_more": (lying_zip(real=100, declared=50_000), ["'bomb.bin'"]),
    "tar_truncated": (truncated_tar(gz=False), ["'big.bin'", "truncated"]),
    "tar_gz_truncated": (truncated_tar(gz=True), ["damaged"]),
}


@pytest.mark.parametrize("case", sorted(BAD_ARCHIVES))
def test_bad_archive_is_refused_and_nothing_is_written(
    case: str, tmp_path: Path, outside: Path
) -> None:
    data, expected = BAD_ARCHIVES[case]
    archive = tmp_path / "upload.bin"
    archive.write_bytes(data)
    dest = tmp_path / "x" / "y" / "dest"
    with pytest.raises(ArchiveError) as refused:
        extract_archive(archive, dest, LIMITS, what="context")
    assert 400 <= refused.value.status_code < 500
    message = refused.value.message
    assert message.startswith("context: ")
    for part in expected:
        assert part in message, message
    assert not dest.exists()
    _assert_outside_untouched(outside)
    assert not (tmp_path / "created.txt").exists()
    assert not Path("/tmp/created.txt").exists()


def test_the_cve_archive_does_break_tarfiles_own_filter(tmp_path: Path, outside: Path) -> None:
    """Proves the archive above is the real attack on this interpreter, not a strawman: where
    tarfile is still vulnerable, its 'data' filter lets it overwrite the canary."""
    dest = tmp_path / "x" / "y" / "dest"
    dest.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(cve_2025_4517(UPS, "outside"))) as tar:
        try:
            tar.extractall(dest, filter="data")
        except tarfile.TarError:
            pytest.skip("this Python's tarfile has the CVE-2025-4517 fix")
    assert (outside / "canary.txt").read_bytes() == PAYLOAD
    # The same bytes through Podium's extraction leave it alone.
    (outside / "canary.txt").write_bytes(CANARY)
    archive = tmp_path / "poc.tar"
    archive.write_bytes(cve_2025_4517(UPS, "outside"))
    with pytest.raises(ArchiveError):
        extract_archive(archive, tmp_path / "x" / "y" / "again", LIMITS, what="weights")
    _assert_outside_untouched(outside)


def test_legitimate_links_inside_still_extract(tmp_path: Path) -> None:
    members = [
        _dir("src"),
        _file("src/app.py", b"print('hi')\n"),
        _file("run.sh", b"#!/bin/sh\n", mode=0o4755),  # setuid: dropped
        _file("Dockerfile", MINIMAL_DOCKERFILE, mode=0o600),
        _sym("app.py", "src/app.py"),
        _sym("lib", "src"),
        _sym("lib2", "lib"),  # a link to a link
        _sym("src/Dockerfile", "../Dockerfile"),
        _sym("forward", "later/x.txt"),  # points to a file stored after it
        _hard("src/copy.py", "src/app.py"),
        _hard("src/copy2.py", "src/copy.py"),  # a hard link to a hard link
        _dir("later"),
        _file("later/x.txt", b"later"),
        _sym("here", "."),
    ]
    archive = tmp_path / "ok.tar.gz"
    archive.write_bytes(tar_bytes(members, gz=True))
    dest = tmp_path / "dest"
    stats = extract_archive(archive, dest, LIMITS, what="context")
    assert stats.files == len(members)
    assert (dest / "app.py").read_bytes() == b"print('hi')\n"
    assert os.readlink(dest / "lib2") == "lib"
    assert (dest / "lib2" / "app.py").read_bytes() == b"print('hi')\n"
    assert (dest / "src" / "Dockerfile").read_bytes() == MINIMAL_DOCKERFILE
    assert (dest / "forward").read_bytes() == b"later"
    assert (dest / "src" / "copy2.py").read_bytes() == b"print('hi')\n"
    assert (dest / "here" / "here" / "run.sh").is_file()
    assert stat.S_IMODE((dest / "run.sh").stat().st_mode) == 0o755
    assert stat.S_IMODE((dest / "Dockerfile").stat().st_mode) == 0o644
    assert stat.S_IMODE((dest / "src").stat().st_mode) == 0o755


def test_zip_with_inside_symlink_extracts(tmp_path: Path) -> None:
    archive = tmp_path / "ok.zip"
    archive.write_bytes(
        zip_bytes(
            [
                ("Dockerfile", MINIMAL_DOCKERFILE),
                (_zip_info("tool", stat.S_IFREG | 0o755), b"#!/bin/sh\n"),
                (_zip_info("Dockerfile.link", stat.S_IFLNK | 0o777), b"Dockerfile"),
            ]
        )
    )
    dest = tmp_path / "dest"
    extract_archive(archive, dest, LIMITS, what="context")
    assert os.readlink(dest / "Dockerfile.link") == "Dockerfile"
    assert stat.S_IMODE((dest / "tool").stat().st_mode) == 0o755


def test_unwrapped_directory_may_not_link_above_itself(tmp_path: Path) -> None:
    """`mydir/l -> ../other` is inside the archive, but only mydir/ is published."""
    archive = tmp_path / "wrapped.tar"
    archive.write_bytes(
        tar_bytes(
            [
                _file("mydir/Dockerfile", MINIMAL_DOCKERFILE),
                _sym("mydir/l", "../__MACOSX"),
                _dir("__MACOSX"),
            ]
        )
    )
    dest = tmp_path / "dest"
    extract_archive(archive, dest, LIMITS, what="context")
    with pytest.raises(ArchiveError, match="symlink 'l'.*outside"):
        unwrap_single_directory(dest, "Dockerfile")


def test_budget_counts_written_bytes_not_declared(tmp_path: Path) -> None:
    archive = tmp_path / "bomb.zip"
    archive.write_bytes(lying_zip(real=20 * 1024 * 1024, declared=100))
    dest = tmp_path / "dest"
    with pytest.raises(ArchiveError, match="bomb.bin"):
        extract_archive(archive, dest, ExtractLimits(10**9, 10), what="weights")
    assert not dest.exists()


def test_low_disk_is_a_507_and_leaves_nothing(tmp_path: Path) -> None:
    archive = tmp_path / "w.tar"
    archive.write_bytes(tar_bytes([_file("model.bin", b"\1" * (2 * 1024 * 1024))]))
    dest = tmp_path / "dest"
    with pytest.raises(InsufficientStorage) as full:
        extract_archive(archive, dest, LIMITS, what="weights", min_free_bytes=1 << 62)
    assert full.value.status_code == 507
    assert "out of disk space" in full.value.message and "organizers" in full.value.message
    assert not dest.exists()


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB filesystem, so that writes fail with ENOSPC."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_disk_filling_up_midway_is_a_507_naming_the_entry(tmp_path: Path, tiny_disk: Path) -> None:
    # Files under 1 MiB get no check before they start: the disk runs out inside a write.
    archive = tmp_path / "w.tar"
    archive.write_bytes(tar_bytes([_file(f"part{i}.bin", os.urandom(600_000)) for i in range(3)]))
    dest = tiny_disk / "dest"
    with pytest.raises(InsufficientStorage) as full:
        extract_archive(archive, dest, LIMITS, what="weights")
    assert full.value.status_code == 507
    assert "'part1.bin'" in full.value.message
    assert not dest.exists()
    disk = os.statvfs(tiny_disk)
    assert disk.f_bavail * disk.f_frsize > 900_000  # what was written is gone again


# --- through the upload route, on SQLite and PostgreSQL --------------------------------------


@pytest.fixture
def queue() -> RecordingQueue:
    return RecordingQueue()


@pytest.fixture
def client(settings: Settings, queue: RecordingQueue) -> Iterator[TestClient]:
    with TestClient(create_app(settings, queue)) as c:
        yield c


@pytest.fixture
def team(settings: Settings) -> dict[str, str]:
    with session_scope(settings.database_url) as session:
        _, token = create_team(session, "alpha")
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def route_outside(settings: Settings) -> Path:
    """Next to the data directory: staging/<id>/context is four levels below its parent."""
    place = settings.data_dir.parent / "outside"
    place.mkdir()
    (place / "canary.txt").write_bytes(CANARY)
    return place


ROUTE_UPS = 4
GOOD_CONTEXT = tar_bytes([_file("Dockerfile", MINIMAL_DOCKERFILE)], gz=True)

ROUTE_ATTACKS: dict[str, tuple[Callable[[int], bytes], str]] = {
    "cve_2025_4517": (lambda n: cve_2025_4517(ROUTE_UPS, "outside", dest_len=n), "'dddd"),
    "cve_2025_4517_create": (
        lambda n: cve_2025_4517(ROUTE_UPS, "outside", dest_len=n, create=True),
        "'dddd",
    ),
    "links_to_links": (lambda _: short_chain_escape(ROUTE_UPS, "outside"), "'escape'"),
    "links_to_links_only": (
        lambda _: short_chain_escape(ROUTE_UPS, "outside", write=False),
        "'escape'",
    ),
    "zip_lying_size": (lambda _: lying_zip(real=20 * 1024 * 1024, declared=100), "'bomb.bin'"),
}


def _no_trace_left(settings: Settings, queue: RecordingQueue, outside: Path) -> None:
    with session_scope(settings.database_url) as session:
        assert session.scalar(select(func.count()).select_from(Submission)) == 0
    assert queue.sent == []
    for sub in ("staging", "contexts", "weights"):
        root = settings.data_dir / sub
        # staging/<owner>.lock is the API process's own liveness lock, not an upload.
        left = [p for p in root.rglob("*") if p.parent != root or p.suffix != ".lock"]
        assert left == [], sub
    _assert_outside_untouched(outside)


@pytest.mark.parametrize("field", ["context", "weights"])
@pytest.mark.parametrize("case", sorted(ROUTE_ATTACKS))
def test_attack_through_the_upload_route(
    case: str,
    field: str,
    client: TestClient,
    team: dict[str, str],
    settings: Settings,
    queue: RecordingQueue,
    route_outside: Path,
) -> None:
    build, entry = ROUTE_ATTACKS[case]
    # staging/<owner>-<random>/<field>: about 85 characters below the data directory.
    data = build(len(str(settings.data_dir)) + 85)
    files = {"context": ("ctx.tar", GOOD_CONTEXT), field: ("upload.tar", data)}
    resp = client.post("/api/v1/submissions", headers=team, files=files)
    assert 400 <= resp.status_code < 500, resp.text
    detail = resp.json()["detail"]
    assert detail.startswith(f"{field}: ") and entry in detail, detail
    _no_trace_left(settings, queue, route_outside)


@pytest.mark.parametrize("field", ["context", "weights"])
def test_inside_links_are_accepted_through_the_route(
    field: str, client: TestClient, team: dict[str, str], settings: Settings
) -> None:
    archive = tar_bytes(
        [
            _file("Dockerfile", MINIMAL_DOCKERFILE),
            _dir("cfg"),
            _file("cfg/config.json", b"{}"),
            _sym("config.json", "cfg/config.json"),
            _hard("copy.json", "cfg/config.json"),
        ],
        gz=True,
    )
    files = {"context": ("ctx.tar", GOOD_CONTEXT), field: ("upload.tgz", archive)}
    resp = client.post("/api/v1/submissions", headers=team, files=files)
    assert resp.status_code == 201, resp.text
    if field == "context":
        root = settings.data_dir / "contexts" / resp.json()["id"]
    else:
        (root,) = (settings.data_dir / "weights").iterdir()
    assert os.readlink(root / "config.json") == "cfg/config.json"
    assert (root / "config.json").read_bytes() == b"{}"
    assert (root / "copy.json").read_bytes() == b"{}"


def test_hard_links_count_toward_the_byte_budget(tmp_path: Path) -> None:
    """A hard link costs no disk here, but whatever copies the tree later pays for each."""
    big = b"\1" * (1024 * 1024)
    members = [_file("model.bin", big)] + [_hard(f"copy{i}.bin", "model.bin") for i in range(3)]
    members.append(_hard("copy_of_copy.bin", "copy0.bin"))
    archive = tmp_path / "w.tar"
    archive.write_bytes(tar_bytes(members))
    dest = tmp_path / "dest"
    with pytest.raises(ArchiveError, match="unpacks to more than"):
        extract_archive(archive, dest, ExtractLimits(4 * 1024 * 1024, 100), what="weights")
    assert not dest.exists()
    stats = extract_archive(archive, dest, ExtractLimits(5 * 1024 * 1024, 100), what="weights")
    assert stats.bytes == 5 * 1024 * 1024
    assert (dest / "copy_of_copy.bin").read_bytes() == big
    assert (dest / "copy_of_copy.bin").stat().st_ino == (dest / "model.bin").stat().st_ino
