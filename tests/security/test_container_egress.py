"""Egress from a sandboxed container: it reaches no address of this host, no Docker socket, and
no resolver.

The test opens TCP and UDP listeners on every IPv4 address this host has (loopback, the Docker
bridge address, and each other interface's address, enumerated with the SIOCGIFADDR ioctl), plus
one TCP listener on 0.0.0.0, then runs a probe inside a container started by `DockerRuntime`
under the sandbox policy. The probe connects to every listener on every address, sends a
datagram to every UDP listener, looks for the Docker socket and asks the kernel for a route to
each nameserver in its `/etc/resolv.conf` (a UDP `connect`: a route lookup, no packet is sent, so
an outside resolver is never contacted). Every attempt must fail and no listener may see a
connection or a datagram.

A control run of the same probe in a plain container on the engine's bridge must reach the
listeners on the bridge and host addresses, so "blocked" means blocked, not a broken probe. Only
this machine's own addresses are ever targeted.
"""

from __future__ import annotations

import json
import select
import socket
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import docker
import pytest

from tests.bridge_address import interface_ipv4
from tests.workers.sandbox import conftest as sandbox
from workers.sandbox.docker_runtime import DockerRuntime
from workers.sandbox.runtime import ContainerSpec

pytestmark = pytest.mark.docker
BASE_IMAGE = sandbox.BASE_IMAGE

# The sandbox tests' fixtures: a real DockerRuntime, cleaned up by the session's label.
docker_client = sandbox.docker_client
test_label = sandbox.test_label
labels = sandbox.labels
runtime = sandbox.runtime
make_spec = sandbox.make_spec
wait_exited = sandbox.wait_exited
bridge_gateway = sandbox.bridge_gateway

DOCKER_SOCKETS = ("/var/run/docker.sock", "/run/docker.sock", "/var/run/docker/docker.sock")


def host_ipv4_addresses() -> dict[str, str]:
    """Every IPv4 address of this host, by interface name (loopback included)."""
    found: dict[str, str] = {}
    for _, name in socket.if_nameindex():
        address = interface_ipv4(name)
        if address is not None:
            found[name] = address
    return found


@dataclass
class Listeners:
    tcp: dict[str, socket.socket]
    udp: dict[str, socket.socket]
    any_tcp: socket.socket

    def targets(self) -> dict[str, tuple[str, str, int]]:
        """Probe name -> (protocol, host, port)."""
        out: dict[str, tuple[str, str, int]] = {}
        any_port = self.any_tcp.getsockname()[1]
        for address, sock in self.tcp.items():
            out[f"tcp {address}"] = ("tcp", address, sock.getsockname()[1])
            out[f"tcp {address} (0.0.0.0 listener)"] = ("tcp", address, any_port)
        for address, sock in self.udp.items():
            out[f"udp {address}"] = ("udp", address, sock.getsockname()[1])
        return out

    def seen(self) -> dict[str, int]:
        """Connections and datagrams received since the last call, by listener."""
        counts: dict[str, int] = {}
        for address, sock in [*self.tcp.items(), ("0.0.0.0", self.any_tcp)]:
            counts[f"tcp {address}"] = 0
            while select.select([sock], [], [], 0)[0]:
                conn, _ = sock.accept()
                conn.close()
                counts[f"tcp {address}"] += 1
        for address, sock in self.udp.items():
            counts[f"udp {address}"] = 0
            while select.select([sock], [], [], 0)[0]:
                sock.recvfrom(65536)
                counts[f"udp {address}"] += 1
        return counts


@pytest.fixture
def listeners(bridge_gateway: str) -> Iterator[Listeners]:
    addresses = sorted(set(host_ipv4_addresses().values()) | {"127.0.0.1", bridge_gateway})
    opened: list[socket.socket] = []

    def bind(kind: int, host: str) -> socket.socket:
        sock = socket.socket(socket.AF_INET, kind)
        opened.append(sock)
        sock.bind((host, 0))
        if kind == socket.SOCK_STREAM:
            sock.listen(64)
        return sock

    try:
        yield Listeners(
            tcp={a: bind(socket.SOCK_STREAM, a) for a in addresses},
            udp={a: bind(socket.SOCK_DGRAM, a) for a in addresses},
            any_tcp=bind(socket.SOCK_STREAM, "0.0.0.0"),
        )
    finally:
        for sock in opened:
            sock.close()


def _probe(targets: dict[str, tuple[str, str, int]], *, sandboxed: bool) -> str:
    # The resolver check runs only in the sandbox: the control container has a route to the
    # (possibly outside) nameserver, and the probe must never send it anything. A UDP connect
    # sends nothing in any case; it only asks the kernel for a route.
    return textwrap.dedent(
        f"""
        import json, os, socket
        results = {{}}
        for name, (proto, host, port) in {targets!r}.items():
            try:
                if proto == "tcp":
                    socket.create_connection((host, port), timeout=3).close()
                    results[name] = "connected"
                else:
                    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    s.sendto(b"\\x12\\x34\\x01\\x00\\x00\\x01" + bytes(6), (host, port))
                    s.close()
                    results[name] = "sent"
            except OSError as exc:
                results[name] = exc.strerror or repr(exc)
        for path in {DOCKER_SOCKETS!r}:
            results["socket " + path] = "present" if os.path.lexists(path) else "absent"
        results["env DOCKER_HOST"] = os.environ.get("DOCKER_HOST", "unset")
        if {sandboxed!r}:
            servers = [line.split()[1] for line in open("/etc/resolv.conf")
                       if line.startswith("nameserver") and len(line.split()) > 1]
            for server in servers:
                family = socket.AF_INET6 if ":" in server else socket.AF_INET
                s = socket.socket(family, socket.SOCK_DGRAM)
                try:
                    s.connect((server, 53))
                    results["route to nameserver " + server] = "routable"
                except OSError as exc:
                    results["route to nameserver " + server] = exc.strerror or repr(exc)
                finally:
                    s.close()
            interfaces = sorted(name for _, name in socket.if_nameindex())
            results["interfaces"] = ",".join(interfaces)
        print("PROBE " + json.dumps(results))
        """
    )


def _parse(output: str) -> dict[str, str]:
    line = next(line for line in output.splitlines() if line.startswith("PROBE "))
    result: dict[str, str] = json.loads(line.removeprefix("PROBE "))
    return result


def test_a_sandboxed_container_reaches_no_host_address_no_docker_socket_and_no_resolver(
    runtime: DockerRuntime,
    docker_client: docker.DockerClient,
    listeners: Listeners,
    bridge_gateway: str,
    make_spec: Callable[..., ContainerSpec],
    wait_exited: Callable[[str], None],
    labels: dict[str, str],
) -> None:
    targets = listeners.targets()
    hosts = {host for _, host, _ in targets.values()}
    assert bridge_gateway in hosts and "127.0.0.1" in hosts
    assert len(hosts) >= 3, f"expected loopback, bridge and an own address: {sorted(hosts)}"

    # Control: a plain container on the bridge reaches the host through the bridge address
    # (and, routed through it, the host's other addresses).
    control = docker_client.containers.run(
        BASE_IMAGE,
        ["python3", "-c", _probe(targets, sandboxed=False)],
        labels=labels,
        remove=True,
    )
    seen = _parse(control.decode())
    why = "the probe must reach the host without the policy, or it proves nothing"
    assert seen[f"tcp {bridge_gateway}"] == "connected", (why, seen)
    assert seen[f"tcp {bridge_gateway} (0.0.0.0 listener)"] == "connected", (why, seen)
    assert seen[f"udp {bridge_gateway}"] == "sent", (why, seen)
    counts = listeners.seen()
    assert counts[f"tcp {bridge_gateway}"] == 1 and counts["tcp 0.0.0.0"] >= 1, counts

    container_id = runtime.start(
        make_spec(BASE_IMAGE, command=["python3", "-c", _probe(targets, sandboxed=True)])
    )
    try:
        wait_exited(container_id)
        logs = runtime.logs(container_id, 1_000_000)
    finally:
        runtime.remove(container_id)
    seen = _parse(logs)

    # A datagram to 127.0.0.1 goes to the container's own loopback, where nothing listens: the
    # send succeeds and is lost. The host's listener on 127.0.0.1 must not see it (checked last).
    own_loopback = "udp 127.0.0.1"
    reached = {
        name: r
        for name, r in seen.items()
        if r in ("connected", "sent", "routable") and name != own_loopback
    }
    assert not reached, f"the sandbox reached: {reached}"
    for name in targets.keys() - {own_loopback}:
        assert seen[name] in ("Network is unreachable", "Connection refused"), (name, seen)
    for path in DOCKER_SOCKETS:
        assert seen[f"socket {path}"] == "absent", seen
    assert seen["env DOCKER_HOST"] == "unset"
    assert seen["interfaces"] == "lo", "the sandbox must have only its own loopback"
    assert all(count == 0 for count in listeners.seen().values()), listeners.seen()
