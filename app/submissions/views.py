"""How a submission is shown to a caller: hidden scenarios only for organizers.

That covers the container's output too. A server may print the prompts it is sent, and in a phase
with hidden scenarios those include the hidden ones, so a team sees its container's output only
up to readiness (`Evaluation.startup_log`, recorded by the worker before the first prompt), while
organizers see all of it.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from app.auth.models import Team
from app.auth.service import Principal
from app.competitions.models import Competition, Phase, Track
from app.evaluations import counting
from app.submissions.models import Evaluation, Submission
from app.submissions.schemas import SubmissionLogs, SubmissionRead

WITHHELD_NOTE = (
    "[podium] The container's output after start-up is withheld: this phase has hidden "
    "scenarios, and what a server prints while it answers could quote their prompts. Above is "
    "its output up to the moment it was ready; the organizers can see the whole log."
)


def hidden_scenarios(session: Session, submission: Submission) -> frozenset[str]:
    phase = session.get(Phase, submission.phase_id) if submission.phase_id else None
    return frozenset(phase.hidden_scenarios) if phase else frozenset()


def where(session: Session, submission: Submission) -> tuple[str | None, str | None, str | None]:
    phase = session.get(Phase, submission.phase_id) if submission.phase_id else None
    track = session.get(Track, submission.track_id) if submission.track_id else None
    competition = session.get(Competition, phase.competition_id) if phase else None
    return (
        competition.slug if competition else None,
        track.slug if track else None,
        phase.slug if phase else None,
    )


def read_model(session: Session, principal: Principal, submission: Submission) -> SubmissionRead:
    return read_models(session, principal, [submission])[0]


def read_models(
    session: Session, principal: Principal, submissions: Sequence[Submission]
) -> list[SubmissionRead]:
    """The summaries of `submissions`, in their order: a fixed number of queries however many
    there are, and never the per-instance results or logs (`counting.BLOBS`)."""
    evaluations = counting.current_for(session, [s.id for s in submissions])
    # `session.get` answers from the identity map after the first load: each team, phase,
    # track and competition is read once per request.
    out = []
    for submission in submissions:
        team = session.get(Team, submission.team_id)
        out.append(
            SubmissionRead.build(
                submission,
                team.name if team else "?",
                evaluations.get(submission.id),
                hidden=hidden_scenarios(session, submission),
                show_hidden=principal.can_read_everything,
                where=where(session, submission),
            )
        )
    return out


def container_log(
    session: Session, principal: Principal, submission: Submission, evaluation: Evaluation | None
) -> tuple[str, bool]:
    """The container output this caller may read, and whether some of it is withheld."""
    if evaluation is None:
        return "", False
    if principal.can_read_everything or not hidden_scenarios(session, submission):
        return evaluation.container_log, False
    startup = evaluation.startup_log.rstrip("\n")
    return (f"{startup}\n\n{WITHHELD_NOTE}\n" if startup else f"{WITHHELD_NOTE}\n"), True


def logs(session: Session, principal: Principal, submission: Submission) -> SubmissionLogs:
    evaluation = counting.current(session, submission.id)
    text, withheld = container_log(session, principal, submission, evaluation)
    return SubmissionLogs(
        build_log=submission.build_log, container_log=text, container_log_withheld=withheld
    )
