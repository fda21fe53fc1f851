from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from workers.sandbox import (
    BuildSpec,
    ContainerNotFound,
    ContainerNotRunning,
    ContainerRuntime,
    ContainerSpec,
    FakeRuntime,
    SandboxError,
)


@pytest.fixture
def context(tmp_path: Path) -> Callable[[str], Path]:
    def make(dockerfile: str) -> Path:
        (tmp_path / "Dockerfile").write_text(dockerfile)
        return tmp_path

    return make


def _spec(image: str, **overrides: object) -> ContainerSpec:
    fields: dict[str, object] = {
        "image": image,
        "name": "eval-1",
        "memory_bytes": 1 << 30,
        "nano_cpus": 10**9,
        "tmpfs_bytes": 1 << 20,
    }
    fields.update(overrides)
    return ContainerSpec(**fields)  # type: ignore[arg-type]


def test_it_is_a_container_runtime() -> None:
    assert isinstance(FakeRuntime(), ContainerRuntime)


def test_build_succeeds_and_records_the_spec(context: Callable[[str], Path]) -> None:
    runtime = FakeRuntime()
    spec = BuildSpec(
        context_dir=context("FROM x\n"), tag="sub:1", labels={"podium.submission": "1"}
    )
    result = runtime.build(spec)
    assert result.ok and result.image_id is not None and result.error is None
    assert runtime.builds == [spec]
    assert runtime.images[result.image_id].labels == {"podium.submission": "1"}


def test_build_fail_marker(context: Callable[[str], Path]) -> None:
    result = FakeRuntime().build(
        BuildSpec(context_dir=context("FROM x\n# fake: build-fail\n"), tag="t")
    )
    assert not result.ok and not result.timed_out and result.image_id is None
    assert "build-fail" in (result.error or "") and "build-fail" in result.log


def test_build_timeout_marker(context: Callable[[str], Path]) -> None:
    result = FakeRuntime().build(
        BuildSpec(context_dir=context("# fake: build-timeout\n"), tag="t", timeout_s=60)
    )
    assert not result.ok and result.timed_out
    assert "60s time limit" in (result.error or "")


def test_missing_dockerfile(tmp_path: Path) -> None:
    result = FakeRuntime().build(
        BuildSpec(context_dir=tmp_path, tag="t", dockerfile="x/Dockerfile")
    )
    assert not result.ok and "x/Dockerfile" in (result.error or "")


def test_start_records_spec_and_remove_is_tracked() -> None:
    runtime = FakeRuntime()
    runtime.add_image("img:1")
    spec = _spec("img:1", gpus=("0",), weights_dir=Path("/w"))
    container_id = runtime.start(spec)
    assert runtime.started == [spec]
    assert runtime.state(container_id).running
    assert runtime.live_containers() == [container_id]
    runtime.remove(container_id)
    runtime.remove(container_id)  # idempotent
    runtime.remove("never-existed")
    assert runtime.removed == [container_id]
    assert runtime.live_containers() == []
    with pytest.raises(ContainerNotFound):
        runtime.state(container_id)


def test_start_refuses_unknown_images_and_duplicate_names() -> None:
    runtime = FakeRuntime()
    with pytest.raises(SandboxError, match="not found"):
        runtime.start(_spec("nope"))
    runtime.add_image("img")
    runtime.start(_spec("img"))
    with pytest.raises(SandboxError, match="in use"):
        runtime.start(_spec("img"))


def test_crash_and_oom() -> None:
    runtime = FakeRuntime()
    runtime.add_image("img")
    crashed = runtime.start(_spec("img", name="a"))
    runtime.write_logs(crashed, "loading weights\n")
    runtime.crash(crashed, exit_code=3, logs="Traceback: boom\n")
    state = runtime.state(crashed)
    assert (state.running, state.exit_code, state.oom_killed) == (False, 3, False)
    assert runtime.logs(crashed, 1000) == "loading weights\nTraceback: boom\n"
    assert runtime.logs(crashed, 5).endswith("boom\n")
    assert "truncated" in runtime.logs(crashed, 5)
    with pytest.raises(ContainerNotRunning):
        runtime.endpoint(crashed, 80)

    killed = runtime.start(_spec("img", name="b"))
    runtime.oom(killed)
    assert runtime.state(killed).oom_killed and runtime.state(killed).exit_code == 137


def test_endpoint_uses_the_factory_with_the_requested_port() -> None:
    seen: list[ContainerSpec] = []

    @contextlib.contextmanager
    def serve(spec: ContainerSpec) -> Iterator[str]:
        seen.append(spec)
        yield "http://fake.invalid"

    runtime = FakeRuntime(endpoint_factory=serve)
    runtime.add_image("img")
    container_id = runtime.start(_spec("img"))
    with runtime.endpoint(container_id, 8000) as url:
        assert url == "http://fake.invalid"
    assert seen[0].port == 8000 and seen[0].name == "eval-1"


def test_endpoint_factory_can_serve_a_real_local_app() -> None:
    """A flow test can run its fake model server through the fake runtime's endpoint."""

    def app(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"tokens": [1, 2], "request_time": 0.0})

    @contextlib.contextmanager
    def serve(spec: ContainerSpec) -> Iterator[str]:
        yield "http://model"

    runtime = FakeRuntime(endpoint_factory=serve)
    runtime.add_image("img")
    container_id = runtime.start(_spec("img"))
    with (
        runtime.endpoint(container_id, 80) as url,
        httpx.Client(base_url=url, transport=httpx.MockTransport(app)) as client,
    ):
        assert client.post("/tokenize", json={"text": "hi"}).json()["tokens"] == [1, 2]


def test_endpoint_without_factory_is_an_error() -> None:
    runtime = FakeRuntime()
    runtime.add_image("img")
    with pytest.raises(SandboxError, match="endpoint_factory"):
        runtime.endpoint(runtime.start(_spec("img")), 80)


def test_names_are_accepted_where_ids_are() -> None:
    runtime = FakeRuntime()
    runtime.add_image("img")
    container_id = runtime.start(_spec("img", name="eval-7"))
    assert runtime.state("eval-7").running
    runtime.remove("eval-7")
    assert runtime.removed == [container_id]


def test_prune_removes_oldest_labelled_unused_images_until_under_budget() -> None:
    runtime = FakeRuntime()
    old = runtime.add_image("a", labels={"podium.submission": "1"}, size=100)
    used = runtime.add_image("b", labels={"podium.submission": "2"}, size=100)
    mid = runtime.add_image("c", labels={"podium.submission": "3"}, size=100)
    new = runtime.add_image("d", labels={"podium.submission": "4"}, size=100)
    runtime.add_image("base", size=10_000)  # unlabelled: never pruned
    runtime.start(_spec("b"))
    assert runtime.prune_images("podium.submission", keep_bytes=200) == [old.id, mid.id]
    assert set(runtime.images) >= {used.id, new.id}
    assert runtime.prune_images("podium.submission=4", keep_bytes=0) == [new.id]


def test_remove_image() -> None:
    runtime = FakeRuntime()
    image = runtime.add_image("a")
    container_id = runtime.start(_spec("a"))
    with pytest.raises(SandboxError, match="used"):
        runtime.remove_image("a")
    runtime.remove(container_id)
    runtime.remove_image("a")
    runtime.remove_image("a")  # already gone: fine
    assert runtime.removed_images == [image.id]


@pytest.mark.parametrize("dockerfile", ["../secret", "/etc/hostname", "link"])
def test_a_dockerfile_outside_the_context_is_refused(tmp_path: Path, dockerfile: str) -> None:
    context = tmp_path / "ctx"
    context.mkdir()
    (tmp_path / "secret").write_text("host secret")
    (context / "link").symlink_to(tmp_path / "secret")
    result = FakeRuntime().build(BuildSpec(context_dir=context, tag="t", dockerfile=dockerfile))
    assert not result.ok and "leaves the build context" in (result.error or "")
    assert "host secret" not in result.log
