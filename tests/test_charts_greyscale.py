"""Promise (issue 5): the charts read in greyscale. The three series (all respondents, mentors,
non-mentors) differ by marker and line style on their own, and their colours differ in lightness."""

from __future__ import annotations

from itertools import combinations

from matplotlib.colors import to_rgb

from pipelines.lib.report.charts import SERIES_STYLE


def luminance(colour: str) -> float:
    """Relative lightness as a greyscale print renders it (ITU-R BT.601 weights)."""
    r, g, b = to_rgb(colour)
    return 0.299 * r + 0.587 * g + 0.114 * b


def test_series_differ_without_colour() -> None:
    styles = list(SERIES_STYLE.values())
    assert len({s["marker"] for s in styles}) == len(styles)
    assert len({s["linestyle"] for s in styles}) == len(styles)


def test_series_colours_differ_in_grey() -> None:
    for first, second in combinations(SERIES_STYLE.values(), 2):
        assert abs(luminance(first["color"]) - luminance(second["color"])) >= 0.15
