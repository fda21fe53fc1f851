"""Each source of the host's bridge address, and the order they are tried in.

The dicts are shaped like `docker network inspect bridge` on the engines seen: the 20.10 one that
omits `Gateway` is the case that kept the isolation tests from running.
"""

from __future__ import annotations

import socket
from typing import Any

import docker
import pytest

from tests.bridge_address import (
    BridgeAddressNotFound,
    bridge_address,
    default_route_gateway,
    docker_bridge_address,
    interface_ipv4,
)
from tests.workers.sandbox.conftest import BASE_IMAGE

WITH_GATEWAY: dict[str, Any] = {
    "Name": "bridge",
    "IPAM": {"Config": [{"Subnet": "172.17.0.0/16", "Gateway": "172.17.0.1"}]},
    "Options": {"com.docker.network.bridge.name": "docker0"},
}
# Docker 20.10 started with defaults: only the Subnet.
SUBNET_ONLY: dict[str, Any] = {
    "Name": "bridge",
    "IPAM": {"Driver": "default", "Options": None, "Config": [{"Subnet": "10.9.0.0/24"}]},
    "Options": {"com.docker.network.bridge.name": "br-test"},
}
NOTHING: dict[str, Any] = {"Name": "bridge", "IPAM": {"Config": None}, "Options": None}

# /proc/net/route of a container on the bridge: default route via 172.17.0.1 (0x010011AC LE).
PROC_NET_ROUTE = (
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
    "eth0\t00000000\t010011AC\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
    "eth0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n"
)


def no_interface(name: str) -> None:
    return None


def must_not_run() -> str:
    raise AssertionError("a container was started although a cheaper source had the answer")


def test_the_ipam_gateway_comes_first() -> None:
    def wrong_interface(name: str) -> str:
        return "192.0.2.1"

    address = bridge_address(
        WITH_GATEWAY, lookup_interface=wrong_interface, container_route=must_not_run
    )
    assert address == "172.17.0.1"


def test_a_gateway_with_a_prefix_length_is_read_as_an_address() -> None:
    network = {"IPAM": {"Config": [{"Subnet": "10.0.0.0/8", "Gateway": "10.0.0.254/8"}]}}
    assert bridge_address(network, lookup_interface=no_interface) == "10.0.0.254"


def test_without_gateway_the_bridge_interface_is_asked() -> None:
    asked: list[str] = []

    def lookup(name: str) -> str:
        asked.append(name)
        return "10.9.0.77"

    address = bridge_address(SUBNET_ONLY, lookup_interface=lookup, container_route=must_not_run)
    assert (address, asked) == ("10.9.0.77", ["br-test"])


def test_without_gateway_or_interface_the_first_subnet_host_is_used() -> None:
    address = bridge_address(
        SUBNET_ONLY, lookup_interface=no_interface, container_route=must_not_run
    )
    assert address == "10.9.0.1"


def test_an_ipv6_only_subnet_is_skipped_for_the_ipv4_one() -> None:
    network = {"IPAM": {"Config": [{"Subnet": "fd00::/64"}, {"Subnet": "10.8.0.0/16"}]}}
    assert bridge_address(network, lookup_interface=no_interface) == "10.8.0.1"


def test_with_nothing_in_the_inspect_dict_a_container_route_decides() -> None:
    address = bridge_address(
        NOTHING, lookup_interface=no_interface, container_route=lambda: PROC_NET_ROUTE
    )
    assert address == "172.17.0.1"


def test_with_no_source_at_all_the_error_says_what_to_check() -> None:
    no_route = PROC_NET_ROUTE.splitlines()[0] + "\n"
    with pytest.raises(BridgeAddressNotFound, match="docker network inspect bridge"):
        bridge_address(NOTHING, lookup_interface=no_interface, container_route=lambda: no_route)


def test_the_default_route_parser_ignores_non_default_routes() -> None:
    assert default_route_gateway(PROC_NET_ROUTE) == "172.17.0.1"
    assert default_route_gateway("\n".join(PROC_NET_ROUTE.splitlines()[::2])) is None


def test_interface_ipv4_reads_a_real_interface() -> None:
    assert interface_ipv4("lo") == "127.0.0.1"
    assert interface_ipv4("podium-no-such0") is None


def test_the_real_engine_bridge_address_belongs_to_this_host(
    docker_client: docker.DockerClient, labels: dict[str, str]
) -> None:
    """On the engine at hand the address is one this host holds, and a container on the bridge
    routes through it: the two ends of what the isolation tests probe."""
    address = docker_bridge_address(docker_client, BASE_IMAGE, labels)
    with socket.socket() as sock:
        sock.bind((address, 0))  # only an address of this host can be bound
    route = docker_client.containers.run(
        BASE_IMAGE, ["cat", "/proc/net/route"], network="bridge", labels=labels, remove=True
    )
    assert default_route_gateway(bytes(route).decode()) == address
