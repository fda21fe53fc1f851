"""Where evaluations read scenario files from: a local directory, a mirror, or upstream."""

from __future__ import annotations

import evaluator
from app.config import Settings


def scenario_source(settings: Settings) -> evaluator.DataSource:
    """PODIUM_SCENARIO_DATA if set, else PODIUM_SCENARIO_MIRROR, else the canonical upstream
    files; every file is checked against the suite's sha256 pins either way."""
    return evaluator.DataSource.from_settings(
        settings.scenario_data,
        settings.scenario_mirror or None,
        settings.data_dir / "scenario-cache",
    )
