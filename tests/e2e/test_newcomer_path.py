"""The README's first hour, followed as a newcomer follows it: the README's own commands, run as
subprocesses with `podium` and `python` from the environment that `scripts/up` installs.

A fresh run of the README once failed at every step (issue 8): the reference submission did not
build, the admin command wrote into the wrong database, the data had no documented source. This
test walks the same path, in the README's order and with its words:

1. the scenario data through the documented offline path (`podium data fetch --suite smoke
   --mirror URL --dest DIR`, a mirror served from this machine), then `podium suites verify`;
2. `podium up --data-dir DIR --port N`, as `scripts/up` runs it once `scripts/bootstrap.sh` has
   installed `.venv` (the bootstrap itself is not repeated here: it is what runs this test);
   the admin token it prints;
3. the organizer, with `PODIUM_SERVER` / `PODIUM_TOKEN`: `podium admin apply
   examples/competition.toml` and two `podium admin create-team`;
4. a team: `python -m examples.make_tiny_model DIR`, then `podium submit
   examples/submissions/transformers/ --weights DIR --track a100` (the example competition has two
   tracks), unchanged: it builds on `podium-test/ml:bookworm`, which `podium up` allows;
5. the live progress lines it prints (queued, building, evaluating, scored, request counts), the
   submission page updating itself in headless Chromium while it runs;
6. both boards of the track, the current phase's and `phase=overall`, through the API, `podium
   leaderboard` and the web page; the other team cannot open the submission.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import SCENARIO_DATA, require
from tests.e2e.conftest import ML_IMAGE, REPO, docker_ready, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.docker, pytest.mark.model]

CHROMIUM = Path("/usr/bin/chromium")
COMPETITION = "llm-efficiency-2026"  # examples/competition.toml
TRACK = "a100"
PHASE = "open"  # the phase open now; "final" opens later
SUBMIT_TIMEOUT_S = 600
WAIT_MS = 30_000
STATUS_LINE = re.compile(r"^\d\d:\d\d:\d\d (queued|building|evaluating|scored|failed)\b(.*)$")


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def mirror(directory: Path) -> Iterator[str]:
    """Any HTTP server serving a complete data directory is a mirror (README, "Scenario data")."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class Newcomer:
    """One shell: `source .venv/bin/activate` done, a fresh HOME (no config file of this
    machine's user), none of the test run's PODIUM_ settings."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        venv_bin = Path(sys.executable).parent
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PODIUM_")}
        home = tmp_path / "home"
        home.mkdir()
        self.env.update(
            HOME=str(home),
            PATH=f"{venv_bin}{os.pathsep}{self.env.get('PATH', '')}",
            VIRTUAL_ENV=str(venv_bin.parent),
        )

    def run(
        self, *argv: str, env: dict[str, str] | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            list(argv),
            env={**self.env, **(env or {})},
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if check:
            assert done.returncode == 0, (argv, done.stdout, done.stderr)
        return done


@contextmanager
def podium_up(shell: Newcomer, data_dir: Path, port: int) -> Iterator[tuple[str, str]]:
    """`podium up --data-dir DIR --port N` until the block ends; yields (url, admin token)."""
    log_path = shell.tmp_path / "up.log"
    with log_path.open("wb") as log:
        # `scripts/up` = bootstrap, ensure the engine, then exactly this command.
        proc = subprocess.Popen(
            ["podium", "up", "--data-dir", str(data_dir), "--port", str(port)],
            env=shell.env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            text = log_path.read_text(errors="replace")
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"podium up did not start (exit {proc.returncode}):\n{text}")
            lines = text.splitlines()
            marker = "Admin token (shown once, keep it):"
            if marker in lines and len(lines) > lines.index(marker) + 1:
                try:
                    if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
            time.sleep(0.3)
        assert f"Podium is up: {url}" in text, text
        # The README: "both commands print that line too" (how to get `podium` in a new shell).
        assert "podium and python in another shell: source " in text, text
        token = lines[lines.index(marker) + 1].strip()
        assert token.startswith("pdm_"), text
        yield url, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        sys.stderr.write(f"\n--- podium up (tail) ---\n{log_path.read_text()[-4000:]}\n")


def _board_teams(url: str, **params: str) -> list[tuple[str, str]]:
    resp = httpx.get(f"{url}/api/v1/leaderboard", params=params, timeout=30)
    assert resp.status_code == 200, resp.text
    return [(e["team"], e["submission_id"]) for e in resp.json()["entries"]]


def _status_lines(stderr: str) -> list[tuple[str, str]]:
    found = []
    for line in stderr.splitlines():
        match = STATUS_LINE.match(line.strip())
        if match:
            found.append((match.group(1), match.group(2).strip()))
    return found


def test_the_readme_path_from_data_to_both_boards(tmp_path: Path) -> None:
    require(docker_ready(), "a Docker engine with the local base images")
    require(
        subprocess.run(["docker", "image", "inspect", ML_IMAGE], capture_output=True).returncode
        == 0,
        f"the local image {ML_IMAGE} (scripts/build-base-images.sh)",
    )
    require(CHROMIUM.exists(), f"Chromium at {CHROMIUM} (scripts/ensure-browser.sh installs it)")
    require(SCENARIO_DATA.is_dir(), f"a complete scenario data directory at {SCENARIO_DATA}")
    from playwright.sync_api import expect, sync_playwright

    shell = Newcomer(tmp_path)

    # 1. The data, the offline way: a complete copy served as a mirror on the local network.
    scenarios = tmp_path / "podium-scenarios"
    with mirror(SCENARIO_DATA) as mirror_url:
        fetched = shell.run(
            "podium", "data", "fetch", "--suite", "smoke", "--mirror", mirror_url,
            "--dest", str(scenarios),
        )  # fmt: skip
    assert "0 not provided" in fetched.stdout + fetched.stderr, fetched
    shell.env["PODIUM_SCENARIO_DATA"] = str(scenarios)  # `export PODIUM_SCENARIO_DATA=...`
    verified = shell.run("podium", "suites", "verify", "--suite", "smoke")
    assert "0 mismatched, 0 missing" in verified.stdout + verified.stderr, verified

    data_dir = tmp_path / "podium-data"  # tests/e2e/conftest.py removes its submission images
    with podium_up(shell, data_dir, free_port()) as (url, admin_token):
        # 2. The organizer, over the admin API of the running server.
        organizer = {"PODIUM_SERVER": url, "PODIUM_TOKEN": admin_token}
        applied = shell.run("podium", "admin", "apply", "examples/competition.toml", env=organizer)
        assert f"competition '{COMPETITION}' created" in applied.stdout, applied
        tokens = {}
        for team in ("team-one", "team-two"):
            created = shell.run(
                "podium", "admin", "create-team", team, "--email", f"lead@{team}.example.org",
                env=organizer,
            )  # fmt: skip
            tokens[team] = created.stdout.strip().splitlines()[-1]
            assert tokens[team].startswith("pdm_"), created
        teams = shell.run("podium", "admin", "teams", env=organizer).stdout
        assert "team-one" in teams and "team-two" in teams

        # 3. A team: a tiny model, and the reference submission as it is in the repository.
        model = tmp_path / "my-model"
        shell.run("python", "-m", "examples.make_tiny_model", str(model))
        team_one = {"PODIUM_SERVER": url, "PODIUM_TOKEN": tokens["team-one"]}
        out_path, err_path = tmp_path / "submit.out", tmp_path / "submit.err"
        with out_path.open("wb") as out, err_path.open("wb") as err:
            submit = subprocess.Popen(
                [
                    "podium", "submit", "examples/submissions/transformers/",
                    "--weights", f"{model}/", "--track", TRACK,
                ],
                env={**shell.env, **team_one},
                cwd=REPO,
                stdout=out,
                stderr=err,
            )  # fmt: skip
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
                try:
                    _browse_while_it_runs(browser, url, tokens, submit, out_path, expect)
                finally:
                    browser.close()
            submit.wait(timeout=SUBMIT_TIMEOUT_S)
        finally:
            if submit.poll() is None:
                submit.kill()
                submit.wait()
        stdout, stderr = out_path.read_text(), err_path.read_text()
        assert submit.returncode == 0, (stdout, stderr)
        queued_line = re.search(r"^submission (\w+) queued$", stdout, re.M)
        assert queued_line, stdout
        submission_id = queued_line.group(1)

        # 4. The live progress lines: every status in order, with request counts.
        lines = _status_lines(stderr)
        statuses = list(dict.fromkeys(status for status, _ in lines))
        assert statuses == ["queued", "building", "evaluating", "scored"], stderr
        final = httpx.get(
            f"{url}/api/v1/submissions/{submission_id}",
            headers={"Authorization": f"Bearer {tokens['team-one']}"},
            timeout=30,
        ).json()
        assert final["status"] == "scored", final
        total = final["progress"]["total"]
        assert total == 40, final  # the smoke suite: 4 MMLU subjects x 10 questions
        counted = [
            (s, rest) for s, rest in lines if re.fullmatch(rf"\(\d+/{total} requests\)", rest)
        ]
        assert counted and counted[-1] == ("scored", f"({total}/{total} requests)"), stderr
        assert f"submission {submission_id} scored" in stdout and "mmlu" in stdout, stdout
        # The README: the tiny model scores 0.000 (random bytes, almost never a letter A-D).
        assert final["scores"]["mmlu"] < 0.25, final

        # 5. Both boards of the track, through the API and the CLI.
        ours = ("team-one", submission_id)
        assert _board_teams(url) == [ours]  # nothing named: first track, current phase
        assert _board_teams(url, competition=COMPETITION, track=TRACK, phase=PHASE) == [ours]
        assert _board_teams(url, competition=COMPETITION, track=TRACK, phase="overall") == [ours]
        assert _board_teams(url, competition=COMPETITION, track="4090") == []
        for phase_flag in ([], ["--phase", "overall"]):  # the README's two commands
            board = shell.run("podium", "leaderboard", "--track", TRACK, *phase_flag, env=team_one)
            assert "team-one" in board.stdout and submission_id in board.stdout, board
        _browse_the_boards(url, submission_id)


def _browse_while_it_runs(
    browser: Any, url: str, tokens: dict[str, str], submit: Any, out_path: Path, expect: Any
) -> None:
    """As soon as `podium submit` names the submission, open its page as the team, and watch it
    reach `scored` by itself; then the other team must get 404 for it."""
    deadline = time.monotonic() + 120
    while not (match := re.search(r"^submission (\w+) ", out_path.read_text(), re.M)):
        assert submit.poll() is None, f"podium submit ended early: {out_path.read_text()}"
        assert time.monotonic() < deadline, "podium submit printed no submission id"
        time.sleep(0.2)
    submission_id = match.group(1)
    context = browser.new_context(base_url=url, viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(f"/submissions/{submission_id}")
        page.wait_for_url(re.compile(r"/login\?next="))
        page.fill("#token", tokens["team-one"])
        page.click("form.login button[type=submit]")
        page.wait_for_url(f"**/submissions/{submission_id}")
        # Building and starting the server take 10 s or more: the page is open before the end,
        # and must get to `scored` by itself (no reload).
        first = page.inner_text("#status")
        assert first in ("queued", "building", "evaluating"), first
        terminal = re.compile(r"^(scored|failed|cancelled)$")
        expect(page.locator("#status")).to_have_text(terminal, timeout=SUBMIT_TIMEOUT_S * 1000)
        assert page.inner_text("#status") == "scored", page.inner_text("main")
        assert page.locator("#live").get_attribute("data-terminal") == "true"
        page.reload()
        scenarios = [
            t.strip() for t in page.locator("#scores tbody td:first-child").all_inner_texts()
        ]
        assert "mmlu" in scenarios, page.inner_text("body")
    finally:
        context.close()
    other = browser.new_context(base_url=url)
    try:
        page = other.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto("/login")
        page.fill("#token", tokens["team-two"])
        page.click("form.login button[type=submit]")
        page.wait_for_url(re.compile(r"/submissions$"))
        response = page.goto(f"/submissions/{submission_id}")
        assert response is not None and response.status == 404
    finally:
        other.close()


def _browse_the_boards(url: str, submission_id: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page(base_url=url)
            page.set_default_timeout(WAIT_MS)
            for query in (
                "",
                f"?competition={COMPETITION}&track={TRACK}&phase={PHASE}",
                f"?competition={COMPETITION}&track={TRACK}&phase=overall",
            ):
                page.goto(f"/leaderboard{query}")
                teams = [
                    t.strip() for t in page.locator("#leaderboard tbody td.team").all_inner_texts()
                ]
                assert teams == ["team-one"], (query, page.inner_text("body"))
            page.goto("/")
            assert (
                COMPETITION in page.content() or "LLM Efficiency Challenge 2026" in page.content()
            )
        finally:
            browser.close()
