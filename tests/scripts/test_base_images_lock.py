"""scripts/build-base-images.sh run twice at once (two test runs on one engine).

Once, one run deleted the base image another was building on. Full rebuilds take minutes, so the
locking is tested with a stand-in `docker` on PATH (tests/scripts/fake_docker.py) that records
when each build starts and ends, while a reader keeps asking for the image; and the real script
runs twice at once on the real engine on its quick path (image present).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.conftest import require

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "build-base-images.sh"
FAKE_DOCKER = Path(__file__).with_name("fake_docker.py")
PY_IMAGE = "podium-test/python:bookworm"
OLD_ID = "sha256:" + "0" * 64


def _fake_engine(tmp_path: Path, images: dict[str, str], tags: dict[str, str]) -> dict[str, str]:
    """Environment for the script: the fake docker first on PATH, a cache dir whose rootfs
    tarball is already there (so no debootstrap)."""
    require(shutil.which("flock") is not None, "flock (util-linux)")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_DOCKER}" "$@"\n')
    (bin_dir / "docker").chmod(0o755)
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "rootfs-python-bookworm.tar").write_bytes(b"not empty")
    state = tmp_path / "docker.json"
    state.write_text(
        json.dumps({"images": {i: {"parent": p} for i, p in images.items()}, "tags": tags})
    )
    return dict(
        os.environ,
        PATH=f"{bin_dir}:{os.environ['PATH']}",
        PODIUM_CACHE_DIR=str(cache),
        FAKE_DOCKER_STATE=str(state),
        FAKE_DOCKER_BUILD_S="1.0",
    )


def _run(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["bash", str(SCRIPT), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _events(env: dict[str, str]) -> list[list[str]]:
    path = Path(env["FAKE_DOCKER_STATE"]).with_suffix(".events")
    return [line.split()[2:] for line in path.read_text().splitlines()]


def _state(env: dict[str, str]) -> dict[str, dict[str, object]]:
    return dict(json.loads(Path(env["FAKE_DOCKER_STATE"]).read_text()))


def test_two_rebuilds_at_once_take_turns_and_the_image_never_goes_missing(
    tmp_path: Path,
) -> None:
    env = _fake_engine(tmp_path, {OLD_ID: ""}, {PY_IMAGE: OLD_ID})
    misses: list[int] = []
    stop = threading.Event()

    def reader() -> None:  # a test run asking for the base image the whole time
        while not stop.is_set():
            probe = subprocess.run(
                [sys.executable, str(FAKE_DOCKER), "image", "inspect", PY_IMAGE],
                env=env,
                capture_output=True,
            )
            if probe.returncode != 0:
                misses.append(probe.returncode)

    watcher = threading.Thread(target=reader)
    watcher.start()
    try:
        runs = [_run(env, "--python-only", "--force") for _ in range(2)]
        outputs = [run.communicate(timeout=120)[0] for run in runs]
    finally:
        stop.set()
        watcher.join()

    assert [run.returncode for run in runs] == [0, 0], outputs
    assert any("waiting for it to finish" in out for out in outputs), outputs
    builds = [e for e in _events(env) if e[0] in ("begin-build", "end-build")]
    assert [e[0] for e in builds] == ["begin-build", "end-build"] * 2, builds
    # Built under a temporary tag, never straight into the one readers use.
    assert all(e[1] != PY_IMAGE and e[1].startswith(f"{PY_IMAGE}-building-") for e in builds)
    assert misses == []
    state = _state(env)
    # Each run removed the image it replaced; no temporary tag is left.
    assert list(state["tags"]) == [PY_IMAGE]
    assert list(state["images"]) == [state["tags"][PY_IMAGE]]


def test_a_replaced_image_that_another_image_builds_on_is_kept(tmp_path: Path) -> None:
    ml_id = "sha256:" + "1" * 64
    env = _fake_engine(
        tmp_path,
        {OLD_ID: "", ml_id: OLD_ID},  # the ml image sits on the old python image
        {PY_IMAGE: OLD_ID, "podium-test/ml:bookworm": ml_id},
    )
    run = _run(env, "--python-only", "--force")
    out = run.communicate(timeout=60)[0]
    assert run.returncode == 0, out
    assert "keeping the previous" in out, out
    state = _state(env)
    assert OLD_ID in state["images"] and ml_id in state["images"]
    assert state["tags"][PY_IMAGE] != OLD_ID


def test_a_failed_check_leaves_the_previous_image_and_no_temporary_tag(tmp_path: Path) -> None:
    env = _fake_engine(tmp_path, {OLD_ID: ""}, {PY_IMAGE: OLD_ID})
    # `docker run` of the new image fails: the script must not have published it.
    bin_docker = tmp_path / "bin" / "docker"
    bin_docker.write_text(
        f'#!/bin/sh\n[ "$1" = run ] && exit 1\nexec "{sys.executable}" "{FAKE_DOCKER}" "$@"\n'
    )
    run = _run(env, "--python-only", "--force")
    out = run.communicate(timeout=60)[0]
    assert run.returncode == 1, out
    assert "does not run python3" in out
    state = _state(env)
    assert state["tags"] == {PY_IMAGE: OLD_ID}


@pytest.mark.docker
def test_two_quick_runs_at_once_on_the_real_engine_both_succeed() -> None:
    """The way two `scripts/test` start at once: both find the image and go on. They share the
    real cache dir's lock, so this also waits out a rebuild that is under way."""
    try:
        present = subprocess.run(["docker", "image", "inspect", PY_IMAGE], capture_output=True)
    except FileNotFoundError:
        present = None
    require(present is not None and present.returncode == 0, f"a Docker engine with {PY_IMAGE}")
    runs = [_run(dict(os.environ), "--python-only") for _ in range(2)]
    outputs = [run.communicate(timeout=900)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert all(f"{PY_IMAGE} present, reusing" in out for out in outputs), outputs
    after = subprocess.run(["docker", "image", "inspect", PY_IMAGE], capture_output=True)
    assert after.returncode == 0
