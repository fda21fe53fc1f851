"""The one place Podium reads its configuration from: environment variables prefixed PODIUM_."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

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
    disk_free_floor_bytes: int = Field(2 * 1024**3, ge=0)
    """Free disk that uploads never take (kept for the database, logs and image builds): an
    upload is refused with 507 when free space minus what unfinished uploads still need minus
    this is smaller than the upload."""
    team_storage_quota_bytes: int = Field(500 * 1024**3, gt=0)
    """Bytes one team may keep on the server: its resumable uploads (finished or not, at their
    declared size) plus the build contexts and weights of its submissions (weights several of
    its submissions share count once). Past it an upload or submission gets 413."""
    max_request_body_bytes: int = Field(256 * 1024, gt=0)
    """Largest body of any request but the streamed uploads (multipart submissions, upload
    chunks): JSON and forms. Larger ones get 413 before they are read (app/kit/body_limit.py)."""
    header_timeout_s: float = Field(10.0, gt=0)
    """Seconds a client has to send a request's full head (request line and headers), from
    when its connection opens or its previous response ends; then the connection is closed
    (slowloris, app/kit/http.py)."""

    # Sandbox
    build_network: Literal["none", "default"] = "none"
    default_base_images: Annotated[list[str], NoDecode] = [
        "podium-test/ml:bookworm",
        "podium-test/python:bookworm",
    ]
    """Images a team's Dockerfile may start FROM (or COPY --from) when its phase names none
    (`[phases.sandbox] base_images`); comma-separated in the environment. The defaults are the
    two images scripts/build-base-images.sh makes locally, so `podium up` builds offline."""
    build_timeout_s: float = Field(1800.0, gt=0)
    build_memory_bytes: int = Field(8 * 1024**3, gt=0)
    build_cpus: float = Field(4.0, gt=0)
    """CPU limit of each RUN step of a build."""
    build_pids_limit: int = Field(1024, ge=0)
    """Most processes a build's RUN steps may have at once. It needs the engine's cgroupfs
    driver and a worker on the engine's host (builds are refused otherwise); 0 turns it off."""
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

    # Operations
    log_format: Literal["text", "json"] = "text"
    """`json`: one JSON object per log line (time, level, logger, message, submission_id and
    evaluation_id while handling one), for a log collector; see app/logging.py."""
    metrics_token: str = ""
    """A bearer token that opens `/metrics` and nothing else, for Prometheus' scrape config;
    organizer and admin tokens open it too. Empty: only those."""

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
    """Times a build or an evaluation is started before a dying worker fails it for good."""
    lost_after_s: float = Field(60.0, gt=0)
    """Work `queued` this long with no task known for it (none in the broker, none held by a
    worker) lost its task, e.g. to a broker restart without persistence: it is sent again."""
    stale_after_beats: int = Field(4, ge=2)
    """Missed heartbeats after which a build or evaluation counts as lost with its worker."""
    task_retry_max: int = Field(10, ge=0)
    """Times a task is retried, with backoff, after a database, broker or engine outage."""
    task_retry_backoff_max_s: int = Field(60, ge=1)
    """Longest wait between two of those retries."""

    @property
    def stale_after_s(self) -> float:
        """A build or evaluation whose heartbeat is older than this has lost its worker."""
        return self.heartbeat_s * self.stale_after_beats

    @field_validator("default_base_images", mode="before")
    @classmethod
    def _split_images(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

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
