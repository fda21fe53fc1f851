"""Applying a competition file: validation, idempotence, updates."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.competitions.config import CompetitionFileError, load_competition_file
from app.competitions.models import Competition, Phase, Track
from app.competitions.service import apply_competition
from app.config import Settings
from app.kit.db import session_scope
from app.kit.errors import BadRequest

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "competition.toml"


def test_example_file_applies_and_reapplying_changes_nothing(settings: Settings) -> None:
    config = load_competition_file(EXAMPLE)
    with session_scope(settings.database_url) as session:
        report = apply_competition(session, config)
    assert (
        report.created and report.tracks == ["a100", "4090"] and report.phases == ["open", "final"]
    )
    with session_scope(settings.database_url) as session:
        again = apply_competition(session, config)
        assert not again.created and again.removed == []
        assert session.query(Competition).count() == 1
        assert session.query(Track).count() == 2
        phases = {p.slug: p for p in session.query(Phase).all()}
    assert phases["open"].quota_per_day == 3 and phases["open"].quota_concurrent == 1
    assert phases["final"].hidden_scenarios == ["mmlu"]
    assert phases["final"].leaderboard_mode.value == "winrate"
    assert phases["open"].sandbox["memory_gb"] == 64


def test_edit_updates_in_place(settings: Settings, tmp_path: Path) -> None:
    with session_scope(settings.database_url) as session:
        apply_competition(session, load_competition_file(EXAMPLE))
        first_ids = {p.slug: p.id for p in session.query(Phase).all()}
    edited = tmp_path / "c.toml"
    edited.write_text(EXAMPLE.read_text().replace("per_day = 3", "per_day = 5"))
    with session_scope(settings.database_url) as session:
        apply_competition(session, load_competition_file(edited))
        phases = {p.slug: p for p in session.query(Phase).all()}
    assert phases["open"].quota_per_day == 5
    assert {slug: p.id for slug, p in phases.items()} == first_ids


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('slug = "Bad Slug"\n[[tracks]]\nslug="a"\n[[phases]]\nslug="p"\nsuite="smoke"\n', "slug"),
        ('slug = "c"\n[[tracks]]\nslug="a"\n', "phases"),
        (
            'slug = "c"\ntypo = 1\n[[tracks]]\nslug="a"\n[[phases]]\nslug="p"\nsuite="smoke"\n',
            "typo",
        ),
        (
            'slug = "c"\n[[tracks]]\nslug="a"\n[[tracks]]\nslug="a"\n[[phases]]\nslug="p"\n'
            'suite="smoke"\n',
            "repeated: a",
        ),
        (
            'slug = "c"\n[[tracks]]\nslug="a"\n[[phases]]\nslug="p"\nsuite="smoke"\n'
            "opens_at = 2026-01-02T00:00:00\n",
            "time zone",
        ),
        (
            'slug = "c"\n[[tracks]]\nslug="a"\n[[phases]]\nslug="p"\nsuite="smoke"\n'
            "opens_at = 2026-01-02T00:00:00Z\ncloses_at = 2026-01-01T00:00:00Z\n",
            "after opens_at",
        ),
        ("slug = [", "not valid TOML"),
    ],
)
def test_bad_files_are_refused_with_a_reason(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(CompetitionFileError, match=message):
        load_competition_file(path)


def test_unknown_suite_and_hidden_scenario_are_refused(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('slug = "c"\n[[tracks]]\nslug="a"\n[[phases]]\nslug="p"\nsuite="smok"\n')
    with session_scope(settings.database_url) as session, pytest.raises(BadRequest, match="smoke"):
        apply_competition(session, load_competition_file(path))
    path.write_text(
        'slug = "c"\n[[tracks]]\nslug="a"\n[[phases]]\nslug="p"\nsuite="smoke"\n'
        'hidden_scenarios=["gsm"]\n'
    )
    with session_scope(settings.database_url) as session, pytest.raises(BadRequest, match="gsm"):
        apply_competition(session, load_competition_file(path))
