"""The one place Podium reads its configuration from: environment variables prefixed PODIUM_."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path(".podium")


class Settings(BaseSettings):
    """Every setting, with the default that makes `podium up` work on one machine."""

    model_config = SettingsConfigDict(env_prefix="PODIUM_", extra="ignore")

    environment: Literal["dev", "test", "production"] = "dev"
    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str = ""
    """Empty means the embedded SQLite database `<data_dir>/podium.db`."""
    broker_url: str = ""
    """Empty means the embedded filesystem Celery broker under `<data_dir>/broker`."""

    # Evaluation
    default_suite: str = "smoke"
    scenario_data: Path | None = None
    """Directory laid out like shared/scenarios (mmlu/, gsm8k/, ...); checked against pins."""
    scenario_mirror: str = ""
    """Base URL of a mirror laid out like shared/scenarios, used when `scenario_data` is unset;
    with neither, files come from their canonical upstream URLs. Downloads are checked against
    the pins and kept under `<data_dir>/scenario-cache`."""
    eval_concurrency: int = Field(16, ge=1, le=512)
    request_timeout_s: float = Field(120.0, gt=0)
    eval_timeout_s: float = Field(4 * 3600.0, gt=0)
    start_timeout_s: float = Field(20 * 60.0, gt=0)
    container_port: int = Field(80, ge=1, le=65535)

    # Upload limits
    max_upload_bytes: int = Field(20 * 1024**3, gt=0)
    max_context_bytes: int = Field(512 * 1024**2, gt=0)
    """Largest total size of an extracted build context."""
    max_weights_bytes: int = Field(200 * 1024**3, gt=0)
    max_archive_files: int = Field(100_000, gt=0)

    # Sandbox
    build_network: Literal["none", "default"] = "none"
    build_timeout_s: float = Field(1800.0, gt=0)
    build_memory_bytes: int = Field(8 * 1024**3, gt=0)
    container_memory_bytes: int = Field(16 * 1024**3, gt=0)
    container_cpus: float = Field(4.0, gt=0)
    container_pids_limit: int = Field(1024, gt=0)
    container_tmpfs_bytes: int = Field(2 * 1024**3, gt=0)
    oci_runtime: str | None = None
    """e.g. `runsc` for gVisor; empty for the engine's default runtime."""
    log_limit_bytes: int = Field(1_000_000, gt=0)
    image_disk_budget_bytes: int = Field(200 * 1024**3, gt=0)

    webhook_secret: str = ""
    """When set, every webhook call carries `X-Podium-Signature: sha256=<HMAC-SHA256 of the
    body with this secret>`, so a receiver can check it came from this Podium."""

    # Worker
    artifacts_url: str = ""
    """The API's base URL, for workers on hosts that do not share its data directory: they
    download build contexts and weights from it (with `worker_token`) into their own."""
    worker_token: str = ""
    """A `podium admin create-token --role worker` token, used with `artifacts_url`."""
    gpus_per_evaluation: int = Field(1, ge=0, le=16)
    """GPUs given to each evaluation when the worker has GPUs (phases may override)."""
    gpus: str = ""
    """Comma-separated GPU ids this worker hands out, one per running evaluation."""
    heartbeat_s: float = Field(15.0, gt=0)
    reap_every_s: float = Field(60.0, gt=0)
    """How often the reaper looks for lost work (Celery beat)."""
    max_attempts: int = Field(3, ge=1)
    """Times an evaluation is started before a dying worker fails it for good."""

    @property
    def stale_after_s(self) -> float:
        """A running evaluation whose heartbeat is older than this has lost its worker."""
        return self.heartbeat_s * 4

    @model_validator(mode="after")
    def _fill_embedded_defaults(self) -> Settings:
        self.data_dir = self.data_dir.expanduser().absolute()
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'podium.db'}"
        if not self.broker_url:
            self.broker_url = "filesystem://"
        if self.artifacts_url and not self.worker_token:
            raise ValueError(
                "PODIUM_ARTIFACTS_URL needs PODIUM_WORKER_TOKEN "
                "(create one with `podium admin create-token --role worker`)"
            )
        if self.environment == "production" and self.database_url.startswith("sqlite"):
            raise ValueError(
                "PODIUM_DATABASE_URL must point at PostgreSQL in production "
                "(SQLite is for `podium up` on one machine)"
            )
        return self

    @property
    def gpu_ids(self) -> list[str]:
        return [g.strip() for g in self.gpus.split(",") if g.strip()]

    @property
    def broker_dir(self) -> Path:
        return self.data_dir / "broker"

    @property
    def uses_filesystem_broker(self) -> bool:
        return self.broker_url.startswith("filesystem://")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
