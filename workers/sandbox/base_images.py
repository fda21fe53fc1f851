"""The images a build reads, checked on the engine itself just before it builds.

The API and the build flow already refuse a Dockerfile whose `FROM` or `--from` is not an allowed
base image, or that makes the engine fetch a URL (app.submissions.dockerfile_policy). This is the
last line, run on exactly the file handed to the engine: the fetch rules again, and every image
the Dockerfile names must exist on this engine (the engine pulls a missing one, and a registry
namespace like `podium-test/` can be claimed by anyone) and must not be a submission image
(those carry the `podium.submission` label), even when an organizer allowed that name by
mistake or a tag was moved onto a team's image.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors

from app.submissions.dockerfile_policy import BuildPolicy, DockerfileRefused, check_dockerfile
from workers.sandbox.runtime import BuildNetwork

SUBMISSION_LABEL = "podium.submission"


@dataclass(frozen=True)
class BaseRefusal:
    message: str
    """Written for the team (or, when `worker_fault`, for whoever reads the failure)."""
    worker_fault: bool
    """True when the worker lacks an allowed image: not the team's fault."""


def refuse_bases(
    client: docker.DockerClient, dockerfile: Path, name: str, network: BuildNetwork
) -> BaseRefusal | None:
    """None when the Dockerfile makes the engine fetch nothing (unless `network` is "default")
    and every image it reads is present and is no submission's image."""
    try:
        text = dockerfile.read_bytes().decode("utf-8", "replace")
        uses = check_dockerfile(text, BuildPolicy(base_images=None, build_network=network), name)
    except DockerfileRefused as exc:
        return BaseRefusal(exc.message, worker_fault=False)
    for use in uses:
        try:
            image = client.images.get(use.reference)
        except docker.errors.ImageNotFound:
            return BaseRefusal(
                f"{name} line {use.line}: the base image {use.reference} is not on this worker, "
                "and Podium never pulls images; the organizers must provide it "
                "(scripts/build-base-images.sh, or docker load). "
                "This is not your submission's fault.",
                worker_fault=True,
            )
        labels = image.labels or {}
        if SUBMISSION_LABEL in labels:
            return BaseRefusal(
                f"{name} line {use.line}: {use.instruction} {use.reference} is another "
                "submission's image, and builds may only start from the competition's base "
                "images",
                worker_fault=False,
            )
    return None
