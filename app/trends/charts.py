"""Charts: the report's server-drawn bar charts (SVG coordinates), the programme page's heat-map data, and
plotly.js, which the app serves itself so that charts draw with no internet."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from flask_babel import gettext as _

from app.i18n import format_2dp, format_pct
from app.trends import export_queries as eq
from app.trends import programme_queries


@functools.cache
def plotly_js() -> str:
    """plotly.js from the installed wheel, read once per process."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def heatmap_data(trend: programme_queries.ProgrammeTrend, column_labels: dict) -> dict:
    """The programme page's heat maps as plain JSON: one per subscale, groups by columns (rounds or quarters)."""
    subscales = []
    for sub in trend.subscales:
        heat = trend.heatmap(sub.key)
        subscales.append({
            "key": sub.key, "title": sub.title, "min": sub.scale_min, "max": sub.scale_max,
            "x": [column_labels[c] for c in heat.x], "y": heat.y, "z": heat.z, "n": heat.n, "reason": heat.reason,
        })
    return {"subscales": subscales}


# --- the quarterly report's bar charts ---------------------------------------------------------

@dataclass(frozen=True)
class Bar:
    """One bar of a server-drawn horizontal bar chart (coordinates in SVG user units)."""

    label: str
    text: str
    y: int
    width: float
    ci_low: float | None = None
    ci_high: float | None = None


@dataclass(frozen=True)
class Chart:
    """A horizontal bar chart: bars start at `x0` and are at most `span` wide."""

    title: str
    bars: list[Bar]
    axis_low: str
    axis_high: str
    x0: int = 200
    span: int = 360
    row: int = 24

    @property
    def height(self) -> int:
        return self.row * len(self.bars) + 30

    @property
    def axis_y(self) -> int:
        return self.row * len(self.bars) + 4


def bar_chart(title: str, values: list[tuple[str, float | None, str, float | None, float | None]],
              low: float, high: float, axis_low: str, axis_high: str) -> Chart:
    """A chart of (label, value, shown text, CI low, CI high) on the scale low..high; no value draws no bar."""
    span = Chart.span

    def x(value: float | None) -> float | None:
        if value is None or high <= low:
            return None
        return round(span * min(max((value - low) / (high - low), 0.0), 1.0), 1)

    bars = [Bar(label, text, i * Chart.row, x(value) or 0.0, x(ci_low), x(ci_high))
            for i, (label, value, text, ci_low, ci_high) in enumerate(values)]
    return Chart(title, bars, axis_low, axis_high)


def quarter_charts(groups: list[eq.GroupQuarter]) -> tuple[list[Chart], dict[int, list[Chart]]]:
    """The report's overview charts (attendance, meetings held) and per group one chart per round shown."""
    overview = []
    if groups:
        overview.append(bar_chart(
            _("Attendance rate"), [(g.group, g.attendance_rate, format_pct(g.attendance_rate), None, None)
                                   for g in groups], 0, 1, "0%", "100%"))
        most = max([g.held for g in groups] + [1])
        overview.append(bar_chart(
            _("Meetings held"), [(g.group, g.held, str(g.held), None, None) for g in groups], 0, most, "0",
            str(most)))
    per_group: dict[int, list[Chart]] = {}
    for g in groups:
        for agg in g.rounds:
            if agg.suppressed or not agg.subscales:
                continue
            ranges = [agg.ranges[s.code] for s in agg.subscales if s.code in agg.ranges]
            low = min((r[0] for r in ranges), default=0)
            high = max((r[1] for r in ranges), default=1)
            per_group.setdefault(g.group_id, []).append(bar_chart(
                _("Round %(number)s: subscale means with 95%% CI", number=agg.round_number),
                [(s.title, s.mean, format_2dp(s.mean) if s.shown else "–", s.ci_low, s.ci_high)
                 for s in agg.subscales],
                low, high, str(low), str(high)))
    return overview, per_group
