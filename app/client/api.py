"""A thin client of Podium's REST API that turns every failure into a message a team can act on."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from app.client.config import ClientConfig
from app.client.errors import ApiError, Unreachable

USER_AGENT = "podium-cli/0.1"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, read=120.0)
COMPLETE_TIMEOUT = httpx.Timeout(30.0, read=3600.0)
"""Completing may re-read the whole file on the server (a few minutes for 200 GB)."""


def _detail(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text.strip()[:500] or resp.reason_phrase
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):  # FastAPI's validation errors
        return "; ".join(
            f"{'.'.join(str(p) for p in item.get('loc', []))}: {item.get('msg', '')}"
            for item in detail
            if isinstance(item, dict)
        )
    return str(body)[:500]


class PodiumApi:
    def __init__(
        self,
        config: ClientConfig,
        *,
        need_token: bool = True,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        token = config.require_token() if need_token else config.token
        headers = {"User-Agent": USER_AGENT}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.config = config
        self.http = httpx.Client(
            base_url=config.server, headers=headers, timeout=DEFAULT_TIMEOUT, transport=transport
        )

    def __enter__(self) -> PodiumApi:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        server = self.config.server
        try:
            resp = self.http.request(method, path, **kwargs)
        except httpx.ConnectError as exc:
            raise Unreachable(
                f"server not reachable at {server} (from {self.config.server_source}): {exc}. "
                "Check the URL (--server, PODIUM_SERVER or the config file) and that it is up."
            ) from exc
        except httpx.TimeoutException as exc:
            raise Unreachable(f"no answer from {server} in time ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise Unreachable(f"the connection to {server} broke: {exc!r}") from exc
        if resp.is_success:
            return resp
        detail = _detail(resp)
        if resp.status_code == 401:
            message = (
                f"the server at {server} rejected the token (from {self.config.token_source}): "
                f"{detail}. Check it, or ask the organizers for a new one."
            )
        elif resp.status_code == 403:
            message = f"not allowed: {detail}"
        else:
            message = f"{method} {path} failed ({resp.status_code}): {detail}"
        raise ApiError(message, resp.status_code, detail)

    def json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        body = self.request(method, path, **kwargs).json()
        assert isinstance(body, dict)
        return body

    # Uploads -------------------------------------------------------------------------------
    def create_upload(self, filename: str, size: int, sha256: str | None) -> dict[str, Any]:
        payload = {"filename": filename, "size": size, "sha256": sha256}
        return self.json("POST", "/api/v1/uploads", json=payload)

    def list_uploads(self) -> list[dict[str, Any]]:
        items = self.json("GET", "/api/v1/uploads")["items"]
        assert isinstance(items, list)
        return items

    def get_upload(self, upload_id: str) -> dict[str, Any]:
        return self.json("GET", f"/api/v1/uploads/{upload_id}")

    def send_chunk(
        self, upload_id: str, offset: int, length: int, content: Iterable[bytes]
    ) -> httpx.Response:
        """PATCH one chunk; returns the raw response, errors included (the caller resyncs)."""
        return self.http.patch(
            f"/api/v1/uploads/{upload_id}",
            headers={
                "Upload-Offset": str(offset),
                "Content-Type": "application/offset+octet-stream",
                "Content-Length": str(length),  # so httpx does not fall back to chunked framing
            },
            content=content,
        )

    def complete_upload(self, upload_id: str, sha256: str) -> dict[str, Any]:
        return self.json(
            "POST",
            f"/api/v1/uploads/{upload_id}/complete",
            json={"sha256": sha256},
            timeout=COMPLETE_TIMEOUT,
        )

    def delete_upload(self, upload_id: str) -> None:
        self.request("DELETE", f"/api/v1/uploads/{upload_id}")

    # Submissions ---------------------------------------------------------------------------
    def create_submission(self, context: Path, fields: dict[str, str]) -> dict[str, Any]:
        with context.open("rb") as f:
            return self.json(
                "POST",
                "/api/v1/submissions",
                files={"context": (context.name, f, "application/gzip")},
                data=fields,
                timeout=httpx.Timeout(30.0, read=600.0),
            )

    def get_submission(self, submission_id: str) -> dict[str, Any]:
        return self.json("GET", f"/api/v1/submissions/{submission_id}")

    def get_logs(self, submission_id: str) -> dict[str, Any]:
        return self.json("GET", f"/api/v1/submissions/{submission_id}/logs")

    def leaderboard(self, params: dict[str, str]) -> dict[str, Any]:
        return self.json("GET", "/api/v1/leaderboard", params=params)
