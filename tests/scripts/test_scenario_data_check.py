"""scripts/test stops before its slow steps when the scenario data is absent or incomplete, and
says how to get it.

The script runs from a copy of the checkout's layout in a temporary directory whose other
scripts are stand-ins that only record that they ran, so nothing is installed or started, and
whose `.venv` is the real one (the real `podium suites verify` checks the data).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from evaluator import get_suite
from tests.conftest import SCENARIO_DATA

REPO = Path(__file__).resolve().parents[2]
STEPS = ("bootstrap.sh", "ensure-services.sh", "build-base-images.sh", "ensure-browser.sh")


def _checkout(tmp_path: Path) -> Path:
    repo = tmp_path / "clone"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy2(REPO / "scripts" / "test", repo / "scripts" / "test")
    for step in STEPS:
        (repo / "scripts" / step).write_text(f'#!/bin/sh\ntouch "{tmp_path}/ran-{step}"\n')
    (repo / ".venv").symlink_to(REPO / ".venv")
    return repo


def _run(repo: Path, data: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PODIUM_SCENARIO_DATA"}
    if data is not None:
        env["PODIUM_SCENARIO_DATA"] = data
    return subprocess.run(
        ["bash", str(repo / "scripts" / "test")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _ran(tmp_path: Path) -> list[str]:
    return [step for step in STEPS if (tmp_path / f"ran-{step}").exists()]


def test_without_scenario_data_it_stops_before_installing(tmp_path: Path) -> None:
    repo = _checkout(tmp_path)
    unset = _run(repo, None)
    assert unset.returncode == 1
    assert "PODIUM_SCENARIO_DATA is unset" in unset.stderr
    assert "podium data fetch --dest" in unset.stderr
    absent = _run(repo, str(tmp_path / "nowhere"))
    assert absent.returncode == 1
    assert "is not a directory" in absent.stderr
    assert _ran(tmp_path) == []


def test_incomplete_scenario_data_is_named_before_the_slow_steps(tmp_path: Path) -> None:
    repo = _checkout(tmp_path)
    data = tmp_path / "data"
    smoke = sorted(get_suite("smoke").data_files)
    for relative in smoke[1:]:
        (data / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SCENARIO_DATA / relative, data / relative)
    result = _run(repo, str(data))
    assert result.returncode == 1
    assert f"MISSING  {smoke[0]}" in result.stderr
    assert f'podium data fetch --dest "{data}"' in result.stderr
    assert _ran(tmp_path) == ["bootstrap.sh"]
