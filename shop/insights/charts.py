"""Geometry of the two server-rendered SVG charts (integer pixels; the templates draw them, tables beside them).

Nothing here reads the database: the figures come from queries.py, one entry per day or per funnel step.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from .queries import DayUptake, Funnel

UPTAKE_WIDTH, UPTAKE_HEIGHT = 720, 260
UPTAKE_LEFT, UPTAKE_RIGHT, UPTAKE_TOP, UPTAKE_BOTTOM = 48, 12, 12, 36  # margins around the plot
FUNNEL_WIDTH, FUNNEL_BAR_HEIGHT, FUNNEL_GAP = 720, 34, 12
FUNNEL_LABEL_WIDTH, FUNNEL_COUNT_WIDTH = 220, 110


@dataclass(frozen=True)
class Bar:
    x: int
    y: int
    width: int
    height: int
    label: str  # what a hover tooltip (<title>) says


@dataclass(frozen=True)
class Tick:
    position: int
    label: str


@dataclass(frozen=True)
class UptakeChart:
    width: int
    height: int
    plot_left: int
    plot_right: int
    plot_top: int
    plot_bottom: int
    bars: list[Bar]
    y_ticks: list[Tick]
    x_ticks: list[Tick]


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=offset) for offset in range((end - start).days + 1)]


def uptake_chart(days: list[DayUptake], start: date | None = None, end: date | None = None) -> UptakeChart:
    """One bar per day with purchases (height = that day's uptake), over every day from ``start`` to ``end``."""
    if days:
        start = start or days[0].day
        end = end or days[-1].day
    calendar = _days(start, end) if start and end else []
    plot_left, plot_right = UPTAKE_LEFT, UPTAKE_WIDTH - UPTAKE_RIGHT
    plot_top, plot_bottom = UPTAKE_TOP, UPTAKE_HEIGHT - UPTAKE_BOTTOM
    plot_height = plot_bottom - plot_top
    slot = (plot_right - plot_left) // max(len(calendar), 1)
    bar_width = max(slot - max(slot // 5, 1), 1)
    by_day = {entry.day: entry for entry in days}
    bars = []
    for index, day in enumerate(calendar):
        entry = by_day.get(day)
        if entry is None:
            continue
        tenths = entry.uptake.tenths_of_percent or 0
        height = plot_height * tenths // 1000
        bars.append(
            Bar(
                x=plot_left + index * slot + (slot - bar_width) // 2,
                y=plot_bottom - height,
                width=bar_width,
                height=height,
                label=f"{day.isoformat()}: {entry.redeemed} / {entry.purchases} ({entry.uptake.percent_text})",
            )
        )
    y_ticks = [Tick(plot_bottom - plot_height * percent // 100, f"{percent}%") for percent in (0, 25, 50, 75, 100)]
    step = max(len(calendar) // 6, 1)
    x_ticks = [
        Tick(plot_left + index * slot + slot // 2, day.strftime("%d %b"))
        for index, day in enumerate(calendar)
        if index % step == 0
    ]
    return UptakeChart(
        UPTAKE_WIDTH, UPTAKE_HEIGHT, plot_left, plot_right, plot_top, plot_bottom, bars, y_ticks, x_ticks
    )


@dataclass(frozen=True)
class FunnelBar:
    key: str
    y: int
    width: int
    count: int


@dataclass(frozen=True)
class FunnelChart:
    width: int
    height: int
    bar_left: int
    bar_height: int
    count_x: int
    bars: list[FunnelBar]


def funnel_chart(funnel: Funnel) -> FunnelChart:
    """One horizontal bar per step, as wide as its share of the first step."""
    plot_width = FUNNEL_WIDTH - FUNNEL_LABEL_WIDTH - FUNNEL_COUNT_WIDTH
    first = funnel.steps[0].count
    bars = [
        FunnelBar(
            key=step.key,
            y=index * (FUNNEL_BAR_HEIGHT + FUNNEL_GAP),
            width=(plot_width * step.count // first) if first else 0,
            count=step.count,
        )
        for index, step in enumerate(funnel.steps)
    ]
    height = len(bars) * (FUNNEL_BAR_HEIGHT + FUNNEL_GAP) - FUNNEL_GAP
    return FunnelChart(FUNNEL_WIDTH, height, FUNNEL_LABEL_WIDTH, FUNNEL_BAR_HEIGHT, FUNNEL_LABEL_WIDTH + 8, bars)
