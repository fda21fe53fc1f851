"""One attack per boundary of README's "Security" table, mounted against the two ways Podium is
run: `podium up` (SQLite, filesystem queue, embedded worker) and the production shape (API
process, separate Celery worker on Redis, PostgreSQL), both on the real Docker engine.

The unit-level proofs live in tests/security/ (each boundary in depth); these show that the same
holes stay shut once the parts are assembled and served for real. Each target is started once for
the module, with a competition applied through the running server's admin API: phase `open`
(failed_per_day = 1, so a team's own defect visibly costs quota) and phase `hidden` (the smoke
suite's only scenario, mmlu, hidden). The production target is its own stack, not the session's
shared one, because applying a competition changes where every later submission goes.
"""

from __future__ import annotations

import gzip
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest

from tests.e2e.conftest import BASE_IMAGE, Stack, running_stack
from tests.e2e.test_golden_path import Listener, context_tar
from tests.e2e.test_podium_up import Embedded
from tests.helpers import make_tar
from tests.leaks import remove_submission_artifacts
from tests.security.test_archive_extraction import CANARY, cve_2025_4517
from tests.security.test_body_limits import EARLY, RSS_GROWTH_LIMIT, Server, _head, _push

pytestmark = [pytest.mark.e2e, pytest.mark.docker, pytest.mark.postgres, pytest.mark.redis]

REDIS_URL = os.environ.get("PODIUM_TEST_REDIS_ATTACKS_URL", "redis://127.0.0.1:6379/11")
COMPETITION = """
slug = "attacks"
[[tracks]]
slug = "main"

[[phases]]
slug = "open"
suite = "smoke"
[phases.quotas]
failed_per_day = 1

[[phases]]
slug = "hidden"
suite = "smoke"
hidden_scenarios = ["mmlu"]
"""
#: Limits low enough for a test to cross them: a build's process limit and a team's storage.
LIMITS = {"PODIUM_BUILD_PIDS_LIMIT": "200", "PODIUM_TEAM_STORAGE_QUOTA_BYTES": str(8 * 1024 * 1024)}
# staging/<owner>-<random>/context: four levels of `..` from it reach the data directory's parent.
ROUTE_UPS = 4
MB = 1024 * 1024


@dataclass
class Target:
    kind: str
    stack: Stack
    api_pid: int

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.stack.admin_token}"}


def _api_pid(port: int) -> int:
    """The process serving `port`: the one whose command line says `--port <port>`."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        serves = b"uvicorn" in argv or b"up" in argv or b"serve" in argv
        if serves and b"--port" in argv and str(port).encode() in argv:
            return int(proc.name)
    raise AssertionError(f"no process serves port {port}")


def _apply_competition(stack: Stack) -> None:
    path = stack.data_dir.parent / "competition.toml"
    path.write_text(COMPETITION)
    out = stack.podium(
        "admin", "apply", str(path), "--server", stack.url, "--token", stack.admin_token
    )
    assert "attacks" in out, out


@pytest.fixture(scope="module", params=["podium-up", "production"])
def target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    root = tmp_path_factory.mktemp(f"attacks-{request.param}")
    if request.param == "podium-up":
        yield from _podium_up(root)
    else:
        with running_stack(root / "data", REDIS_URL, extra_env=LIMITS) as stack:
            _apply_competition(stack)
            yield Target("production", stack, _api_pid(int(stack.url.rsplit(":", 1)[1])))


def _podium_up(root: Path) -> Iterator[Target]:
    embedded = Embedded(root)
    embedded.env.update(LIMITS)
    try:
        with embedded.up() as started:
            lines = started.splitlines()
            marker = "Admin token (shown once, keep it):"
            assert marker in lines, started
            env = dict(embedded.env, PODIUM_DATA_DIR=str(embedded.data_dir))
            stack = Stack(embedded.url, env, embedded.data_dir, lines[lines.index(marker) + 1], {})
            _apply_competition(stack)
            yield Target("podium-up", stack, _api_pid(embedded.port))
    finally:
        # After the server (and its worker) stopped: nothing is still running on these images.
        remove_submission_artifacts({p.name for p in embedded.data_dir.glob("contexts/*")})


@pytest.fixture(scope="module")
def victim(target: Target) -> dict[str, Any]:
    """A team's scored submission in the hidden phase, from a server that prints every prompt it
    is asked (`ASKED <question>`), and whose image another team will try to build on."""
    resp = target.stack.submit("victim", context_tar(["always", " A"]), phase="hidden")
    assert resp.status_code == 201, resp.text
    assert resp.json()["phase"] == "hidden"
    final = target.stack.wait("victim", resp.json()["id"])
    assert final["status"] == "scored", (final["failure_reason"], final["failure_message"])
    return final


def _submissions(target: Target, team: str) -> list[dict[str, Any]]:
    resp = httpx.get(f"{target.stack.url}/api/v1/submissions", headers=target.stack.team(team))
    resp.raise_for_status()
    return list(resp.json()["items"])


def _staging_left(target: Target) -> list[Path]:
    staging = target.stack.data_dir / "staging"
    # staging/<owner>.lock is the API process's own liveness lock, not an upload.
    return [p for p in staging.rglob("*") if p.parent != staging or p.suffix != ".lock"]


# -- archive extraction ---------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["context", "weights"])
def test_path_max_symlink_chain_upload_is_refused_naming_the_entry(
    target: Target, field: str
) -> None:
    stack = target.stack
    outside = stack.data_dir.parent / "outside"
    outside.mkdir(exist_ok=True)
    (outside / "canary.txt").write_bytes(CANARY)
    # Sized to the real staging path, as the public proof of concept is.
    evil = gzip.compress(
        cve_2025_4517(ROUTE_UPS, "outside", dest_len=len(str(stack.data_dir)) + 85)
    )
    team = f"archer-{field}"
    if field == "context":
        resp = stack.submit(team, evil)
    else:
        resp = stack.submit(team, context_tar(["always", " A"]), weights=evil)
    assert 400 <= resp.status_code < 500, resp.text
    detail = resp.json()["detail"]
    assert detail.startswith(f"{field}: ") and "'dddd" in detail, detail
    assert (outside / "canary.txt").read_bytes() == CANARY
    assert sorted(p.name for p in outside.iterdir()) == ["canary.txt"]
    assert _submissions(target, team) == []
    assert _staging_left(target) == []


# -- Dockerfile policy ----------------------------------------------------------------------------


def _victim_image(victim: dict[str, Any]) -> tuple[str, str]:
    client = docker.from_env()
    try:
        images = client.images.list(filters={"label": f"podium.submission={victim['id']}"})
    finally:
        client.close()
    assert images, "the victim's image is gone; the attack below would prove nothing"
    return str(images[0].tags[0]), str(images[0].id)


def test_building_on_or_copying_from_another_teams_image_is_refused(
    target: Target, victim: dict[str, Any]
) -> None:
    tag, image_id = _victim_image(victim)
    cmd = 'CMD ["python3", "/app/server.py", "always", " A"]\n'
    attacks = {
        f"FROM {tag}\n{cmd}": f"Dockerfile line 1: FROM {tag}",
        f"FROM {image_id}\n{cmd}": "Dockerfile line 1: FROM sha256:",
        f"FROM {BASE_IMAGE}\nCOPY --from={tag} /app /app\n{cmd}": (
            f"Dockerfile line 2: COPY --from={tag}"
        ),
    }
    for dockerfile, where in attacks.items():
        resp = target.stack.submit("thief", context_tar([], dockerfile=dockerfile))
        assert resp.status_code == 422, (dockerfile, resp.text)
        detail = resp.json()["detail"]
        assert where in detail, detail
        assert BASE_IMAGE in detail.split("allows:", 1)[1], detail  # names the allowed bases
    assert _submissions(target, "thief") == []


def test_remote_add_is_refused_and_the_host_listener_sees_nothing(target: Target) -> None:
    listener = Listener("0.0.0.0")
    try:
        dockerfile = (
            f"FROM {BASE_IMAGE}\nADD http://127.0.0.1:{listener.port}/secret /secret\n"
            'CMD ["python3", "-m", "http.server", "80"]\n'
        )
        resp = target.stack.submit("fetcher", context_tar([], dockerfile=dockerfile))
        assert resp.status_code == 422, resp.text
        detail = resp.json()["detail"]
        assert detail.startswith(f"Dockerfile line 2: ADD http://127.0.0.1:{listener.port}"), detail
        assert _submissions(target, "fetcher") == []  # so no worker will ever build it
        time.sleep(1)
        assert listener.connections == 0
    finally:
        listener.close()


# -- request bodies -------------------------------------------------------------------------------


def test_unauthenticated_50_mb_json_body_is_refused_before_it_is_read(target: Target) -> None:
    server = Server(int(target.stack.url.rsplit(":", 1)[1]), target.api_pid, "", "")
    before = server.rss()
    head = _head("POST", "/api/v1/uploads", "application/json", 50 * MB, "")
    outcome = _push(server, head, 50 * MB)
    assert outcome.status == 401 and b"missing bearer token" in outcome.body, outcome
    assert outcome.sent < EARLY, f"the server read {outcome.sent} bytes before answering"
    assert server.rss() - before < RSS_GROWTH_LIMIT
    assert server.healthz_seconds() < 2


# -- hidden scenarios -----------------------------------------------------------------------------


def test_a_server_printing_its_prompts_shows_the_team_none_of_them(
    target: Target, victim: dict[str, Any]
) -> None:
    team_logs = target.stack.logs("victim", victim["id"])["container_log"]
    organizer_logs = httpx.get(
        f"{target.stack.url}/api/v1/submissions/{victim['id']}/logs", headers=target.admin
    ).json()["container_log"]
    assert "ASKED " in organizer_logs  # the server did print the hidden prompts
    assert "serving mode=always on :80" in team_logs  # the team sees its start-up
    assert "ASKED " not in team_logs, team_logs[-2000:]
    asked = [line for line in organizer_logs.splitlines() if line.startswith("ASKED ")]
    assert not any(json.loads(line[6:]) in team_logs for line in asked)
    # The hidden scenario's name is for organizers only.
    for headers in ({}, target.stack.team("victim")):
        listing = httpx.get(f"{target.stack.url}/api/v1/competitions", headers=headers).json()
        (phase,) = [p for c in listing["items"] for p in c["phases"] if p["slug"] == "hidden"]
        assert phase["hidden_scenarios"] == [] and phase["hidden_scenario_count"] == 1
    listing = httpx.get(f"{target.stack.url}/api/v1/competitions", headers=target.admin).json()
    (phase,) = [p for c in listing["items"] for p in c["phases"] if p["slug"] == "hidden"]
    assert phase["hidden_scenarios"] == ["mmlu"]


# -- model server answers and whose fault ---------------------------------------------------------


def test_a_garbage_answer_is_a_protocol_error_naming_the_limit(target: Target) -> None:
    resp = target.stack.submit("garbage", context_tar(["always", "A" * 5000]))
    assert resp.status_code == 201, resp.text
    final = target.stack.wait("garbage", resp.json()["id"])
    assert final["status"] == "failed" and final["failure_reason"] == "protocol_error", final
    assert (
        "the answer's text had 5000 characters; at most 4096 are allowed"
        in (final["failure_message"])
    )


def test_an_image_with_a_file_at_weights_is_crashed_and_counted(target: Target) -> None:
    dockerfile = (
        f"FROM {BASE_IMAGE}\nCOPY . /app\nRUN echo baked in > /weights\n"
        'CMD ["python3", "/app/server.py", "always", " A"]\n'
    )
    weights = make_tar({"model.bin": b"\0" * 16})
    resp = target.stack.submit("baked", context_tar([], dockerfile=dockerfile), weights=weights)
    assert resp.status_code == 201, resp.text
    final = target.stack.wait("baked", resp.json()["id"])
    assert final["status"] == "failed" and final["failure_reason"] == "crashed", final
    assert "your image has a file at /weights" in final["failure_message"]
    assert "not your submission's fault" not in final["failure_message"]
    # The team's own defect costs its quota (phase `open`: failed_per_day = 1).
    again = target.stack.submit("baked", context_tar(["always", " A"]))
    assert again.status_code == 429, again.text
    assert "failed per day" in again.json()["detail"]


# -- build limits ---------------------------------------------------------------------------------


def test_a_fork_loop_in_a_build_step_hits_the_process_limit(target: Target) -> None:
    dockerfile = (
        f"FROM {BASE_IMAGE}\n"
        'RUN for i in $(seq 1 2000); do sleep 20 & done; echo "all 2000 started"\n'
    )
    resp = target.stack.submit("forker", context_tar([], dockerfile=dockerfile))
    assert resp.status_code == 201, resp.text
    final = target.stack.wait("forker", resp.json()["id"])
    assert final["status"] == "failed" and final["failure_reason"] == "build_failed", final
    assert "hit its process limit of 200 processes" in final["failure_message"]


# -- disk -----------------------------------------------------------------------------------------


def test_a_team_past_its_storage_quota_is_refused_with_413(target: Target) -> None:
    resp = httpx.post(
        f"{target.stack.url}/api/v1/uploads",
        headers=target.stack.team("hoarder"),
        json={"filename": "model.safetensors", "size": 9 * MB},
    )
    assert resp.status_code == 413, resp.text
    assert "quota" in resp.json()["detail"]
