"""Whose fault is it when the engine refuses to start a container?

The engine answers one way (an API error with a free-text explanation) both when the team's image
cannot run (its command does not exist, its USER is missing, it has a file where Podium mounts a
directory) and when the engine itself failed (unknown OCI runtime, no GPU driver, daemon error).
The first is the team's defect: it gets the team's reason code and counts toward its quota,
otherwise a broken image could be submitted forever for free. The second is Podium's own.

The explanation's wording comes from runc and dockerd; the patterns below match what Docker 20.10
to 27 and runc 1.x write. An explanation that matches none stays Podium's fault: wrongly blaming
Podium costs a re-run, wrongly blaming a team costs it quota for nothing it did.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from workers.sandbox.runtime import SandboxError


class ImageDefect(SandboxError):
    """The team's image cannot be started as built; the message says what to change in it."""


class HostSetupError(SandboxError):
    """This worker lacks what the sandbox needs (privileges, the host's PID namespace): Podium's
    fault, not the image's, even though it shows up while a container starts."""


_Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]

_MOUNT_HINT = {
    "/weights": "Podium mounts the submission's weights there",
    "/tmp": "Podium mounts a writable tmpfs there",
}


def _file_at_mount(match: re.Match[str]) -> str:
    target = match.group("target")
    why = _MOUNT_HINT.get(target, "Podium mounts a directory there")
    return (
        f"your image has a file at {target}; {why}: remove it from the image "
        f"(e.g. do not COPY or RUN anything that writes {target})"
    )


def _missing_command(match: re.Match[str]) -> str:
    return (
        f"the image's command {match.group('cmd')!r} does not exist in the image; fix the "
        "ENTRYPOINT/CMD of your Dockerfile (use the full path, or install the program)"
    )


def _not_executable(match: re.Match[str]) -> str:
    return (
        f"the image's command {match.group('cmd')!r} is not executable (permission denied); "
        "`chmod +x` it in your Dockerfile, or point ENTRYPOINT/CMD at an executable"
    )


def _missing_user(match: re.Match[str]) -> str:
    return (
        f"the image's USER names a {match.group('kind')} {match.group('name')!r} that the image "
        "does not have; create it in your Dockerfile (useradd/groupadd) or use a numeric uid:gid"
    )


def _no_command(_: re.Match[str]) -> str:
    return "the image has no ENTRYPOINT or CMD; add one that starts your server"


def _bad_workdir(match: re.Match[str]) -> str:
    return (
        f"the image's WORKDIR {match.group('path')!r} is not a directory; "
        "point WORKDIR at a directory"
    )


def _exec_format(_: re.Match[str]) -> str:
    return (
        "the image's command cannot be executed (exec format error): it was built for another "
        "CPU architecture, or it is a script without a #! line; build for linux/amd64 and start "
        "scripts with #!/bin/sh"
    )


_RULES: tuple[_Rule, ...] = (
    (
        re.compile(
            r'error mounting "[^"]*" to rootfs at "(?P<target>[^"]+)".*not a directory', re.S
        ),
        _file_at_mount,
    ),
    (
        re.compile(r'exec: "(?P<cmd>[^"]*)": (?:stat [^:]*: )?no such file or directory'),
        _missing_command,
    ),
    (re.compile(r'exec: "(?P<cmd>[^"]*)": executable file not found'), _missing_command),
    (re.compile(r'exec: "(?P<cmd>[^"]*)": permission denied'), _not_executable),
    (re.compile(r"unable to find (?P<kind>user|group) (?P<name>[^:\s]+)"), _missing_user),
    (re.compile(r"\bno command specified\b", re.I), _no_command),
    (re.compile(r"Cannot mkdir: (?P<path>\S+) is not a directory"), _bad_workdir),
    (re.compile(r'chdir to cwd \("?(?P<path>[^")]+)"?\)'), _bad_workdir),
    (re.compile(r"exec format error"), _exec_format),
)


def image_defect(explanation: str) -> str | None:
    """The team-facing message when the engine's `explanation` blames the image, else None.

    The message never quotes the explanation itself: it names host paths (the weights folder)
    that are none of the team's business.
    """
    for pattern, message in _RULES:
        match = pattern.search(explanation)
        if match is not None:
            return message(match)
    return None
