"""The report's view over the years: trends, ratios, participation, reasons, and the at-a-glance table.

Everything here uses the report's year and the years before it, each year's figures protected by that
year's own :class:`~pipelines.lib.report.figures.YearFigures`, so a year's share reads the same in
every report that shows it and never depends on later years (spec §8 and §9, rev 2).

Figures computed across years (a change from the previous year, its Fisher p-value, a trend test) are
shown only when every share they are computed from is shown. A trend test over a year whose share is
hidden may still be shown as its conclusion ("rising", "no clear trend") when that conclusion is the
same for every value the hidden counts could take, given what the report shows of them; then it
says nothing the "<k" does not.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pipelines.lib.report import formatting as fmt
from pipelines.lib.report.figures import (
    NO_DATA,
    NOT_SHOWN,
    YearFigures,
    cell,
    item,
    no_share,
    percent_of,
    phrase,
)
from pipelines.lib.report.labels import COHORT_LABELS, METRICS, REASON_SHORT_LABELS, VALUE_ITEMS
from pipelines.lib.stats.trend import cochran_armitage

#: A p-value below this is called a difference, a change or a trend.
ALPHA = 0.05
#: The most combinations of hidden counts tried before a trend test is simply not shown.
MAX_COMBINATIONS = 4096
#: A year whose survey did not ask the question (not the same as nobody answering it).
NOT_ASKED = "not asked"
#: The change shown in the first year of a new wording: the year before asked another question.
NEW_WORDING = "new question wording"
REASONS_PER_TABLE = 3


@dataclass(frozen=True)
class TrendConclusion:
    """What a trend test may say: its words, and its figures when every share it uses is shown."""

    words: str  # "rising", "falling", "no clear trend"; "" when even the words may not be shown
    figures: str  # "z = 2.10, p = 0.036", or "" when only the words may be shown
    masked: bool  # whether something of the test is hidden


def history(
    figures: Mapping[int, YearFigures], year: int, tests: Mapping[tuple[str, str], Mapping[str, Any]]
) -> dict:
    """The over-the-years sections of the report of ``year``.

    Args:
        figures: Every year up to ``year`` with its protected figures.
        year: The report's year.
        tests: ``marts.metric_trend_tests`` rows with ``last_year = year``, by (metric, cohort).

    Returns:
        ``years``, ``trends`` (per metric: rows by year, the trend test per cohort, the series breaks),
        ``ratios``, ``participation``, ``reasons`` and ``changes_tested`` (how many changes from the
        previous year this report tests).
    """
    years = sorted(y for y in figures if y <= year)
    # A metric starts in the first year the survey asked it (a question added later has no rows
    # before); one not yet asked by the report's year is not shown at all.
    trends = [
        _metric_history(figures, [y for y in years if y >= first], metric_id, tests)
        for metric_id in METRICS
        if (first := first_asked(figures, years, metric_id)) is not None
    ]
    changes_tested = sum(
        1
        for metric in trends
        for cohort_column in metric["columns"]
        for row in metric["rows"][-1:]
        if row["cells"][cohort_column["index"]]["change"]["tested"]
    )
    return {
        "years": years,
        "trends": trends,
        "ratios": _ratios(figures, years),
        "participation": _participation(figures, years),
        "reasons": _reasons(figures, years),
        "changes_tested": changes_tested,
    }


# --------------------------------------------------------------------------------------------------
# each metric over the years
# --------------------------------------------------------------------------------------------------


def first_asked(figures: Mapping[int, YearFigures], years: Sequence[int], metric_id: str) -> int | None:
    """The first of ``years`` whose survey asked the metric's question, or None."""
    return next((y for y in years if figures[y].asked(metric_id)), None)


def not_asked() -> dict[str, Any]:
    """A share in a year whose survey did not ask the question."""
    return {**no_share(), "text": NOT_ASKED, "percent": NOT_ASKED}


def share_of(f: YearFigures, metric_id: str, cohort: str) -> dict[str, Any]:
    """One year's share agreeing (or answering yes) for a cohort, protected, with its interval."""
    if not f.has(item(metric_id, cohort, "answered")):
        return no_share()
    row = f.marts.metrics[(metric_id, cohort)]
    return f.share(
        item(metric_id, cohort, "yes"),
        item(metric_id, cohort, "answered"),
        ci=(row["ci_low"], row["ci_high"]),
    )


def _metric_history(
    figures: Mapping[int, YearFigures],
    years: Sequence[int],
    metric_id: str,
    tests: Mapping[tuple[str, str], Mapping[str, Any]],
) -> dict[str, Any]:
    metric = METRICS[metric_id]
    rows = []
    breaks = []
    for y in years:
        f = figures[y]
        cells = []
        for cohort in metric.cohorts:
            if f.asked(metric_id):
                share = share_of(f, metric_id, cohort)
                share["change"] = _change(figures, y, metric_id, cohort)
            else:
                share = {**not_asked(), "change": {**cell(NOT_ASKED, no_data=True), **_NO_CHANGE}}
            cells.append(share)
        rows.append({"year": y, "cells": cells, "series_start": _series_start(f, metric_id)})
    # A break is where the marts start a new series (series_start, spec §8 rev 2) after a year with data.
    earlier = [r for r in rows if any(not c["no_data"] for c in r["cells"])]
    for previous, current in itertools.pairwise(earlier):
        if current["series_start"] != previous["series_start"]:
            breaks.append(current["year"])
    year = years[-1]
    tests_by_cohort = [
        trend_test(figures, year, metric_id, cohort, tests.get((metric_id, cohort)))
        for cohort in metric.cohorts
    ]
    return {
        "metric_id": metric_id,
        "label": metric.label,
        "question": metric.question_in(year),
        "columns": [
            {"index": i, "cohort": c, "label": COHORT_LABELS[c]} for i, c in enumerate(metric.cohorts)
        ],
        "rows": rows,
        "tests": tests_by_cohort,
        "breaks": breaks,
        "break_notes": [_break_note(metric_id, b, rows) for b in breaks],
    }


def _break_note(metric_id: str, year: int, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """What a series break says: the question was reworded, so the years before are not comparable."""
    metric = METRICS[metric_id]
    before = max((r["year"] for r in rows if r["year"] < year), default=year - 1)
    old, new = metric.question_in(before), metric.question_in(year)
    text = f"Question reworded in {year}; earlier years are not comparable."
    if old != new:
        text += f" Until {before}: “{old}” From {year}: “{new}”"
    return {"year": year, "text": text}


def _series_start(f: YearFigures, metric_id: str) -> int | None:
    row = f.marts.metrics.get((metric_id, "all"))
    return int(row["series_start"]) if row and row.get("series_start") is not None else None


_NO_CHANGE = {"tested": False, "change": None, "p_value": None, "prior_year": None}


def _change(figures: Mapping[int, YearFigures], year: int, metric_id: str, cohort: str) -> dict[str, Any]:
    """The change from the previous year of the same series, shown only when both shares are."""
    f = figures[year]
    row = f.marts.metrics.get((metric_id, cohort))
    base = dict(_NO_CHANGE)
    if row is None or not row["denominator"]:
        return {**cell(NO_DATA, no_data=True), **base}
    prior_year = row.get("prior_year")
    if prior_year is None or int(prior_year) not in figures:
        first = _series_start(f, metric_id)
        earlier_data = any(
            (figures[y].marts.metrics.get((metric_id, cohort)) or {}).get("denominator")
            for y in figures
            if y < year
        )
        words = NEW_WORDING if earlier_data and first == year else "first year"
        return {**cell(words), **base}
    prior = figures[int(prior_year)]
    base = {**base, "tested": row["p_value_vs_prior"] is not None, "prior_year": int(prior_year)}
    now_share, prior_share = share_of(f, metric_id, cohort), share_of(prior, metric_id, cohort)
    if now_share["kind"] != "value" or prior_share["kind"] != "value":
        return {**cell(NOT_SHOWN, masked=True), **base}
    change = row["change_vs_prior"]
    if change is None:
        return {**cell(NO_DATA, no_data=True), **base}
    text = fmt.points(change)
    if row["p_value_vs_prior"] is not None:
        text += f" ({fmt.p_phrase(row['p_value_vs_prior'])})"
    return {
        **cell(text, fig=f"{year}:change.{metric_id}.{cohort}"),
        **base,
        "change": change,
        "p_value": row["p_value_vs_prior"],
    }


def trend_test(
    figures: Mapping[int, YearFigures],
    year: int,
    metric_id: str,
    cohort: str,
    test: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The Cochran-Armitage test of a metric's series up to ``year``, as the report may show it."""
    base = {"first_year": None, "last_year": None, "years": 0, "span": "", "z": None, "p_value": None}
    if test is None or test["z"] is None or test["p_value"] is None:
        years = int(test["years"]) if test else 0
        words = "too few years" if years < 2 else NO_DATA
        return {**cell(words, no_data=True), **base, "words": words, "years": years}
    first, last = int(test["first_year"]), int(test["last_year"])
    base.update(
        first_year=first,
        last_year=last,
        years=int(test["years"]),
        span=f"{fmt.span(first, last)}, {test['years']} years",
    )
    conclusion = _conclusion(figures, metric_id, cohort, first, last, test)
    if not conclusion.words:
        return {**cell(NOT_SHOWN, masked=True), **base, "words": NOT_SHOWN}
    text = f"{conclusion.words}: {conclusion.figures}" if conclusion.figures else conclusion.words
    shown = {"z": test["z"], "p_value": test["p_value"]} if conclusion.figures else {}
    return {
        **cell(text, masked=conclusion.masked, fig=f"{year}:trend.{metric_id}.{cohort}"),
        **base,
        **shown,
        "words": conclusion.words,
    }


def _words(z: float, p: float) -> str:
    if p >= ALPHA:
        return "no clear trend"
    return "rising" if z > 0 else "falling"


def _conclusion(
    figures: Mapping[int, YearFigures],
    metric_id: str,
    cohort: str,
    first: int,
    last: int,
    test: Mapping[str, Any],
) -> TrendConclusion:
    """The test's words and figures, or its words only when they hold for every hidden value."""
    inputs = []  # per year: the numerators and denominators the report leaves possible
    hidden = False
    for y in sorted(figures):
        if not first <= y <= last:
            continue
        f = figures[y]
        row = f.marts.metrics.get((metric_id, cohort))
        if row is None or not row["denominator"]:
            continue
        share = share_of(f, metric_id, cohort)
        if share["kind"] == "value":
            inputs.append((y, (int(row["numerator"]),), (int(row["denominator"]),)))
            continue
        hidden = True
        yes_low, yes_high = f.feasible(item(metric_id, cohort, "yes"))
        n_low, n_high = f.feasible(item(metric_id, cohort, "answered"))
        if not (math.isfinite(yes_high) and math.isfinite(n_high)):
            return TrendConclusion("", "", True)
        inputs.append(
            (y, tuple(range(yes_low, int(yes_high) + 1)), tuple(range(max(n_low, 1), int(n_high) + 1)))
        )
    words = _words(test["z"], test["p_value"])
    if not hidden:
        z_text = fmt.signed(f"z = {test['z']:.2f}")
        return TrendConclusion(words, f"{z_text}, {fmt.p_phrase(test['p_value'])}", False)
    combinations = 1
    for _, numerators, denominators in inputs:
        combinations *= len(numerators) * len(denominators)
    if combinations > MAX_COMBINATIONS:
        return TrendConclusion("", "", True)
    years = [y for y, _, _ in inputs]
    options = [
        [(x, n) for x in numerators for n in denominators if x <= n] for _, numerators, denominators in inputs
    ]
    for combination in itertools.product(*options):
        result = cochran_armitage(years, [x for x, _ in combination], [n for _, n in combination])
        if result.z is None or result.p_value is None or _words(result.z, result.p_value) != words:
            return TrendConclusion("", "", True)
    return TrendConclusion(words, "", True)


# --------------------------------------------------------------------------------------------------
# ratios, participation and reasons by year
# --------------------------------------------------------------------------------------------------


def ratio_cell(f: YearFigures, metric_id: str) -> dict[str, Any]:
    """The year's mentor/non-mentor risk ratio with its interval and Fisher p, as the report may show it."""
    row = f.marts.comparisons.get(metric_id)
    stat = f"ratio.{metric_id}"
    if row is None or stat not in f.model.statistics or row["risk_ratio"] is None:
        return {
            **cell(NO_DATA, no_data=True),
            "kind": "no_data",
            "ratio": None,
            "ci_low": None,
            "ci_high": None,
            "p_value": None,
        }
    if not f.statistic_shown(stat):
        return {
            **cell(NOT_SHOWN, masked=True, fig=f"{f.year}:{stat}#rr"),
            "kind": "masked",
            "ratio": None,
            "ci_low": None,
            "ci_high": None,
            "p_value": None,
        }
    text = fmt.ratio(row["risk_ratio"])
    if row["rr_ci_low"] is not None and row["rr_ci_high"] is not None:
        text += f" ({fmt.interval_ratio(row['rr_ci_low'], row['rr_ci_high'])})"
    return {
        **cell(text, fig=f"{f.year}:{stat}#rr"),
        "kind": "value",
        "ratio": row["risk_ratio"],
        "ci_low": row["rr_ci_low"],
        "ci_high": row["rr_ci_high"],
        "p_value": row["p_value"],
        "p_text": fmt.p_value(row["p_value"]) if row["p_value"] is not None else NO_DATA,
    }


def _ratios(figures: Mapping[int, YearFigures], years: Sequence[int]) -> dict[str, Any]:
    items = [m for m in VALUE_ITEMS if first_asked(figures, years, m) is not None]

    def ratio_or_not_asked(f: YearFigures, metric_id: str) -> dict[str, Any]:
        if f.asked(metric_id):
            return ratio_cell(f, metric_id)
        return {**ratio_cell(f, metric_id), "text": NOT_ASKED}

    return {
        "columns": [{"metric_id": m, "label": METRICS[m].label} for m in items],
        "rows": [{"year": y, "cells": [ratio_or_not_asked(figures[y], m) for m in items]} for y in years],
    }


def response_rate(f: YearFigures) -> dict[str, Any]:
    """The year's response rate, or "no data" when its class size is not on record."""
    if not f.has("class_size"):
        return no_share()
    return f.share("respondents", "class_size")


def mentored(f: YearFigures) -> dict[str, Any]:
    """The share of the year's respondents who mentored in the formal program."""
    return f.share("cohort.mentor", "respondents")


def _participation(figures: Mapping[int, YearFigures], years: Sequence[int]) -> list[dict[str, Any]]:
    return [
        {
            "year": y,
            "class_size": figures[y].count("class_size")
            if figures[y].has("class_size")
            else cell(NO_DATA, no_data=True),
            "respondents": figures[y].count("respondents"),
            "response_rate": response_rate(figures[y]),
            "mentors": figures[y].count("cohort.mentor"),
            "mentored": mentored(figures[y]),
        }
        for y in years
    ]


def _reasons(figures: Mapping[int, YearFigures], years: Sequence[int]) -> dict[str, Any]:
    codes = sorted({int(r["reason_code"]) for y in years for r in figures[y].marts.reasons})
    labels = {int(r["reason_code"]): str(r["reason_label"]) for y in years for r in figures[y].marts.reasons}
    rows = []
    for y in years:
        f = figures[y]
        offered = {int(r["reason_code"]) for r in f.marts.reasons}
        cells = []
        for code in codes:
            if code not in offered:
                cells.append(cell("not asked", no_data=True))
            elif not f.value("reason.answered"):
                cells.append(cell(NO_DATA, no_data=True))
            else:
                cells.append(f.share(f"reason.{code}", "reason.answered"))
        rows.append({"year": y, "answered": f.count("reason.answered"), "cells": cells})
    columns = [
        {"code": code, "label": labels[code], "short": REASON_SHORT_LABELS.get(code, f"Reason {code}")}
        for code in codes
    ]
    # Three reasons to a table: seven columns of shares do not fit a 360 px phone.
    tables = [
        {
            "columns": columns[start : start + REASONS_PER_TABLE],
            "rows": [{**row, "cells": row["cells"][start : start + REASONS_PER_TABLE]} for row in rows],
        }
        for start in range(0, len(columns), REASONS_PER_TABLE)
    ]
    return {"columns": columns, "tables": tables}


# --------------------------------------------------------------------------------------------------
# at a glance
# --------------------------------------------------------------------------------------------------


def glance(figures: Mapping[int, YearFigures], year: int, hist: Mapping[str, Any]) -> dict[str, Any]:
    """The at-a-glance table: each measure this year, the change, the range so far and the trend."""
    rows = [_glance_response_rate(figures, year)]
    for metric in hist["trends"]:
        cohort = "all" if "all" in METRICS[metric["metric_id"]].cohorts else "mentor"
        index = METRICS[metric["metric_id"]].cohorts.index(cohort)
        this_row = metric["rows"][-1]
        series = this_row["series_start"]
        in_series = [r for r in metric["rows"] if series is None or r["series_start"] == series]
        cells = [r["cells"][index] for r in in_series]
        new_series = bool(metric["breaks"]) and metric["breaks"][-1] == series
        range_cell = _range(cells, [r["year"] for r in in_series])
        if new_series and range_cell["text"] == "first year":
            range_cell = cell("first year of the new wording")
        rows.append(
            {
                "label": metric["label"],
                "group": COHORT_LABELS[cohort],
                "this_year": this_row["cells"][index],
                "change": this_row["cells"][index]["change"],
                "range": range_cell,
                "trend": metric["tests"][index],
                "new_series": new_series,
                # Why the change, range and trend start late: the question was reworded.
                "series_note": _series_note(metric["label"], series, year) if new_series else "",
            }
        )
    prior = [y for y in sorted(figures) if y < year]
    return {
        "year": year,
        "prior_year": prior[-1] if prior else None,
        "rows": rows,
        "notes": [r["series_note"] for r in rows if r.get("series_note")],
    }


def _series_note(label: str, series: int, year: int) -> str:
    """The at-a-glance note on a measure whose question was reworded (its current series starts late)."""
    if series == year:
        return (
            f"“{label}”: question reworded in {series}; earlier years are not comparable, so there is no "
            f"change from the year before, and the range and trend start again in {series}."
        )
    return (
        f"“{label}”: question reworded in {series}; earlier years are not comparable, so the range and "
        f"trend cover {series} on."
    )


def _glance_response_rate(figures: Mapping[int, YearFigures], year: int) -> dict[str, Any]:
    years = sorted(figures)
    rates = [response_rate(figures[y]) for y in years]
    this = rates[-1]
    change = cell(NO_DATA, no_data=True)
    earlier = [(y, r) for y, r in zip(years[:-1], rates[:-1], strict=True) if r["kind"] != "no_data"]
    if not earlier:
        change = cell("first year")
    elif this["kind"] == "value" and earlier[-1][1]["kind"] == "value":
        change = cell(
            fmt.points(this["proportion"] - earlier[-1][1]["proportion"]), fig=f"{year}:change.response_rate"
        )
    elif this["kind"] != "no_data":
        change = cell(NOT_SHOWN, masked=True)
    return {
        "label": "Response rate",
        "group": "Graduating class",
        "this_year": this,
        "change": change,
        "range": _range(rates, years),
        "trend": {**cell("not tested", no_data=True), "words": "not tested"},
        "new_series": False,
        "series_note": "",
    }


def _range(cells: Sequence[Mapping[str, Any]], years: Sequence[int]) -> dict[str, Any]:
    """The lowest and highest share so far, from what each year shows (a bound counts as its bound)."""
    known = [
        (c, y) for c, y in zip(cells, years, strict=True) if c["kind"] in ("value", "more_than", "less_than")
    ]
    if not known:
        hidden = any(c["kind"] == "hidden" for c in cells)
        return cell(NOT_SHOWN, masked=True) if hidden else cell(NO_DATA, no_data=True)
    if len(known) == 1:
        return cell("first year")

    # Each end is one year's printed share or bound, tagged as that year prints it.
    values = sorted(((c["proportion"], y), percent_of(c)) for c, y in known if c["kind"] == "value")
    floors = sorted(((c["bound"], y), percent_of(c)) for c, y in known if c["kind"] == "more_than")  # above
    ceilings = sorted(((c["bound"], y), percent_of(c)) for c, y in known if c["kind"] == "less_than")  # below
    # The lowest year: a year below a ceiling, or above a floor lower than every value, may be it.
    low: tuple[Any, ...]
    if ceilings and not (values and values[0][0][0] < ceilings[0][0][0]):
        low = (ceilings[0][1],)
    elif values and (ceilings or (floors and floors[0][0][0] < values[0][0][0])):
        low = ("at most ", values[0][1])
    elif values:
        low = (values[0][1],)
    else:
        low = (floors[0][1],)
    high: tuple[Any, ...]
    if floors and not (values and values[-1][0][0] > floors[-1][0][0]):
        high = (floors[-1][1],)
    elif values and (floors or (ceilings and ceilings[-1][0][0] > values[-1][0][0])):
        high = ("at least ", values[-1][1])
    elif values:
        high = (values[-1][1],)
    else:
        high = (ceilings[-1][1],)
    first, last = min(years), max(years)
    return phrase(*low, " to ", *high, f" ({fmt.span(first, last)})", masked=bool(floors or ceilings))
