"""Where evaluations read scenario files from, and the start-up check that they are there.

Files come from a local directory (PODIUM_SCENARIO_DATA), else a mirror (PODIUM_SCENARIO_MIRROR),
else the canonical upstream files; each is checked against its suite's sha256 pin either way.

Without the start-up check a worker whose data directory lacks a file accepts every submission,
builds and starts it, and only then fails it with `internal_error`. `podium up` and `podium worker`
run `check_scenario_data` first and refuse to start, naming the files and the command that fetches
them. A local directory is checked fully (hashing ~60 MB takes well under a second); a mirror or
upstream is not contacted at start-up, only named, except that files which upstream cannot
provide must already be in the download cache.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import evaluator
from app.config import Settings
from evaluator.conf import ConfError
from evaluator.fetch import file_sha256


def scenario_source(settings: Settings) -> evaluator.DataSource:
    """PODIUM_SCENARIO_DATA if set, else PODIUM_SCENARIO_MIRROR, else the canonical upstream
    files; every file is checked against the suite's sha256 pins either way."""
    return evaluator.DataSource.from_settings(
        settings.scenario_data,
        settings.scenario_mirror or None,
        _cache_dir(settings),
    )


def _cache_dir(settings: Settings) -> Path:
    return settings.data_dir / "scenario-cache"


@dataclass(frozen=True)
class DataProblem:
    """A pinned file an evaluation would fail on."""

    path: str
    # "missing", "mismatch" (present with other bytes) or "not_upstream" (cannot be downloaded).
    kind: str
    expected: str
    actual: str | None = None
    detail: str = ""

    def describe(self) -> str:
        if self.kind == "mismatch":
            return (
                f"{self.path}: differs from its pin "
                f"(expected sha256 {self.expected}, found {self.actual})"
            )
        if self.kind == "not_upstream":
            return f"{self.path}: not in the download cache, and {self.detail}"
        return f"{self.path}: missing"


@dataclass(frozen=True)
class DataReport:
    """The outcome of the start-up check."""

    # Where evaluations will read files from, in words.
    origin: str
    # Suite name -> who uses it ("the default suite", "phase <competition>/<phase>").
    suites: dict[str, list[str]]
    # Pinned files of those suites.
    files: int
    problems: list[DataProblem] = field(default_factory=list)
    # Things worth saying that do not stop the start (e.g. no network check was made).
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def suites_in_use(settings: Settings) -> tuple[dict[str, list[str]], list[str]]:
    """The default suite and every phase's suite, each with who uses it; plus notes (e.g. when
    the phases could not be read)."""
    users: dict[str, list[str]] = {settings.default_suite: ["the default suite"]}
    notes: list[str] = []
    try:
        phases = _phase_suites(settings.database_url)
    except Exception as exc:  # SQLAlchemy and driver errors: a missing schema, no server yet
        notes.append(
            f"could not read the competitions' phases ({type(exc).__name__}); checked the "
            "default suite only"
        )
        phases = []
    for competition, phase, suite, conf in phases:
        if conf is not None:
            # A HELM conf phase: its suite exists only as the stored conf text.
            suite = f"conf:{competition}/{phase}"
            _CONF_TEXTS[suite] = conf
        users.setdefault(suite, []).append(f"phase {competition}/{phase}")
    return users, notes


#: Suites of HELM conf phases seen by `suites_in_use`: name -> the conf text stored with the phase.
_CONF_TEXTS: dict[str, str] = {}


def _suite(name: str) -> evaluator.Suite:
    conf = _CONF_TEXTS.get(name)
    if conf is None:
        return evaluator.get_suite(name)
    from evaluator.conf import suite_from_conf

    return suite_from_conf(conf.encode("utf-8"), name=name, source=name).suite


def _phase_suites(database_url: str) -> list[tuple[str, str, str, str | None]]:
    from sqlalchemy import select

    from app.competitions.models import Competition, Phase
    from app.kit.db import session_scope

    if database_url.startswith("sqlite:///"):
        # Connecting would create an empty database file where none was meant to be.
        if not Path(database_url.removeprefix("sqlite:///")).is_file():
            return []
    with session_scope(database_url) as session:
        rows = session.execute(
            select(Competition.slug, Phase.slug, Phase.suite_name, Phase.suite_conf)
            .join(Phase, Phase.competition_id == Competition.id)
            .order_by(Competition.slug, Phase.slug)
        ).all()
    return [(str(c), str(p), str(s), conf) for c, p, s, conf in rows]


def check_scenario_data(settings: Settings, suites: Mapping[str, list[str]]) -> DataReport:
    """Whether evaluations of `suites` (name -> who uses it) will find every pinned file."""
    known: dict[str, list[str]] = {}
    notes: list[str] = []
    pins: dict[str, str] = {}
    for name, users in suites.items():
        try:
            pins.update(_suite(name).data_files)
        except (evaluator.SuiteNotFound, ConfError) as exc:
            # The worker fails those evaluations with a clear message; the rest can still run.
            notes.append(f"{', '.join(users)} uses an unknown suite: {exc}")
            continue
        known[name] = list(users)
    if settings.scenario_data is not None:
        root = settings.scenario_data
        origin = f"{root} (PODIUM_SCENARIO_DATA)"
        problems = _check_directory(root, pins)
    else:
        cache = _cache_dir(settings)
        if settings.scenario_mirror:
            origin = (
                f"mirror {settings.scenario_mirror} (PODIUM_SCENARIO_MIRROR), cached in {cache}"
            )
            problems = []
        else:
            origin = f"the upstream repositories, cached in {cache}"
            problems = _check_upstream(cache, pins)
        notes.append(
            f"scenario files will be downloaded from {origin} as evaluations need them and "
            "checked against their sha256 pins; that source was not contacted now (without "
            "access to it, fill a directory with `podium data fetch --dest DIR` and set "
            "PODIUM_SCENARIO_DATA=DIR)"
        )
    return DataReport(origin, known, len(pins), problems, notes)


def _check_directory(root: Path, pins: Mapping[str, str]) -> list[DataProblem]:
    problems = []
    for path, expected in sorted(pins.items()):
        actual = file_sha256(root.joinpath(*path.split("/")))
        if actual is None:
            problems.append(DataProblem(path, "missing", expected))
        elif actual != expected:
            problems.append(DataProblem(path, "mismatch", expected, actual))
    return problems


def _check_upstream(cache: Path, pins: Mapping[str, str]) -> list[DataProblem]:
    problems = []
    for path, expected in sorted(pins.items()):
        try:
            evaluator.upstream_url(path)
            continue
        except evaluator.DataFetchError as exc:
            reason = str(exc)
        if file_sha256(cache.joinpath(*path.split("/"))) != expected:
            problems.append(DataProblem(path, "not_upstream", expected, detail=reason))
    return problems


def refusal(report: DataReport, command: str, settings: Settings) -> str:
    """The message `command` prints when it refuses to start over `report`'s problems."""
    users = "; ".join(f"{name} ({', '.join(who)})" for name, who in report.suites.items())
    shown = report.problems[:20]
    lines = [
        f"{command} refuses to start: {len(report.problems)} of the {report.files} scenario "
        f"data files that suites {users} read are not available from {report.origin}.",
        "Every evaluation would fail on them. The files:",
        *(f"  {p.describe()}" for p in shown),
    ]
    if len(report.problems) > len(shown):
        lines.append(f"  ... and {len(report.problems) - len(shown)} more")
    lines.append(fetch_hint(report.suites, settings))
    return "\n".join(lines)


def fetch_hint(suites: Iterable[str], settings: Settings) -> str:
    dest = settings.scenario_data or _cache_dir(settings)
    flags = " ".join(f"--suite {name}" for name in suites)
    return (
        f"Fetch them with:  podium data fetch {flags} --dest {dest}\n"
        "(add --mirror URL to take them from a mirror; files that upstream cannot provide are "
        "named by that command, with how to provide them). Or point PODIUM_SCENARIO_DATA at a "
        "complete copy of the scenario data."
    )
