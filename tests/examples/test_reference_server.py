"""The reference submission (examples/submissions/transformers) against a real tiny model.

The tiny GPT-2 is made by examples/make_tiny_model.py (run as `python -m examples.make_tiny_model`),
server.py runs on the host as a subprocess on a free 127.0.0.1 port, and the docker test builds
the submission's Dockerfile without network on the local base image podium-test/ml:bookworm
(scripts/build-base-images.sh) and runs it the way Podium's sandbox does: read-only root, tmpfs
/tmp, no network, no capabilities, weights mounted read-only.

Missing torch/transformers, Docker or the base image make these tests fail when CI is set, and
skip with the reason elsewhere.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require

pytestmark = pytest.mark.model

REPO = Path(__file__).resolve().parents[2]
SUBMISSION = REPO / "examples" / "submissions" / "transformers"
BASE_IMAGE = os.environ.get("PODIUM_TEST_ML_IMAGE", "podium-test/ml:bookworm")
START_TIMEOUT = 120.0
GREEDY = 1e-7  # what HELM sends for temperature 0


def _has_model_packages() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("torch", "transformers"))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def post(base: str, path: str, payload: Any = None, raw: bytes | None = None) -> tuple[int, Any]:
    data = raw if raw is not None else json.dumps(payload).encode()
    req = urllib.request.Request(
        base + path, data=data, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def process(base: str, prompt: str, **fields: Any) -> dict[str, Any]:
    body = {
        "prompt": prompt,
        "temperature": GREEDY,
        "num_return_sequences": 1,
        "max_new_tokens": 20,
        "top_p": 1.0,
        "echo_prompt": False,
        "top_k_per_token": 1,
        "stop_sequences": [],
    }
    body.update(fields)
    status, result = post(base, "/process", body)
    assert status == 200, result
    return result


# ---------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require(_has_model_packages(), "torch + transformers (the `model` extra)")
    out = tmp_path_factory.mktemp("tiny-model")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "examples.make_tiny_model", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (out / "config.json").is_file() and (out / "model.safetensors").is_file()
    return out


@pytest.fixture(scope="module")
def server(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    log_path = tmp_path_factory.mktemp("server-log") / "server.log"
    env = {
        **os.environ,
        "PODIUM_WEIGHTS_DIR": str(tiny_model),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "PODIUM_BACKEND": "transformers",
        "HF_HUB_OFFLINE": "1",
    }
    base = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, str(SUBMISSION / "server.py")], env=env, stdout=log, stderr=log
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"server.py exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}"
                )
            try:
                status, _ = post(base, "/tokenize", {"text": "a"})
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"server.py did not answer in {START_TIMEOUT}s:\n{log_path.read_text()[-3000:]}"
                )
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---------------------------------------------------------------------------- host server
def test_make_tiny_model_checkpoint(tiny_model: Path) -> None:
    config = json.loads((tiny_model / "config.json").read_text())
    assert config["model_type"] == "gpt2"
    assert (config["n_layer"], config["n_embd"], config["n_head"], config["n_positions"]) == (
        2,
        64,
        2,
        2048,
    )
    tok_config = json.loads((tiny_model / "tokenizer_config.json").read_text())
    assert tok_config["tokenizer_class"] == "ByT5Tokenizer"
    assert config["vocab_size"] == 384  # 256 bytes + 3 specials + 125 extra ids = len(tokenizer)


def test_tokenize_returns_ints(server: str) -> None:
    status, result = post(server, "/tokenize", {"text": "Hello world", "truncation": False})
    assert status == 200, result
    tokens = result["tokens"]
    assert tokens and all(isinstance(t, int) and not isinstance(t, bool) for t in tokens)
    # ByT5: one token per UTF-8 byte (byte + 3), and no EOS appended to what is tokenized.
    assert tokens == [b + 3 for b in b"Hello world"]
    assert isinstance(result["request_time"], float)


def test_tokenize_truncation(server: str) -> None:
    status, result = post(
        server, "/tokenize", {"text": "Hello world", "truncation": True, "max_length": 4}
    )
    assert status == 200
    assert len(result["tokens"]) == 4


def test_decode_round_trips_tokenize(server: str) -> None:
    text = "Round trip: ünïcödé, digits 12345 and newlines\n!"
    _, tokenized = post(server, "/tokenize", {"text": text, "truncation": False})
    status, decoded = post(server, "/decode", {"tokens": tokenized["tokens"]})
    assert status == 200, decoded
    assert decoded["text"] == text
    assert isinstance(decoded["request_time"], float)


def test_greedy_is_deterministic(server: str) -> None:
    first = process(server, "The capital of France is")
    second = process(server, "The capital of France is")
    assert first["text"] == second["text"]
    assert [t["logprob"] for t in first["tokens"]] == [t["logprob"] for t in second["tokens"]]
    assert len(first["text"]) > 5  # the tiny model babbles printable text, not one repeated byte
    assert process(server, "Another prompt entirely")["text"] != first["text"]


def test_tokens_carry_logprobs(server: str) -> None:
    result = process(server, "Question: 2+2=?\nAnswer:", max_new_tokens=8, top_k_per_token=3)
    tokens = result["tokens"]
    assert len(tokens) == 8
    assert "".join(t["text"] for t in tokens) == result["text"]
    for t in tokens:
        assert isinstance(t["text"], str)
        assert isinstance(t["logprob"], float) and t["logprob"] <= 0.0
        top = t["top_logprob"]
        assert 1 <= len(top) <= 3 and all(isinstance(v, float) for v in top.values())
        # Greedy: the chosen token is the most likely one.
        assert t["logprob"] == pytest.approx(max(top.values()))
        assert top.get(t["text"]) == pytest.approx(t["logprob"])
    assert result["logprob"] == pytest.approx(sum(t["logprob"] for t in tokens))
    assert isinstance(result["request_time"], float) and result["request_time"] >= 0


@pytest.mark.parametrize("n", [1, 3, 12])
def test_max_new_tokens_respected(server: str, n: int) -> None:
    result = process(server, "Count with me:", max_new_tokens=n)
    assert 1 <= len(result["tokens"]) <= n


def test_stop_sequences_cut_output(server: str) -> None:
    full = process(server, "Once upon a time", max_new_tokens=30)["text"]
    stop = full[10:12]
    expected = full[: full.find(stop)]
    cut = process(server, "Once upon a time", max_new_tokens=30, stop_sequences=[stop, "\x00none"])
    assert cut["text"] == expected
    assert stop not in cut["text"]
    assert "".join(t["text"] for t in cut["tokens"]) == expected  # tokens cut too
    assert cut["logprob"] == pytest.approx(sum(t["logprob"] for t in cut["tokens"]))


def test_echo_prompt(server: str) -> None:
    prompt = "Echo this prompt:"
    plain = process(server, prompt, max_new_tokens=5)
    echoed = process(server, prompt, max_new_tokens=5, echo_prompt=True)
    assert echoed["text"] == prompt + plain["text"]
    assert len(echoed["tokens"]) == len(prompt.encode()) + len(plain["tokens"])
    assert "".join(t["text"] for t in echoed["tokens"]) == echoed["text"]
    # Prompt tokens are scored too (the first has no context): what language-modeling runs need.
    assert echoed["tokens"][0]["logprob"] == 0.0
    assert all(t["logprob"] < 0 for t in echoed["tokens"][1:])
    only_prompt = process(server, prompt, max_new_tokens=0, echo_prompt=True)
    assert only_prompt["text"] == prompt
    assert len(only_prompt["tokens"]) == len(prompt.encode())


def test_challenge_schema_fields_and_seeded_sampling(server: str) -> None:
    body = {"prompt": "Sample:", "num_samples": 1, "top_k": 20, "temperature": 0.9, "seed": 7}
    a = process(server, **body)
    b = process(server, **body)
    assert a["text"] == b["text"]  # same seed, same sample
    assert len(a["tokens"]) == 20


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"temperature": 0}', "prompt"),
        (b'{"prompt": "x", "max_new_tokens": "ten"}', "max_new_tokens"),
        (b'{"prompt": "x", "stop_sequences": "."}', "stop_sequences"),
        (b'{"prompt": "x", "top_p": 0}', "top_p"),
    ],
)
def test_bad_requests_get_400_with_a_message(server: str, raw: bytes, fragment: str) -> None:
    status, result = post(server, "/process", raw=raw)
    assert status == 400
    assert fragment in result["error"]


def test_bad_tokenize_and_decode_requests(server: str) -> None:
    assert post(server, "/tokenize", raw=b"nope")[0] == 400
    assert post(server, "/tokenize", {"txt": "a"})[0] == 400
    assert post(server, "/decode", {"tokens": ["a"]})[0] == 400
    assert post(server, "/nothing-here", {"text": "a"})[0] == 404


def test_concurrent_requests_are_serialized(server: str) -> None:
    results: list[tuple[int, Any]] = []

    def call() -> None:
        results.append(post(server, "/process", {"prompt": "Concurrent", "temperature": 0}))

    threads = [threading.Thread(target=call) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(results) == 6
    assert all(status == 200 for status, _ in results)
    assert len({r["text"] for _, r in results}) == 1


# --------------------------------------------------------------------------------- docker
def _docker(
    *args: str, timeout: float = 120, check: bool = True
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        pytest.fail(
            f"docker {' '.join(args[:3])} ... failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
        )
    return proc


def _docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return _docker("info", timeout=20, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


IN_CONTAINER_CLIENT = """
import json, sys, time, urllib.request
def post(path, payload):
    req = urllib.request.Request("http://127.0.0.1:80" + path, data=json.dumps(payload).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())
deadline = time.time() + float(sys.argv[1])
while True:
    try:
        tokenized = post("/tokenize", {"text": "Hello", "truncation": False})
        break
    except OSError as exc:
        if time.time() > deadline:
            raise SystemExit("server did not answer /tokenize: %r" % (exc,))
        time.sleep(0.5)
processed = post("/process", {"prompt": "The capital of France is", "temperature": 1e-7,
                              "max_new_tokens": 20, "num_return_sequences": 1, "top_p": 1,
                              "echo_prompt": False, "top_k_per_token": 1, "stop_sequences": []})
print(json.dumps({"tokenize": tokenized, "process": processed}))
"""


@pytest.mark.docker
def test_docker_image_builds_offline_and_serves_read_only(request: pytest.FixtureRequest) -> None:
    require(_docker_available(), "a Docker engine (scripts/ensure-services.sh starts one)")
    has_base = _docker("image", "inspect", BASE_IMAGE, check=False).returncode == 0
    require(has_base, f"the base image {BASE_IMAGE} (build it: scripts/build-base-images.sh)")
    tiny_model: Path = request.getfixturevalue("tiny_model")
    server: str = request.getfixturevalue("server")

    tag = f"podium-test/ref-transformers:{uuid.uuid4().hex[:10]}"
    name = f"podium-test-ref-{uuid.uuid4().hex[:10]}"
    try:
        _docker(
            "build",
            "--network",
            "none",
            "--build-arg",
            f"BASE_IMAGE={BASE_IMAGE}",
            "--label",
            "podium.test=reference-server",
            "-t",
            tag,
            str(SUBMISSION),
            timeout=600,
        )
        _docker(
            "run",
            "-d",
            "--name",
            name,
            "--label",
            "podium.test=reference-server",
            "--read-only",
            "--tmpfs",
            "/tmp:rw,size=256m,mode=1777",
            "--network",
            "none",
            "--cap-drop",
            "ALL",
            "--security-opt",
            "no-new-privileges",
            "--pids-limit",
            "256",
            "--memory",
            "2g",
            "-v",
            f"{tiny_model}:/weights:ro",
            tag,
        )
        proc = _docker(
            "exec",
            name,
            "python3",
            "-c",
            IN_CONTAINER_CLIENT,
            str(START_TIMEOUT),
            timeout=START_TIMEOUT + 60,
            check=False,
        )
        if proc.returncode != 0:
            logs = _docker("logs", name, check=False)
            pytest.fail(
                f"in-container client failed:\n{proc.stdout}{proc.stderr}\n"
                f"container log:\n{(logs.stdout + logs.stderr)[-3000:]}"
            )
        answers = json.loads(proc.stdout.strip().splitlines()[-1])
        assert answers["tokenize"]["tokens"] == [b + 3 for b in b"Hello"]
        # Same weights, same torch and transformers: the container and the host agree exactly.
        on_host = process(server, "The capital of France is")
        assert answers["process"]["text"] == on_host["text"]
        assert len(answers["process"]["tokens"]) == len(on_host["tokens"])
    finally:
        _docker("rm", "-f", name, check=False)
        _docker("rmi", "-f", tag, check=False)
