"""A phase whose suite is a HELM conf file (`suite_conf`): applied from the example competition
file, evaluated by the worker with the conf's run specs, re-applied with an edit (new hash), and
refused with the conf's own line when it is wrong. SQLite and PostgreSQL (the settings fixture),
schema from the migrations."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from app.auth.models import Role
from app.auth.service import Principal, create_token
from app.cli import main
from app.competitions.config import (
    CompetitionFileError,
    load_competition_file,
    read_suite_confs,
)
from app.competitions.models import Competition, Phase
from app.competitions.service import apply_competition, suite_for
from app.config import Settings, get_settings
from app.kit.db import session_scope
from app.kit.errors import BadRequest, Conflict
from app.queue import RecordingQueue
from app.submissions import admin
from app.submissions.models import Submission, SubmissionStatus
from evaluator.conf import suite_from_conf
from evaluator.testing.fake_server import FakeServerConfig, always
from tests.app.uploads.live_server import live_server
from tests.workers.test_flows import Harness
from workers import flows

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
CONF = EXAMPLES / "mini-challenge.conf"
ADMIN = Principal(token_id="t", role=Role.admin, team_id=None, team_name=None)


@pytest.fixture
def admin_headers(settings: Settings) -> dict[str, str]:
    with session_scope(settings.database_url) as session:
        token = create_token(session, Role.admin, label="test admin")
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(autouse=True)
def _fresh_settings_cache() -> Iterator[None]:
    # `podium admin --data-dir` points the process-wide settings at a test directory.
    yield
    get_settings.cache_clear()


def _example_with_conf_phase(directory: Path, conf: str | None = None) -> Path:
    """examples/competition.toml with its commented `suite_conf` phase switched on, next to a
    copy of the example conf (or `conf`), as an organizer would have them."""
    lines = (EXAMPLES / "competition.toml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "#   [[phases]]")
    for i in range(start, len(lines)):
        if not lines[i].startswith("#   "):
            break
        lines[i] = lines[i].removeprefix("#   ")
    toml = directory / "competition.toml"
    toml.write_text("\n".join(lines) + "\n")
    if conf is None:
        shutil.copy(CONF, directory / CONF.name)
    else:
        (directory / CONF.name).write_text(conf)
    return toml


def _apply(settings: Settings, toml: Path) -> None:
    config = load_competition_file(toml)
    with session_scope(settings.database_url) as session:
        apply_competition(session, config, read_suite_confs(toml.read_text(), toml))


def _phase(settings: Settings) -> Phase:
    with session_scope(settings.database_url) as session:
        phase = session.query(Phase).filter_by(slug="helm-conf").one()
        session.expunge(phase)
        return phase


def test_conf_phase_is_evaluated_with_the_confs_run_specs(
    settings: Settings, tmp_path: Path
) -> None:
    toml = _example_with_conf_phase(tmp_path)
    _apply(settings, toml)
    phase = _phase(settings)
    assert phase.suite_name == "conf:helm-conf" and phase.suite_conf == CONF.read_text()
    expected = suite_from_conf(CONF.read_bytes(), name="conf:helm-conf").suite
    suite = suite_for(phase.suite_name, phase)
    assert suite.content_hash == expected.content_hash
    assert [s.name for s in suite.run_specs] == [
        "mmlu:subject=abstract_algebra,method=multiple_choice_joint,max_eval_instances=4",
        "gsm,max_eval_instances=3",
    ]

    harness = Harness(settings, FakeServerConfig(answer=always(" A")))
    sid = harness.submission()
    with session_scope(settings.database_url) as session:
        sub = session.get(Submission, sid)
        assert sub is not None
        sub.phase_id = phase.id
    harness.build(sid)
    flows.evaluate(harness.ctx, harness.evaluation_id())
    sub, ev = harness.get(sid)
    assert sub.status is SubmissionStatus.scored, sub.failure_message
    assert ev is not None and ev.result is not None
    assert ev.suite_name == "conf:helm-conf" and ev.suite_hash == expected.content_hash
    assert set(ev.scores or {}) == {"mmlu", "gsm"}
    sent = {i["run_spec"] for i in ev.result["instances"]}
    assert sent == {s.name for s in expected.run_specs}
    # The conf's caps: 4 MMLU and 3 GSM8K evaluation instances, each one request.
    assert len(harness.servers[0].stats.prompts) == 7

    # Re-applying with an edited conf changes the suite's hash: a re-run must then name it.
    (tmp_path / CONF.name).write_text(
        CONF.read_text().replace("max_eval_instances=3", "max_eval_instances=2")
    )
    _apply(settings, toml)
    edited = _phase(settings)
    assert edited.id == phase.id
    assert suite_for(edited.suite_name, edited).content_hash != expected.content_hash
    with session_scope(settings.database_url) as session, pytest.raises(Conflict) as err:
        admin.rerun(session, settings, RecordingQueue(), ADMIN, sid)
    assert "has changed since the last evaluation" in err.value.message


def test_a_bad_conf_is_refused_with_its_line_and_nothing_is_applied(
    settings: Settings, tmp_path: Path
) -> None:
    bad = CONF.read_text().replace("gsm:model=neurips/local", "summarization_xsum:model=x")
    line = next(n for n, text in enumerate(bad.splitlines(), 1) if "summarization_xsum" in text)
    toml = _example_with_conf_phase(tmp_path, bad)
    with pytest.raises(BadRequest) as err:
        _apply(settings, toml)
    message = err.value.message
    assert "phase 'helm-conf'" in message and f"line {line}" in message
    assert "'summarization_xsum' is not supported" in message and "gsm" in message
    with session_scope(settings.database_url) as session:
        assert session.query(Competition).count() == 0


def test_hidden_scenarios_are_checked_against_the_confs_groups(
    settings: Settings, tmp_path: Path
) -> None:
    toml = _example_with_conf_phase(tmp_path)
    text = toml.read_text()
    toml.write_text(
        text.replace(
            "hidden_scenarios = []                # checked", 'hidden_scenarios = ["bbq"] # checked'
        )
    )
    with pytest.raises(BadRequest) as err:
        _apply(settings, toml)
    assert "['bbq'] are not scenarios of suite_conf 'mini-challenge.conf'" in err.value.message
    assert "(it has: gsm, mmlu)" in err.value.message
    toml.write_text(
        text.replace(
            "hidden_scenarios = []                # checked", 'hidden_scenarios = ["gsm"] # checked'
        )
    )
    _apply(settings, toml)
    assert _phase(settings).hidden_scenarios == ["gsm"]


@pytest.mark.parametrize(
    ("phase", "message"),
    [
        ('suite = "smoke"\nsuite_conf = "x.conf"', "not both and not neither"),
        ("", "not both and not neither"),
    ],
)
def test_a_phase_names_exactly_one_suite(tmp_path: Path, phase: str, message: str) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text(f'slug = "c"\n[[tracks]]\nslug = "a"\n[[phases]]\nslug = "p"\n{phase}\n')
    with pytest.raises(CompetitionFileError, match=message):
        load_competition_file(toml)


def test_a_missing_conf_file_is_named(tmp_path: Path) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text('[[phases]]\nslug = "p"\nsuite_conf = "confs/absent.conf"\n')
    with pytest.raises(CompetitionFileError) as err:
        read_suite_confs(toml.read_text(), toml)
    assert str(tmp_path / "confs" / "absent.conf") in str(err.value)
    assert "relative to the competition file" in str(err.value)


def test_admin_api_takes_the_conf_text_with_the_toml(
    client: TestClient, admin_headers: dict[str, str], tmp_path: Path
) -> None:
    toml = _example_with_conf_phase(tmp_path)
    body = {"toml": toml.read_text(), "source": "competition.toml"}
    missing = client.post("/api/v1/admin/competitions/apply", headers=admin_headers, json=body)
    assert missing.status_code == 400
    assert "suite_conf 'mini-challenge.conf' was not sent" in missing.json()["detail"]
    body["suite_confs"] = {"mini-challenge.conf": CONF.read_text().replace("gsm:", "nope:")}
    bad = client.post("/api/v1/admin/competitions/apply", headers=admin_headers, json=body)
    assert bad.status_code == 400 and "line 9" in bad.json()["detail"], bad.json()
    body["suite_confs"] = {"mini-challenge.conf": CONF.read_text()}
    ok = client.post("/api/v1/admin/competitions/apply", headers=admin_headers, json=body)
    assert ok.status_code == 200, ok.json()
    assert "helm-conf" in ok.json()["phases"]
    listed = client.get("/api/v1/admin/competitions", headers=admin_headers).json()
    phases = {p["slug"]: p for p in listed["items"][0]["phases"]}
    assert phases["helm-conf"]["suite"] == "conf:helm-conf"


def test_cli_apply_local_reads_the_conf_next_to_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("PODIUM_DATA_DIR", "PODIUM_DATABASE_URL"):
        monkeypatch.delenv(var, raising=False)
    data = tmp_path / "data"
    runner = CliRunner()
    assert runner.invoke(main, ["admin", "bootstrap", "--data-dir", str(data)]).exit_code == 0
    toml = _example_with_conf_phase(tmp_path)
    applied = runner.invoke(main, ["admin", "apply", str(toml), "--data-dir", str(data)])
    assert applied.exit_code == 0, applied.output
    listed = runner.invoke(main, ["admin", "competitions", "--data-dir", str(data)])
    assert "phase helm-conf: suite conf:helm-conf" in listed.output, listed.output


def test_cli_apply_through_the_api_sends_the_conf(
    settings: Settings,
    admin_headers: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PODIUM_CONFIG", str(tmp_path / "absent.toml"))
    toml = _example_with_conf_phase(tmp_path)
    token = admin_headers["Authorization"].split()[1]
    with live_server(settings, RecordingQueue()) as url:
        flags = ["--server", url, "--token", token]
        applied = CliRunner().invoke(main, ["admin", "apply", str(toml), *flags])
        assert applied.exit_code == 0, applied.output
        (tmp_path / CONF.name).unlink()
        gone = CliRunner().invoke(main, ["admin", "apply", str(toml), *flags])
    assert gone.exit_code != 0 and "mini-challenge.conf" in gone.output
    assert "relative to the competition file" in gone.output
    assert _phase(settings).suite_conf == CONF.read_text()
