"""The submissions API on both databases: upload, validation, visibility."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.config import Settings
from app.kit.db import session_scope
from app.queue import BUILD_TASK, RecordingQueue
from app.submissions.models import Submission
from tests.helpers import MINIMAL_DOCKERFILE, make_tar, make_tar_with_member, make_zip

GOOD_CONTEXT = make_tar({"Dockerfile": MINIMAL_DOCKERFILE, "server.py": b"print('hi')\n"})


def _count_submissions(settings: Settings) -> int:
    with session_scope(settings.database_url) as session:
        return session.scalar(select(func.count()).select_from(Submission)) or 0


def _stored_files(settings: Settings) -> list[Path]:
    roots = [settings.data_dir / d for d in ("contexts", "weights", "staging")]
    return [p for root in roots if root.exists() for p in root.rglob("*") if p.is_file()]


def test_upload_is_stored_and_queued_after_commit(
    client: TestClient, team_a: dict[str, str], settings: Settings, queue: RecordingQueue
) -> None:
    resp = client.post(
        "/api/v1/submissions",
        headers=team_a,
        files={"context": ("ctx.tar.gz", GOOD_CONTEXT), "weights": ("model.bin", b"\x00" * 1000)},
        data={"name": "first try"},
    )
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["status"] == "queued"
    assert body["team"] == "alpha"
    assert body["name"] == "first try"
    assert body["progress"] == {"done": 0, "total": 0}
    assert queue.sent == [(BUILD_TASK, (body["id"],))]
    context = settings.data_dir / "contexts" / body["id"]
    assert (context / "Dockerfile").read_bytes() == MINIMAL_DOCKERFILE
    weights = list((settings.data_dir / "weights").iterdir())
    assert len(weights) == 1 and (weights[0] / "model.bin").stat().st_size == 1000
    assert not any((settings.data_dir / "staging").iterdir())

    got = client.get(f"/api/v1/submissions/{body['id']}", headers=team_a).json()
    assert got["status"] == "queued" and got["scores"] == {} and got["overall"] is None
    assert got["failure_reason"] is None


def test_zip_context_and_wrapped_directory_are_accepted(
    client: TestClient, team_a: dict[str, str], settings: Settings
) -> None:
    zipped = make_zip({"Dockerfile": MINIMAL_DOCKERFILE})
    assert (
        client.post(
            "/api/v1/submissions", headers=team_a, files={"context": ("c.zip", zipped)}
        ).status_code
        == 201
    )
    wrapped = make_tar({"mydir/Dockerfile": MINIMAL_DOCKERFILE, "mydir/app.py": b"x"})
    resp = client.post("/api/v1/submissions", headers=team_a, files={"context": ("c.tgz", wrapped)})
    assert resp.status_code == 201, resp.text
    assert (settings.data_dir / "contexts" / resp.json()["id"] / "app.py").exists()


def _symlink(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    return info


def _device(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.CHRTYPE
    info.devmajor, info.devminor = 1, 3
    return info


BAD_CONTEXTS = {
    "traversal": (make_tar({"Dockerfile": MINIMAL_DOCKERFILE, "../evil": b"x"}), "'..'"),
    "absolute": (make_tar({"Dockerfile": MINIMAL_DOCKERFILE, "/etc/evil": b"x"}), "absolute"),
    "symlink_out": (make_tar_with_member(_symlink("link", "../../etc/passwd")), "outside"),
    "symlink_abs": (make_tar_with_member(_symlink("link", "/etc/passwd")), "outside"),
    "device": (make_tar_with_member(_device("dev")), "device"),
    "no_dockerfile": (make_tar({"server.py": b"x"}), "no Dockerfile"),
    "not_archive": (b"hello, this is not an archive", "not a .tar"),
    "zip_traversal": (make_zip({"Dockerfile": MINIMAL_DOCKERFILE, "../x": b"x"}), "'..'"),
    "too_many_files": (
        make_tar({"Dockerfile": MINIMAL_DOCKERFILE, **{f"f{i}": b"" for i in range(300)}}),
        "more than 200 entries",
    ),
    "too_big": (
        make_tar({"Dockerfile": MINIMAL_DOCKERFILE, "big": b"\x00" * (6 * 1024 * 1024)}),
        "unpacks to more than",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CONTEXTS))
def test_bad_context_is_refused_and_nothing_is_stored(
    case: str,
    client: TestClient,
    team_a: dict[str, str],
    settings: Settings,
    queue: RecordingQueue,
) -> None:
    archive, expected = BAD_CONTEXTS[case]
    resp = client.post(
        "/api/v1/submissions",
        headers=team_a,
        files={"context": ("ctx.tar.gz", archive), "weights": ("w.bin", b"weights")},
    )
    assert 400 <= resp.status_code < 500, resp.text
    assert expected in resp.json()["detail"]
    assert _count_submissions(settings) == 0
    assert queue.sent == []
    assert _stored_files(settings) == []


def test_bad_weights_archive_is_refused(
    client: TestClient, team_a: dict[str, str], settings: Settings, queue: RecordingQueue
) -> None:
    weights = make_tar({"../../model.bin": b"x"})
    resp = client.post(
        "/api/v1/submissions",
        headers=team_a,
        files={"context": ("c.tgz", GOOD_CONTEXT), "weights": ("w.tgz", weights)},
    )
    assert resp.status_code == 422
    assert resp.json()["detail"].startswith("weights:")
    assert _count_submissions(settings) == 0 and queue.sent == []
    assert _stored_files(settings) == []


def test_upload_over_the_size_limit_is_refused(
    client: TestClient, team_a: dict[str, str], settings: Settings, queue: RecordingQueue
) -> None:
    huge = b"\x00" * (settings.max_upload_bytes + 1)
    resp = client.post(
        "/api/v1/submissions",
        headers=team_a,
        files={"context": ("c.tgz", GOOD_CONTEXT), "weights": ("w.bin", huge)},
    )
    assert resp.status_code == 413
    assert "larger than the limit" in resp.json()["detail"]
    assert _count_submissions(settings) == 0 and queue.sent == []
    assert _stored_files(settings) == []


def test_missing_context_and_wrong_content_type(
    client: TestClient, team_a: dict[str, str], settings: Settings
) -> None:
    resp = client.post("/api/v1/submissions", headers=team_a, files={"weights": ("w", b"x")})
    assert resp.status_code == 400 and "`context` is missing" in resp.json()["detail"]
    resp = client.post("/api/v1/submissions", headers=team_a, json={"context": "x"})
    assert resp.status_code == 400 and "multipart/form-data" in resp.json()["detail"]
    resp = client.post(
        "/api/v1/submissions",
        headers=team_a,
        files={"context": ("c.tgz", GOOD_CONTEXT)},
        data={"dockerfile": "../Dockerfile"},
    )
    assert resp.status_code == 400 and "relative path" in resp.json()["detail"]
    assert _count_submissions(settings) == 0


def test_visibility_and_auth(
    client: TestClient,
    team_a: dict[str, str],
    team_b: dict[str, str],
    organizer: dict[str, str],
) -> None:
    created = client.post(
        "/api/v1/submissions", headers=team_a, files={"context": ("c.tgz", GOOD_CONTEXT)}
    ).json()
    sid = created["id"]
    for path in (f"/api/v1/submissions/{sid}", f"/api/v1/submissions/{sid}/logs"):
        assert client.get(path, headers=team_a).status_code == 200
        assert client.get(path, headers=team_b).status_code == 404
        assert client.get(path, headers=organizer).status_code == 200
        assert client.get(path).status_code == 401
        assert client.get(path, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert [
        s["id"] for s in client.get("/api/v1/submissions", headers=team_b).json()["items"]
    ] == []
    assert [s["id"] for s in client.get("/api/v1/submissions", headers=team_a).json()["items"]] == [
        sid
    ]
    # Only a team can submit.
    resp = client.post(
        "/api/v1/submissions", headers=organizer, files={"context": ("c.tgz", GOOD_CONTEXT)}
    )
    assert resp.status_code == 403


def test_the_polled_get_answers_what_the_other_routes_serialise(
    client: TestClient, team_a: dict[str, str], organizer: dict[str, str]
) -> None:
    # GET /submissions/{id} serialises its model itself (in its thread, app/submissions/router.py);
    # the POST and the list go through FastAPI's response_model. The bodies must not differ.
    created = client.post(
        "/api/v1/submissions", headers=team_a, files={"context": ("c.tgz", GOOD_CONTEXT)}
    )
    assert created.status_code == 201, created.text
    sid = created.json()["id"]
    for headers in (team_a, organizer):
        got = client.get(f"/api/v1/submissions/{sid}", headers=headers)
        assert got.status_code == 200
        assert got.headers["content-type"] == "application/json"
        listed = client.get("/api/v1/submissions", headers=headers).json()["items"]
        assert got.json() == next(item for item in listed if item["id"] == sid)
        assert got.json() == created.json()


def test_healthz_and_empty_leaderboard(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/api/v1/leaderboard").json()["entries"] == []


def test_endless_form_parts_are_refused(
    client: TestClient, team_a: dict[str, str], settings: Settings
) -> None:
    data = {f"field{i}": "x" for i in range(40)}
    resp = client.post(
        "/api/v1/submissions",
        headers=team_a,
        files={"context": ("c.tgz", GOOD_CONTEXT)},
        data=data,
    )
    assert resp.status_code == 400 and "more than 32 parts" in resp.json()["detail"]
    assert _count_submissions(settings) == 0 and _stored_files(settings) == []
