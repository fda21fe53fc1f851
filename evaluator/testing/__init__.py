"""Test doubles shipped with the evaluator (used by Podium's tests and benchmarks, and usable by
anyone integrating the evaluator)."""

from evaluator.testing.fake_server import (
    FakeModelServer,
    FakeServerConfig,
    FakeServerStats,
    always,
    fake_server,
)
from evaluator.testing.mock_transport import MockTransport, json_answer

__all__ = [
    "FakeModelServer",
    "FakeServerConfig",
    "FakeServerStats",
    "MockTransport",
    "always",
    "fake_server",
    "json_answer",
]
