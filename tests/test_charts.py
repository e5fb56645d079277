"""The report's charts (spec §9 rev 2): drawn from chart_data alone, WCAG 2.2 AA contrast, axis titles,
nothing clipped, legible on a phone, masked shares as bounds, gaps and breaks honest, PNGs that render
in mail clients.

The checks read the drawn matplotlib figures (charts.draw_figures), so they test what is drawn, not a
constant; the PNG checks read the files render_charts writes; the phone rule is checked in headless
Chromium. The data is tests/chart_fixture.py, in the shape report_data produces.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from itertools import combinations, pairwise
from pathlib import Path

import pytest
from matplotlib.axes import Axes
from matplotlib.collections import Collection
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.text import Text
from PIL import Image

from pipelines.lib.report import chart_layout
from pipelines.lib.report.charts import (
    LOGICAL_DPI,
    PARTICIPATION_STYLE,
    PIXEL_RATIO,
    SERIES_STYLE,
    draw_figures,
    render_charts,
)
from tests import chart_fixture

# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------


def relative_luminance(rgb: tuple[float, float, float]) -> float:
    """WCAG 2.2 relative luminance of an sRGB colour."""

    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_on_white(colour, alpha: float | None = None) -> float:
    """WCAG contrast ratio of a colour, its transparency composed over the white background."""
    r, g, b, a = to_rgba(colour)
    a = a if alpha is None else a * alpha
    over_white = tuple(a * c + (1 - a) for c in (r, g, b))
    return 1.05 / (relative_luminance(over_white) + 0.05)


INVISIBLE = {"none", "None", "", " "}


def ink(figure: Figure) -> Iterator[tuple[str, str, object, tuple]]:
    """(kind, description, artist, rgba) for every visible mark of a figure: "text" for text, "mark"
    for lines, markers, intervals and shapes. Left out: the backgrounds, and the grid lines, which
    are decoration (the axes and their ticks carry the scale)."""
    backgrounds = {id(figure.patch)} | {id(ax.patch) for ax in figure.axes}
    grid = {id(line) for ax in figure.axes for line in ax.xaxis.get_gridlines() + ax.yaxis.get_gridlines()}
    for artist in figure.findobj():
        if id(artist) in backgrounds | grid or not artist.get_visible():
            continue
        alpha = artist.get_alpha()
        if isinstance(artist, Text):
            if artist.get_text().strip():
                yield "text", repr(artist.get_text()[:40]), artist, to_rgba(artist.get_color(), alpha)
        elif isinstance(artist, Line2D):
            name = f"line {artist.get_gid() or artist.get_label()}"
            if artist.get_linestyle() not in INVISIBLE and artist.get_linewidth() > 0:
                yield "mark", name, artist, to_rgba(artist.get_color(), alpha)
            if str(artist.get_marker()) not in INVISIBLE:
                yield "mark", name + " marker edge", artist, to_rgba(artist.get_markeredgecolor(), alpha)
                face = artist.get_markerfacecolor()
                if str(face) not in INVISIBLE and to_rgba(face)[:3] != (1.0, 1.0, 1.0):
                    yield "mark", name + " marker face", artist, to_rgba(face, alpha)
        elif isinstance(artist, Collection):
            widths = artist.get_linewidths()
            for colour in artist.get_edgecolors() if len(widths) and max(widths) > 0 else []:
                yield "mark", f"collection {artist.get_gid()}", artist, tuple(colour)
            for colour in artist.get_facecolors():
                yield "mark", f"collection {artist.get_gid()} fill", artist, tuple(colour)
        elif isinstance(artist, Patch):
            if artist.get_linewidth() > 0 and to_rgba(artist.get_edgecolor())[3] > 0:
                yield "mark", f"patch {type(artist).__name__}", artist, to_rgba(artist.get_edgecolor())
            face = to_rgba(artist.get_facecolor())
            if artist.get_fill() and face[3] > 0 and face[:3] != (1.0, 1.0, 1.0):
                yield (
                    "mark",
                    f"patch {type(artist).__name__} fill",
                    artist,
                    to_rgba(artist.get_facecolor()),
                )


def font_px(text: Text) -> float:
    """A text's size in CSS px at the chart's display size."""
    return text.get_fontsize() * LOGICAL_DPI / 72


def texts(figure: Figure) -> list[Text]:
    return [t for t in figure.findobj(Text) if t.get_visible() and t.get_text().strip()]


def panels(figure: Figure) -> list[Axes]:
    return list(figure.axes)


def gid_lines(axes: Axes, gid: str) -> list[Line2D]:
    return [line for line in axes.get_lines() if line.get_gid() == gid]


def png_info(path: Path) -> tuple[int, int, int, list[bytes]]:
    """Width, height, colour type and chunk names of a PNG file."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, _depth, colour_type = struct.unpack(">IIBB", data[16:26])
    chunks, offset = [], 8
    while offset < len(data):
        length = struct.unpack(">I", data[offset : offset + 4])[0]
        chunks.append(data[offset + 4 : offset + 8])
        offset += 12 + length
    return width, height, colour_type, chunks


@pytest.fixture(scope="module")
def data() -> dict:
    return chart_fixture.chart_data()


@pytest.fixture(scope="module")
def figures(data: dict) -> dict[str, Figure]:
    drawn = draw_figures(data)
    for figure in drawn.values():
        figure.canvas.draw()  # lay out text so that window extents are final
    return drawn


@pytest.fixture(scope="module")
def single_year_figures() -> dict[str, Figure]:
    drawn = draw_figures(chart_fixture.single_year())
    for figure in drawn.values():
        figure.canvas.draw()
    return drawn


# --------------------------------------------------------------------------------------------------
# sizes and the phone rule
# --------------------------------------------------------------------------------------------------


def test_figures_have_the_layout_modules_sizes(data: dict, figures: dict[str, Figure]):
    """chart_layout.chart_sizes (imported by the report code without matplotlib) is the drawn size."""
    sizes = chart_layout.chart_sizes(data)
    assert set(sizes) == set(figures) == set(chart_layout.CHART_NAMES)
    for name, figure in figures.items():
        drawn = tuple(round(v) for v in figure.get_size_inches() * LOGICAL_DPI)
        assert drawn == sizes[name], name


def test_legibility_rule_numbers():
    """The rule: at a 360 px window (332 px of content) the smallest chart text renders at >= 9 px."""
    assert chart_layout.PHONE_WINDOW_PX == 360 and chart_layout.PHONE_CONTENT_PX == 332
    smallest = chart_layout.phone_font_px(chart_layout.WIDTH)
    assert smallest == pytest.approx(chart_layout.MIN_FONT_PX * 332 / chart_layout.WIDTH)
    assert smallest >= chart_layout.PHONE_MIN_FONT_PX
    assert chart_layout.WIDTH <= 600  # also fits the e-mail's single 600 px column


def test_no_text_smaller_than_the_minimum(figures: dict[str, Figure]):
    """Every tick label, axis title, legend entry and note is at least MIN_FONT_PX at display size."""
    for name, figure in figures.items():
        small = [
            (t.get_text(), round(font_px(t), 2))
            for t in texts(figure)
            if font_px(t) < chart_layout.MIN_FONT_PX - 1e-6
        ]
        assert small == [], f"{name}: text below {chart_layout.MIN_FONT_PX} px: {small}"


# --------------------------------------------------------------------------------------------------
# contrast (WCAG 1.4.11 and 1.4.3) on what is drawn
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", chart_layout.CHART_NAMES)
def test_marks_and_text_contrast_with_the_background(figures: dict[str, Figure], name: str):
    """Every line, marker, interval and shape has >= 3:1 contrast on white, every text >= 4.5:1."""
    found = list(ink(figures[name]))
    assert any(kind == "mark" for kind, *_ in found) and any(kind == "text" for kind, *_ in found)
    low = []
    for kind, what, _artist, rgba in found:
        ratio = contrast_on_white(rgba)
        if ratio < (4.5 if kind == "text" else 3.0):
            low.append(f"{kind} {what}: {ratio:.2f}:1")
    assert low == [], f"{name}: too little contrast: {sorted(set(low))}"


def test_contrast_check_sees_the_series_colours(figures: dict[str, Figure]):
    """The contrast test reads the drawn artists: the three cohorts' colours are among them (and the
    check would fail on the old non-mentor orange #E69F00, 2.25:1)."""
    colours = {to_rgba(rgba)[:3] for _k, _w, _a, rgba in ink(figures["trends"])}
    for style in SERIES_STYLE.values():
        assert to_rgba(style["color"])[:3] in colours
    assert (
        contrast_on_white("#E69F00") < 3 <= min(contrast_on_white(s["color"]) for s in SERIES_STYLE.values())
    )


# --------------------------------------------------------------------------------------------------
# axis titles, nothing clipped, no overlapping text
# --------------------------------------------------------------------------------------------------


def test_every_panel_has_axis_titles(data: dict, figures: dict[str, Figure]):
    """Every time axis is titled "Survey year" and every value axis names its measure and unit; the
    value-items chart's rows are named by cohort."""
    for name in ("trends", "ratios", "participation"):
        for axes in panels(figures[name]):
            assert axes.get_xlabel() == "Survey year", name
            assert axes.get_ylabel().strip(), name
    trend_titles = [a.get_ylabel().replace("\n", " ") for a in panels(figures["trends"])]
    assert trend_titles == [f"{p['axis_label']} (%)" for p in data["trends"]["panels"]]
    assert {a.get_ylabel().replace("\n", " ") for a in panels(figures["ratios"])} == {
        "Risk ratio (log scale)"
    }
    assert panels(figures["participation"])[0].get_ylabel().replace("\n", " ") == "Share of the class (%)"
    (items,) = panels(figures["value_items"])
    assert items.get_xlabel() == "Share agreeing (%)"
    assert {t.get_text() for t in items.get_yticklabels()} == {c["label"] for c in data["cohorts"]}


@pytest.mark.parametrize("name", chart_layout.CHART_NAMES)
def test_no_marker_is_clipped(figures: dict[str, Figure], single_year_figures: dict[str, Figure], name: str):
    """Every marker, a bound's arrow included, lies wholly inside its axes (the clip box): a point at
    0% or 100% is fully visible."""
    for figure in (figures[name], single_year_figures[name]):
        renderer = figure.canvas.get_renderer()
        for axes in panels(figure):
            box = axes.get_window_extent(renderer)
            for line in axes.get_lines():
                if not line.get_visible() or str(line.get_marker()) in INVISIBLE or not len(line.get_xdata()):
                    continue
                # half the marker and half its edge, in PNG pixels
                reach = (line.get_markersize() / 2 + line.get_markeredgewidth() / 2) * figure.dpi / 72
                for x, y in line.get_transform().transform(line.get_xydata()):
                    if math.isfinite(x) and math.isfinite(y):
                        assert box.x0 <= x - reach and x + reach <= box.x1, (name, line.get_gid(), x, box)
                        assert box.y0 <= y - reach and y + reach <= box.y1, (name, line.get_gid(), y, box)


def test_points_at_0_and_100_percent_are_drawn(figures: dict[str, Figure]):
    """The fixture's 100% points (value items, trends) and its 0% point are drawn at 100 and 0."""
    (items,) = panels(figures["value_items"])
    xs = [x for line in gid_lines(items, "point") for x in line.get_xdata()]
    assert 100 in xs
    ys = [
        y for axes in panels(figures["trends"]) for line in gid_lines(axes, "point") for y in line.get_ydata()
    ]
    assert 100 in ys and 0 in ys


@pytest.mark.parametrize("name", chart_layout.CHART_NAMES)
def test_text_inside_the_figure_and_not_overlapping(figures: dict[str, Figure], name: str):
    """No text runs off the image, and no two texts overlap."""
    figure = figures[name]
    renderer = figure.canvas.get_renderer()
    box = figure.bbox
    extents = [(t.get_text(), t.get_window_extent(renderer)) for t in texts(figure)]
    for text, extent in extents:
        assert box.x0 - 0.5 <= extent.x0 and extent.x1 <= box.x1 + 0.5, f"{name}: {text!r} off the side"
        assert box.y0 - 0.5 <= extent.y0 and extent.y1 <= box.y1 + 0.5, f"{name}: {text!r} off the top/bottom"
    for (a, ea), (b, eb) in combinations(extents, 2):
        overlap = min(ea.x1, eb.x1) - max(ea.x0, eb.x0), min(ea.y1, eb.y1) - max(ea.y0, eb.y0)
        assert min(overlap) <= 1, f"{name}: {a!r} overlaps {b!r}"


# --------------------------------------------------------------------------------------------------
# bounds, gaps, breaks, lone years
# --------------------------------------------------------------------------------------------------


def legend_texts(figure: Figure) -> list[str]:
    return [t.get_text() for legend in figure.legends for t in legend.get_texts()]


def test_value_items_bounds_and_masked_rows(data: dict, figures: dict[str, Figure]):
    """A "more than 95%" share is an open mark at 95 with an arrow to the right, explained in the legend;
    a masked share is a row saying "not shown", with no mark."""
    (items,) = panels(figures["value_items"])
    bounds = gid_lines(items, "lower_bound")
    assert [b.get_xdata()[0] for b in bounds] == [95.0]
    arrow = bounds[0].get_marker().vertices
    assert arrow[:, 0].max() > 0 and arrow[:, 0].min() >= 0  # points right, from the bound on
    assert "More than the share marked (small group)" in legend_texts(figures["value_items"])
    assert any(t.get_text() == "not shown (small group)" for t in items.texts)
    masked = sum(p["kind"] == "masked" for item in data["value_items"] for p in item["points"].values())
    assert masked == 1


def test_trend_bounds_are_marks_not_values(data: dict, figures: dict[str, Figure]):
    """Each bound of the trends is drawn at its bound as an arrow up (more than) or down (less than),
    never joined to its neighbours by a line; both kinds are in the legend."""
    for axes, panel in zip(panels(figures["trends"]), data["trends"]["panels"], strict=True):
        for series in panel["series"]:
            for point in series["points"]:
                if point["kind"] not in ("lower_bound", "upper_bound"):
                    continue
                marks = [
                    line
                    for line in gid_lines(axes, point["kind"])
                    if abs(line.get_xdata()[0] - point["year"]) < 0.4
                    and line.get_ydata()[0] == pytest.approx(100 * point["bound"])
                ]
                assert marks, (panel["label"], series["cohort"], point)
                up = marks[0].get_marker().vertices[:, 1]
                if point["kind"] == "lower_bound":
                    assert up.min() >= 0 < up.max()  # from the bound upwards
                else:
                    assert up.max() <= 0 > up.min()  # from the bound downwards
                colour = to_rgba(SERIES_STYLE[series["cohort"]]["color"])
                for run in gid_lines(axes, "run"):
                    if to_rgba(run.get_color()) == colour:
                        assert not any(abs(x - point["year"]) < 0.4 for x in run.get_xdata())
    texts_ = legend_texts(figures["trends"])
    assert "More than the share marked (small group)" in texts_
    assert "Less than the share marked (small group)" in texts_


def series_lines(
    data: dict, figures: dict[str, Figure], name: str
) -> Iterator[tuple[str, list, list[Line2D]]]:
    """(what, points, the lines drawn for those points) for every series of a time chart."""
    figure = figures[name]
    if name == "trends":
        for axes, panel in zip(panels(figure), data["trends"]["panels"], strict=True):
            for series in panel["series"]:
                colour = to_rgba(SERIES_STYLE[series["cohort"]]["color"])
                lines = [ln for ln in gid_lines(axes, "run") if to_rgba(ln.get_color()) == colour]
                yield f"{panel['label']} / {series['cohort']}", series["points"], lines
    elif name == "ratios":
        for axes, panel in zip(panels(figure), data["ratios"]["panels"], strict=True):
            yield panel["label"], panel["points"], gid_lines(axes, "run")
    else:
        (axes,) = panels(figure)
        for series in data["participation"]["series"]:
            colour = to_rgba(PARTICIPATION_STYLE[series["code"]]["color"])
            lines = [ln for ln in gid_lines(axes, "run") if to_rgba(ln.get_color()) == colour]
            yield series["code"], series["points"], lines


@pytest.mark.parametrize("name", ["trends", "ratios", "participation"])
def test_masked_and_missing_years_are_gaps(data: dict, figures: dict[str, Figure], name: str):
    """No line of a series touches or crosses a year where that series is masked, has no data, or
    is a bound: the line stops and starts again."""
    gaps = 0
    for what, points, lines in series_lines(data, figures, name):
        assert lines, what
        for point in points:
            if point["kind"] == "value":
                continue
            gaps += point["kind"] in ("masked", "no_data")
            for line in lines:
                xs = [round(x) for x in line.get_xdata()]  # undo the sideways dodge
                assert point["year"] not in xs, (what, point["year"], point["kind"])
                assert not any(a < point["year"] < b for a, b in pairwise(xs)), (what, xs)
    assert gaps >= 3


def test_series_break_is_marked_and_not_bridged(data: dict, figures: dict[str, Figure]):
    """The change of wording in 2026 is a labelled vertical line between 2025 and 2026, and no line
    joins a point before it to one after it."""
    checked = 0
    for axes, panel in zip(panels(figures["trends"]), data["trends"]["panels"], strict=True):
        breaks = gid_lines(axes, "break")
        assert [line.get_xdata()[0] for line in breaks] == [b - 0.5 for b in panel["breaks"]]
        if panel["breaks"]:
            checked += 1
            assert any(t.get_text() == "New wording" for t in axes.texts)
            for line in gid_lines(axes, "run"):
                xs = list(line.get_xdata())
                assert all(x < 2025.5 for x in xs) or all(x > 2025.5 for x in xs), xs
    assert checked == 1


def test_a_lone_year_gets_an_interval_bar(single_year_figures: dict[str, Figure]):
    """In the first report (one year) every shown share of the trends has its interval bar."""
    data = chart_fixture.single_year()
    for axes, panel in zip(panels(single_year_figures["trends"]), data["trends"]["panels"], strict=True):
        bars = [c for c in axes.collections if c.get_gid() == "interval"]
        values = [p for s in panel["series"] for p in s["points"] if p["kind"] == "value"]
        assert len(bars) == len(values) > 0
        for bar in bars:
            (segment,) = bar.get_segments()
            assert abs(segment[1][1] - segment[0][1]) > 1  # a visible length, in percentage points


def test_every_interval_of_a_long_history_is_drawn_between_its_limits(data: dict, figures: dict[str, Figure]):
    """Every shown share of the trends and every shown ratio has its point at its year and its bar
    from the lower to the upper limit (a series' points and bars are one artist each), and a ratio's
    bar has a cap at each end that lies inside its panel."""

    def drawn(axes: Axes) -> tuple[list[tuple], list[tuple]]:
        points = [
            (round(x), y) for line in gid_lines(axes, "point") for x, y in zip(*line.get_data(), strict=True)
        ]
        bars = [
            (round(segment[0][0]), segment[0][1], segment[1][1])
            for bar in axes.collections
            if bar.get_gid() == "interval"
            for segment in bar.get_segments()
        ]
        return sorted(points), sorted(bars)

    def close(drawn: list[tuple], expected: list[tuple]) -> bool:
        return len(drawn) == len(expected) and all(
            a == pytest.approx(b, rel=1e-9) for a, b in zip(drawn, sorted(expected), strict=True)
        )

    intervals_checked = 0
    for axes, panel in zip(panels(figures["trends"]), data["trends"]["panels"], strict=True):
        values = [p for s in panel["series"] for p in s["points"] if p["kind"] == "value"]
        points, bars = drawn(axes)
        assert close(points, [(p["year"], 100 * p["proportion"]) for p in values])
        expected = [
            (p["year"], 100 * p["ci_low"], 100 * p["ci_high"]) for p in values if p["ci_low"] is not None
        ]
        assert expected and close(bars, expected)
        intervals_checked += len(expected)
    assert intervals_checked > 20

    for axes, panel in zip(panels(figures["ratios"]), data["ratios"]["panels"], strict=True):
        values = [p for p in panel["points"] if p["kind"] == "value" and p["ratio"] is not None]
        points, bars = drawn(axes)
        assert close(points, [(p["year"], p["ratio"]) for p in values])
        assert [year for year, _low, _high in bars] == sorted(p["year"] for p in values)
        bottom, top = axes.get_ylim()
        caps = [
            (round(x), y)
            for line in axes.get_lines()
            if line.get_marker() == "_"
            for x, y in zip(*line.get_data(), strict=True)
        ]
        for point in values:
            for end in (point["ci_low"], point["ci_high"]):
                if bottom < end < top:
                    assert any(c == pytest.approx((point["year"], end), rel=1e-9) for c in caps), (point, end)


def test_ratio_chart_has_log_scale_and_reference(figures: dict[str, Figure]):
    for axes in panels(figures["ratios"]):
        assert axes.get_yscale() == "log"
        (reference,) = gid_lines(axes, "reference")
        assert list(reference.get_ydata()) == [1, 1]
    assert "Ratio 1: equally likely" in legend_texts(figures["ratios"])


# --------------------------------------------------------------------------------------------------
# the PNG files
# --------------------------------------------------------------------------------------------------


def test_pngs_are_opaque_white_reproducible_and_untagged(data: dict, tmp_path: Path):
    """Each chart is an RGB PNG (no alpha: a solid background in every mail client, dark modes too)
    with white corners, twice its display size, with no text or time chunk, and the same bytes on a
    second run."""
    context = chart_fixture.context(data)
    images = render_charts(context, tmp_path / "a")
    again = render_charts(context, tmp_path / "b")
    sizes = chart_layout.chart_sizes(data)
    assert set(images) == set(chart_layout.CHART_NAMES)
    for name, image in images.items():
        width, height, colour_type, chunks = png_info(image.path)
        assert (image.width, image.height) == sizes[name]
        assert (width, height) == (PIXEL_RATIO * image.width, PIXEL_RATIO * image.height)
        assert colour_type == 2, f"{name}: PNG colour type {colour_type}, expected 2 (RGB)"
        assert not {b"tEXt", b"iTXt", b"zTXt", b"tIME"} & set(chunks), chunks
        with Image.open(image.path) as png:
            corners = [
                png.getpixel(xy) for xy in ((0, 0), (width - 1, 0), (0, height - 1), (width - 1, height - 1))
            ]
        assert corners == [(255, 255, 255)] * 4
        assert image.alt == context["charts"][name]["alt"]
        assert image.path.read_bytes() == again[name].path.read_bytes(), name


def test_render_charts_refuses_a_size_other_than_the_layouts(data: dict, tmp_path: Path):
    context = chart_fixture.context(data)
    context["charts"]["trends"] = {**context["charts"]["trends"], "width": 620, "height": 620}
    with pytest.raises(ValueError, match=r"chart_layout\.chart_sizes"):
        render_charts(context, tmp_path)
    del context["charts"]["trends"]
    with pytest.raises(ValueError, match="trends"):
        render_charts(context, tmp_path)


# --------------------------------------------------------------------------------------------------
# the phone rule in a browser
# --------------------------------------------------------------------------------------------------


def test_chart_text_legible_at_360_px_in_chromium(data: dict, tmp_path: Path):
    """The charts shown at their display size with max-width:100% on a page that leaves 332 px of a
    360 px window for content: each is scaled to fit and its smallest text renders at >= 9 CSS px; in
    a wide window each shows at its display size."""
    from playwright.sync_api import sync_playwright

    from pipelines.lib.report.browser import launch_chromium
    from tests.test_report_browser import require_chromium

    require_chromium()
    images = render_charts(chart_fixture.context(data), tmp_path)
    tags = "".join(
        f'<p><img src="{image.path.name}" alt="{name}" width="{image.width}" height="{image.height}" '
        'style="max-width:100%;height:auto;display:block"></p>'
        for name, image in images.items()
    )
    content_margin = (chart_layout.PHONE_WINDOW_PX - chart_layout.PHONE_CONTENT_PX) // 2
    page_file = tmp_path / "charts.html"
    page_file.write_text(
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1"><title>charts</title></head>'
        f'<body style="margin:0;padding:0 {content_margin}px">{tags}</body></html>',
        encoding="utf-8",
    )
    measure = """() => Array.from(document.images).map((img) => ({
        name: img.alt, shown: img.getBoundingClientRect().width, width: img.width,
        natural: img.naturalWidth, content: document.body.clientWidth}))"""
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            found = {}
            for window in (chart_layout.PHONE_WINDOW_PX, 800):
                page = browser.new_page(viewport={"width": window, "height": 800})
                page.goto(page_file.as_uri(), wait_until="load")
                found[window] = page.evaluate(measure)
                page.close()
        finally:
            browser.close()
    phone = found[chart_layout.PHONE_WINDOW_PX]
    assert len(phone) == len(chart_layout.CHART_NAMES)
    for img in phone:
        display = images[img["name"]].width
        assert img["natural"] == PIXEL_RATIO * display  # decoded
        assert img["shown"] <= chart_layout.PHONE_CONTENT_PX + 0.5, img
        rendered_font = chart_layout.MIN_FONT_PX * img["shown"] / display
        assert rendered_font >= chart_layout.PHONE_MIN_FONT_PX, f"{img['name']}: {rendered_font:.2f} px"
    for img in found[800]:
        assert img["shown"] == images[img["name"]].width, img
