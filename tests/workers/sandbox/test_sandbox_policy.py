"""The sandbox policy as DockerRuntime hands it to the engine (no engine needed)."""

from __future__ import annotations

from pathlib import Path

from workers.sandbox.docker_runtime import container_options
from workers.sandbox.runtime import ContainerSpec


def _spec(**overrides: object) -> ContainerSpec:
    fields: dict[str, object] = {
        "image": "img",
        "name": "eval-1",
        "labels": {"podium.evaluation": "9"},
        "memory_bytes": 8 << 30,
        "nano_cpus": 4 * 10**9,
        "tmpfs_bytes": 1 << 30,
    }
    fields.update(overrides)
    return ContainerSpec(**fields)  # type: ignore[arg-type]


def test_locked_down_by_default() -> None:
    options = container_options(_spec())
    assert options["network_mode"] == "none"
    assert options["read_only"] is True
    assert options["cap_drop"] == ["ALL"]
    assert options["security_opt"] == ["no-new-privileges"]
    assert options["pids_limit"] == 512
    assert options["mem_limit"] == options["memswap_limit"] == 8 << 30
    assert options["nano_cpus"] == 4 * 10**9
    assert options["tmpfs"] == {"/tmp": f"rw,exec,nosuid,nodev,size={1 << 30},mode=1777"}
    assert options["device_requests"] == []
    assert options["auto_remove"] is False
    assert options["labels"] == {"podium.evaluation": "9"}
    assert options["runtime"] is None
    # Nothing that would open a path in or out.
    for key in ("ports", "publish_all_ports", "privileged", "cap_add", "userns_mode", "pid_mode"):
        assert key not in options
    assert "network" not in options


def test_gpus_are_exactly_the_assigned_ones() -> None:
    (request,) = container_options(_spec(gpus=("1", "3")))["device_requests"]
    assert request["DeviceIDs"] == ["1", "3"]
    assert request["Capabilities"] == [["gpu"]]
    assert request["Count"] == 0  # not "all"


def test_weights_are_mounted_read_only(tmp_path: Path) -> None:
    options = container_options(_spec(weights_dir=tmp_path, env={"A": "1"}))
    (mount,) = options["mounts"]
    assert mount["Target"] == "/weights" and mount["Source"] == str(tmp_path)
    assert mount["ReadOnly"] is True and mount["Type"] == "bind"
    assert options["environment"] == {"A": "1", "PODIUM_WEIGHTS_DIR": "/weights"}


def test_no_weights_no_mount() -> None:
    options = container_options(_spec())
    assert options["mounts"] == [] and "PODIUM_WEIGHTS_DIR" not in options["environment"]


def test_oci_runtime_command_and_log_cap() -> None:
    options = container_options(
        _spec(oci_runtime="runsc", command=["python3", "-m", "x"], log_max_bytes=1 << 20)
    )
    assert options["runtime"] == "runsc"
    assert options["command"] == ["python3", "-m", "x"]
    assert options["log_config"]["Config"] == {"max-size": str(1 << 19), "max-file": "2"}
