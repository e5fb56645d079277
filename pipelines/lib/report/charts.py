"""The yearly report's charts as PNG files that render in e-mail clients (spec §9, notes/domain.md §5).

Charts are drawn only from ``context["chart_data"]`` (built by ``report_data.load_report_context``),
in which masked small cells have already lost their numbers: a point that may not be shown cannot be
plotted by mistake. A masked share that may be shown as a bound ("more than 95%") is drawn at its
bound as an open mark with an arrow pointing the way the true value lies, never as a value. Alt text
and caption come from ``context["charts"]``; display sizes from ``chart_layout.chart_sizes``, which
the report code imports without matplotlib, so the HTML and the image always agree.

WCAG 2.2 AA (spec §9 rev 2): every line, mark and interval a reader needs has at least 3:1 contrast
against the white background, text at least 4.5:1; only the grid is lighter, as decoration. Series
differ by marker and line style as well as colour, so a greyscale print still reads. No text is
smaller than ``chart_layout.MIN_FONT_PX`` at display size (the phone rule is stated there), every
quantitative axis has a title, and the axis ranges leave room for a point at 0% or 100%, its marker
and its bound arrow inside the axes.

Every year's charts look alike and the bytes are reproducible: fixed sizes, dpi and font (DejaVu Sans
ships with matplotlib), fixed axis ranges, no timestamp or software tag in the PNG, a solid white
background (mail clients' dark modes), and the object-oriented Agg API instead of pyplot, so no
global state leaks between runs or threads.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on the Dagster host; must precede any figure creation

from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.legend_handler import HandlerLine2D, HandlerTuple
from matplotlib.lines import Line2D
from matplotlib.path import Path as MarkerPath
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator
from PIL import Image

from pipelines.lib.report import chart_layout as layout

#: Rendered pixels per displayed CSS pixel: 2x keeps text sharp on high-density screens.
PIXEL_RATIO = 2
#: Figure inches are display px / LOGICAL_DPI, so one point is LOGICAL_DPI / 72 display px.
LOGICAL_DPI = 100
DPI = LOGICAL_DPI * PIXEL_RATIO

BACKGROUND = "#FFFFFF"
TEXT = "#222222"  # 15.9:1 on white
NOTE = "#555555"  # 7.5:1: "not shown", "no data", "New wording"
AXIS = "#444444"  # 9.7:1: spines, ticks, the reference line at 1, the series break
GRID = "#E3E3E3"  # decoration only (the axes and their ticks carry the scale)

# Okabe-Ito hues darkened to at least 4.5:1 on white (black 21:1, blue #004C80 9.0:1, orange
# #B35900 4.8:1), with lightness far enough apart to differ in greyscale; markers and line styles
# carry the difference on their own as well.
SERIES_STYLE: dict[str, dict[str, Any]] = {
    "all": {"color": "#000000", "marker": "o", "linestyle": "-", "markerfacecolor": "#000000"},
    "mentor": {"color": "#004C80", "marker": "s", "linestyle": "--", "markerfacecolor": "#004C80"},
    "non_mentor": {"color": "#B35900", "marker": "^", "linestyle": ":", "markerfacecolor": "#FFFFFF"},
}
PARTICIPATION_STYLE: dict[str, dict[str, Any]] = {
    "response_rate": {"color": "#000000", "marker": "o", "linestyle": "-", "markerfacecolor": "#000000"},
    "mentored": {"color": "#004C80", "marker": "s", "linestyle": "--", "markerfacecolor": "#004C80"},
}
RATIO_STYLE: dict[str, Any] = {
    "color": "#000000",
    "marker": "D",
    "linestyle": "-",
    "markerfacecolor": "#000000",
}


def _pt(px: float) -> float:
    """Display px to matplotlib points."""
    return px * 72 / LOGICAL_DPI


MARKER_PX = 8
BOUND_ARROW_PX = 14  # the arrow from a bound's mark, towards where the true share lies
LINE_PX = 1.6

RC_PARAMS: dict[str, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": _pt(layout.MIN_FONT_PX),
    "axes.titlesize": _pt(layout.TITLE_FONT_PX),
    "axes.labelsize": _pt(layout.MIN_FONT_PX),
    "axes.labelpad": _pt(4),
    "xtick.labelsize": _pt(layout.MIN_FONT_PX),
    "ytick.labelsize": _pt(layout.MIN_FONT_PX),
    "legend.fontsize": _pt(layout.MIN_FONT_PX),
    "text.color": TEXT,
    "axes.labelcolor": TEXT,
    "axes.titlecolor": TEXT,
    "xtick.color": AXIS,
    "ytick.color": AXIS,
    "xtick.labelcolor": TEXT,
    "ytick.labelcolor": TEXT,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": AXIS,
    "axes.linewidth": _pt(1.2),
    "lines.linewidth": _pt(LINE_PX),
    "lines.markersize": _pt(MARKER_PX),
    "lines.markeredgewidth": _pt(1.4),
    "figure.facecolor": BACKGROUND,
    "axes.facecolor": BACKGROUND,
    "savefig.facecolor": BACKGROUND,
    "savefig.transparent": False,
    # Only SVG output uses the hash salt, but fixing it keeps any future SVG output reproducible too.
    "svg.hashsalt": "ssm-report",
    "path.simplify": False,
}

#: What the percentage axes show: 0-100 with room beyond for a marker at 0 or 100, and for a bound's
#: arrow from anywhere in 0-100 (a panel's 132 units take at least 126 px, so 16 units >= 14 px).
PERCENT_LIMITS = (-16.0, 116.0)
PERCENT_TICKS = [0, 25, 50, 75, 100]


@dataclass(frozen=True)
class ChartImage:
    """One rendered chart.

    Attributes:
        path: The PNG file.
        alt: Alt text for the <img> tag (states the figures, or links the table that holds them).
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
        out_dir: Folder to write ``<name>.png`` into for each chart (created if missing).

    Returns:
        Chart name -> :class:`ChartImage`; the names are those of ``chart_layout.CHART_NAMES``, which
        must match ``context["charts"]`` and the template.

    Raises:
        ValueError: When ``context["charts"]`` lacks a chart, or gives it another size than
            ``chart_layout.chart_sizes`` (the HTML would then stretch the image).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = draw_figures(context["chart_data"])
    specs = context["charts"]
    images = {}
    for name, figure in figures.items():
        width, height = (round(v) for v in figure.get_size_inches() * LOGICAL_DPI)
        spec = specs.get(name)
        if spec is None:
            raise ValueError(f"context['charts'] has no entry (alt text, caption) for the chart {name!r}")
        if (spec.get("width", width), spec.get("height", height)) != (width, height):
            raise ValueError(
                f"context['charts'][{name!r}] says {spec.get('width')}x{spec.get('height')} px, the chart "
                f"is drawn {width}x{height} px: take the size from chart_layout.chart_sizes(chart_data)"
            )
        path = out_dir / f"{name}.png"
        partial = out_dir / f".{name}.png.partial"
        # Rendered as raw RGBA pixels, encoded once below (not a PNG that is decoded and encoded again).
        buffer = io.BytesIO()
        with rc_context(RC_PARAMS):
            figure.savefig(buffer, format="rgba", dpi=DPI)
        pixels = figure.canvas.get_width_height(physical=True)  # the size Agg rendered (dpi = DPI)
        # RGB without an alpha channel: a solid white background in every mail client, dark modes
        # included. Pillow writes no "Software" tag and no timestamp: the same data gives the same
        # bytes, so an unchanged report is recognisably unchanged (and is not e-mailed again).
        with Image.frombuffer("RGBA", pixels, buffer.getbuffer(), "raw", "RGBA", 0, 1) as drawn:
            drawn.convert("RGB").save(partial, format="png")
        partial.replace(path)
        images[name] = ChartImage(path=path, alt=str(spec["alt"]), width=width, height=height)
    return images


def draw_figures(chart_data: Mapping[str, Any]) -> dict[str, Figure]:
    """Each chart as a matplotlib Figure at its display size (the tests inspect these)."""
    sizes = layout.chart_sizes(chart_data)
    drawers = {
        "value_items": _draw_value_items,
        "trends": _draw_trends,
        "ratios": _draw_ratios,
        "participation": _draw_participation,
    }
    figures = {}
    for name in layout.CHART_NAMES:
        width, height = sizes[name]
        with rc_context(RC_PARAMS):
            figure = Figure(figsize=(width / LOGICAL_DPI, height / LOGICAL_DPI), dpi=DPI)
            FigureCanvasAgg(figure)
            _Frame(figure, width, height).draw(drawers[name], name, chart_data)
        figures[name] = figure
    return figures


class _Frame:
    """Places axes and legends in display px from the top, as chart_layout measures them."""

    def __init__(self, figure: Figure, width: int, height: int) -> None:
        self.figure, self.width, self.height = figure, width, height
        self.top = layout.PAD_PX  # px from the top where the next block starts

    def draw(self, drawer: Any, name: str, data: Mapping[str, Any]) -> None:
        self.legend(layout.legend_rows(name, data), data, horizontal=name == "value_items")
        drawer(self, data)

    def axes(self, plot_px: float, left_px: float, right_px: float = 12) -> Axes:
        """An axes plot_px tall starting at self.top; self.top moves below it and its x axis."""
        bottom = self.height - self.top - plot_px
        axes = self.figure.add_axes(
            (
                left_px / self.width,
                bottom / self.height,
                (self.width - left_px - right_px) / self.width,
                plot_px / self.height,
            )
        )
        self.top += plot_px + layout.XAXIS_PX
        return axes

    def title(self, label: str) -> None:
        lines = layout.wrap_title(label)
        self.figure.text(
            layout.PAD_PX / self.width,
            1 - self.top / self.height,
            "\n".join(lines),
            ha="left",
            va="top",
            fontsize=_pt(layout.TITLE_FONT_PX),
            fontweight="bold",
            color=TEXT,
            linespacing=1.15,
        )
        self.top += len(lines) * layout.TITLE_LINE_PX + layout.TITLE_GAP_PX

    def legend(self, rows: Sequence[str], data: Mapping[str, Any], horizontal: bool) -> None:
        for row in rows:
            handles, labels = _legend_row(row, data, horizontal)
            centre = self.top + layout.LEGEND_ROW_PX / 2
            self.figure.legend(
                handles,
                labels,
                loc="center left",
                bbox_to_anchor=(layout.PAD_PX / self.width - 0.01, 1 - centre / self.height),
                ncol=len(handles),
                frameon=False,
                borderaxespad=0,
                borderpad=0,
                handlelength=2.4,
                handletextpad=0.5,
                columnspacing=1.2,
                numpoints=1,
                # a tuple's handles are drawn on top of one another (a bound: arrow and open mark);
                # an interval's handle is a bar with a cap at each end
                handler_map={
                    tuple: HandlerTuple(ndivide=1, pad=0),
                    **{h: HandlerLine2D(numpoints=2) for h in _intervals(handles)},
                },
            )
            self.top += layout.LEGEND_ROW_PX
        self.top += layout.LEGEND_GAP_PX if rows else 0


# --------------------------------------------------------------------------------------------------
# marks shared by the charts
# --------------------------------------------------------------------------------------------------


def _arrow(direction: str) -> MarkerPath:
    """A marker path: a shaft from the data point and a head, pointing up/down/right/left.

    Marker paths are scaled so that their largest coordinate is half the marker size: with the tail
    at the point and the head at 2, the arrow is half the marker size long.
    """
    up = [(0, 0), (0, 1.5), (-0.55, 1.2), (0, 2), (0.55, 1.2), (0, 1.5)]
    codes = [
        MarkerPath.MOVETO,
        MarkerPath.LINETO,
        MarkerPath.MOVETO,
        MarkerPath.LINETO,
        MarkerPath.LINETO,
        MarkerPath.CLOSEPOLY,
    ]
    turn = {"up": (1, 0, 0, 1), "down": (1, 0, 0, -1), "right": (0, 1, 1, 0), "left": (0, -1, 1, 0)}
    a, b, c, d = turn[direction]  # (x, y) -> (a*x + b*y, c*x + d*y)
    return MarkerPath([(a * x + b * y, c * x + d * y) for x, y in up], codes)


BOUND_DIRECTION = {
    # kind -> (direction on a vertical percentage axis, on a horizontal one)
    "lower_bound": ("up", "right"),
    "upper_bound": ("down", "left"),
}


def _bound_mark(
    axes: Axes, x: float, y: float, kind: str, style: Mapping[str, Any], horizontal: bool
) -> None:
    """A masked share shown as a bound: the series' marker, open, at the bound, and an arrow from it
    the way the true share lies ("more than": up or right; "less than": down or left)."""
    direction = BOUND_DIRECTION[kind][1 if horizontal else 0]
    axes.plot(
        [x],
        [y],
        linestyle="none",
        marker=_arrow(direction),
        markersize=_pt(2 * BOUND_ARROW_PX),
        color=style["color"],
        markerfacecolor=style["color"],
        markeredgecolor=style["color"],
        markeredgewidth=_pt(1.6),
        zorder=3,
        gid=kind,
    )
    axes.plot(
        [x],
        [y],
        linestyle="none",
        marker=style["marker"],
        markerfacecolor=BACKGROUND,
        markeredgecolor=style["color"],
        color=style["color"],
        zorder=4,
    )


def _interval(
    axes: Axes, x: float, y: float, low: float, high: float, style: Mapping[str, Any], horizontal: bool
) -> tuple[Line2D, ...]:
    """A point with its 95% confidence interval as a bar with caps (visible whatever its length);
    returns the caps."""
    return _interval_series(axes, [x], [y], [low], [high], style, horizontal)


def _interval_series(
    axes: Axes,
    xs: Sequence[float],
    ys: Sequence[float],
    lows: Sequence[float],
    highs: Sequence[float],
    style: Mapping[str, Any],
    horizontal: bool,
) -> tuple[Line2D, ...]:
    """Points with their 95% confidence intervals as bars with caps (visible whatever their length),
    one artist for each part of the whole series: drawn point by point, a long history's trend chart
    took most of a report's drawing time (bench/PROFILE.md). Returns the caps (lower ends, upper ends),
    one mark per point in each."""
    values = xs if horizontal else ys
    # an interval touching 0 or 1 can sit a rounding error inside the point
    err = [
        [max(0.0, value - low) for value, low in zip(values, lows, strict=True)],
        [max(0.0, high - value) for value, high in zip(values, highs, strict=True)],
    ]
    bars = axes.errorbar(
        list(xs),
        list(ys),
        xerr=err if horizontal else None,
        yerr=None if horizontal else err,
        fmt=style["marker"],
        color=style["color"],
        markerfacecolor=style["markerfacecolor"],
        markeredgecolor=style["color"],
        capsize=_pt(3.5),
        elinewidth=_pt(1.4),
        capthick=_pt(1.4),
        zorder=4,
    )
    bars[-1][0].set_linestyle(style["linestyle"])
    bars[-1][0].set_gid("interval")
    bars[0].set_gid("point")
    return bars[1]


def _percent_axis(axis: Any, title: str) -> None:
    axis.set_major_locator(FixedLocator(PERCENT_TICKS))
    axis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value:.0f}"))
    axis.set_label_text(title)


def _year_axis(axes: Axes, years: Sequence[int]) -> None:
    if years:
        axes.set_xlim(min(years) - 0.65, max(years) + 0.65)
        step = max(1, math.ceil(len(years) / 6))  # at most ~6 labels so they never overlap
        shown = list(years)[::-1][::step][::-1]  # always label the latest year
        axes.xaxis.set_major_locator(FixedLocator(shown))
        axes.xaxis.set_minor_locator(FixedLocator(list(years)) if step > 1 else NullLocator())
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value:.0f}"))
    axes.set_xlabel("Survey year")


def _grid(axes: Axes, axis: str) -> None:
    axes.grid(axis=axis, color=GRID, linewidth=_pt(1.0))
    axes.set_axisbelow(True)


def _y_title(text: str) -> str:
    """Axis titles beside a short panel go on two lines."""
    words = text.split(" ")
    if len(text) <= 14 or len(words) < 2:
        return text
    cut = max(range(1, len(words)), key=lambda i: -abs(len(" ".join(words[:i])) - len(text) / 2))
    return " ".join(words[:cut]) + "\n" + " ".join(words[cut:])


def _segments(
    points: Sequence[Mapping[str, Any]], breaks: Sequence[int]
) -> Iterator[list[Mapping[str, Any]]]:
    """Runs of consecutive "value" points: a line joins the points of a run and nothing else. A
    bound, a masked point, a year without data or a change of wording (a break) ends a run."""
    run: list[Mapping[str, Any]] = []
    for point in points:
        if point["kind"] != "value" or point["year"] in breaks:
            if run:
                yield run
            run = []
        if point["kind"] == "value":
            run.append(point)
    if run:
        yield run


def _draw_break(axes: Axes, year: int, years: Sequence[int]) -> None:
    """A change of wording: a dotted vertical line between the two series, labelled at the bottom."""
    x = year - 0.5
    axes.axvline(x, color=AXIS, linestyle=(0, (1.5, 2)), linewidth=_pt(1.4), zorder=2, gid="break")
    right_half = bool(years) and x > (min(years) + max(years)) / 2
    axes.text(
        x - 0.12 if right_half else x + 0.12,
        0.03,
        "New wording",
        transform=axes.get_xaxis_transform(),
        ha="right" if right_half else "left",
        va="bottom",
        color=NOTE,
        fontsize=_pt(layout.MIN_FONT_PX),
    )


def _legend_row(row: str, data: Mapping[str, Any], horizontal: bool) -> tuple[list[Any], list[str]]:
    """One row of legend entries (see chart_layout.legend_rows); bounds' arrows point the way the
    chart's percentage axis runs (horizontal in the value-items chart)."""
    if row == "cohorts":
        codes = [c["code"] for c in data["cohorts"]]
        return [_handle(SERIES_STYLE[c]) for c in codes], [c["label"] for c in data["cohorts"]]
    if row == "series":
        series = data["participation"]["series"]
        return [_handle(PARTICIPATION_STYLE[s["code"]]) for s in series], [s["label"] for s in series]
    if row == "ci":
        return [_interval_handle()], ["Bar: 95% confidence interval"]
    if row == "ratio":
        return [(_handle(RATIO_STYLE, line=False), _interval_handle())], [
            "Risk ratio, mentors / non-mentors, with 95% CI"
        ]
    if row == "reference":
        return [Line2D([], [], color=AXIS, linestyle=(0, (4, 3)), linewidth=_pt(1.4))], [
            "Ratio 1: equally likely"
        ]
    direction = BOUND_DIRECTION[row][1 if horizontal else 0]
    arrow = Line2D(
        [],
        [],
        linestyle="none",
        marker=_arrow(direction),
        markersize=_pt(2 * BOUND_ARROW_PX * 0.7),
        color=TEXT,
        markerfacecolor=TEXT,
        markeredgecolor=TEXT,
    )
    mark = Line2D([], [], linestyle="none", marker="o", markerfacecolor=BACKGROUND, markeredgecolor=TEXT)
    words = "More than" if row == "lower_bound" else "Less than"
    return [(arrow, mark)], [f"{words} the share marked (small group)"]


def _handle(style: Mapping[str, Any], line: bool = True) -> Line2D:
    """A legend entry showing a series' colour, marker and line style together."""
    return Line2D(
        [],
        [],
        color=style["color"],
        marker=style["marker"],
        linestyle=style["linestyle"] if line else "none",
        markerfacecolor=style["markerfacecolor"],
        markeredgecolor=style["color"],
    )


def _interval_handle() -> Line2D:
    return Line2D(
        [], [], color=TEXT, marker="|", markersize=_pt(9), linestyle="-", linewidth=_pt(1.4), gid="interval"
    )


def _intervals(handles: Sequence[Any]) -> Iterator[Line2D]:
    for handle in handles:
        for part in handle if isinstance(handle, tuple) else (handle,):
            if part.get_gid() == "interval":
                yield part


# --------------------------------------------------------------------------------------------------
# (a) value items: this year's share agreeing by cohort with 95% CI
# --------------------------------------------------------------------------------------------------


def _draw_value_items(frame: _Frame, data: Mapping[str, Any]) -> None:
    items = data["value_items"]
    labels = {c["code"]: c["label"] for c in data["cohorts"]}
    order = [c["code"] for c in data["cohorts"]]
    plot_px = layout.value_items_plot_height(data)
    top = frame.top
    axes = frame.axes(plot_px, left_px=112)
    # y in px from the top of the axes, so rows and headings sit exactly where the layout put them
    axes.set_ylim(plot_px, 0)
    axes.set_xlim(*PERCENT_LIMITS)
    ticks, tick_labels = [], []
    y = 0.0
    for item in items:
        frame.figure.text(
            layout.PAD_PX / frame.width,
            1 - (top + y + layout.ITEM_HEADING_PX * 0.55) / frame.height,
            item["label"],
            ha="left",
            va="center",
            fontsize=_pt(layout.TITLE_FONT_PX),
            fontweight="bold",
            color=TEXT,
        )
        y += layout.ITEM_HEADING_PX
        for code in [c for c in order if c in item["points"]]:
            row = y + layout.ROW_PX / 2
            ticks.append(row)
            tick_labels.append(labels[code])
            _value_row(axes, item["points"][code], row, SERIES_STYLE[code])
            y += layout.ROW_PX
    axes.yaxis.set_major_locator(FixedLocator(ticks))
    axes.set_yticklabels(tick_labels)
    axes.tick_params(axis="y", length=0)
    axes.spines["left"].set_visible(False)
    axes.spines["bottom"].set_bounds(0, 100)
    _percent_axis(axes.xaxis, "Share agreeing (%)")
    _grid(axes, "x")


def _value_row(axes: Axes, point: Mapping[str, Any], y: float, style: Mapping[str, Any]) -> None:
    kind = point["kind"]
    if kind == "value":
        value = 100 * point["proportion"]
        _interval(axes, value, y, 100 * point["ci_low"], 100 * point["ci_high"], style, horizontal=True)
    elif kind in BOUND_DIRECTION:
        _bound_mark(axes, 100 * point["bound"], y, kind, style, horizontal=True)
    else:
        axes.text(
            0,
            y,
            "not shown (small group)" if kind == "masked" else "no data",
            ha="left",
            va="center",
            color=NOTE,
            style="italic",
            fontsize=_pt(layout.MIN_FONT_PX),
        )


# --------------------------------------------------------------------------------------------------
# (b) trends: one panel per metric, stacked
# --------------------------------------------------------------------------------------------------


def _draw_trends(frame: _Frame, data: Mapping[str, Any]) -> None:
    years: list[int] = list(data["trends"]["years"])
    for panel in data["trends"]["panels"]:
        frame.title(panel["label"])
        axes = frame.axes(layout.PLOT_PX, left_px=64)
        frame.top += layout.PANEL_GAP_PX
        axes.set_ylim(*PERCENT_LIMITS)
        axes.spines["left"].set_bounds(0, 100)
        _percent_axis(axes.yaxis, _y_title(f"{panel['axis_label']} (%)"))
        _year_axis(axes, years)
        _grid(axes, "y")
        breaks = list(panel.get("breaks", []))
        for year in breaks:
            _draw_break(axes, year, years)
        count = len(panel["series"])
        span = (max(years) - min(years) + 1) if years else 1
        for index, series in enumerate(panel["series"]):
            # Dodge the series sideways a little so that equal values and their intervals do not
            # hide one another; the shift is a fixed share of the axis width whatever the years.
            dodge = (index - (count - 1) / 2) * 0.022 * (span + 1)
            _draw_series(axes, series["points"], SERIES_STYLE[series["cohort"]], breaks, dodge)


def _has_interval(point: Mapping[str, Any]) -> bool:
    return point["ci_low"] is not None and point["ci_high"] is not None


def _draw_series(
    axes: Axes,
    points: Sequence[Mapping[str, Any]],
    style: Mapping[str, Any],
    breaks: Sequence[int],
    dodge: float = 0.0,
) -> None:
    """Points by year on a 0-100% axis: values with their intervals, joined within a run; bounds as
    open marks with arrows, on their own; masked points and years without data as gaps."""
    for run in _segments(points, breaks):
        if len(run) > 1:
            axes.plot(
                [p["year"] + dodge for p in run],
                [100 * p["proportion"] for p in run],
                color=style["color"],
                linestyle=style["linestyle"],
                marker="none",
                zorder=3,
                gid="run",
            )
    with_interval = [p for p in points if p["kind"] == "value" and _has_interval(p)]
    if with_interval:
        _interval_series(
            axes,
            [p["year"] + dodge for p in with_interval],
            [100 * p["proportion"] for p in with_interval],
            [100 * p["ci_low"] for p in with_interval],
            [100 * p["ci_high"] for p in with_interval],
            style,
            horizontal=False,
        )
    for point in points:
        x = point["year"] + dodge
        if point["kind"] == "value" and not _has_interval(point):
            axes.plot(
                [x],
                [100 * point["proportion"]],
                linestyle="none",
                marker=style["marker"],
                color=style["color"],
                markerfacecolor=style["markerfacecolor"],
                markeredgecolor=style["color"],
                zorder=4,
                gid="point",
            )
        elif point["kind"] in BOUND_DIRECTION:
            _bound_mark(axes, x, 100 * point["bound"], point["kind"], style, horizontal=False)


# --------------------------------------------------------------------------------------------------
# (c) ratios: mentors / non-mentors risk ratio by year, log scale, one panel per metric
# --------------------------------------------------------------------------------------------------

RATIO_LIMITS = (2, 4, 8, 16, 32)


def ratio_limit(panels: Sequence[Mapping[str, Any]]) -> int:
    """The smallest power of two L such that every ratio and interval lies within 1/L..L (at most 32;
    an interval beyond it runs to the edge of the panel)."""
    reach = 1.0
    for panel in panels:
        for point in panel["points"]:
            if point["kind"] != "value":
                continue
            for value in (point["ratio"], point["ci_low"], point["ci_high"]):
                if value is not None and value > 0 and math.isfinite(value):
                    reach = max(reach, value, 1 / value)
    return next((limit for limit in RATIO_LIMITS if reach <= limit), RATIO_LIMITS[-1])


def _ratio_label(value: float, _pos: Any = None) -> str:
    if value >= 1:
        return f"{value:g}"
    inverse = round(1 / value)
    return f"{value:g}" if inverse <= 4 else f"1/{inverse}"


def _draw_ratios(frame: _Frame, data: Mapping[str, Any]) -> None:
    ratios = data["ratios"]
    years: list[int] = list(ratios["years"])
    for panel in ratios["panels"]:
        # Each panel has its own range, so one extreme ratio does not flatten the other panels.
        limit = ratio_limit([panel])
        exponent = round(math.log2(limit))
        step = 1 if exponent <= 2 else 2
        ticks = [2.0**e for e in range(-exponent, exponent + 1) if e % step == 0]
        frame.title(panel["label"])
        axes = frame.axes(layout.PLOT_PX, left_px=72)
        frame.top += layout.PANEL_GAP_PX
        axes.set_yscale("log")
        # a third of a power of two beyond the limit: room for a marker at the limit
        axes.set_ylim(1 / limit / 2**0.3, limit * 2**0.3)
        axes.yaxis.set_major_locator(FixedLocator(ticks))
        axes.yaxis.set_minor_locator(NullLocator())
        axes.yaxis.set_major_formatter(FuncFormatter(_ratio_label))
        axes.spines["left"].set_bounds(1 / limit, limit)
        axes.set_ylabel(_y_title("Risk ratio (log scale)"))
        _year_axis(axes, years)
        _grid(axes, "y")
        axes.axhline(1, color=AXIS, linestyle=(0, (4, 3)), linewidth=_pt(1.4), zorder=2, gid="reference")
        breaks = list(panel.get("breaks", []))
        for year in breaks:
            _draw_break(axes, year, years)
        edge = limit * 2**0.3 * 4  # beyond the axes: an interval reaching it runs off the panel
        for run in _segments(panel["points"], breaks):
            if len(run) > 1:
                axes.plot(
                    [p["year"] for p in run],
                    [p["ratio"] for p in run],
                    color=RATIO_STYLE["color"],
                    linestyle=RATIO_STYLE["linestyle"],
                    zorder=3,
                    gid="run",
                )
        shown = [p for p in panel["points"] if p["kind"] == "value" and p["ratio"] is not None]
        if shown:
            # A zero lower limit or an infinite upper one (a zero cell) runs off the panel.
            lows = [
                p["ratio"] if p["ci_low"] is None else (p["ci_low"] if p["ci_low"] > 0 else 1 / edge)
                for p in shown
            ]
            highs = [
                p["ratio"]
                if p["ci_high"] is None
                else (p["ci_high"] if math.isfinite(p["ci_high"]) else edge)
                for p in shown
            ]
            years_shown, ratios = [p["year"] for p in shown], [p["ratio"] for p in shown]
            caps = _interval_series(axes, years_shown, ratios, lows, highs, RATIO_STYLE, horizontal=False)
            bottom, top = axes.get_ylim()
            for cap in caps:  # an end that runs off the panel has no cap: the bar goes on
                ends = [y if bottom < y < top else math.nan for y in cap.get_ydata()]
                cap.set_ydata(ends)


# --------------------------------------------------------------------------------------------------
# (d) participation: response rate and share of the class who mentored, by year
# --------------------------------------------------------------------------------------------------


def _draw_participation(frame: _Frame, data: Mapping[str, Any]) -> None:
    participation = data["participation"]
    years: list[int] = list(participation["years"])
    axes = frame.axes(layout.PARTICIPATION_PLOT_PX, left_px=64)
    axes.set_ylim(*PERCENT_LIMITS)
    axes.spines["left"].set_bounds(0, 100)
    _percent_axis(axes.yaxis, _y_title("Share of the class (%)"))
    _year_axis(axes, years)
    _grid(axes, "y")
    count = len(participation["series"])
    span = (max(years) - min(years) + 1) if years else 1
    for index, series in enumerate(participation["series"]):
        dodge = (index - (count - 1) / 2) * 0.022 * (span + 1)
        _draw_series(axes, series["points"], PARTICIPATION_STYLE[series["code"]], [], dodge)
