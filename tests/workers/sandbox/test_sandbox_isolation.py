"""Network isolation of sandboxed builds and containers: the property that matters most.

Listeners are opened on this host only (0.0.0.0 and the docker bridge gateway, i.e. the host's
own docker0 address) and probed from inside. Each test first shows, with the engine's ordinary
bridge network, that the probe does reach the listeners, so a "blocked" result under the policy
means blocked, not a broken probe. No address outside this machine is ever contacted.
"""

from __future__ import annotations

import json
import select
import socket
import textwrap
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from workers.sandbox.docker_runtime import DockerRuntime
from workers.sandbox.runtime import BuildSpec, ContainerSpec

pytestmark = pytest.mark.docker

BASE_IMAGE = "podium-test/python:bookworm"


@dataclass
class Listener:
    sock: socket.socket
    host: str
    port: int

    def connections(self) -> int:
        """Accept everything pending; how many connections arrived."""
        count = 0
        while select.select([self.sock], [], [], 0)[0]:
            conn, _ = self.sock.accept()
            conn.close()
            count += 1
        return count


@pytest.fixture
def listeners(bridge_gateway: str) -> Iterator[dict[str, Listener]]:
    opened: dict[str, Listener] = {}
    for name, host in (("any", "0.0.0.0"), ("gateway", bridge_gateway)):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((host, 0))
        sock.listen(16)
        opened[name] = Listener(sock, host, sock.getsockname()[1])
    yield opened
    for listener in opened.values():
        listener.sock.close()


def _targets(listeners: dict[str, Listener], gateway: str) -> dict[str, tuple[str, int]]:
    # The 0.0.0.0 listener is reached from a container through the gateway address; its port
    # on 127.0.0.1 is the container's own loopback, which must not lead to the host either.
    return {
        "host_any_via_gateway": (gateway, listeners["any"].port),
        "host_gateway": (gateway, listeners["gateway"].port),
        "own_loopback": ("127.0.0.1", listeners["any"].port),
    }


def _probe_source(targets: dict[str, tuple[str, int]]) -> str:
    return textwrap.dedent(
        f"""
        import json, socket
        results = {{}}
        for name, (host, port) in {targets!r}.items():
            try:
                socket.create_connection((host, port), timeout=3).close()
                results[name] = "connected"
            except OSError as exc:
                results[name] = exc.strerror or repr(exc)
        print("PROBE " + json.dumps(results))
        """
    )


def _parse(output: str) -> dict[str, str]:
    line = next(line for line in output.splitlines() if line.startswith("PROBE "))
    result: dict[str, str] = json.loads(line.removeprefix("PROBE "))
    return result


def test_a_sandboxed_container_reaches_neither_the_host_nor_other_containers(
    runtime: DockerRuntime,
    docker_client: docker.DockerClient,
    listeners: dict[str, Listener],
    bridge_gateway: str,
    make_spec: Callable[..., ContainerSpec],
    wait_exited: Callable[[str], None],
    labels: dict[str, str],
) -> None:
    # Another container, on the ordinary bridge, serving on its bridge address.
    neighbour = docker_client.containers.run(
        BASE_IMAGE,
        ["python3", "-m", "http.server", "8000"],
        detach=True,
        labels=labels,
        name=f"podium-test-neighbour-{uuid.uuid4().hex[:8]}",
    )
    try:
        neighbour.reload()
        neighbour_ip = neighbour.attrs["NetworkSettings"]["IPAddress"]
        targets = _targets(listeners, bridge_gateway) | {"neighbour": (neighbour_ip, 8000)}
        probe = _probe_source(targets)

        # Control: without the policy, the same probe gets through.
        control = docker_client.containers.run(
            BASE_IMAGE, ["python3", "-c", probe], labels=labels, remove=True
        )
        seen = _parse(control.decode())
        why = "the probe must reach the listeners without the policy, or it proves nothing"
        assert seen["host_any_via_gateway"] == "connected", (why, seen)
        assert seen["host_gateway"] == "connected", (why, seen)
        assert seen["neighbour"] == "connected", (why, seen)
        for listener in listeners.values():
            assert listener.connections() == 1

        container_id = runtime.start(make_spec(BASE_IMAGE, command=["python3", "-c", probe]))
        try:
            wait_exited(container_id)
            logs = runtime.logs(container_id, 100_000)
        finally:
            runtime.remove(container_id)
        seen = _parse(logs)
        assert all(result != "connected" for result in seen.values()), seen
        assert seen["host_gateway"] == "Network is unreachable"
        assert seen["own_loopback"] == "Connection refused"
        for listener in listeners.values():
            assert listener.connections() == 0
    finally:
        neighbour.remove(force=True)


def test_a_build_without_network_reaches_nothing(
    runtime: DockerRuntime,
    listeners: dict[str, Listener],
    bridge_gateway: str,
    make_context: Callable[..., Path],
    build_spec: Callable[..., BuildSpec],
) -> None:
    probe = _probe_source(_targets(listeners, bridge_gateway))
    dockerfile = (
        "FROM podium-test/python:bookworm\nCOPY probe.py /probe.py\nRUN python3 /probe.py\n"
    )

    def context(network: str) -> Path:
        # The build cache ignores the build network: identical contexts would reuse the first
        # build's RUN layer. A comment makes each context distinct.
        return make_context(dockerfile, **{"probe.py": f"# network={network}\n{probe}"})

    # Control: a build with the engine's default network gets through.
    opened = runtime.build(build_spec(context("default"), network="default"))
    assert opened.ok, opened.error
    assert _parse(opened.log)["host_gateway"] == "connected"
    assert listeners["gateway"].connections() == 1
    assert listeners["any"].connections() == 1

    closed = runtime.build(build_spec(context("none"), network="none"))
    assert closed.ok, closed.error  # the probe reports, it does not fail the step
    seen = _parse(closed.log)
    assert all(result != "connected" for result in seen.values()), seen
    for listener in listeners.values():
        assert listener.connections() == 0
