"""What a team's Dockerfile may make the engine fetch or read, checked before anything is built.

The engine trusts a Dockerfile completely: `FROM` and `COPY --from=` accept any image it has (or
can pull), including another team's submission image, and `ADD <url>` is fetched by the engine
itself, on the host's network, whatever network the build's RUN steps get. So Podium reads the
Dockerfile the way the engine's parser does (parser directives, line continuations with the
escape character, comments, flags, JSON and shell forms, `ARG` defaults substituted into `FROM`)
and refuses, with the line and what is allowed:

- a `FROM` that names neither an earlier stage, `scratch`, nor one of the allowed base images;
- `COPY --from=` / `RUN --mount=...,from=` naming anything but an earlier stage or allowed image;
- `ADD` of a remote source (URL or git) unless the phase gives builds network;
- a `syntax` directive (BuildKit would fetch that frontend image), `--platform` values that would
  make the engine pull another variant, BuildKit cache mounts (shared by every build on the
  engine), `--network`/`--security` flags, and `ONBUILD` triggers that would do any of the above.

Teams cannot pass build arguments, so only `ARG` defaults count. The API runs this at submission
time; the worker runs it again on what it builds, and its Docker builder also checks on the engine
that each base it resolves is not a submission image (see workers/sandbox/docker_build.py).
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from app.kit.errors import Unprocessable

INSTRUCTIONS = frozenset(
    (
        "add arg cmd copy entrypoint env expose from healthcheck label maintainer onbuild run "
        "shell stopsignal user volume workdir"
    ).split()
)
_DIRECTIVES = frozenset({"syntax", "escape", "check"})
_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
# BuildKit also finds `syntax` after a shebang and behind `//`; any of these before the first
# instruction is refused, whichever builder runs.
_SYNTAX_ANYWHERE = re.compile(r"^\s*(#|//)\s*syntax\s*=", re.IGNORECASE)
# Go's unicode.IsSpace, which the engine's parser trims with (Python's str.strip also strips
# \x1c-\x1f, which Go keeps as part of a word).
_GO_SPACE = " \t\n\v\f\r\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"  # noqa: E501
_WORD_SPLIT = re.compile(r"[\t\v\f\r ]+")
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9._-]*$")
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: `--platform` values that mean "the worker's own platform" (BuildKit) or nothing (classic).
_OWN_PLATFORM = frozenset(
    {"", "$BUILDPLATFORM", "${BUILDPLATFORM}", "$TARGETPLATFORM", "${TARGETPLATFORM}"}
)

# distribution/reference grammar, enough to normalize and to refuse what the engine would not
# parse as a reference.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?"  # noqa: E501
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$")
_PATH = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_DOMAIN_RE = re.compile(rf"^{_DOMAIN}$")

SCRATCH = "scratch"


class DockerfileRefused(Unprocessable):
    """The Dockerfile asks for something builds may not do; the message names each line."""


@dataclass(frozen=True)
class BuildPolicy:
    """What builds of one phase (or of submissions without a phase) may start from and fetch."""

    base_images: tuple[str, ...] | None
    """Images a `FROM` or `--from` may name, as the organizer wrote them (`scratch` always may).
    None: any image (the worker's builder, which checks on the engine what the names resolve to)."""
    build_network: Literal["none", "default"] = "none"
    """`default` also allows remote `ADD` sources (the engine fetches them on its network)."""
    scope: str = "this competition"
    """Who allows it, for messages: "this competition", "this server"."""

    @property
    def allowed(self) -> frozenset[str] | None:
        if self.base_images is None:
            return None
        return frozenset(n for n in (normalize_reference(b) for b in self.base_images) if n)

    def describe(self) -> str:
        names = sorted(self.base_images or ())
        listed = ", ".join(names) if names else "no base images (only FROM scratch)"
        return f"{self.scope} allows: {listed}"


@dataclass(frozen=True)
class Instruction:
    line: int
    """1-based line number where the instruction starts."""
    keyword: str
    """Lower-case instruction name (`from`, `copy`, ...)."""
    flags: tuple[str, ...]
    """`--name=value` flags, quotes removed as the engine does (without the leading `--`)."""
    rest: str
    """Everything after the flags, continuation lines joined."""
    text: str
    """The whole logical line, for messages."""


@dataclass(frozen=True)
class ParsedDockerfile:
    directives: Mapping[str, str]
    instructions: tuple[Instruction, ...]
    escape: str


@dataclass(frozen=True)
class ImageUse:
    """An image, not a stage, that the build will read: the engine resolves (or pulls) it."""

    line: int
    instruction: str
    reference: str
    """As the engine sees it: after `ARG` substitution, before normalization."""


# ------------------------------------------------------------------------------------- parsing


def parse_dockerfile(text: str, name: str = "Dockerfile") -> ParsedDockerfile:
    """Logical instructions of `text`, split as the engine's Dockerfile parser splits them."""
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = [raw.rstrip("\r\n") for raw in text.split("\n")]
    directives: dict[str, str] = {}
    for raw in lines:
        match = _DIRECTIVE.match(raw)
        if not match or match.group(1).lower() not in _DIRECTIVES:
            break
        key = match.group(1).lower()
        if key in directives:
            raise DockerfileRefused(f"{name}: only one `# {key}=` parser directive may be used")
        directives[key] = match.group(2)
    escape = directives.get("escape", "\\")
    if escape not in ("\\", "`"):
        raise DockerfileRefused(
            f"{name}: invalid `# escape={escape}` directive; the escape character must be \\ or `"
        )
    continuation = re.compile(re.escape(escape) + r"[ \t]*$")

    def is_comment(raw: str) -> bool:
        return raw.lstrip(_GO_SPACE).startswith("#")

    instructions: list[Instruction] = []
    i = 0
    while i < len(lines):
        raw = lines[i].lstrip(_GO_SPACE)
        i += 1
        start = i
        if raw.startswith("#"):
            continue
        line, ended = _trim_continuation(raw, continuation)
        if ended and not line.strip(_GO_SPACE):
            continue
        while not ended and i < len(lines):
            raw = lines[i]
            i += 1
            if is_comment(raw) or not raw.strip(_GO_SPACE):
                continue
            part, ended = _trim_continuation(raw, continuation)
            line += part
        instructions.append(_instruction(line, start, escape))
    return ParsedDockerfile(directives, tuple(instructions), escape)


def _trim_continuation(line: str, continuation: re.Pattern[str]) -> tuple[str, bool]:
    match = continuation.search(line)
    if match:
        return line[: match.start()], False
    return line, True


def _instruction(line: str, number: int, escape: str) -> Instruction:
    stripped = line.strip(_GO_SPACE)
    parts = _WORD_SPLIT.split(stripped, maxsplit=1)
    keyword = parts[0].lower()
    args = parts[1] if len(parts) > 1 else ""
    rest, flags = extract_flags(args)
    return Instruction(number, keyword, tuple(flags), rest, stripped)


def extract_flags(line: str) -> tuple[str, list[str]]:
    """Leading `--flag[=value]` words, quotes and backslashes handled as the engine's
    extractBuilderFlags does; returns the rest of the line and the flags without `--`."""
    words: list[str] = []
    word = ""
    quote = ""
    blank_ok = False
    phase = "spaces"
    pos = 0
    n = len(line)
    while pos <= n:
        ch = line[pos] if pos < n else ""
        if phase == "spaces":
            if pos == n:
                break
            if ch.isspace():
                pos += 1
                continue
            if ch != "-" or pos + 1 == n or line[pos + 1] != "-":
                return line[pos:], [w[2:] for w in words]
            phase = "word"
        if pos == n:
            if word != "--" and (blank_ok or word):
                words.append(word)
            break
        if phase == "word":
            if ch.isspace():
                phase = "spaces"
                if word == "--":
                    return line[pos:], [w[2:] for w in words]
                if blank_ok or word:
                    words.append(word)
                word, blank_ok = "", False
                pos += 1
                continue
            if ch in ("'", '"'):
                quote, blank_ok, phase = ch, True, "quote"
                pos += 1
                continue
            if ch == "\\":
                if pos + 1 == n:
                    pos += 1
                    continue
                pos += 1
                ch = line[pos]
            word += ch
            pos += 1
            continue
        # phase == "quote"
        if ch == quote:
            phase = "word"
            pos += 1
            continue
        if ch == "\\":
            if pos + 1 == n:
                phase = "word"
                pos += 1
                continue
            pos += 1
            ch = line[pos]
        word += ch
        pos += 1
    return "", [w[2:] for w in words]


def _flag(flags: Sequence[str], name: str) -> list[str]:
    """Values of every `--name=value` (case-insensitive name; a bare `--name` gives '')."""
    values = []
    for flag in flags:
        key, _, value = flag.partition("=")
        if key.lower() == name:
            values.append(value)
    return values


# --------------------------------------------------------------------------- ARG substitution


class _Unsupported(ValueError):
    pass


def expand(word: str, env: Mapping[str, str | None], escape: str = "\\") -> str:
    """`word` with quotes removed and `$VAR`, `${VAR}`, `${VAR:-x}`, `${VAR:+x}` (and the forms
    without `:`) substituted from `env` (None = declared without a default = unset), as the
    engine's shell lexer does. Anything fancier raises _Unsupported."""
    out: list[str] = []
    i, n = 0, len(word)
    while i < n:
        ch = word[i]
        if ch == escape:
            if i + 1 < n:
                out.append(word[i + 1])
            i += 2
            continue
        if ch == "'":
            end = word.find("'", i + 1)
            if end < 0:
                raise _Unsupported("an unterminated ' quote")
            out.append(word[i + 1 : end])
            i = end + 1
            continue
        if ch == '"':
            i += 1
            while i < n and word[i] != '"':
                c = word[i]
                if c == escape and i + 1 < n and word[i + 1] in ('"', "$", escape):
                    out.append(word[i + 1])
                    i += 2
                elif c == "$":
                    value, i = _dollar(word, i, env, escape)
                    out.append(value)
                else:
                    out.append(c)
                    i += 1
            if i >= n:
                raise _Unsupported('an unterminated " quote')
            i += 1
            continue
        if ch == "$":
            value, i = _dollar(word, i, env, escape)
            out.append(value)
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _dollar(word: str, i: int, env: Mapping[str, str | None], escape: str) -> tuple[str, int]:
    nxt = word[i + 1] if i + 1 < len(word) else ""
    if nxt == "{":
        end = word.find("}", i + 2)
        if end < 0:
            raise _Unsupported("a ${ without its closing }")
        body = word[i + 2 : end]
        match = _VAR_NAME.match(body)
        if not match:
            raise _Unsupported(f"the substitution ${{{body}}}")
        name, op = match.group(0), body[match.end() :]
        value = env.get(name)
        if op == "":
            return value or "", end + 1
        for form in (":-", ":+", "-", "+"):
            if op.startswith(form):
                alt = expand(op[len(form) :], env, escape)
                if form == ":-":
                    return (value if value else alt), end + 1
                if form == "-":
                    return (value if value is not None else alt), end + 1
                if form == ":+":
                    return (alt if value else ""), end + 1
                return (alt if value is not None else ""), end + 1
        raise _Unsupported(f"the substitution ${{{body}}}")
    match = _VAR_NAME.match(word, i + 1)
    if match:
        return env.get(match.group(0)) or "", match.end()
    if nxt and not nxt.isspace():
        raise _Unsupported(f"${nxt}")
    return "$", i + 1


def _shell_words(text: str, escape: str) -> list[str]:
    """Whitespace-separated words, quotes and escapes kept (ARG's name=value pairs)."""
    words: list[str] = []
    word = ""
    quote = ""
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            word += ch
            if ch == escape and quote == '"' and i + 1 < len(text):
                word += text[i + 1]
                i += 1
            elif ch == quote:
                quote = ""
        elif ch == escape and i + 1 < len(text):
            word += ch + text[i + 1]
            i += 1
        elif ch in ("'", '"'):
            quote = ch
            word += ch
        elif ch in " \t":
            if word:
                words.append(word)
            word = ""
        else:
            word += ch
        i += 1
    if word:
        words.append(word)
    return words


# --------------------------------------------------------------------------- image references


def normalize_reference(ref: str) -> str | None:
    """`ref` as the engine names it (`docker.io/library/python:latest` for `python`), or None
    when the engine would not accept it as an image reference."""
    if not ref or ref != ref.strip():
        return None
    name, _, digest = ref.partition("@")
    if digest and not _DIGEST.match(digest):
        return None
    tag = ""
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
        if not _TAG.match(tag):
            return None
    first, sep, remainder = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        domain, path = first, remainder
        if not _DOMAIN_RE.match(domain):
            return None
    else:
        domain, path = "docker.io", name
    if domain == "index.docker.io":
        domain = "docker.io"
    if domain == "docker.io" and "/" not in path:
        path = f"library/{path}"
    if not _PATH.match(path):
        return None
    if not tag and not digest:
        tag = "latest"
    return f"{domain}/{path}" + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


# --------------------------------------------------------------------------------- the checks


@dataclass
class _Stages:
    names: list[str | None]

    def has(self, ref: str, *, by_index: bool) -> bool:
        if by_index and ref.isdigit():
            return int(ref) < len(self.names)
        return ref.lower() in self.names


class _Checker:
    def __init__(self, parsed: ParsedDockerfile, policy: BuildPolicy, name: str) -> None:
        self.parsed = parsed
        self.policy = policy
        self.name = name
        self.problems: list[str] = []
        self.uses: list[ImageUse] = []
        self.stages = _Stages([])
        self.meta: dict[str, str | None] = {}

    def refuse(self, ins: Instruction, why: str) -> None:
        self.problems.append(f"{self.name} line {ins.line}: {why}")

    def _allowed_or_refuse(self, ins: Instruction, what: str, ref: str) -> None:
        """`what` names the instruction and flag (`FROM`, `COPY --from=`), `ref` the image."""
        if ref == SCRATCH:
            return
        label = f"{what}{'' if what.endswith('=') else ' '}{ref}"
        normalized = normalize_reference(ref)
        if normalized is None:
            self.refuse(ins, f"{label}: not a valid image name")
            return
        self.uses.append(ImageUse(ins.line, ins.keyword.upper(), ref))
        allowed = self.policy.allowed
        if allowed is not None and normalized not in allowed:
            self.refuse(ins, f"{label} is not an allowed base image; {self.policy.describe()}")

    def run(self) -> None:
        seen_from = False
        for ins in self.parsed.instructions:
            if ins.keyword not in INSTRUCTIONS:
                word = ins.text.split()[0] if ins.text.split() else ins.text
                self.refuse(ins, f"unknown instruction {word!r}")
                continue
            if ins.keyword == "arg" and not seen_from:
                self._meta_arg(ins)
            if ins.keyword == "from":
                seen_from = True
                self._from(ins)
            else:
                self._step(ins, trigger=False)

    def _platform(self, ins: Instruction, keyword: str) -> None:
        for value in _flag(ins.flags, "platform"):
            if value.strip() not in _OWN_PLATFORM:
                self.refuse(
                    ins,
                    f"{keyword} --platform={value} is not allowed: builds run for the worker's "
                    "own platform, and another one would make the engine pull an image; "
                    "remove --platform",
                )

    def _meta_arg(self, ins: Instruction) -> None:
        for word in _shell_words(ins.rest, self.parsed.escape):
            key, eq, raw = word.partition("=")
            try:
                self.meta[key] = expand(raw, self.meta, self.parsed.escape) if eq else None
            except _Unsupported as exc:
                self.refuse(ins, f"ARG {key}: Podium cannot read {exc}; write the value plainly")
                self.meta[key] = None

    def _from(self, ins: Instruction) -> None:
        self._platform(ins, "FROM")
        words = [w for w in _WORD_SPLIT.split(ins.rest.strip(_GO_SPACE)) if w]
        stage: str | None = None
        if len(words) == 3 and words[1].lower() == "as":
            stage = words[2].lower()
            if not _STAGE_NAME.match(stage):
                self.refuse(
                    ins,
                    f"FROM ... AS {words[2]}: a stage name is a letter then letters, "
                    "digits, '.', '_' or '-'",
                )
        elif len(words) != 1:
            self.refuse(ins, "FROM takes an image and optionally `AS name`")
            self.stages.names.append(None)
            return
        try:
            image = expand(words[0], self.meta, self.parsed.escape)
        except _Unsupported as exc:
            self.refuse(ins, f"FROM {words[0]}: Podium cannot read {exc}; write the name plainly")
            self.stages.names.append(stage)
            return
        if not self.stages.has(image, by_index=False):
            self._allowed_or_refuse(ins, "FROM", image)
        self.stages.names.append(stage)

    def _from_flag(self, ins: Instruction, what: str, ref: str, trigger: bool) -> None:
        if trigger:
            self.refuse(ins, f"{what}{ref}: ONBUILD triggers may not read other images or stages")
            return
        if "$" in ref or not ref:
            self.refuse(ins, f"{what}{ref}: write the stage or image name plainly, no variables")
            return
        # Only finished stages: the engine looks the current one's name up as an image.
        if _Stages(self.stages.names[:-1]).has(ref, by_index=True):
            return
        self._allowed_or_refuse(ins, what, ref)

    def _step(self, ins: Instruction, trigger: bool) -> None:
        """One non-FROM instruction; an ONBUILD trigger (same line) is checked as if it ran."""
        keyword = ins.keyword.upper()
        prefix = "ONBUILD " if trigger else ""
        if ins.keyword == "onbuild":
            sub = _instruction(ins.rest, ins.line, self.parsed.escape)
            if sub.keyword in ("onbuild", "from", "maintainer") or sub.keyword not in INSTRUCTIONS:
                self.refuse(ins, f"ONBUILD {sub.keyword.upper()} is not allowed")
                return
            self._step(sub, trigger=True)
            return
        self._platform(ins, f"{prefix}{keyword}")
        if ins.keyword in ("copy", "add"):
            for ref in _flag(ins.flags, "from"):
                self._from_flag(ins, f"{prefix}{keyword} --from=", ref, trigger)
        if ins.keyword == "add":
            self._add(ins, prefix)
        if ins.keyword == "run":
            self._run(ins, prefix, trigger)

    def _add(self, ins: Instruction, prefix: str) -> None:
        if self.policy.build_network == "default":
            return
        remote = _remote_sources(ins.rest, self.parsed.escape)
        if remote:
            self.refuse(
                ins,
                f"{prefix}ADD {remote[0]}: builds have no network, and the engine would fetch "
                "this itself; put the file in the build context and COPY it",
            )
        elif "$" in ins.rest:
            self.refuse(
                ins,
                f"{prefix}ADD: sources may not use variables here (they could name a URL); "
                "write the paths plainly, or use COPY",
            )

    def _run(self, ins: Instruction, prefix: str, trigger: bool) -> None:
        for value in _flag(ins.flags, "network"):
            if value.strip().lower() != "none":
                self.refuse(ins, f"{prefix}RUN --network={value} is not allowed; remove it")
        for value in _flag(ins.flags, "security"):
            if value.strip().lower() != "sandbox":
                self.refuse(ins, f"{prefix}RUN --security={value} is not allowed; remove it")
        for value in _flag(ins.flags, "mount"):
            fields = _mount_fields(value)
            if fields is None:
                self.refuse(ins, f"{prefix}RUN --mount={value}: Podium cannot read this mount")
                continue
            if fields.get("type", "bind").lower() == "cache":
                self.refuse(
                    ins,
                    f"{prefix}RUN --mount={value}: cache mounts are shared by every build on the "
                    "engine, other teams' included; remove it",
                )
            source = fields.get("from")
            if source is not None:
                self._from_flag(ins, f"{prefix}RUN --mount=...,from=", source, trigger)


def _mount_fields(value: str) -> dict[str, str] | None:
    try:
        rows = list(csv.reader([value]))
    except csv.Error:
        return None
    fields: dict[str, str] = {}
    for item in rows[0] if rows else []:
        key, _, val = item.partition("=")
        fields[key.strip().lower()] = val
    if "from" not in fields and re.search(r"from", value, re.IGNORECASE):
        return None  # "from" hidden in a way this reading missed: refuse rather than guess
    return fields


def _remote_sources(rest: str, escape: str) -> list[str]:
    """ADD arguments that are (or, once quotes and escapes go, become) a URL or a git remote.

    Judged on every reading the engine might take (JSON array or shell words), with quotes and
    escape characters dropped, so that no spelling of a URL slips through.
    """
    candidates = [w for w in _WORD_SPLIT.split(rest.strip(_GO_SPACE)) if w]
    if rest.lstrip().startswith("["):
        try:
            loaded = json.loads(rest)
        except ValueError:
            loaded = None
        if isinstance(loaded, list):
            candidates += [str(w) for w in loaded]
    remote = []
    for word in candidates:
        plain = re.sub(r"[\"'" + re.escape(escape) + "]", "", word).strip(_GO_SPACE + "[],")
        lowered = plain.lower()
        if (
            "://" in lowered
            or lowered.startswith("git@")
            or lowered.startswith("github.com/")
            or re.search(r"\.git(#.*)?$", lowered)
        ):
            remote.append(plain)
    return remote


def _syntax_lines(text: str) -> int | None:
    for number, raw in enumerate(text.lstrip("\ufeff").split("\n"), start=1):
        line = raw.strip()
        if _SYNTAX_ANYWHERE.match(line):
            return number
        if line and not line.startswith("#") and not line.startswith("//"):
            return None
    return None


def check_dockerfile(text: str, policy: BuildPolicy, name: str = "Dockerfile") -> list[ImageUse]:
    """Raise DockerfileRefused naming every refused line; return the images the build reads
    (what the worker's builder inspects on the engine)."""
    problems: list[str] = []
    if (line := _syntax_lines(text)) is not None:
        problems.append(
            f"{name} line {line}: the `syntax` parser directive is not allowed (it makes the "
            "engine fetch a builder image); remove the line"
        )
    parsed = parse_dockerfile(text, name)
    checker = _Checker(parsed, policy, name)
    checker.run()
    problems += checker.problems
    if not any(i.keyword == "from" for i in parsed.instructions):
        problems.append(f"{name}: no FROM instruction; start from an allowed base image")
    if problems:
        raise DockerfileRefused("\n".join(problems))
    return checker.uses


def read_dockerfile(context_root: Path, dockerfile: str) -> str:
    path = context_root / dockerfile
    try:
        return path.read_bytes().decode("utf-8", "replace")
    except OSError as exc:
        raise DockerfileRefused(f"{dockerfile}: cannot be read ({exc.strerror})") from exc


def check_context(context_root: Path, dockerfile: str, policy: BuildPolicy) -> list[ImageUse]:
    """check_dockerfile on the Dockerfile of an extracted build context."""
    return check_dockerfile(read_dockerfile(context_root, dockerfile), policy, dockerfile)


def build_policy(
    default_base_images: Iterable[str],
    default_network: Literal["none", "default"],
    sandbox: Mapping[str, object] | None,
) -> BuildPolicy:
    """The policy for a phase's stored `sandbox` settings (None: a submission without a phase).

    A phase's `base_images` replaces the server's `default_base_images`; its `build_network`
    overrides the server's.
    """
    images: Iterable[str] = default_base_images
    network = default_network
    if sandbox is not None:
        phase_images = sandbox.get("base_images")
        if isinstance(phase_images, list):
            images = [str(i) for i in phase_images]
        phase_network = sandbox.get("build_network")
        if phase_network in ("none", "default"):
            network = "default" if phase_network == "default" else "none"
    return BuildPolicy(
        base_images=tuple(images),
        build_network=network,
        scope="this server" if sandbox is None else "this competition",
    )
