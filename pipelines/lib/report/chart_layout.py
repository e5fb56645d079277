"""Display sizes of the report's charts and their smallest text, without matplotlib.

The report and e-mail code import this module to write each ``<img>``'s width and height;
``charts.py`` draws every chart to exactly these sizes from the same constants.

Legibility rule (spec §9 rev 2, "chart text legible at a phone's width"):

    At a 360 px wide window the page leaves PHONE_CONTENT_PX = 332 CSS px for content. A chart shown
    at its display width with ``max-width: 100%`` is scaled to min(width, 332) px, so its smallest
    text renders at MIN_FONT_PX * min(width, 332) / width CSS px, which must be >= 9 px.

Every chart is WIDTH = 400 px wide and no chart text is smaller than MIN_FONT_PX = 11 px, so on the
phone the smallest text is 11 * 332 / 400 = 9.13 px (11 px on a desktop or in a mail client's pane).
Panels are stacked in one column, which keeps each one wide enough to read at that width.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator, Mapping
from typing import Any

#: Display width in CSS pixels of every chart.
WIDTH = 400
#: The smallest chart text (tick labels, legend, notes), CSS px at display size.
MIN_FONT_PX = 11
#: Panel titles and item headings.
TITLE_FONT_PX = 12
#: The phone the rule is stated for, the room the page leaves for content there, and the aim.
PHONE_WINDOW_PX = 360
PHONE_CONTENT_PX = 332
PHONE_MIN_FONT_PX = 9

# Vertical layout, CSS px. charts.py places every axes from these, so the figure is exactly as tall
# as chart_sizes() says.
PAD_PX = 8  # top and bottom of the figure
LEGEND_ROW_PX = 20
LEGEND_GAP_PX = 10  # below the legend
TITLE_LINE_PX = 17
TITLE_GAP_PX = 6  # between a panel's title and its axes
PLOT_PX = 126  # a trend/ratio panel's axes
PARTICIPATION_PLOT_PX = 170
XAXIS_PX = 42  # tick labels and the axis title under an axes
PANEL_GAP_PX = 14
ROW_PX = 22  # one cohort row of the value-items chart
ITEM_HEADING_PX = 24  # an item's heading row in the value-items chart
TITLE_WRAP = 52  # characters per title line at TITLE_FONT_PX in WIDTH
LEGEND_WRAP = 50  # characters per legend line at MIN_FONT_PX

CHART_NAMES = ("value_items", "trends", "ratios", "participation")


def phone_font_px(width: int, font_px: float = MIN_FONT_PX, content_px: int = PHONE_CONTENT_PX) -> float:
    """The CSS px a chart's font_px text renders at when a chart width px wide is shown in content_px."""
    return font_px * min(width, content_px) / width


def wrap_title(label: str) -> list[str]:
    """A panel title's lines (the same wrapping in the layout and the drawing)."""
    return textwrap.wrap(label, TITLE_WRAP) or [""]


def _points(name: str, chart_data: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    if name == "value_items":
        for item in chart_data["value_items"]:
            yield from item["points"].values()
    elif name == "trends":
        for panel in chart_data["trends"]["panels"]:
            for series in panel["series"]:
                yield from series["points"]
    elif name == "ratios":
        for panel in chart_data["ratios"]["panels"]:
            yield from panel["points"]
    elif name == "participation":
        for series in chart_data["participation"]["series"]:
            yield from series["points"]


def legend_rows(name: str, chart_data: Mapping[str, Any]) -> list[str]:
    """The legend's rows, top to bottom: only what the chart draws.

    "cohorts" (one row: each cohort's marker and line), "series" (participation's two series),
    "ci" (95% confidence interval), "lower_bound" / "upper_bound" (a masked share drawn as a bound),
    "ratio" and "reference" (the ratio chart's point and its line at 1).
    """
    points = list(_points(name, chart_data))
    kinds = {p["kind"] for p in points}
    with_interval = any(p["kind"] == "value" and p.get("ci_low") is not None for p in points)
    rows: list[str] = []
    if name == "trends":
        rows.append("cohorts")
    if name == "participation":
        rows.append("series")
    if name == "ratios":
        rows += ["ratio", "reference"]
    elif with_interval:
        rows.append("ci")
    rows += [kind for kind in ("lower_bound", "upper_bound") if kind in kinds]
    return rows


def legend_height(name: str, chart_data: Mapping[str, Any]) -> int:
    return len(legend_rows(name, chart_data)) * LEGEND_ROW_PX + LEGEND_GAP_PX


def panel_height(label: str, plot_px: int = PLOT_PX) -> int:
    """One stacked panel: title lines, the axes, its x axis and the gap below."""
    return len(wrap_title(label)) * TITLE_LINE_PX + TITLE_GAP_PX + plot_px + XAXIS_PX + PANEL_GAP_PX


def value_items_plot_height(chart_data: Mapping[str, Any]) -> int:
    """The value-items axes: per item a heading row and one row per cohort it has."""
    return sum(ITEM_HEADING_PX + ROW_PX * len(item["points"]) for item in chart_data["value_items"])


def chart_sizes(chart_data: Mapping[str, Any]) -> dict[str, tuple[int, int]]:
    """Display size (width, height) in CSS px of each chart drawn from ``chart_data``.

    The PNGs are drawn at twice this size for sharp high-density screens; the ``<img>`` carries
    these numbers as width and height (and ``max-width: 100%`` in its style) so that a phone scales
    it to fit, and the smallest text still renders at >= PHONE_MIN_FONT_PX there.
    """
    top = PAD_PX
    sizes = {
        "value_items": top
        + legend_height("value_items", chart_data)
        + value_items_plot_height(chart_data)
        + XAXIS_PX
        + PAD_PX,
        "trends": top
        + legend_height("trends", chart_data)
        + sum(panel_height(p["label"]) for p in chart_data["trends"]["panels"])
        + PAD_PX
        - PANEL_GAP_PX,
        "ratios": top
        + legend_height("ratios", chart_data)
        + sum(panel_height(p["label"]) for p in chart_data["ratios"]["panels"])
        + PAD_PX
        - PANEL_GAP_PX,
        "participation": top
        + legend_height("participation", chart_data)
        + XAXIS_PX
        + PARTICIPATION_PLOT_PX
        + PAD_PX,
    }
    return {name: (WIDTH, height) for name, height in sizes.items()}
