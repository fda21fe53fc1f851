"""Competitions: applying the organizer's file, and finding where a submission goes."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

import evaluator
from app.competitions.config import CompetitionConfig, PhaseConfig
from app.competitions.models import Competition, EntryRule, LeaderboardMode, Phase, Track
from app.competitions.repository import CompetitionRepository, PhaseRepository, TrackRepository
from app.competitions.schemas import CompetitionList, CompetitionRead, PhaseRead, TrackRead
from app.kit.db import utcnow
from app.kit.errors import BadRequest, Conflict, NotFound
from app.submissions.models import Submission
from evaluator.conf import ConfError, suite_from_conf

GIB = 1024**3

# Sandbox keys of the competition file -> (Settings field, unit multiplier).
SANDBOX_FIELDS = {
    "build_network": ("build_network", None),
    "build_timeout_s": ("build_timeout_s", None),
    "memory_gb": ("container_memory_bytes", GIB),
    "cpus": ("container_cpus", None),
    "start_timeout_s": ("start_timeout_s", None),
    "eval_timeout_s": ("eval_timeout_s", None),
    "pids_limit": ("container_pids_limit", None),
    "tmpfs_gb": ("container_tmpfs_bytes", GIB),
    "gpus_per_evaluation": ("gpus_per_evaluation", None),
}


@dataclass(frozen=True)
class ApplyReport:
    competition: str
    created: bool
    tracks: list[str]
    phases: list[str]
    removed: list[str]


#: The most bytes of a phase's conf file; the 2023 open conf is about 15 kB.
MAX_SUITE_CONF_BYTES = 1024 * 1024


def conf_suite_name(phase_slug: str) -> str:
    """The suite name of a phase whose suite is its own conf file (fits `suite_name` columns)."""
    return f"conf:{phase_slug}"[:100]


class BrokenConfSuite(evaluator.SuiteNotFound):
    """A phase's stored conf no longer builds a suite (the evaluator changed since it was
    applied); callers that handle an unknown suite handle this one too."""

    def __init__(self, phase_slug: str, error: ConfError) -> None:
        super().__init__("suite", conf_suite_name(phase_slug), [], [])
        self.args = (
            f"the conf file of phase {phase_slug!r} no longer builds a suite ({error}); the "
            "organizers must fix it and apply the competition file again",
        )


@functools.lru_cache(maxsize=64)
def _conf_suite(phase_slug: str, conf: str) -> evaluator.Suite:
    # Keyed by the conf's text, so an edited conf is built afresh; the content hash covers
    # the conf's bytes (Suite.source_sha256).
    return suite_from_conf(
        conf.encode("utf-8"), name=conf_suite_name(phase_slug), source=f"phase {phase_slug!r}"
    ).suite


def suite_for(suite_name: str, phase: Phase | None) -> evaluator.Suite:
    """The suite a phase evaluates with: its conf file's (`suite_conf`, stored with the phase)
    or the registered one, fitted to the phase's context window when it sets one. Workers,
    re-runs and rescoring all go through here, so they agree on the suite's content hash."""
    if (
        phase is not None
        and phase.suite_conf is not None
        and suite_name == conf_suite_name(phase.slug)
    ):
        try:
            suite = _conf_suite(phase.slug, phase.suite_conf)
        except ConfError as exc:
            # Validated at apply time; only a change of the evaluator can get here.
            raise BrokenConfSuite(phase.slug, exc) from exc
    else:
        suite = evaluator.get_suite(suite_name)
    if phase is not None and phase.context_window:
        suite = suite.with_context_window(phase.context_window)
    return suite


def _check_suite(phase: PhaseConfig, confs: Mapping[str, str]) -> str | None:
    """Whether the phase's suite exists (its conf builds) and has its hidden scenarios; the
    conf's text for a conf phase."""
    conf: str | None = None
    if phase.suite_conf is not None:
        conf = confs.get(phase.suite_conf)
        if conf is None:
            raise BadRequest(
                f"phase {phase.slug!r}: suite_conf {phase.suite_conf!r} was not sent with the "
                "competition file; `podium admin apply FILE.toml` reads it (relative to the "
                "file) and sends its text in `suite_confs`"
            )
        if len(conf.encode("utf-8")) > MAX_SUITE_CONF_BYTES:
            raise BadRequest(
                f"phase {phase.slug!r}: suite_conf {phase.suite_conf!r} is larger than "
                f"{MAX_SUITE_CONF_BYTES // 1024} KiB; a HELM conf file is a few kB"
            )
        try:
            suite = suite_from_conf(
                conf.encode("utf-8"),
                name=conf_suite_name(phase.slug),
                source=f"phase {phase.slug!r}, suite_conf {phase.suite_conf}",
            ).suite
        except ConfError as exc:
            # The message starts with the source, so it names the phase, the file and the line.
            raise BadRequest(str(exc)) from exc
        suite_label = f"suite_conf {phase.suite_conf!r}"
    else:
        assert phase.suite is not None  # PhaseConfig requires one of the two
        try:
            suite = evaluator.get_suite(phase.suite)
        except evaluator.SuiteNotFound as exc:
            raise BadRequest(f"phase {phase.slug!r}: {exc}") from exc
        suite_label = f"suite {phase.suite!r}"
    groups = set(suite.groups)
    unknown = sorted(set(phase.hidden_scenarios) - groups)
    if unknown:
        raise BadRequest(
            f"phase {phase.slug!r}: hidden_scenarios {unknown} are not scenarios of "
            f"{suite_label} (it has: {', '.join(sorted(groups))})"
        )
    return conf


def sandbox_overrides(config: dict[str, object]) -> dict[str, object]:
    """Competition-file sandbox keys -> Settings field values (units converted)."""
    out: dict[str, object] = {}
    for key, value in config.items():
        if value is None or key not in SANDBOX_FIELDS:
            continue
        field, multiplier = SANDBOX_FIELDS[key]
        out[field] = int(float(value) * multiplier) if multiplier else value  # type: ignore[arg-type]
    return out


def apply_competition(
    session: Session, config: CompetitionConfig, suite_confs: Mapping[str, str] | None = None
) -> ApplyReport:
    """Create or update a competition from its file. Idempotent: applying the same file twice
    changes nothing; tracks and phases are matched by slug. `suite_confs` holds the text of
    each `suite_conf` file, by the path the file names (config.read_suite_confs)."""
    confs = {pc.slug: _check_suite(pc, suite_confs or {}) for pc in config.phases}
    repo = CompetitionRepository(session)
    competition = repo.by_slug(config.slug)
    created = competition is None
    if competition is None:
        competition = repo.add(Competition(slug=config.slug))
    competition.title = config.title or config.slug
    competition.description = config.description
    competition.webhook_url = config.webhook_url
    competition.config = config.model_dump(mode="json")

    tracks = {t.slug: t for t in TrackRepository(session).for_competition(competition.id)}
    phases = {p.slug: p for p in PhaseRepository(session).for_competition(competition.id)}
    for position, track_config in enumerate(config.tracks):
        track = tracks.pop(track_config.slug, None) or Track(
            competition_id=competition.id, slug=track_config.slug
        )
        track.title = track_config.title or track_config.slug
        track.position = position
        session.add(track)
    for position, pc in enumerate(config.phases):
        phase = phases.pop(pc.slug, None) or Phase(competition_id=competition.id, slug=pc.slug)
        phase.title = pc.title or pc.slug
        phase.position = position
        phase.suite_conf = confs[pc.slug]
        phase.suite_name = pc.suite if pc.suite is not None else conf_suite_name(pc.slug)
        phase.hidden_scenarios = list(pc.hidden_scenarios)
        phase.opens_at, phase.closes_at = pc.opens_at, pc.closes_at
        phase.protocol, phase.port, phase.weight = pc.protocol, pc.port, pc.weight
        phase.context_window = pc.context_window
        phase.sandbox = pc.sandbox.model_dump(exclude_none=True)
        phase.quota_per_day = pc.quotas.per_day
        phase.quota_total = pc.quotas.total
        phase.quota_concurrent = pc.quotas.concurrent
        phase.quota_failed_per_day = pc.quotas.failed_per_day
        phase.leaderboard_mode = LeaderboardMode(pc.leaderboard.mode)
        phase.entry_rule = EntryRule(pc.leaderboard.entry)
        session.add(phase)
    removed = []
    for kind, leftovers, column in (
        ("track", tracks, Submission.track_id),
        ("phase", phases, Submission.phase_id),
    ):
        for slug, obj in leftovers.items():
            used = session.scalars(select(Submission.id).where(column == obj.id).limit(1)).first()
            if used is not None:
                raise Conflict(
                    f"{kind} {slug!r} is no longer in the file but has submissions; "
                    "keep it in the file (you may change its dates)"
                )
            session.delete(obj)
            removed.append(f"{kind} {slug}")
    session.flush()
    return ApplyReport(
        competition=config.slug,
        created=created,
        tracks=[t.slug for t in config.tracks],
        phases=[p.slug for p in config.phases],
        removed=removed,
    )


@dataclass(frozen=True)
class Target:
    """Where a submission goes: None for both when no competition is configured."""

    competition: Competition | None
    track: Track | None
    phase: Phase | None


def _fmt(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M UTC")


def is_open(phase: Phase, now: datetime) -> bool:
    return (phase.opens_at is None or phase.opens_at <= now) and (
        phase.closes_at is None or now < phase.closes_at
    )


def resolve_target(
    session: Session,
    now: datetime,
    competition_slug: str | None = None,
    track_slug: str | None = None,
    phase_slug: str | None = None,
) -> Target:
    """The competition, track and open phase a submission is for; errors say what to name."""
    repo = CompetitionRepository(session)
    competitions = list(repo.all_by_slug())
    if not competitions and not competition_slug:
        return Target(None, None, None)
    if competition_slug:
        competition = repo.by_slug(competition_slug)
        if competition is None:
            raise NotFound(
                f"no competition {competition_slug!r}; "
                f"known: {', '.join(c.slug for c in competitions) or 'none'}"
            )
    elif len(competitions) == 1:
        competition = competitions[0]
    else:
        raise BadRequest(
            "name the competition (`podium submit --competition C`, or the `competition` form "
            "field); one of: " + ", ".join(c.slug for c in competitions)
        )
    tracks = list(TrackRepository(session).for_competition(competition.id))
    if track_slug:
        track = next((t for t in tracks if t.slug == track_slug), None)
        if track is None:
            raise BadRequest(
                f"competition {competition.slug!r} has no track {track_slug!r}; "
                f"use one of: {', '.join(t.slug for t in tracks)}"
            )
    elif len(tracks) == 1:
        track = tracks[0]
    else:
        raise BadRequest(
            f"name the track (`podium submit --track T`, or the `track` form field); "
            f"{competition.slug!r} has: " + ", ".join(t.slug for t in tracks)
        )
    phases = list(PhaseRepository(session).for_competition(competition.id))
    if phase_slug:
        phase = next((p for p in phases if p.slug == phase_slug), None)
        if phase is None:
            raise BadRequest(
                f"competition {competition.slug!r} has no phase {phase_slug!r}; "
                f"phases: {', '.join(p.slug for p in phases)}"
            )
    else:
        phase = next((p for p in phases if is_open(p, now)), None)
        if phase is None:
            raise Conflict(_closed_message(competition, phases, now))
    if not is_open(phase, now):
        if phase.closes_at is not None and now >= phase.closes_at:
            raise Conflict(
                f"phase {phase.slug!r} of {competition.slug!r} closed at {_fmt(phase.closes_at)}; "
                "submissions are no longer accepted"
            )
        assert phase.opens_at is not None
        raise Conflict(
            f"phase {phase.slug!r} of {competition.slug!r} opens at {_fmt(phase.opens_at)}"
        )
    return Target(competition, track, phase)


def _closed_message(competition: Competition, phases: list[Phase], now: datetime) -> str:
    upcoming = sorted(
        (p for p in phases if p.opens_at and p.opens_at > now), key=lambda p: p.opens_at or now
    )
    if upcoming and upcoming[0].opens_at:
        return (
            f"no phase of {competition.slug!r} is open for submissions; phase "
            f"{upcoming[0].slug!r} opens at {_fmt(upcoming[0].opens_at)}"
        )
    return f"no phase of {competition.slug!r} is open for submissions; the competition has ended"


def read_competition(
    session: Session, competition: Competition, *, show_hidden: bool
) -> CompetitionRead:
    """A competition as a caller sees it: hidden scenario names only when `show_hidden`
    (organizers and admins); everyone else gets their count."""
    now = utcnow()
    return CompetitionRead(
        slug=competition.slug,
        title=competition.title,
        description=competition.description,
        tracks=[
            TrackRead(slug=t.slug, title=t.title)
            for t in TrackRepository(session).for_competition(competition.id)
        ],
        phases=[
            PhaseRead(
                slug=p.slug,
                title=p.title,
                suite=p.suite_name,
                hidden_scenarios=list(p.hidden_scenarios) if show_hidden else [],
                hidden_scenario_count=len(p.hidden_scenarios),
                opens_at=p.opens_at,
                closes_at=p.closes_at,
                is_open=is_open(p, now),
                protocol=p.protocol,
                port=p.port,
                weight=p.weight,
                leaderboard_mode=p.leaderboard_mode.value,
                entry_rule=p.entry_rule.value,
                quotas={
                    "per_day": p.quota_per_day,
                    "total": p.quota_total,
                    "concurrent": p.quota_concurrent,
                    "failed_per_day": p.quota_failed_per_day,
                },
            )
            for p in PhaseRepository(session).for_competition(competition.id)
        ],
    )


def list_competitions(session: Session, *, show_hidden: bool) -> CompetitionList:
    return CompetitionList(
        items=[
            read_competition(session, c, show_hidden=show_hidden)
            for c in CompetitionRepository(session).all_by_slug()
        ]
    )


def competition_by_slug(session: Session, slug: str, *, show_hidden: bool) -> CompetitionRead:
    competition = CompetitionRepository(session).by_slug(slug)
    if competition is None:
        raise NotFound(f"no competition {slug!r}")
    return read_competition(session, competition, show_hidden=show_hidden)
