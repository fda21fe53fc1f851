"""Delivering one webhook call. Raising makes Celery retry it with backoff."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import httpx

USER_AGENT = "podium-webhook/1"
TIMEOUT_S = 10.0


class WebhookFailed(Exception):
    pass


SIGNATURE_HEADER = "X-Podium-Signature"


def signature(secret: str, payload: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def deliver(url: str, body: dict[str, Any], timeout_s: float = TIMEOUT_S, secret: str = "") -> int:
    payload = json.dumps(body, sort_keys=True).encode()
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    if secret:
        headers[SIGNATURE_HEADER] = signature(secret, payload)
    try:
        response = httpx.post(
            url,
            content=payload,
            headers=headers,
            timeout=timeout_s,
            follow_redirects=False,
        )
    except httpx.HTTPError as exc:
        raise WebhookFailed(f"webhook {url} unreachable: {exc}") from exc
    if response.status_code >= 500 or response.status_code == 429:
        raise WebhookFailed(f"webhook {url} answered {response.status_code}; will retry")
    return response.status_code
