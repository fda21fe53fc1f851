"""Streams a multipart upload straight to files on disk, hashing as it goes.

Nothing of a file part is held in memory beyond one network chunk; sizes are enforced while
streaming, so an oversized upload is refused without filling the disk first. Free disk is checked
before the body is read (its Content-Length) and while it streams; a full disk is a 507, and the
caller removes the staging directory whatever happens.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header

from app.kit.errors import BadRequest, PayloadTooLarge
from app.uploads.disk import StreamingSpace, disk_full_is_507

MAX_FIELD_BYTES = 64 * 1024
# Parts in one form: a few files and text fields are all a submission has. Part headers do not
# count toward the byte limit, so without this an endless stream of parts would be accepted.
MAX_PARTS = 32
_RESEND = "send the form again with a standard client (curl -F context=@ctx.tar.gz)"


@dataclass
class StagedFile:
    """One uploaded file part, written to `path` under the staging directory."""

    field_name: str
    filename: str
    path: Path
    size: int = 0
    sha256: str = ""


@dataclass
class ReceivedForm:
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, StagedFile] = field(default_factory=dict)


class _PartCollector:
    def __init__(
        self,
        staging: Path,
        file_fields: set[str],
        max_bytes: int,
        disk: StreamingSpace | None = None,
    ) -> None:
        self.staging = staging
        self.disk = disk
        self.file_fields = file_fields
        self.max_bytes = max_bytes
        self.form = ReceivedForm()
        self.total = 0
        self.parts = 0
        self._header_field = b""
        self._header_value = b""
        self._headers: dict[str, bytes] = {}
        self._name = ""
        self._filename: str | None = None
        self._value = bytearray()
        self._file: IO[bytes] | None = None
        self._hash: hashlib._Hash | None = None
        self._staged: StagedFile | None = None

    # python-multipart callbacks -------------------------------------------------------------
    def on_part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise BadRequest(f"the form has more than {MAX_PARTS} parts; send only its fields")
        self._headers = {}
        self._name, self._filename = "", None
        self._value = bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._header_field.decode("latin-1").lower()] = self._header_value
        self._header_field = b""
        self._header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get("content-disposition", b""))
        self._name = options.get(b"name", b"").decode("utf-8", "replace")
        raw_filename = options.get(b"filename")
        self._filename = None if raw_filename is None else raw_filename.decode("utf-8", "replace")
        if self._name in self.file_fields:
            if self._name in self.form.files:
                raise BadRequest(f"form field {self._name!r} was sent twice; send it once")
            path = self.staging / f"upload-{self._name}"
            self._staged = StagedFile(self._name, self._filename or self._name, path)
            self._file = path.open("wb")
            self._hash = hashlib.sha256()
        elif self._filename is not None:
            raise BadRequest(
                f"unexpected file field {self._name!r}; "
                f"file fields are: {', '.join(sorted(self.file_fields))}"
            )

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        self.total += len(chunk)
        if self.total > self.max_bytes:
            raise PayloadTooLarge(
                f"the upload is larger than the limit of {self.max_bytes} bytes; "
                "shrink the build context (weights belong in the `weights` field)"
            )
        if self._file is not None and self._hash is not None:
            if self.disk is not None:
                self.disk.consumed(len(chunk))
            self._file.write(chunk)
            self._hash.update(chunk)
        else:
            if len(self._value) + len(chunk) > MAX_FIELD_BYTES:
                raise PayloadTooLarge(f"form field {self._name!r} is longer than 64 KiB")
            self._value += chunk

    def on_part_end(self) -> None:
        if self._file is not None and self._staged is not None and self._hash is not None:
            self._file.close()
            self._staged.size = self._staged.path.stat().st_size
            self._staged.sha256 = self._hash.hexdigest()
            self.form.files[self._name] = self._staged
            self._file, self._staged, self._hash = None, None, None
        elif self._name:
            self.form.fields[self._name] = self._value.decode("utf-8", "replace")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


async def receive_multipart(
    content_type: str,
    body: AsyncIterator[bytes],
    staging: Path,
    *,
    file_fields: set[str],
    max_bytes: int,
    disk: StreamingSpace | None = None,
) -> ReceivedForm:
    """Parse a multipart/form-data body into `staging`; raises BadRequest/PayloadTooLarge, or
    InsufficientStorage (507) when `disk` finds too little free space or the disk fills up."""
    ctype, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise BadRequest(
            "send the submission as multipart/form-data "
            "(e.g. curl -F context=@ctx.tar.gz -F weights=@weights.tar.gz)"
        )
    if disk is not None:
        disk.admit()
    collector = _PartCollector(staging, file_fields, max_bytes, disk)
    callbacks = {
        name: getattr(collector, name)
        for name in (
            "on_part_begin",
            "on_part_data",
            "on_part_end",
            "on_header_field",
            "on_header_value",
            "on_header_end",
            "on_headers_finished",
        )
    }
    try:
        parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
    except FormParserError as exc:
        raise BadRequest(f"the multipart boundary is unusable ({exc}); {_RESEND}") from exc
    try:
        with disk_full_is_507("this submission"):
            async for chunk in body:
                parser.write(chunk)
            parser.finalize()
    except FormParserError as exc:
        # The parser's own words name the byte that broke it; the form is the client's.
        raise BadRequest(
            f"the request body is not valid multipart/form-data ({exc}); {_RESEND}"
        ) from exc
    finally:
        with disk_full_is_507("this submission"):
            collector.close()  # flushes the buffered tail of a file part
    # An empty body is left to the form's checks (they name the missing field). Anything else
    # must end with the closing boundary, or the last part may be silently cut short.
    if parser.state not in (MultipartState.START, MultipartState.END):
        raise BadRequest(
            "the request body ended before the form's closing boundary: the upload was cut "
            f"off, or its Content-Length is wrong; {_RESEND}"
        )
    return collector.form
