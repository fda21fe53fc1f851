"""The end-of-session check (tests/leaks.py) catches what a test run leaves behind.

The process check runs a nested pytest session whose one test starts an orphan the way the
SIGKILLed worker left its beat (a double fork, parent gone, PPID 1): the nested run must fail,
name the orphan and end it.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from tests import leaks
from tests.conftest import require

REPO = Path(__file__).resolve().parents[1]

ORPHAN_TEST = """
import os, subprocess, sys, time
from pathlib import Path

def test_starts_an_orphan(tmp_path):
    # The middle process exits at once: the sleeper is reparented, as the beat was.
    subprocess.run(
        [sys.executable, "-c",
         "import subprocess, sys; p = subprocess.Popen(['sleep', '300']); print(p.pid)"],
        check=True, stdout=open(os.environ["ORPHAN_PID_FILE"], "w"),
    )
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def _nested_pytest(tmp_path: Path, test_source: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_nested.py").write_text(textwrap.dedent(test_source))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider"]
        + ["--rootdir", str(tmp_path), "-q", str(tmp_path / "test_nested.py")],
        cwd=REPO,
        env=dict(os.environ, ORPHAN_PID_FILE=str(tmp_path / "orphan.pid")),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_session_that_leaves_an_orphan_fails_and_ends_it(tmp_path: Path) -> None:
    run = _nested_pytest(tmp_path, ORPHAN_TEST)
    orphan = int((tmp_path / "orphan.pid").read_text())
    try:
        assert run.returncode == 1, run.stdout + run.stderr
        assert "left these behind" in run.stdout and f"process {orphan}" in run.stdout, run.stdout
        assert "sleep 300" in run.stdout
        deadline = time.monotonic() + 5
        while _alive(orphan):
            assert time.monotonic() < deadline, "the check named the orphan but did not end it"
            time.sleep(0.05)
    finally:
        if _alive(orphan):
            os.kill(orphan, signal.SIGKILL)


def test_a_clean_session_passes_and_touches_no_foreign_process(tmp_path: Path) -> None:
    # A process of another session: started with a different marker, it must survive the check.
    foreign = subprocess.Popen(
        ["sleep", "300"], env=dict(os.environ, **{leaks.SESSION_MARK: uuid.uuid4().hex})
    )
    try:
        run = _nested_pytest(tmp_path, "def test_nothing():\n    pass\n")
        assert run.returncode == 0, run.stdout + run.stderr
        assert foreign.poll() is None, "the check ended a process of another session"
    finally:
        foreign.kill()
        foreign.wait()


def test_submission_images_of_this_session_are_found_and_removed(tmp_path: Path) -> None:
    docker = pytest.importorskip("docker")
    try:
        client = docker.from_env()
        client.ping()
    except Exception:
        require(False, "a Docker engine")
    ours, foreign = uuid.uuid4().hex, uuid.uuid4().hex
    (tmp_path / "test_x0" / "data" / "contexts" / ours).mkdir(parents=True)
    images = {}
    for sid in (ours, foreign):
        dockerfile = f"FROM scratch\nLABEL podium.submission={sid} podium.test=leaks\n"
        images[sid], _ = client.images.build(
            fileobj=io.BytesIO(dockerfile.encode()), tag=f"podium-test/leaks:{sid[:12]}", rm=True
        )
    try:
        ids = leaks.session_submission_ids(tmp_path)
        assert ids == {ours}
        removed = leaks.remove_submission_artifacts(ids)
        assert len(removed) == 1 and ours in removed[0]
        labelled = {
            i.labels.get("podium.submission")
            for i in client.images.list(filters={"label": "podium.test=leaks"})
        }
        assert ours not in labelled and foreign in labelled
    finally:
        for image in images.values():
            try:
                client.images.remove(str(image.id), force=True)
            except docker.errors.ImageNotFound:
                pass
        client.close()
