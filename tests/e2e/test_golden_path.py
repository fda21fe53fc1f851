"""End to end: upload over HTTP -> Celery worker -> docker build -> sandboxed container ->
evaluation -> scores in PostgreSQL -> leaderboard. Nothing here is faked."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bridge_address import docker_bridge_address
from tests.conftest import SCENARIO_DATA
from tests.e2e.conftest import BASE_IMAGE, ML_IMAGE, REPO, Stack, docker_ready

pytestmark = [pytest.mark.e2e, pytest.mark.docker, pytest.mark.postgres, pytest.mark.redis]

SERVER = Path(__file__).parent / "submissions" / "server.py"


def mmlu_rows() -> Iterator[list[str]]:
    """Every evaluable MMLU row: HELM evaluates the valid and test splits (dev holds the shots)."""
    for split in ("val", "test"):
        for path in sorted((SCENARIO_DATA / "mmlu" / "data" / split).glob(f"*_{split}.csv")):
            with path.open(newline="", encoding="utf-8") as f:
                yield from csv.reader(f)


def mmlu_test_subjects() -> dict[str, str]:
    """Question key -> subject, for the test split: HELM's main split, the one MMLU scores on."""
    subjects: dict[str, str] = {}
    for path in sorted((SCENARIO_DATA / "mmlu" / "data" / "test").glob("*_test.csv")):
        with path.open(newline="", encoding="utf-8") as f:
            for row in csv.reader(f):
                subjects[question_key(row)] = path.name.removesuffix("_test.csv")
    return subjects


def question_key(row: list[str]) -> str:
    # Mirrors server.question_key: the question and its first choice, as the prompt shows them.
    return f"{row[0]}\nA. {row[1]}"


def context_tar(
    cmd: list[str], extra: dict[str, bytes] | None = None, dockerfile: str = ""
) -> bytes:
    files = {"server.py": SERVER.read_bytes(), "answers.json": b"{}", **(extra or {})}
    dockerfile = dockerfile or (
        f"FROM {BASE_IMAGE}\nCOPY . /app\nCMD {json.dumps(['python3', '/app/server.py', *cmd])}\n"
    )
    files["Dockerfile"] = dockerfile.encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def asked_keys(container_log: str) -> set[str]:
    return {
        json.loads(line[6:]) for line in container_log.splitlines() if line.startswith("ASKED ")
    }


def test_answer_key_submission_scores_one(stack: Stack) -> None:
    key = {question_key(row): row[5] for row in mmlu_rows()}
    context = context_tar(["answer_key"], {"answers.json": json.dumps(key).encode()})
    resp = stack.submit("answer-key", context, name="answer key")
    assert resp.status_code == 201, resp.text
    assert resp.json()["status"] == "queued"
    final = stack.wait("answer-key", resp.json()["id"])
    assert final["status"] == "scored", (final["failure_reason"], final["failure_message"])
    assert final["scores"] == {"mmlu": 1.0}
    assert final["overall"] == 1.0
    assert final["progress"]["done"] == final["progress"]["total"] > 0
    evaluation = final["evaluation"]
    assert evaluation["suite"] == "smoke" and len(evaluation["suite_hash"]) == 64
    assert evaluation["image_id"].startswith("sha256:")


def test_always_a_scores_the_share_of_gold_a(stack: Stack) -> None:
    resp = stack.submit("always-a", context_tar(["always", " A"]))
    final = stack.wait("always-a", resp.json()["id"])
    assert final["status"] == "scored", (final["failure_reason"], final["failure_message"])
    asked = asked_keys(stack.logs("always-a", final["id"])["container_log"])
    gold = {question_key(row): row[5] for row in mmlu_rows()}
    assert asked and asked <= gold.keys()
    # The score is the mean over subjects of the share of gold A among the test-split rows
    # asked (valid rows are asked too, as HELM does, but not scored).
    per_subject: dict[str, list[bool]] = {}
    test_subjects = mmlu_test_subjects()
    for key in asked:
        if key in test_subjects:
            per_subject.setdefault(test_subjects[key], []).append(gold[key] == "A")
    shares = [sum(hits) / len(hits) for hits in per_subject.values()]
    share_a = sum(shares) / len(shares)
    assert 0 < share_a < 1  # the selection has both kinds, or this test proves little
    assert final["scores"]["mmlu"] == pytest.approx(share_a)


def test_leaderboard_ranks_the_best_first(stack: Stack) -> None:
    entries = __import__("httpx").get(f"{stack.url}/api/v1/leaderboard").json()["entries"]
    by_team = {e["team"]: e for e in entries}
    if "answer-key" in by_team and "always-a" in by_team:
        assert by_team["answer-key"]["rank"] < by_team["always-a"]["rank"]
    assert [e["rank"] for e in entries] == sorted(e["rank"] for e in entries)
    assert entries, "earlier tests scored submissions; the board cannot be empty"


def test_failing_dockerfile_is_build_failed_with_log(stack: Stack) -> None:
    dockerfile = f"FROM {BASE_IMAGE}\nRUN echo building-step && exit 7\n"
    resp = stack.submit("broken", context_tar([], dockerfile=dockerfile))
    final = stack.wait("broken", resp.json()["id"])
    assert final["status"] == "failed"
    assert final["failure_reason"] == "build_failed"
    assert final["failure_message"]
    assert "building-step" in stack.logs("broken", final["id"])["build_log"]


def test_server_that_exits_is_crashed_with_its_output(stack: Stack) -> None:
    resp = stack.submit("crasher", context_tar(["crash"]))
    final = stack.wait("crasher", resp.json()["id"])
    assert final["status"] == "failed"
    assert final["failure_reason"] in ("crashed", "start_timeout")
    assert "exit code 3" in final["failure_message"]
    assert "out of luck" in stack.logs("crasher", final["id"])["container_log"]


class Listener:
    """A TCP listener on this host that records whether anything connected."""

    def __init__(self, host: str) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen()
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
                self.connections += 1
                conn.close()
            except OSError:
                continue

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


def bridge_gateways() -> list[str]:
    import docker

    client = docker.from_env()
    try:
        return [docker_bridge_address(client, BASE_IMAGE, {"podium.test": "e2e-bridge"})]
    finally:
        client.close()


def test_container_cannot_reach_the_host(stack: Stack) -> None:
    gateways = bridge_gateways()
    assert gateways, "the docker bridge has no gateway address to probe"
    any_listener = Listener("0.0.0.0")
    bridge_listeners = [Listener(g) for g in gateways]
    try:
        targets = [(g, any_listener.port) for g in gateways]
        targets += [(lst.sock.getsockname()[0], lst.port) for lst in bridge_listeners]
        targets += [("127.0.0.1", any_listener.port)]  # the container's own loopback
        context = context_tar(["probe"], {"probe.json": json.dumps(targets).encode()})
        resp = stack.submit("prober", context)
        final = stack.wait("prober", resp.json()["id"])
        log = stack.logs("prober", final["id"])["container_log"]
    finally:
        any_listener.close()
        for lst in bridge_listeners:
            lst.close()
    probes = re.findall(r"^PROBE (\S+) (CONNECTED|blocked)", log, flags=re.M)
    assert len(probes) == len(targets), log
    assert all(outcome == "blocked" for _, outcome in probes), log
    assert any_listener.connections == 0
    assert all(lst.connections == 0 for lst in bridge_listeners)
    assert final["status"] == "scored"  # the worker's own connections still work


def test_traversal_upload_is_refused_and_nothing_queued(stack: Stack) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in {"Dockerfile": b"FROM scratch\n", "../../escape": b"x"}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    resp = stack.submit("sneaky", buf.getvalue())
    assert resp.status_code == 422
    assert "'..'" in resp.json()["detail"]
    listing = (
        __import__("httpx")
        .get(f"{stack.url}/api/v1/submissions", headers=stack.team("sneaky"))
        .json()
    )
    assert listing["items"] == []
    assert not (stack.data_dir.parent / "escape").exists()
    staging = stack.data_dir / "staging"
    assert not staging.exists() or not any(staging.iterdir())


def _ml_image_ready() -> bool:
    try:
        import docker

        docker.from_env().images.get(ML_IMAGE)
        return True
    except Exception:
        return False


@pytest.mark.model
def test_reference_transformers_submission_is_scored(stack: Stack, tmp_path: Path) -> None:
    from tests.conftest import require

    require(docker_ready() and _ml_image_ready(), f"the local image {ML_IMAGE}")
    model_dir = tmp_path / "model"
    subprocess.run(
        [sys.executable, "-m", "examples.make_tiny_model", str(model_dir)], check=True, cwd=REPO
    )
    weights = io.BytesIO()
    with tarfile.open(fileobj=weights, mode="w:gz") as tar:
        tar.add(model_dir, arcname=".")
    context_dir = tmp_path / "context"
    shutil.copytree(REPO / "examples" / "submissions" / "transformers", context_dir)
    dockerfile = context_dir / "Dockerfile"
    dockerfile.write_text(
        re.sub(
            r"^ARG BASE_IMAGE=.*$", f"ARG BASE_IMAGE={ML_IMAGE}", dockerfile.read_text(), flags=re.M
        )
    )
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w:gz") as tar:
        tar.add(context_dir, arcname=".")
    resp = stack.submit("reference", context.getvalue(), weights.getvalue())
    assert resp.status_code == 201, resp.text
    final = stack.wait("reference", resp.json()["id"], timeout_s=900)
    assert final["status"] == "scored", (final, stack.logs("reference", final["id"]))
    assert 0.0 <= final["scores"]["mmlu"] <= 1.0
    assert final["evaluation"]["weights_sha256"]
