"""The leaderboard's bar chart, laid out here and drawn as inline SVG by `_chart.html`.

For each scenario, one bar per top entry (ranked teams only, best first). Pure geometry: no
ranking happens here, the entries come from `app.leaderboard.service.leaderboard`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from app.leaderboard.schemas import Leaderboard

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9")
TOP = len(PALETTE)

PLOT_HEIGHT = 220
TOP_MARGIN = 16
LEFT_MARGIN = 48
BOTTOM_MARGIN = 40
BAR_WIDTH = 22
BAR_GAP = 3
GROUP_PADDING = 32
LEGEND_WIDTH = 190
LEGEND_ROW = 20
LEGEND_LABEL_CHARS = 24
SCENARIO_LABEL_CHARS = 20
CHAR_WIDTH = 7.0
"""A generous width of one 12 px character of the page's sans-serif font, to tell whether the
scenario names fit side by side under their groups."""
LABEL_ANGLE = 35.0
"""Degrees the scenario names are turned when they would not fit side by side."""


@dataclass(frozen=True)
class Bar:
    team: str
    scenario: str
    value: float
    x: float
    y: float
    height: float
    color: str


@dataclass(frozen=True)
class Group:
    scenario: str
    label_x: float
    bars: list[Bar]
    label: str
    """The scenario's name, shortened to SCENARIO_LABEL_CHARS (the full name is its title)."""


@dataclass(frozen=True)
class LegendItem:
    team: str
    label: str
    color: str
    y: float


@dataclass(frozen=True)
class Tick:
    label: str
    y: float


@dataclass(frozen=True)
class BarChart:
    width: float
    height: float
    plot_left: float
    plot_right: float
    plot_top: float
    plot_bottom: float
    bar_width: float
    legend_x: float
    label_y: float
    label_angle: float
    """0: the scenario names sit side by side; else they are turned this many degrees."""
    groups: list[Group]
    legend: list[LegendItem]
    ticks: list[Tick]
    description: str


def _short(name: str, chars: int = LEGEND_LABEL_CHARS) -> str:
    return name if len(name) <= chars else name[: chars - 1] + "…"


def bar_chart(board: Leaderboard, top: int = TOP) -> BarChart | None:
    """The chart of the board's top `top` ranked entries, or None when there is nothing to draw."""
    entries = sorted((e for e in board.entries if e.rank is not None), key=lambda e: e.rank or 0)
    entries = entries[: min(top, TOP)]
    if not entries or not board.scenarios:
        return None
    group_width = len(entries) * (BAR_WIDTH + BAR_GAP) - BAR_GAP + GROUP_PADDING
    plot_top = TOP_MARGIN
    plot_bottom = TOP_MARGIN + PLOT_HEIGHT
    plot_right = LEFT_MARGIN + len(board.scenarios) * group_width
    colors = {e.team: PALETTE[i] for i, e in enumerate(entries)}

    groups: list[Group] = []
    for g, scenario in enumerate(board.scenarios):
        left = LEFT_MARGIN + g * group_width + GROUP_PADDING / 2
        bars: list[Bar] = []
        for i, entry in enumerate(entries):
            value = entry.scores.get(scenario)
            if value is None:
                continue  # a missing score draws no bar (the gap shows it)
            height = max(0.0, min(1.0, value)) * PLOT_HEIGHT
            bars.append(
                Bar(
                    team=entry.team,
                    scenario=scenario,
                    value=value,
                    x=left + i * (BAR_WIDTH + BAR_GAP),
                    y=plot_bottom - height,
                    height=height,
                    color=colors[entry.team],
                )
            )
        label = _short(scenario, SCENARIO_LABEL_CHARS)
        groups.append(Group(scenario, left + (group_width - GROUP_PADDING) / 2, bars, label))

    # Names wider than their group would run into each other: turn them all, and make room.
    widest = max(len(g.label) for g in groups) * CHAR_WIDTH
    angle = 0.0 if widest <= group_width - 8 else LABEL_ANGLE
    drop = math.sin(math.radians(angle)) * widest if angle else 0.0

    legend = [
        LegendItem(e.team, _short(e.team), colors[e.team], plot_top + i * LEGEND_ROW)
        for i, e in enumerate(entries)
    ]
    ticks = [Tick(f"{v:.2f}", plot_bottom - v * PLOT_HEIGHT) for v in (0.0, 0.25, 0.5, 0.75, 1.0)]
    description = "; ".join(
        f"{g.scenario}: " + (", ".join(f"{b.team} {b.value:.3f}" for b in g.bars) or "no scores")
        for g in groups
    )
    return BarChart(
        width=plot_right + 16 + LEGEND_WIDTH,
        height=max(plot_bottom + BOTTOM_MARGIN + drop, plot_top + len(entries) * LEGEND_ROW),
        plot_left=LEFT_MARGIN,
        plot_right=plot_right,
        plot_top=plot_top,
        plot_bottom=plot_bottom,
        bar_width=BAR_WIDTH,
        legend_x=plot_right + 16,
        label_y=plot_bottom + (14 if angle else 18),
        label_angle=angle,
        groups=groups,
        legend=legend,
        ticks=ticks,
        description=description,
    )
