"""`podium up` and `podium worker` refuse to start when the suites they evaluate lack data files,
and name the files and the command that fetches them."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import Settings
from app.scenario_data import check_scenario_data, refusal, suites_in_use
from evaluator import get_suite
from tests.app import factories
from tests.conftest import SCENARIO_DATA

ABSENT = "mmlu/data/dev/abstract_algebra_dev.csv"
CHANGED = "mmlu/data/test/computer_security_test.csv"


def _copy(suite: str, target: Path, *, without: tuple[str, ...] = ()) -> Path:
    for relative in get_suite(suite).data_files:
        if relative in without:
            continue
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SCENARIO_DATA / relative, target / relative)
    return target


def _offline_settings(tmp_path: Path, **update: object) -> Settings:
    """Settings whose database does not exist yet (as on a first start)."""
    values: dict[str, object] = {
        "environment": "test",
        "data_dir": tmp_path / "podium",
        "database_url": f"sqlite:///{tmp_path / 'absent.db'}",
        "scenario_data": SCENARIO_DATA,
    }
    values.update(update)
    return Settings(**values)  # type: ignore[arg-type]


def test_a_complete_directory_passes(tmp_path: Path) -> None:
    settings = _offline_settings(tmp_path, scenario_data=_copy("smoke", tmp_path / "data"))
    suites, notes = suites_in_use(settings)
    assert suites == {"smoke": ["the default suite"]}
    report = check_scenario_data(settings, suites)
    assert report.ok, report.problems
    assert report.files == len(get_suite("smoke").data_files)
    # Reading the phases did not create a database file.
    assert not (tmp_path / "absent.db").exists()


def test_a_missing_and_a_changed_file_are_named(tmp_path: Path) -> None:
    data = _copy("smoke", tmp_path / "data", without=(ABSENT,))
    (data / CHANGED).write_bytes(b"edited\n")
    settings = _offline_settings(tmp_path, scenario_data=data)
    suites, _ = suites_in_use(settings)
    report = check_scenario_data(settings, suites)
    assert [(p.path, p.kind) for p in report.problems] == [
        (ABSENT, "missing"),
        (CHANGED, "mismatch"),
    ]
    message = refusal(report, "podium worker", settings)
    assert message.startswith("podium worker refuses to start: 2 of the 12 scenario data files")
    assert f"{ABSENT}: missing" in message
    assert get_suite("smoke").data_files[CHANGED] in message
    assert f"podium data fetch --suite smoke --dest {data}" in message


def test_the_suites_of_every_phase_are_checked(settings: Settings, tmp_path: Path) -> None:
    factories.competition(settings, [{"slug": "open", "suite": "neurips2023-open"}])
    settings = settings.model_copy(update={"scenario_data": _copy("smoke", tmp_path / "smoke")})
    suites, notes = suites_in_use(settings)
    assert notes == []
    assert suites["neurips2023-open"] == ["phase comp/open"]
    report = check_scenario_data(settings, suites)
    missing = {p.path for p in report.problems}
    assert "gsm8k/test.jsonl" in missing
    assert missing == set(get_suite("neurips2023-open").data_files) - set(
        get_suite("smoke").data_files
    )
    assert "--suite smoke --suite neurips2023-open" in refusal(report, "podium up", settings)


def test_a_mirror_is_named_not_contacted(tmp_path: Path) -> None:
    # Nothing listens on port 9 here: a contact would fail the check, and it must not be made.
    mirror = "http://127.0.0.1:9/scenarios"
    settings = _offline_settings(tmp_path, scenario_data=None, scenario_mirror=mirror)
    report = check_scenario_data(settings, {"neurips2023-final-open": ["the default suite"]})
    assert report.ok
    assert any(mirror in note and "not contacted" in note for note in report.notes)


def test_upstream_needs_the_files_it_cannot_download_in_the_cache(tmp_path: Path) -> None:
    settings = _offline_settings(tmp_path, scenario_data=None)
    assert check_scenario_data(settings, {"smoke": ["the default suite"]}).ok
    report = check_scenario_data(settings, {"neurips2023-final-open": ["the default suite"]})
    kinds = {p.kind for p in report.problems}
    paths = {p.path for p in report.problems}
    assert kinds == {"not_upstream"}
    assert "big_bench/auto_debugging/task.json" in paths
    assert "bbq/data/Age.jsonl" in paths
    cache = settings.data_dir / "scenario-cache"
    assert f"--dest {cache}" in refusal(report, "podium up", settings)
    # Once `podium data fetch` (or a copy) has put them in the cache, the start goes ahead.
    _copy("neurips2023-final-open", cache)
    assert check_scenario_data(settings, {"neurips2023-final-open": ["x"]}).ok


def _run_podium(args: list[str], env: dict[str, str], timeout: float = 30) -> tuple[int, str, str]:
    """Run `podium ...` in its own process group; whatever is left of it is killed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"podium {args[0]} started instead of refusing:\n{err[-2000:]}")
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return proc.returncode, out, err


def _env(tmp_path: Path, data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PODIUM_")}
    env.update(
        PODIUM_DATA_DIR=str(tmp_path / "podium"),
        PODIUM_SCENARIO_DATA=str(data),
        PYTHONPATH=str(Path(__file__).resolve().parents[2]),
    )
    return env


def test_podium_worker_refuses_to_start_without_a_data_file(tmp_path: Path) -> None:
    data = _copy("smoke", tmp_path / "data", without=(ABSENT,))
    code, _, err = _run_podium(["worker", "--queues", "evaluate"], _env(tmp_path, data))
    assert code == 2, err
    assert "podium worker refuses to start" in err
    assert f"{ABSENT}: missing" in err
    assert f"podium data fetch --suite smoke --dest {data}" in err
    assert "celery@" not in err


def test_podium_up_refuses_to_start_without_a_data_file(tmp_path: Path) -> None:
    data = _copy("smoke", tmp_path / "data", without=(ABSENT,))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code, out, err = _run_podium(["up", "--port", str(port)], _env(tmp_path, data))
    assert code == 2, err
    assert "podium up refuses to start" in err
    assert f"{ABSENT}: missing" in err
    # Refused before the one-time admin token was made and shown.
    assert "Admin token" not in out


def test_a_conf_phase_has_its_files_checked(settings: Settings, tmp_path: Path) -> None:
    from app.competitions.config import CompetitionConfig
    from app.competitions.service import apply_competition
    from app.kit.db import session_scope

    conf = 'entries: [\n  {description: "gsm:max_eval_instances=3", priority: 1}\n]\n'
    config = CompetitionConfig.model_validate(
        {
            "slug": "helm",
            "tracks": [{"slug": "main"}],
            "phases": [{"slug": "open", "suite_conf": "mini.conf"}],
        }
    )
    with session_scope(settings.database_url) as session:
        apply_competition(session, config, {"mini.conf": conf})
    # Only the smoke suite's files: GSM8K's are missing.
    settings = settings.model_copy(update={"scenario_data": _copy("smoke", tmp_path / "smoke")})
    suites, notes = suites_in_use(settings)
    assert notes == []
    assert suites["conf:helm/open"] == ["phase helm/open"]
    report = check_scenario_data(settings, suites)
    assert not report.notes or all("unknown suite" not in n for n in report.notes)
    assert {p.path for p in report.problems} >= {"gsm8k/train.jsonl", "gsm8k/test.jsonl"}
