"""The host's own address on Docker's default bridge: the target the isolation tests probe.

`docker network inspect bridge` reports `IPAM.Config[].Gateway` on most engines, but not on every
one: a Docker 20.10 engine started with defaults lists only the Subnet although `docker0` holds
172.17.0.1. A test that read only `Gateway` never ran there. So the address is looked up in the
order below, from the most to the least authoritative source, each a separate function with its
own unit test:

1. the network's `Gateway`;
2. the IPv4 address of the bridge interface named in `Options["com.docker.network.bridge.name"]`
   (read with the SIOCGIFADDR ioctl: no `ip` binary needed);
3. the first host address of the network's Subnet (the engine's default gateway choice);
4. the default route of a throwaway container on the bridge (read from `/proc/net/route`, since
   the base image has no `ip`).
"""

from __future__ import annotations

import fcntl
import ipaddress
import socket
import struct
from collections.abc import Callable, Mapping
from typing import Any

BRIDGE_NAME_OPTION = "com.docker.network.bridge.name"
_SIOCGIFADDR = 0x8915


class BridgeAddressNotFound(RuntimeError):
    """None of the sources named the host's address on the bridge."""


def gateway_from_ipam(network: Mapping[str, Any]) -> str | None:
    for config in (network.get("IPAM") or {}).get("Config") or []:
        gateway = (config or {}).get("Gateway")
        if gateway and ipaddress.ip_address(gateway.split("/")[0]).version == 4:
            return str(gateway.split("/")[0])
    return None


def interface_ipv4(name: str) -> str | None:
    """The IPv4 address of a network interface of this host, or None (no such interface or no
    IPv4 address, e.g. when the engine runs in a VM and its bridge is not ours)."""
    packed = struct.pack("256s", name.encode()[:15])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            answer = fcntl.ioctl(sock.fileno(), _SIOCGIFADDR, packed)
        except OSError:
            return None
    return socket.inet_ntoa(answer[20:24])


def gateway_from_interface(
    network: Mapping[str, Any], lookup: Callable[[str], str | None] = interface_ipv4
) -> str | None:
    name = (network.get("Options") or {}).get(BRIDGE_NAME_OPTION)
    return lookup(name) if name else None


def gateway_from_subnet(network: Mapping[str, Any]) -> str | None:
    for config in (network.get("IPAM") or {}).get("Config") or []:
        subnet = (config or {}).get("Subnet")
        if not subnet:
            continue
        net = ipaddress.ip_network(subnet, strict=False)
        if net.version == 4 and net.num_addresses > 2:
            return str(net.network_address + 1)
    return None


def default_route_gateway(proc_net_route: str) -> str | None:
    """The default gateway in the text of a Linux `/proc/net/route` (hex, little-endian)."""
    for line in proc_net_route.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 3 and fields[1] == "00000000" and fields[2] != "00000000":
            return socket.inet_ntoa(struct.pack("<I", int(fields[2], 16)))
    return None


def bridge_address(
    network: Mapping[str, Any],
    *,
    lookup_interface: Callable[[str], str | None] = interface_ipv4,
    container_route: Callable[[], str] | None = None,
) -> str:
    """The host's address on `network` (a `docker network inspect` dict), by the first source
    that names one. `container_route` returns a container's `/proc/net/route`; it runs last, as
    it costs a container start."""
    found = (
        gateway_from_ipam(network)
        or gateway_from_interface(network, lookup_interface)
        or gateway_from_subnet(network)
        or (default_route_gateway(container_route()) if container_route is not None else None)
    )
    if found is None:
        raise BridgeAddressNotFound(
            f"cannot tell the host's address on the Docker network {network.get('Name')!r}: it "
            "has no IPAM Gateway, no bridge interface with an IPv4 address, no IPv4 Subnet, and "
            "a container on it has no default route. Check `docker network inspect bridge`."
        )
    return found


def docker_bridge_address(client: Any, image: str, labels: Mapping[str, str]) -> str:
    """The host's address on the engine's default `bridge` network (`client`: docker-py)."""

    def route() -> str:
        output = client.containers.run(
            image,
            ["cat", "/proc/net/route"],
            network="bridge",
            labels=dict(labels),
            remove=True,
        )
        return bytes(output).decode()

    return bridge_address(client.networks.get("bridge").attrs, container_route=route)
