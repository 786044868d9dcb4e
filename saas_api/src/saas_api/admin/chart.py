"""A team's spend per day as the geometry of an SVG bar chart, drawn by the template with plain
SVG attributes (no script, no inline style: the CSP allows neither)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from saas_api.schemas import DaySpend

# The viewBox: the SVG scales to its card's width, text with it (CSS caps its size).
WIDTH, HEIGHT = 1000, 240
LEFT, RIGHT, BOTTOM, TOP = 96, 24, 28, 14
DAYS_SHOWN = 30


@dataclass
class Bar:
    day: str
    spend: float
    x: float
    y: float
    width: float
    height: float
    label: bool  # whether the day is written under the bar


@dataclass
class Chart:
    width: int
    height: int
    left: int
    right: int
    baseline: float
    top: float
    maximum: float
    bars: list[Bar]


def daily_bars(days: list[DaySpend], *, today: date | None = None) -> Chart:
    """The last DAYS_SHOWN days up to today (or the last day with spend), days without spend
    as empty slots, so the gaps show."""
    spend = {d.date: d.spend for d in days}
    last = max([date.fromisoformat(d) for d in spend] + [today or date.today()])
    span = [last - timedelta(days=n) for n in range(DAYS_SHOWN - 1, -1, -1)]
    maximum = max([spend.get(d.isoformat(), 0.0) for d in span] + [0.0])
    scale = (HEIGHT - BOTTOM - TOP) / maximum if maximum > 0 else 0.0
    slot = (WIDTH - LEFT - RIGHT) / len(span)
    bars = []
    for index, day in enumerate(span):
        value = spend.get(day.isoformat(), 0.0)
        height = value * scale
        bars.append(
            Bar(
                day=day.isoformat(),
                spend=value,
                x=round(LEFT + index * slot + slot * 0.15, 2),
                y=round(HEIGHT - BOTTOM - height, 2),
                width=round(slot * 0.7, 2),
                height=round(height, 2),
                label=index % 5 == 4 or index == len(span) - 1,
            )
        )
    return Chart(WIDTH, HEIGHT, LEFT, WIDTH - RIGHT, HEIGHT - BOTTOM, TOP, maximum, bars)
