"""The competition file an organizer writes (TOML) and `podium admin apply` reads.

Example: examples/competition.toml. Unknown keys are refused, so a typo is an error, not a
silently ignored setting.
"""

from __future__ import annotations

import tomllib
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from app.submissions.dockerfile_policy import normalize_reference

SLUG_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,99}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SandboxConfig(_Strict):
    """Per-phase sandbox limits; unset ones fall back to the worker's settings."""

    build_network: Literal["none", "default"] | None = None
    build_timeout_s: float | None = Field(None, gt=0)
    memory_gb: float | None = Field(None, gt=0)
    cpus: float | None = Field(None, gt=0)
    gpus_per_evaluation: int | None = Field(None, ge=0, le=16)
    start_timeout_s: float | None = Field(None, gt=0)
    eval_timeout_s: float | None = Field(None, gt=0)
    pids_limit: int | None = Field(None, gt=0)
    tmpfs_gb: float | None = Field(None, gt=0)
    base_images: list[str] | None = None
    """Images a team's Dockerfile may start FROM (or COPY --from); unset means the server's
    `default_base_images`. `scratch` and the Dockerfile's own earlier stages are always allowed."""

    @field_validator("base_images")
    @classmethod
    def _image_names(cls, value: list[str] | None) -> list[str] | None:
        for name in value or []:
            if normalize_reference(name) is None:
                raise ValueError(
                    f"{name!r} is not an image name (e.g. podium-test/ml:bookworm, "
                    "registry.example.org/team-base:1.0 or name@sha256:...)"
                )
        return value


class QuotaConfig(_Strict):
    per_day: int | None = Field(None, ge=0, description="submissions per team per UTC day")
    total: int | None = Field(None, ge=0, description="submissions per team in the phase")
    concurrent: int | None = Field(None, ge=0, description="in flight at once per team")
    failed_per_day: int | None = Field(
        None, ge=0, description="failed submissions per team per UTC day (a separate cap)"
    )


class LeaderboardConfig(_Strict):
    mode: Literal["mean", "winrate", "neurips2023"] = "mean"
    entry: Literal["best", "latest"] = "best"


class TrackConfig(_Strict):
    slug: str = Field(pattern=SLUG_PATTERN)
    title: str = ""


class PhaseConfig(_Strict):
    slug: str = Field(pattern=SLUG_PATTERN)
    title: str = ""
    suite: str | None = Field(None, description="a registered suite, e.g. smoke")
    suite_conf: str | None = Field(
        None,
        min_length=1,
        description="a HELM run-entry file (*.conf), relative to the competition file",
    )
    hidden_scenarios: list[str] = []
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    protocol: Literal["neurips2023", "openai"] = "neurips2023"
    context_window: int | None = Field(
        None, ge=256, le=1_000_000, description="tokens; prompts are fitted to it as HELM does"
    )
    port: int = Field(80, ge=1, le=65535)
    weight: float = Field(1.0, ge=0)
    sandbox: SandboxConfig = SandboxConfig()
    quotas: QuotaConfig = QuotaConfig()
    leaderboard: LeaderboardConfig = LeaderboardConfig()

    @field_validator("opens_at", "closes_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give a time zone, e.g. 2026-12-01T00:00:00Z")
        return value

    @model_validator(mode="after")
    def _one_suite(self) -> PhaseConfig:
        if (self.suite is None) == (self.suite_conf is None):
            raise ValueError(
                f'phase {self.slug!r}: give either suite = "<registered name>" or '
                'suite_conf = "<file>.conf" (a HELM conf file), not both and not neither'
            )
        return self

    @model_validator(mode="after")
    def _window(self) -> PhaseConfig:
        if self.opens_at and self.closes_at and self.closes_at <= self.opens_at:
            raise ValueError(f"phase {self.slug!r}: closes_at must be after opens_at")
        return self


class CompetitionConfig(_Strict):
    slug: str = Field(pattern=SLUG_PATTERN)
    title: str = ""
    description: str = ""
    webhook_url: str | None = None
    tracks: list[TrackConfig] = Field(min_length=1)
    phases: list[PhaseConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> CompetitionConfig:
        for kind, slugs in (
            ("track", [t.slug for t in self.tracks]),
            ("phase", [p.slug for p in self.phases]),
        ):
            dupes = sorted({s for s in slugs if slugs.count(s) > 1})
            if dupes:
                raise ValueError(f"{kind} slugs must be unique; repeated: {', '.join(dupes)}")
        return self


class CompetitionFileError(ValueError):
    pass


def suite_conf_paths(text: str) -> list[str]:
    """The `suite_conf` paths a competition file's text names, in phase order; [] when the
    text is not TOML (applying it reports that)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return []
    phases = raw.get("phases")
    if not isinstance(phases, list):
        return []
    paths = [p.get("suite_conf") for p in phases if isinstance(p, dict)]
    return list(dict.fromkeys(p for p in paths if isinstance(p, str) and p))


def read_suite_confs(text: str, toml_path: Path) -> dict[str, str]:
    """The text of every conf file the competition file names, by the path as written there
    (relative to the competition file). The server stores the texts with the phases, so the
    admin API, which cannot read the organizer's files, is sent them with the TOML."""
    confs: dict[str, str] = {}
    for name in suite_conf_paths(text):
        path = toml_path.parent / name
        try:
            confs[name] = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise CompetitionFileError(
                f"{toml_path}: suite_conf {name!r} names {path}, which does not exist; the "
                "path is relative to the competition file"
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise CompetitionFileError(
                f"{toml_path}: cannot read suite_conf {name!r} ({path}): {exc}"
            ) from exc
    return confs


def load_competition_file(path: Path) -> CompetitionConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise CompetitionFileError(f"{path}: no such file") from exc
    return parse_competition_text(text, str(path))


def parse_competition_text(text: str, source: str) -> CompetitionConfig:
    """A competition file's text, checked; CompetitionFileError names `source` and each problem."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CompetitionFileError(f"{source}: not valid TOML ({exc})") from exc
    try:
        return CompetitionConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise CompetitionFileError(f"{source}: {problems}") from exc
