"""The yearly report's charts as PNG files that render in e-mail clients (spec §9, notes/domain.md §5).

Charts are drawn only from ``context["chart_data"]`` (built by ``report_data.load_report_context``),
in which masked small cells have already lost their numbers: a point that may not be shown cannot be
plotted by mistake. Alt text, caption and display size come from ``context["charts"]`` so that the
HTML and the image always agree.

Every year's charts look alike and the bytes are reproducible: fixed figure size, dpi and font
(DejaVu Sans ships with matplotlib), fixed axis ranges (0-100%), no timestamp or software tag in the
PNG, and the object-oriented Agg API instead of pyplot, so no global state leaks between runs or
threads. Series differ by marker and line style as well as colour, so a greyscale print still reads.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on the Dagster host; must precede any figure creation

from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, PercentFormatter

#: Rendered pixels per displayed CSS pixel: 2x keeps text sharp on high-density screens.
PIXEL_RATIO = 2
DPI = 100 * PIXEL_RATIO

# Okabe-Ito colours chosen for distinct lightness (black, dark blue, light orange), so the series
# stay apart in greyscale too; markers and line styles carry the difference on their own.
SERIES_STYLE: dict[str, dict[str, Any]] = {
    "all": {"color": "#000000", "marker": "o", "linestyle": "-", "markerfacecolor": "#000000"},
    "mentor": {"color": "#0072B2", "marker": "s", "linestyle": "--", "markerfacecolor": "#0072B2"},
    "non_mentor": {"color": "#E69F00", "marker": "^", "linestyle": ":", "markerfacecolor": "#FFFFFF"},
}

RC_PARAMS: dict[str, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 8.5,
    "axes.titlesize": 9,
    "axes.labelsize": 8.5,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#444444",
    "axes.linewidth": 0.8,
    "lines.linewidth": 1.4,
    "lines.markersize": 5.5,
    "figure.facecolor": "#FFFFFF",
    "axes.facecolor": "#FFFFFF",
    "savefig.facecolor": "#FFFFFF",
    # Only SVG output uses the hash salt, but fixing it keeps any future SVG output reproducible too.
    "svg.hashsalt": "ssm-report",
    "path.simplify": False,
}


@dataclass(frozen=True)
class ChartImage:
    """One rendered chart.

    Attributes:
        path: The PNG file.
        alt: Alt text for the <img> tag (states the figures, and which were left out).
        width: Display width in CSS pixels (the PNG itself is PIXEL_RATIO times larger).
        height: Display height in CSS pixels.
    """

    path: Path
    alt: str
    width: int
    height: int


def render_charts(context: Mapping[str, Any], out_dir: Path) -> dict[str, ChartImage]:
    """Draw the report's charts as PNG files.

    Args:
        context: The dict from ``load_report_context``; only ``chart_data`` and ``charts`` are used.
        out_dir: Folder to write ``value_items.png`` and ``trends.png`` into (created if missing).

    Returns:
        Chart name -> :class:`ChartImage`; the names match ``context["charts"]`` and the template.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = context["chart_data"]
    specs = context["charts"]
    drawers = {"value_items": _draw_value_items, "trends": _draw_trends}
    images = {}
    for name, draw in drawers.items():
        spec = specs[name]
        width, height = int(spec["width"]), int(spec["height"])
        with rc_context(RC_PARAMS):
            figure = Figure(figsize=(width / 100, height / 100), dpi=DPI)
            FigureCanvasAgg(figure)
            draw(figure, data)
            path = out_dir / f"{name}.png"
            partial = out_dir / f".{name}.png.partial"
            # No "Software" tag and no timestamp: the same data gives the same bytes, so an unchanged
            # report is recognisably unchanged (and is not e-mailed again).
            figure.savefig(partial, format="png", dpi=DPI, metadata={"Software": None})
            partial.replace(path)
        images[name] = ChartImage(path=path, alt=str(spec["alt"]), width=width, height=height)
    return images


# --------------------------------------------------------------------------------------------------
# (a) value items: share agreeing by cohort with 95% CI
# --------------------------------------------------------------------------------------------------


def _draw_value_items(figure: Figure, data: Mapping[str, Any]) -> None:
    items = data["value_items"]
    cohorts = [c["code"] for c in data["cohorts"]]
    labels = {c["code"]: c["label"] for c in data["cohorts"]}
    axes = figure.add_axes((0.30, 0.13, 0.66, 0.72))
    offsets = {code: (i - (len(cohorts) - 1) / 2) * 0.25 for i, code in enumerate(cohorts)}
    # Items run top to bottom in report order.
    positions = {item["metric_id"]: len(items) - 1 - i for i, item in enumerate(items)}
    for code in cohorts:
        style = SERIES_STYLE[code]
        for item in items:
            point = item["points"].get(code)
            if point is None:
                continue
            y = positions[item["metric_id"]] - offsets[code]
            if not point["shown"]:
                note = "not shown (small group)" if point["reason"] == "masked" else "no data"
                axes.text(
                    0.01,
                    y,
                    f"{labels[code]} {note}",
                    va="center",
                    ha="left",
                    fontsize=7,
                    color="#555555",
                    style="italic",
                    transform=axes.get_yaxis_transform(),
                )
                continue
            value = 100 * point["proportion"]
            low, high = 100 * point["ci_low"], 100 * point["ci_high"]
            bars = axes.errorbar(
                [value],
                [y],
                # an interval touching 0 or 1 can sit a rounding error inside the point
                xerr=[[max(0.0, value - low)], [max(0.0, high - value)]],
                fmt=style["marker"],
                color=style["color"],
                markerfacecolor=style["markerfacecolor"],
                markeredgecolor=style["color"],
                capsize=2.5,
                elinewidth=1.2,
            )
            bars[-1][0].set_linestyle(style["linestyle"])
    axes.set_xlim(0, 100)
    axes.set_ylim(-0.6, len(items) - 0.4)
    axes.xaxis.set_major_locator(FixedLocator([0, 20, 40, 60, 80, 100]))
    axes.xaxis.set_major_formatter(PercentFormatter(decimals=0))
    axes.set_yticks([positions[item["metric_id"]] for item in items])
    axes.set_yticklabels([textwrap.fill(item["label"], 22) for item in items])
    axes.tick_params(axis="y", length=0)
    axes.grid(axis="x", color="#DDDDDD", linewidth=0.6)
    axes.set_axisbelow(True)
    axes.set_xlabel("Share agreeing (95% confidence interval)")
    _legend(figure, cohorts, labels, top=0.99)


# --------------------------------------------------------------------------------------------------
# (b) trends: one small panel per metric
# --------------------------------------------------------------------------------------------------


def _draw_trends(figure: Figure, data: Mapping[str, Any]) -> None:
    trends = data["trends"]
    years: list[int] = list(trends["years"])
    panels = trends["panels"]
    labels = {c["code"]: c["label"] for c in data["cohorts"]}
    columns = 2
    rows = max(1, math.ceil((len(panels) + 1) / columns))  # one cell is kept for the legend
    grid = figure.add_gridspec(
        rows, columns, left=0.09, right=0.98, top=0.95, bottom=0.06, hspace=0.55, wspace=0.25
    )
    for index, panel in enumerate(panels):
        axes = figure.add_subplot(grid[index // columns, index % columns])
        _draw_panel(axes, panel, years)
    legend_axes = figure.add_subplot(grid[len(panels) // columns, len(panels) % columns])
    legend_axes.axis("off")
    handles = [_handle(code) for code in labels]
    legend_axes.legend(
        handles,
        [labels[c] for c in labels],
        loc="center",
        frameon=False,
        title="Shaded band: 95% confidence interval",
        title_fontsize=7.5,
    )


def _draw_panel(axes: Axes, panel: Mapping[str, Any], years: Sequence[int]) -> None:
    span = (max(years) - min(years) + 1) if years else 1
    count = len(panel["series"])
    for index, series in enumerate(panel["series"]):
        style = SERIES_STYLE[series["cohort"]]
        # Dodge the series sideways a little so that equal values and lone-year intervals do not hide
        # one another; the shift is a fixed share of the axis width whatever the number of years.
        dodge = (index - (count - 1) / 2) * 0.025 * (span + 1)
        xs = [p["year"] + dodge for p in series["points"]]
        # Hidden points become NaN, which breaks the line: no segment is drawn through a masked year.
        ys = [100 * p["proportion"] if p["shown"] else math.nan for p in series["points"]]
        axes.plot(
            xs,
            ys,
            color=style["color"],
            marker=style["marker"],
            linestyle=style["linestyle"],
            markerfacecolor=style["markerfacecolor"],
            markeredgecolor=style["color"],
        )
        for segment in _shown_runs(series["points"]):
            seg_x = [p["year"] + dodge for p in segment]
            low = [100 * p["ci_low"] for p in segment]
            high = [100 * p["ci_high"] for p in segment]
            if len(segment) > 1:
                axes.fill_between(seg_x, low, high, color=style["color"], alpha=0.13, linewidth=0)
            else:
                # A band needs two years; a lone year gets an interval bar instead.
                axes.vlines(
                    seg_x, low, high, color=style["color"], linestyle=style["linestyle"], linewidth=1.1
                )
    axes.set_title(textwrap.fill(panel["label"], 34), loc="left")
    axes.set_ylim(0, 100)
    axes.yaxis.set_major_locator(FixedLocator([0, 25, 50, 75, 100]))
    axes.yaxis.set_major_formatter(PercentFormatter(decimals=0))
    if years:
        axes.set_xlim(min(years) - 0.5, max(years) + 0.5)
        step = max(1, math.ceil(len(years) / 6))  # at most ~6 labels so they never overlap
        axes.xaxis.set_major_locator(FixedLocator(list(years)[::step]))
        axes.xaxis.set_major_formatter(lambda value, _pos: f"{value:.0f}")
    axes.grid(axis="y", color="#DDDDDD", linewidth=0.6)
    axes.set_axisbelow(True)


def _shown_runs(points: Sequence[Mapping[str, Any]]) -> list[list[Mapping[str, Any]]]:
    """Split a series into runs of consecutive shown points with an interval."""
    runs: list[list[Mapping[str, Any]]] = [[]]
    for point in points:
        if point["shown"] and point["ci_low"] is not None and point["ci_high"] is not None:
            runs[-1].append(point)
        elif runs[-1]:
            runs.append([])
    return [run for run in runs if run]


def _handle(code: str) -> Line2D:
    """A legend entry showing the series' colour, marker and line style together."""
    style = SERIES_STYLE[code]
    return Line2D(
        [],
        [],
        color=style["color"],
        marker=style["marker"],
        linestyle=style["linestyle"],
        markerfacecolor=style["markerfacecolor"],
        markeredgecolor=style["color"],
    )


def _legend(figure: Figure, cohorts: Sequence[str], labels: Mapping[str, str], top: float) -> None:
    handles = [_handle(code) for code in cohorts]
    figure.legend(
        handles,
        [labels[c] for c in cohorts],
        loc="upper center",
        bbox_to_anchor=(0.5, top),
        ncol=len(cohorts),
        frameon=False,
    )
