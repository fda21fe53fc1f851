"""A team may build only on the competition's base images, and the engine fetches nothing.

Unit tests read Dockerfiles the way the engine's parser does (escapes, continuations, ARG
defaults, stages, flags, ONBUILD) and fail if a spelling of a forbidden FROM, --from or remote ADD
gets through. The HTTP tests perform the attacks against the real API: a context whose Dockerfile
builds on another team's image, copies out of it, or makes the engine fetch a host URL gets a 4xx
naming the line, and nothing is stored or queued.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.auth.service import create_team
from app.config import Settings
from app.kit.db import session_scope
from app.main import create_app
from app.queue import BUILD_TASK, RecordingQueue
from app.submissions.dockerfile_policy import (
    BuildPolicy,
    DockerfileRefused,
    build_policy,
    check_dockerfile,
    normalize_reference,
    parse_dockerfile,
)
from app.submissions.models import Submission
from tests.app.factories import competition
from tests.helpers import make_tar

ML = "podium-test/ml:bookworm"
PY = "podium-test/python:bookworm"
POLICY = BuildPolicy(base_images=(ML, PY))
REPO = Path(__file__).resolve().parents[2]


def ok(dockerfile: str, policy: BuildPolicy = POLICY) -> list[str]:
    return [u.reference for u in check_dockerfile(textwrap.dedent(dockerfile).lstrip(), policy)]


def refused(dockerfile: str, policy: BuildPolicy = POLICY) -> str:
    with pytest.raises(DockerfileRefused) as info:
        check_dockerfile(textwrap.dedent(dockerfile).lstrip(), policy)
    assert info.value.status_code == 422
    return info.value.message


# ------------------------------------------------------------------------------ the parser


def test_continuations_comments_and_line_numbers() -> None:
    parsed = parse_dockerfile(
        "# a comment\n"
        "FROM podium-test/python:bookworm\n"
        "\n"
        "RUN echo one \\\n"
        "    # a comment inside the continuation is dropped\n"
        "\n"
        "    && echo two\n"
        "  copy a b\n"
    )
    assert [(i.line, i.keyword) for i in parsed.instructions] == [
        (2, "from"),
        (4, "run"),
        (8, "copy"),
    ]
    assert parsed.instructions[1].rest == "echo one     && echo two"


def test_escape_directive_changes_the_continuation_character() -> None:
    parsed = parse_dockerfile("# escape=`\nFROM scratch\nCOPY a `\n  b\nRUN dir c:\\\n")
    assert parsed.escape == "`"
    assert [i.rest for i in parsed.instructions] == ["scratch", "a   b", "dir c:\\"]
    # A directive after a comment is just a comment: the backslash stays the escape.
    assert parse_dockerfile("# hello\n# escape=`\nFROM scratch\n").escape == "\\"


def test_flags_are_read_with_quotes_like_the_engine() -> None:
    parsed = parse_dockerfile('FROM scratch\nCOPY --from="team-b/x" --chown=1:1 -- a b\n')
    copy = parsed.instructions[1]
    assert copy.flags == ("from=team-b/x", "chown=1:1")
    assert copy.rest.strip() == "a b"  # `--` ends the flags, as in the engine


@pytest.mark.parametrize(
    ("ref", "normalized"),
    [
        ("podium-test/python", "docker.io/podium-test/python:latest"),
        ("podium-test/python:bookworm", "docker.io/podium-test/python:bookworm"),
        ("docker.io/podium-test/python:bookworm", "docker.io/podium-test/python:bookworm"),
        ("index.docker.io/podium-test/python:bookworm", "docker.io/podium-test/python:bookworm"),
        ("python", "docker.io/library/python:latest"),
        ("localhost:5000/a/b:1", "localhost:5000/a/b:1"),
        ("Podium/X", None),
        ("a b", None),
        ("", None),
    ],
)
def test_references_are_normalized_as_the_engine_names_them(
    ref: str, normalized: str | None
) -> None:
    assert normalize_reference(ref) == normalized


# ------------------------------------------------------------------------- FROM and stages


def test_allowed_bases_scratch_and_stages_build() -> None:
    assert ok(f"FROM {PY}\nRUN true\n") == [PY]
    assert ok("FROM scratch\nCOPY a /a\n") == []
    assert ok(
        f"""
        FROM --platform=$BUILDPLATFORM docker.io/{ML} AS Build
        RUN make
        FROM build AS test
        FROM {PY}
        COPY --from=build /out /out
        COPY --from=1 /t /t
        COPY --from={ML} /usr/lib /usr/lib
        RUN --mount=type=bind,from=build,source=/out,target=/mnt true
        """
    ) == [f"docker.io/{ML}", PY, ML]


def test_the_reference_submission_builds_on_the_default_bases() -> None:
    settings = Settings(environment="test")
    policy = build_policy(settings.default_base_images, settings.build_network, None)
    dockerfile = (REPO / "examples/submissions/transformers/Dockerfile").read_text()
    assert [u.reference for u in check_dockerfile(dockerfile, policy)] == [ML]


@pytest.mark.parametrize(
    "dockerfile",
    [
        "FROM podium/submission:0123456789abcdef\n",
        "from team-b/secret\n",
        "FROM podium-test/python\n",  # :latest is not :bookworm
        "FROM podium-test/python:bookworm@sha256:" + "a" * 64 + "\n",
        "FROM 80a3e64f1225\n",  # an image id
        "FROM sha256:" + "a" * 64 + "\n",
        'ARG B="team-b/secret"\nFROM ${B}\n',
        "ARG B=team-b\nARG C=${B}/secret\nFROM $C\n",
        "ARG X\nFROM ${X:-team-b/secret}\n",
        "ARG X=1\nFROM ${X:+team-b/secret}\n",
        "FROM podium-test/python:bookworm AS base\nFROM base2\n",
        "FROM team-b/secret AS podium-test\n",
        # A stage's name only counts after its FROM: a later stage cannot be built on.
        "FROM later\nFROM podium-test/python:bookworm AS later\n",
        # FROM cannot name a stage by index (the engine reads "0" as an image).
        "FROM podium-test/python:bookworm\nFROM 0\n",
        "FROM podium-test/python:bookworm\\\n   AS x\nFROM team-b/secret\n",
        # Build args cannot be passed: an ARG default inside a stage does not reach FROM.
        "FROM podium-test/python:bookworm\nARG B=podium-test/ml:bookworm\nFROM ${B}\n",
        "FROM podium-test/python:bookworm AS a\nFROM ${UNSET}\n",
    ],
)
def test_other_images_are_refused_in_from(dockerfile: str) -> None:
    message = refused(dockerfile)
    assert "Dockerfile line " in message
    assert "FROM" in message


def test_refusal_names_the_line_and_the_allowed_images() -> None:
    message = refused(f"FROM {PY} AS a\nRUN true\nFROM team-b/secret\n")
    assert message == (
        "Dockerfile line 3: FROM team-b/secret is not an allowed base image; this competition "
        "allows: podium-test/ml:bookworm, podium-test/python:bookworm"
    )


def test_arg_default_substitution_reaches_from() -> None:
    assert ok(f"ARG BASE={ML}\nFROM ${{BASE}}\n") == [ML]
    assert ok("ARG TAG=bookworm\nFROM podium-test/python:$TAG\n") == [PY]
    assert ok(f"ARG X\nFROM ${{X:-{ML}}}\n") == [ML]
    assert ok("ARG A=podium-test B=ml\nFROM ${A}/${B}:bookworm\n") == [ML]


@pytest.mark.parametrize(
    "dockerfile",
    [
        f"FROM {PY}\nCOPY --from=team-b/secret /app /app\n",
        f"FROM {PY}\ncopy --FROM=podium/submission:abc /app /app\n",
        f'FROM {PY}\nCOPY --from="team-b/secret" /app /app\n',
        f"FROM {PY}\nCOPY --from=1 /app /app\n",  # stage 1 does not exist (yet)
        f"FROM {PY} AS a\nCOPY --from=a /app /app\n",  # its own stage: the engine looks it up
        f"ARG S=a\nFROM {PY} AS a\nFROM {PY}\nCOPY --from=$S /app /app\n",
        f"FROM {PY}\nADD --from=team-b/secret /app /app\n",
        f"FROM {PY}\nRUN --mount=type=bind,from=team-b/secret,target=/m cat /m/x\n",
        f'FROM {PY}\nRUN --mount="type=bind,FROM=team-b/secret,target=/m" true\n',
        f"FROM {PY}\nRUN --mount=type=bind,source=/,target=/m,from=podium/submission:x true\n",
    ],
)
def test_copy_and_mounts_from_other_images_are_refused(dockerfile: str) -> None:
    message = refused(dockerfile)
    assert "Dockerfile line 2:" in message or "Dockerfile line 4:" in message


def test_cache_mounts_network_and_platform_flags_are_refused() -> None:
    assert "cache mounts" in refused(f"FROM {PY}\nRUN --mount=type=cache,target=/c true\n")
    assert "--network=host" in refused(f"FROM {PY}\nRUN --network=host true\n")
    assert "--security" in refused(f"FROM {PY}\nRUN --security=insecure true\n")
    assert "--platform" in refused(f"FROM --platform=linux/s390x {PY}\n")


# ------------------------------------------------------------------------------- remote ADD


@pytest.mark.parametrize(
    "add",
    [
        "ADD http://127.0.0.1:8080/x /x",
        "add HTTPS://example.invalid/x /x",
        "ADD --chown=1:1 http://172.17.0.1/x /x",
        'ADD ["http://127.0.0.1/x", "/x"]',
        'ADD ["http:\\/\\/127.0.0.1/x", "/x"]',  # JSON escapes
        'ADD ["http\\u003a//127.0.0.1/x", "/x"]',
        'ADD "http://127.0.0.1/x" /x',
        "ADD ht\\tp://127.0.0.1/x /x",  # an escape the shell lexer drops
        "ADD http:\\/\\/127.0.0.1/x /x",
        "ADD git@github.com:team/repo.git /src",
        "ADD git://127.0.0.1/repo /src",
        "ADD https://127.0.0.1/repo.git#main /src",
        "ADD github.com/team/repo /src",
        "ADD ./local.git /src",
        "ADD ftp://127.0.0.1/x /x",
        "ADD h\\\n  ttp://127.0.0.1/x /x",
    ],
)
def test_remote_add_is_refused_without_build_network(add: str) -> None:
    assert "ADD" in refused(f"FROM {PY}\n{add}\n")


def test_add_with_variables_is_refused_without_build_network() -> None:
    assert "variables" in refused(f"FROM {PY}\nARG U=http://127.0.0.1/x\nADD $U /x\n")
    assert "variables" in refused(f"FROM {PY}\nENV U=http://127.0.0.1/x\nADD ${{U}} /x\n")


def test_escape_directive_spelling_of_a_url_is_refused() -> None:
    assert "ADD" in refused(f"# escape=`\nFROM {PY}\nADD ht`tp://127.0.0.1/x /x\n")


def test_local_add_and_remote_add_with_build_network_are_allowed() -> None:
    assert ok(f'FROM {PY}\nADD app.tar.gz /app/\nADD ["a b", "/c"]\n') == [PY]
    networked = BuildPolicy(base_images=(PY,), build_network="default")
    assert ok(f"FROM {PY}\nADD https://example.invalid/x /x\n", networked) == [PY]
    # Build network does not open other images.
    assert "team-b/secret" in refused(f"FROM {PY}\nCOPY --from=team-b/secret / /\n", networked)


# ------------------------------------------------------------ directives, ONBUILD, keywords


@pytest.mark.parametrize(
    "head",
    [
        "# syntax=docker/dockerfile:1",
        "#syntax=attacker.example/frontend",
        "# SYNTAX = docker/dockerfile:1",
        "# escape=\\\n# syntax=docker/dockerfile:1",
        "#!/usr/bin/env buildctl\n# syntax=x/y",
        "// syntax=x/y",
        "\ufeff# syntax=x/y",
    ],
)
def test_syntax_directive_is_refused(head: str) -> None:
    assert "syntax" in refused(f"{head}\nFROM {PY}\n")


def test_onbuild_triggers_that_fetch_or_read_images_are_refused() -> None:
    assert "ONBUILD ADD" in refused(f"FROM {PY}\nONBUILD ADD http://127.0.0.1/x /x\n")
    assert "ONBUILD COPY --from=" in refused(f"FROM {PY}\nonbuild copy --from=stage /a /b\n")
    assert "ONBUILD RUN --mount" in refused(
        f"FROM {PY}\nONBUILD RUN --mount=type=bind,from=x,target=/m true\n"
    )
    assert "ONBUILD FROM" in refused(f"FROM {PY}\nONBUILD FROM team-b/secret\n")
    assert ok(f"FROM {PY}\nONBUILD RUN echo hi\n") == [PY]


def test_unknown_instructions_and_a_missing_from_are_refused() -> None:
    assert "unknown instruction 'FETCH'" in refused("FROM scratch\nFETCH http://x\n")
    assert "no FROM" in refused("# nothing\nRUN true\n")


def test_every_refused_line_is_listed() -> None:
    message = refused(f"FROM {PY}\nADD http://127.0.0.1/x /x\nCOPY --from=team-b/s / /\n")
    assert message.splitlines()[0].startswith("Dockerfile line 2: ADD http://127.0.0.1/x")
    assert message.splitlines()[1].startswith("Dockerfile line 3: COPY --from=team-b/s")


def test_phase_base_images_replace_the_default() -> None:
    phase = build_policy([ML, PY], "none", {"base_images": ["registry.example.org/gpu:1"]})
    assert phase.allowed == {"registry.example.org/gpu:1"}
    assert "this competition allows: registry.example.org/gpu:1" in refused(f"FROM {PY}\n", phase)
    inherit = build_policy([ML], "none", {"memory_gb": 8})
    assert inherit.base_images == (ML,)
    assert build_policy([ML], "none", {"build_network": "default"}).build_network == "default"
    assert "this server allows" in refused("FROM x/y\n", build_policy([ML], "none", None))


# ------------------------------------------------------------------------ over real HTTP


@pytest.fixture
def api(settings: Settings) -> Iterator[tuple[TestClient, RecordingQueue]]:
    queue = RecordingQueue()
    with TestClient(create_app(settings, queue)) as client:
        yield client, queue


def _token(settings: Settings, name: str) -> dict[str, str]:
    with session_scope(settings.database_url) as session:
        _, token = create_team(session, name)
    return {"Authorization": f"Bearer {token}"}


def _submit(client: TestClient, headers: dict[str, str], dockerfile: str) -> tuple[int, str]:
    context = make_tar({"Dockerfile": dockerfile.encode(), "server.py": b"print('hi')\n"})
    resp = client.post(
        "/api/v1/submissions", headers=headers, files={"context": ("ctx.tar.gz", context)}
    )
    return resp.status_code, resp.json().get("id") or resp.json().get("detail", "")


def _stored(settings: Settings) -> int:
    with session_scope(settings.database_url) as session:
        return session.scalar(select(func.count()).select_from(Submission)) or 0


def test_api_refuses_building_on_or_copying_from_another_teams_image(
    api: tuple[TestClient, RecordingQueue], settings: Settings
) -> None:
    client, queue = api
    status, victim = _submit(client, _token(settings, "alpha"), f"FROM {PY}\nCOPY . /app\n")
    assert status == 201, victim
    attacker = _token(settings, "beta")
    before = (_stored(settings), list(queue.sent))
    attacks = {
        f"FROM podium/submission:{victim}\n": "line 1: FROM podium/submission:",
        f"FROM {PY}\nRUN true\nCOPY --from=podium/submission:{victim} /app /stolen\n": (
            "line 3: COPY --from=podium/submission:"
        ),
        f"FROM {PY}\nRUN --mount=type=bind,from=podium/submission:{victim},target=/m true\n": (
            "line 2: RUN --mount=...,from=podium/submission:"
        ),
        f"ARG V=podium/submission:{victim}\nFROM $V\n": "line 2: FROM podium/submission:",
    }
    for dockerfile, where in attacks.items():
        status, detail = _submit(client, attacker, dockerfile)
        assert status == 422, (dockerfile, detail)
        assert f"Dockerfile {where}" in detail, detail
        assert "allows: podium-test/ml:bookworm, podium-test/python:bookworm" in detail
    assert (_stored(settings), list(queue.sent)) == before
    assert sorted(p.name for p in (settings.data_dir / "contexts").iterdir()) == [victim]


def test_api_refuses_remote_add_to_a_host_listener(
    api: tuple[TestClient, RecordingQueue], settings: Settings
) -> None:
    client, queue = api
    team = _token(settings, "alpha")
    for add in ("ADD http://127.0.0.1:9/x /x", 'ADD ["http://172.17.0.1:9/x", "/x"]'):
        status, detail = _submit(client, team, f"FROM {PY}\n{add}\n")
        assert status == 422, detail
        assert detail.startswith("Dockerfile line 2: ADD http://"), detail
        assert "no network" in detail
    assert _stored(settings) == 0 and queue.sent == []


def test_api_applies_the_phase_base_images_and_build_network(
    api: tuple[TestClient, RecordingQueue], settings: Settings
) -> None:
    client, queue = api
    competition(
        settings,
        [{"slug": "open", "sandbox": {"base_images": [ML], "build_network": "default"}}],
    )
    team = _token(settings, "alpha")
    status, detail = _submit(client, team, f"FROM {PY}\n")
    assert status == 422
    assert detail == (
        "Dockerfile line 1: FROM podium-test/python:bookworm is not an allowed base image; "
        "this competition allows: podium-test/ml:bookworm"
    )
    status, sid = _submit(client, team, f"FROM {ML}\nADD http://127.0.0.1:9/x /x\n")
    assert status == 201, sid
    assert queue.sent == [(BUILD_TASK, (sid,))]


def test_base_images_command_lists_allowed_images_and_their_presence(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from app.cli import main
    from tests.conftest import require
    from tests.e2e.conftest import docker_ready

    require(docker_ready(), f"a Docker engine with the local base image {PY}")
    missing = f"podium-test/not-here:{tmp_path.name[-8:]}"
    env = {
        "PODIUM_DATA_DIR": str(tmp_path / "data"),
        "PODIUM_DATABASE_URL": "",
        "PODIUM_DEFAULT_BASE_IMAGES": f"{PY},{missing}",
    }
    result = CliRunner().invoke(main, ["base-images"], env=env)
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines[0] == "default (PODIUM_DEFAULT_BASE_IMAGES):"
    assert any(line.split()[:2] == [PY, "present"] for line in lines), result.output
    assert any(line.split()[:2] == [missing, "MISSING"] for line in lines), result.output
