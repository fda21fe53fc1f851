"""What image builds leave on a Docker engine, counted and reclaimed.

A failed or cancelled build can leave untagged layers (the steps it committed; after a cancel,
the layer the engine was still committing) and stopped step containers. None of them carries
the build's labels, which the engine applies in a last step, so label-based image GC never saw
them: a cancelled build once left 5.5 GB the disk budget did not count. The builder removes what
it can see (workers.sandbox.docker_build); this module is the reaper's backstop for the rest.

What counts as a leftover:
- an untagged image no other image builds on ("dangling"): nothing can use it again except a
  build that is running right now, so only those older than the longest build are removed, and
  the engine refuses to delete one a container still uses;
- a stopped container whose cgroup parent is a build cgroup (workers.sandbox.build_cgroup):
  a step container of a Podium build, removed once its build is over (its build cgroup is gone)
  or it is older than the longest build.
Tagged images (the base images, the submissions' images) are never touched here.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import docker
import docker.errors

from workers.sandbox import build_cgroup


def dangling_images(client: docker.DockerClient) -> list[dict[str, Any]]:
    images: list[dict[str, Any]] = client.api.images(all=True, filters={"dangling": True})
    return images


def dangling_bytes(client: docker.DockerClient) -> int:
    """Disk used by dangling images beyond the tagged image each was built on.

    An image's size includes its parents' layers; a leftover on a 1 GB base would otherwise
    count that base once per leftover.
    """
    every = {image["Id"]: image for image in client.api.images(all=True)}
    total = 0
    for image in dangling_images(client):
        ancestor = every.get(image.get("ParentId") or "")
        while ancestor is not None and not _tagged(ancestor):
            ancestor = every.get(ancestor.get("ParentId") or "")
        base = int(ancestor["Size"]) if ancestor is not None else 0
        total += max(int(image["Size"]) - base, 0)
    return total


def reclaim_build_leftovers(client: docker.DockerClient, older_than_s: float) -> list[str]:
    """Remove build step containers and dangling images (see the module docstring).

    `older_than_s` must be longer than any build can run, cancel grace included. Returns the
    ids removed: containers first, then images.
    """
    cutoff = time.time() - older_than_s
    removed = _remove_step_containers(client, cutoff)
    for image in sorted(dangling_images(client), key=lambda i: -int(i["Created"])):
        if int(image["Created"]) > cutoff:
            continue
        try:
            # Not forced: the engine refuses to delete an image a container (running or not)
            # was made from, which protects a build's layer while its next step runs.
            client.api.remove_image(image["Id"], force=False, noprune=False)
        except docker.errors.NotFound:
            continue
        except docker.errors.APIError:
            continue
        removed.append(str(image["Id"]))
    build_cgroup.sweep(older_than_s)
    return removed


def _remove_step_containers(client: docker.DockerClient, cutoff: float) -> list[str]:
    removed: list[str] = []
    stopped = client.api.containers(all=True, filters={"status": ["exited", "created", "dead"]})
    for summary in stopped:
        try:
            attrs = client.api.inspect_container(summary["Id"])
        except docker.errors.NotFound:
            continue
        parent = str((attrs.get("HostConfig") or {}).get("CgroupParent") or "")
        prefix = f"/{build_cgroup.PARENT}/"
        if not parent.startswith(prefix):
            continue
        leaf = parent[len(prefix) :].strip("/")
        build_over = not build_cgroup.exists(leaf)
        if not build_over and int(summary.get("Created") or 0) > cutoff:
            continue
        with contextlib.suppress(docker.errors.NotFound):
            try:
                client.api.remove_container(summary["Id"], force=True, v=True)
            except docker.errors.APIError:
                continue
            removed.append(str(summary["Id"]))
    return removed


def _tagged(image: dict[str, Any]) -> bool:
    return any(tag != "<none>:<none>" for tag in image.get("RepoTags") or [])
