"""Builders for test archives."""

from __future__ import annotations

import io
import tarfile
import zipfile
from collections.abc import Mapping

MINIMAL_DOCKERFILE = b"FROM scratch\nCOPY server.py /server.py\n"


def make_tar(files: Mapping[str, bytes], *, gz: bool = True) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if gz else "w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def make_tar_with_member(member: tarfile.TarInfo, data: bytes = b"") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.addfile(_info("Dockerfile", MINIMAL_DOCKERFILE), io.BytesIO(MINIMAL_DOCKERFILE))
        tar.addfile(member, io.BytesIO(data) if data else None)
    return buf.getvalue()


def make_zip(files: Mapping[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _info(name: str, data: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info
