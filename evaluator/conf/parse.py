"""Reading HELM run-entry files (`*.conf`): the format `helm-run --conf-paths` takes.

A conf file is HOCON; HELM's are all one shape, which is what this reads:

    # a comment (also // comments)
    entries: [
      {description: "mmlu:model=neurips/local,subject=anatomy,max_eval_instances=10", priority: 1}
      ...
    ]

Objects may be separated by commas or newlines, keys may be quoted, strings use double quotes
with JSON escapes. Anything else is an error that names the line, so a typo never turns into a
silently shorter suite. A description is HELM's object spec, `name:key=value,key=value`
(`parse_object_spec`): values are plain text, an empty value (`subtask=`) is kept as "".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from evaluator.errors import EvaluatorError


class ConfError(EvaluatorError):
    """The conf file cannot be used; the message names the file, the line and the fix."""

    reason = "invalid_conf"


@dataclass(frozen=True)
class ConfEntry:
    """One run entry of a conf file."""

    # The run spec description, e.g. "gsm:model=neurips/local,max_eval_instances=61".
    description: str
    # HELM's priority (1 = most important); kept for display, every entry is run.
    priority: int
    # 1-based line of the entry in the file, for error messages.
    line: int


@dataclass(frozen=True)
class Description:
    """A parsed description: HELM's run spec function name and its arguments, in order."""

    name: str
    args: tuple[tuple[str, str], ...]

    def arg(self, key: str) -> str | None:
        return dict(self.args).get(key)


_TOKEN = re.compile(
    r"""
    (?P<ws>[ \t\r]+)
  | (?P<nl>\n)
  | (?P<comment>(?:\#|//)[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<punct>[\[\]{}:,=])
  | (?P<word>[A-Za-z0-9_.+-]+)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    line: int


def _tokens(text: str, source: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    line, pos = 1, 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            snippet = text[pos : pos + 20].split("\n", 1)[0]
            raise ConfError(f"{source}, line {line}: unexpected text {snippet!r}")
        kind = match.lastgroup or ""
        value = match.group()
        if kind == "nl":
            tokens.append(_Tok("nl", value, line))
            line += 1
        elif kind not in ("ws", "comment"):
            tokens.append(_Tok(kind, value, line))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[_Tok], source: str) -> None:
        self.tokens = tokens
        self.pos = 0
        self.source = source

    def _skip_newlines(self) -> None:
        while self.pos < len(self.tokens) and self.tokens[self.pos].kind == "nl":
            self.pos += 1

    def peek(self) -> _Tok | None:
        self._skip_newlines()
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, what: str) -> _Tok:
        tok = self.peek()
        if tok is None:
            raise ConfError(f"{self.source}: the file ends where {what} was expected")
        self.pos += 1
        return tok

    def fail(self, tok: _Tok, expected: str) -> ConfError:
        return ConfError(f"{self.source}, line {tok.line}: expected {expected}, found {tok.text!r}")

    def key(self) -> tuple[str, int]:
        tok = self.take("a key")
        if tok.kind == "word":
            return tok.text, tok.line
        if tok.kind == "string":
            return self._string(tok), tok.line
        raise self.fail(tok, "a key")

    def _string(self, tok: _Tok) -> str:
        try:
            value = json.loads(tok.text)
        except json.JSONDecodeError as exc:
            raise ConfError(f"{self.source}, line {tok.line}: bad string ({exc})") from None
        assert isinstance(value, str)
        return value

    def separator(self) -> None:
        tok = self.take("':' or '='")
        if tok.text not in (":", "="):
            raise self.fail(tok, "':' or '='")

    def entries(self) -> list[ConfEntry]:
        name, line = self.key()
        if name != "entries":
            raise ConfError(
                f"{self.source}, line {line}: a HELM conf file starts with 'entries: [', "
                f"found key {name!r}"
            )
        self.separator()
        tok = self.take("'['")
        if tok.text != "[":
            raise self.fail(tok, "'['")
        found: list[ConfEntry] = []
        while True:
            tok = self.take("an entry or ']'")
            if tok.text == "]":
                break
            if tok.text == ",":
                continue
            if tok.text != "{":
                raise self.fail(tok, "'{' starting an entry")
            found.append(self.entry(tok.line))
        rest = self.peek()
        if rest is not None:
            raise ConfError(
                f"{self.source}, line {rest.line}: unexpected {rest.text!r} after the entries list"
            )
        return found

    def entry(self, line: int) -> ConfEntry:
        fields: dict[str, str] = {}
        while True:
            tok = self.peek()
            if tok is None:
                raise ConfError(f"{self.source}, line {line}: the entry is never closed with '}}'")
            if tok.text == "}":
                self.pos += 1
                break
            if tok.text == ",":
                self.pos += 1
                continue
            key, key_line = self.key()
            self.separator()
            value = self.take(f"a value for {key!r}")
            if value.kind == "string":
                fields[key] = self._string(value)
            elif value.kind == "word":
                fields[key] = value.text
            else:
                raise self.fail(value, f"a value for {key!r}")
            if key not in ("description", "priority"):
                raise ConfError(
                    f"{self.source}, line {key_line}: unknown entry field {key!r}; "
                    "a run entry has 'description' and 'priority'"
                )
        if "description" not in fields:
            raise ConfError(f"{self.source}, line {line}: the entry has no 'description'")
        priority_text = fields.get("priority", "1")
        if not priority_text.isdigit():
            raise ConfError(
                f"{self.source}, line {line}: priority must be a whole number, "
                f"got {priority_text!r}"
            )
        return ConfEntry(fields["description"], int(priority_text), line)


def parse_conf(text: str, source: str = "conf") -> list[ConfEntry]:
    """The run entries of a HELM conf file's text; ConfError names the line of any problem."""
    entries = _Parser(_tokens(text, source), source).entries()
    if not entries:
        raise ConfError(f"{source}: the entries list is empty")
    return entries


def parse_description(entry: ConfEntry, source: str = "conf") -> Description:
    """HELM's `parse_object_spec`: `name:key=value,...` (a bare `name` has no arguments)."""
    where = f"{source}, line {entry.line}"
    text = entry.description.strip()
    name, _, rest = text.partition(":")
    if not re.fullmatch(r"[A-Za-z0-9_]+", name):
        raise ConfError(f"{where}: {entry.description!r} does not start with a scenario name")
    args: list[tuple[str, str]] = []
    if rest:
        for part in rest.split(","):
            key, eq, value = part.partition("=")
            if not eq or not key:
                raise ConfError(f"{where}: {part!r} in {entry.description!r} is not key=value")
            if key in dict(args):
                raise ConfError(f"{where}: argument {key!r} is given twice")
            args.append((key, value))
    return Description(name, tuple(args))
