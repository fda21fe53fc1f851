"""Packing on the team's machine: .dockerignore rules, .git, deterministic archives."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from app.client.errors import ClientError
from app.client.pack import is_ignored, pack_context, pack_weights_dir, read_dockerignore


@pytest.mark.parametrize(
    ("lines", "path", "ignored"),
    [
        (["*.log"], "a.log", True),
        (["*.log"], "sub/a.log", False),  # `*` does not cross directories, as in Docker
        (["**/*.log"], "sub/deep/a.log", True),
        (["**/*.log"], "a.log", True),
        (["data"], "data/x/y.bin", True),  # a matching directory takes what is below it
        (["/data/"], "data/y.bin", True),
        (["*.log", "!keep.log"], "keep.log", False),
        (["!keep.log", "*.log"], "keep.log", True),  # the last matching line wins
        (["[ab].txt"], "a.txt", True),
        (["[!ab].txt"], "a.txt", False),
        (["?.txt"], "ab.txt", False),
        (["# a comment", ""], "# a comment", False),
        ([], ".git/config", True),
        ([], "sub/.git", True),
        ([], "src/app.py", False),
    ],
)
def test_dockerignore_rules(tmp_path: Path, lines: list[str], path: str, ignored: bool) -> None:
    (tmp_path / ".dockerignore").write_text("\n".join(lines) + "\n")
    assert is_ignored(path, read_dockerignore(tmp_path)) is ignored


def _names(archive: Path) -> set[str]:
    with tarfile.open(archive) as tar:
        return set(tar.getnames())


def test_context_is_deterministic_and_keeps_reincluded_files(tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    (ctx / "logs").mkdir(parents=True)
    (ctx / "Dockerfile").write_text("FROM scratch\n")
    (ctx / "logs" / "a.log").write_text("a")
    (ctx / "logs" / "keep.log").write_text("k")
    (ctx / ".dockerignore").write_text("logs\n!logs/keep.log\nDockerfile\n")
    first = pack_context(ctx, tmp_path / "one.tar.gz")
    second = pack_context(ctx, tmp_path / "two.tar.gz")
    assert first.path.read_bytes() == second.path.read_bytes()
    # The Dockerfile is sent even when ignored, as docker build does.
    assert _names(first.path) == {"Dockerfile", ".dockerignore", "logs/keep.log"}


def test_other_dockerfile_and_errors(tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    (ctx / "docker").mkdir(parents=True)
    (ctx / "docker" / "Dockerfile.gpu").write_text("FROM scratch\n")
    with pytest.raises(ClientError, match="no Dockerfile"):
        pack_context(ctx, tmp_path / "c.tar.gz")
    packed = pack_context(ctx, tmp_path / "c.tar.gz", "docker/Dockerfile.gpu")
    assert "docker/Dockerfile.gpu" in _names(packed.path)

    (tmp_path / "empty").mkdir()
    with pytest.raises(ClientError, match="empty"):
        pack_weights_dir(tmp_path / "empty", tmp_path / "w.tar")
    (tmp_path / "dangling").mkdir()
    (tmp_path / "dangling" / "model.bin").symlink_to(tmp_path / "missing")
    with pytest.raises(ClientError, match="link to nothing"):
        pack_weights_dir(tmp_path / "dangling", tmp_path / "w.tar")


def test_weights_directory_is_deterministic(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"\x00" * 10_000)
    (model / "config.json").write_text("{}")
    one = pack_weights_dir(model, tmp_path / "one.tar")
    two = pack_weights_dir(model, tmp_path / "two.tar")
    assert one.path.read_bytes() == two.path.read_bytes()
    assert (one.files, one.bytes) == (2, 10_002)


def test_weights_directory_needs_room_to_pack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"\x00" * 10_000)
    monkeypatch.setattr("app.client.pack.SPARE_BYTES", 1 << 62)  # as if the disk were full
    with pytest.raises(ClientError, match="TMPDIR"):
        pack_weights_dir(model, tmp_path / "w.tar")
