from __future__ import annotations

from pydantic import BaseModel, Field

from app.uploads.store import UploadMeta


class UploadCreate(BaseModel):
    filename: str = Field(description="Name the file keeps, e.g. model.safetensors or weights.tar")
    size: int = Field(gt=0, description="Total bytes the client will send")
    sha256: str | None = Field(
        None, description="Hex sha256 of the whole file; checked at completion when given"
    )


class UploadCreated(BaseModel):
    id: str
    offset: int
    size: int
    chunk_size_hint: int = Field(description="Bytes per PATCH that suits this server")


class UploadRead(BaseModel):
    id: str
    filename: str
    size: int
    offset: int = Field(description="Bytes received and stored durably; send the next from here")
    complete: bool
    sha256: str | None = Field(
        description="Verified hash once complete; before that, the declared one (if any)"
    )

    @classmethod
    def build(cls, meta: UploadMeta) -> UploadRead:
        return cls(
            id=meta.id,
            filename=meta.filename,
            size=meta.size,
            offset=meta.offset,
            complete=meta.complete,
            sha256=meta.sha256 if meta.complete else meta.declared_sha256,
        )


class UploadList(BaseModel):
    items: list[UploadRead]


class UploadOffset(BaseModel):
    offset: int


class UploadComplete(BaseModel):
    sha256: str | None = Field(
        None, description="Hex sha256 of the whole file, if not declared at creation"
    )


class UploadCompleted(BaseModel):
    id: str
    sha256: str
    size: int
    complete: bool


class OffsetConflictBody(BaseModel):
    detail: str
    offset: int = Field(description="The server's current offset: resume from here")
