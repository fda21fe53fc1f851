"""What each page shows, assembled from the services the JSON API uses (never a second ranking,
never a second visibility rule): the router renders these, the templates only lay them out."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from app.auth.service import Principal
from app.competitions import service as competition_service
from app.competitions.schemas import CompetitionRead
from app.leaderboard import service as leaderboard_service
from app.leaderboard.schemas import Leaderboard
from app.submissions import service as submission_service
from app.submissions.models import SubmissionStatus
from app.submissions.schemas import SubmissionRead
from app.submissions.views import container_log, read_model, read_models
from app.web.chart import TOP, BarChart, bar_chart
from app.web.render import tail

TERMINAL = frozenset({SubmissionStatus.scored, SubmissionStatus.failed, SubmissionStatus.cancelled})
EXPORT_ROWS = 100_000
"""An export holds the whole board, not one page of it."""

MODES = {
    "mean": "Overall = mean of the scenario scores.",
    "winrate": (
        "Overall = Podium's cleaned-up win rate: per metric, the share of the other entries "
        "beaten (ties count half, missing ranks last), averaged per scenario, geometric mean "
        "over scenarios, phases weighted."
    ),
    "neurips2023": (
        "Overall = the NeurIPS 2023 organizers' ranking arithmetic: per metric, strict wins plus "
        "1/c among c tied entries over the pool size (missing counts as 0), averaged per "
        "scenario, geometric mean over scenarios (a zero becomes the smallest float), phases "
        "weighted (1/3 open + 2/3 hidden in 2023)."
    ),
}
ENTRY_RULES = {
    "best": "Each team is ranked by its best scored submission.",
    "latest": "Each team is ranked by its latest scored submission.",
}
EFFICIENCY_LABELS = {
    "requests": "requests answered",
    "cached": "answers restored from the cache",
    "latency_p50_s": "latency p50 (s)",
    "latency_p95_s": "latency p95 (s)",
    "total_inference_s": "inference time summed over requests in flight (s)",
    "generated_tokens": "generated tokens (estimated from the text)",
    "generated_tokens_per_s": "generated tokens / s (estimated from the text)",
    "token_count_method": "how tokens are counted",
}


@dataclass(frozen=True)
class Link:
    label: str
    href: str
    current: bool = False


@dataclass(frozen=True)
class LeaderboardPage:
    board: Leaderboard
    title: str
    competition: CompetitionRead | None
    track_links: list[Link]
    phase_links: list[Link]
    hidden: frozenset[str]
    """Scenarios teams do not see; only in `board.scenarios` for organizers."""
    mode_text: str
    entry_text: str
    chart: BarChart | None
    pages: int
    prev_href: str | None
    next_href: str | None
    csv_href: str
    json_href: str


def _shows_hidden(principal: Principal | None) -> bool:
    return principal is not None and principal.can_read_everything


def competitions(session: Session, principal: Principal | None = None) -> list[CompetitionRead]:
    """The index page's competitions; hidden scenario names only for organizers."""
    return competition_service.list_competitions(
        session, show_hidden=_shows_hidden(principal)
    ).items


def board_href(path: str, **params: str | int | None) -> str:
    query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    return f"{path}?{query}" if query else path


def _hidden(competition: CompetitionRead | None, phase: str | None) -> frozenset[str]:
    if competition is None:
        return frozenset()
    return frozenset(
        name
        for p in competition.phases
        if phase == leaderboard_service.OVERALL or p.slug == phase
        for name in p.hidden_scenarios
    )


def leaderboard_page(
    session: Session,
    principal: Principal | None,
    *,
    competition: str | None,
    track: str | None,
    phase: str | None,
    page: int,
    per_page: int,
) -> LeaderboardPage:
    show_hidden = principal is not None and principal.can_read_everything
    board = leaderboard_service.leaderboard(
        session,
        competition=competition,
        track=track,
        phase=phase,
        show_hidden=show_hidden,
        page=page,
        per_page=per_page,
    )
    top = board
    if page != 1 or per_page < TOP:
        top = leaderboard_service.leaderboard(
            session,
            competition=board.competition,
            track=board.track,
            phase=board.phase,
            show_hidden=show_hidden,
            page=1,
            per_page=TOP,
        )
    comp = (
        competition_service.competition_by_slug(session, board.competition, show_hidden=show_hidden)
        if board.competition and board.competition != leaderboard_service.DEFAULT_BOARD
        else None
    )
    titles = {t.slug: t.title or t.slug for t in comp.tracks} if comp else {}
    phase_titles = {p.slug: p.title or p.slug for p in comp.phases} if comp else {}

    def href(**overrides: str | int | None) -> str:
        params: dict[str, str | int | None] = {
            "competition": board.competition,
            "track": board.track,
            "phase": board.phase,
            "per_page": per_page if per_page != 50 else None,
        }
        params.update(overrides)
        return board_href("/leaderboard", **params)

    pages = max(1, -(-board.total // board.per_page))
    export = {"competition": board.competition, "track": board.track, "phase": board.phase}
    return LeaderboardPage(
        board=board,
        title=(comp.title or comp.slug) if comp else "Leaderboard",
        competition=comp,
        track_links=[Link(titles.get(t, t), href(track=t), t == board.track) for t in board.tracks],
        phase_links=[
            Link(
                "Overall" if p == leaderboard_service.OVERALL else phase_titles.get(p, p),
                href(phase=p),
                p == board.phase,
            )
            for p in board.phases
        ],
        hidden=_hidden(comp, board.phase),
        mode_text=MODES.get(board.mode, board.mode),
        entry_text=ENTRY_RULES.get(board.entry_rule, board.entry_rule),
        chart=bar_chart(top),
        pages=pages,
        prev_href=href(page=page - 1) if page > 1 else None,
        next_href=href(page=page + 1) if page < pages else None,
        csv_href=board_href("/leaderboard/export", format="csv", **export),
        json_href=board_href("/leaderboard/export", format="json", **export),
    )


def export_board(
    session: Session,
    principal: Principal | None,
    competition: str | None,
    track: str | None,
    phase: str | None,
) -> Leaderboard:
    return leaderboard_service.leaderboard(
        session,
        competition=competition,
        track=track,
        phase=phase,
        show_hidden=principal is not None and principal.can_read_everything,
        per_page=EXPORT_ROWS,
    )


def to_csv(board: Leaderboard) -> str:
    return leaderboard_service.to_csv(board)


def submission_list(session: Session, principal: Principal) -> list[SubmissionRead]:
    return read_models(session, principal, submission_service.list_visible(session, principal))


@dataclass(frozen=True)
class SubmissionPage:
    submission: SubmissionRead
    terminal: bool
    percent: int | None
    efficiency: list[tuple[str, object]]
    build_log: str
    container_log: str
    container_log_withheld: bool
    """Only the start-up output is shown (a team, in a phase with hidden scenarios)."""


def submission_page(session: Session, principal: Principal, submission_id: str) -> SubmissionPage:
    """Raises NotFound (404) for a submission the caller may not see, as the API does."""
    submission = submission_service.get_visible(session, principal, submission_id)
    view = read_model(session, principal, submission)
    evaluation = submission_service.latest_evaluation(session, submission.id)
    container_text, withheld = container_log(session, principal, submission, evaluation)
    done, total = view.progress.done, view.progress.total
    efficiency = (view.evaluation.efficiency or {}) if view.evaluation else {}
    return SubmissionPage(
        submission=view,
        terminal=view.status in TERMINAL,
        percent=round(100 * done / total) if total else None,
        efficiency=[(EFFICIENCY_LABELS.get(k, k), v) for k, v in efficiency.items()],
        build_log=tail(submission.build_log),
        container_log=tail(container_text),
        container_log_withheld=withheld,
    )
