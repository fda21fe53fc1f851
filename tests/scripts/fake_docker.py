"""A stand-in for the `docker` CLI, for the locking tests of scripts/build-base-images.sh.

It keeps tags and images in a JSON file (guarded by a lock, since two scripts call it at once)
and implements only what the script calls. `import` and `build` take a while and record when they
start and end, so a test can tell whether two builds overlapped.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

STATE = Path(os.environ["FAKE_DOCKER_STATE"])
EVENTS = STATE.with_suffix(".events")
BUILD_S = float(os.environ.get("FAKE_DOCKER_BUILD_S", "1.0"))


def say(*words: object) -> None:
    sys.stdout.write(" ".join(str(w) for w in words) + "\n")


def event(*words: str) -> None:
    with EVENTS.open("a") as f:
        f.write(f"{time.monotonic():.3f} {os.getpid()} {' '.join(words)}\n")


class State:
    def __enter__(self) -> dict[str, Any]:
        self.fd = os.open(STATE.with_suffix(".lock"), os.O_CREAT | os.O_RDWR)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        self.data: dict[str, Any] = (
            json.loads(STATE.read_text()) if STATE.exists() else {"tags": {}, "images": {}}
        )
        return self.data

    def __exit__(self, *exc: object) -> None:
        STATE.write_text(json.dumps(self.data))
        os.close(self.fd)


def resolve(data: dict[str, Any], ref: str) -> str | None:
    if ref in data["tags"]:
        return str(data["tags"][ref])
    return ref if ref in data["images"] else None


def new_image(tag: str, parent: str = "") -> None:
    event("begin-build", tag)
    time.sleep(BUILD_S)
    with State() as data:
        image = f"sha256:{uuid.uuid4().hex}{uuid.uuid4().hex}"
        data["images"][image] = {"parent": parent}
        data["tags"][tag] = image
    event("end-build", tag)


def main(args: list[str]) -> int:
    cmd, rest = args[0], args[1:]
    if cmd == "info":
        return 0
    if cmd == "image" and rest[0] == "inspect":
        rest = rest[1:]
        fmt = None
        if rest[0] == "-f":
            fmt, rest = rest[1], rest[2:]
        with State() as data:
            found = [(ref, resolve(data, ref)) for ref in rest]
            parents = {i: data["images"][i]["parent"] for _, i in found if i}
        event("inspect", *rest, "ok" if all(i for _, i in found) else "missing")
        for _, image in found:
            if image and fmt == "{{.Id}}":
                say(image)
            elif image and fmt == "{{.Parent}}":
                say(parents[image])
            elif image and fmt == "{{.Size}}":
                say(1000000)
        return 0 if all(image for _, image in found) else 1
    if cmd == "import":
        new_image(rest[-1])
        return 0
    if cmd == "build":
        new_image(rest[rest.index("-t") + 1])
        return 0
    if cmd == "run":
        image = next(a for a in rest if ":" in a)
        with State() as data:
            return 0 if resolve(data, image) else 125
    if cmd == "tag":
        with State() as data:
            image = resolve(data, rest[0])
            if image is None:
                return 1
            data["tags"][rest[1]] = image
        event("tag", rest[0], rest[1])
        return 0
    if cmd == "rmi":
        with State() as data:
            ref = rest[0]
            if ref in data["tags"]:
                del data["tags"][ref]
            elif ref in data["images"] and ref not in data["tags"].values():
                del data["images"][ref]
            else:
                return 1
        event("rmi", ref)
        return 0
    if cmd == "images":
        with State() as data:
            if "--format" in rest:
                tagged = {i: t for t, i in data["tags"].items()}
                for image in data["images"]:
                    say(image, tagged.get(image, "<none>:<none>"))
            else:
                for image in data["images"]:
                    say(image)
        return 0
    if cmd == "ps" or (cmd == "image" and rest[0] == "prune"):
        return 0
    sys.stderr.write(f"fake docker: unsupported {args}\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
