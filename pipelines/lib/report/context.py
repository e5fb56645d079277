"""The yearly report's context: every figure read from ``marts.*``, protected and worded for display.

``load_report_contexts`` is the only place where report figures become text. Templates get a plain,
JSON-serialisable dict of strings, booleans and small dicts (no SQL, no arithmetic, no formatting in
Jinja), and ``charts.py`` gets the numbers it plots under ``context["chart_data"]``, with hidden
points reduced to their bounds, so neither ever touches the warehouse.

The pieces, all in this package: ``marts`` reads the marts (the report's year and the years before it,
never a later one), ``figures`` decides what each year may show (``disclosure``: no small group can be
worked out by subtraction or bounds), ``this_year`` builds the sections about the year, ``history``
the over-the-years sections and the at-a-glance table, ``words`` the headline, key findings and
methods, ``chart_data`` what the charts plot; ``formatting`` writes the numbers and ``labels`` holds
the words.

Wording (spec §9 rev 2): mentors and non-mentors are said to differ only when Fisher's exact p <
0.05, in risk-ratio words ("1.87 times as likely"), else "did not clearly differ"; cohorts are called
similar in a characteristic only when |SMD| < 0.1 and the test finds no difference; the survey is
said once to be cross-sectional, and the number of year-on-year changes tested stands beside them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb

from pipelines.lib.report import chart_data, this_year, words
from pipelines.lib.report.disclosure import check_k
from pipelines.lib.report.figures import ProtectionCache, YearFigures, year_figures
from pipelines.lib.report.history import glance, history
from pipelines.lib.report.labels import MENTOR_ITEMS, VALUE_ITEMS
from pipelines.lib.report.marts import ReportDataError, read_trend_tests, read_years

__all__ = ["ReportDataError", "load_report_context", "load_report_contexts"]

#: Keys the caller must put in ``meta`` (the footer shows them).
# No generation time: the same data and code give the same report, byte for byte, so an unchanged
# report is recognisably unchanged and is not e-mailed again.
META_KEYS = ("code_version", "source_sha256")


def load_report_context(
    connection: duckdb.DuckDBPyConnection, survey_year: int, small_cell_min: int, meta: Mapping[str, Any]
) -> dict[str, Any]:
    """Read the marts for one survey year and return the report's display-ready context.

    Args:
        connection: An open DuckDB connection to the warehouse (read-only is enough).
        survey_year: The year of the report; the history uses it and the years before it only.
        small_cell_min: k of §9.
        meta: ``code_version`` and ``source_sha256`` (strings), copied as is.

    Raises:
        ReportDataError: When a mart is missing or the year has no row in ``marts.response_funnel``.
        ValueError: When ``meta`` lacks a key or ``small_cell_min`` cannot protect anyone.
    """
    return load_report_contexts(connection, [survey_year], small_cell_min, {survey_year: meta})[survey_year]


def load_report_contexts(
    connection: duckdb.DuckDBPyConnection,
    survey_years: Sequence[int],
    small_cell_min: int,
    metas: Mapping[int, Mapping[str, Any]],
    cache_dir: Path | None = None,
) -> dict[int, dict[str, Any]]:
    """The contexts of several years' reports; each year's figures are protected once for all of them.

    Args:
        cache_dir: A folder where each year's protection is kept between runs (a yearly load then
            decides only the new year), or None to decide every year each time.
    """
    for year, meta in metas.items():
        missing = [key for key in META_KEYS if key not in meta]
        if missing:
            raise ValueError(f"meta of {year} is missing {', '.join(missing)}: the report footer needs them")
    k = check_k(small_cell_min)
    marts = read_years(connection, max(survey_years))
    for year in survey_years:
        if year not in marts:
            raise ReportDataError(
                f"marts.response_funnel has no row for survey year {year}: load that year's delivery "
                f"first (ssm run --year {year}), then render the report again."
            )
    cache = ProtectionCache(cache_dir) if cache_dir is not None else None
    figures = {year: year_figures(year_marts, k, cache) for year, year_marts in sorted(marts.items())}
    return {
        year: _context(
            {y: f for y, f in figures.items() if y <= year},
            year,
            read_trend_tests(connection, year),
            metas[year],
        )
        for year in survey_years
    }


def _context(
    figures: Mapping[int, YearFigures],
    year: int,
    tests: Mapping[tuple[str, str], Mapping[str, Any]],
    meta: Mapping[str, Any],
) -> dict[str, Any]:
    f = figures[year]
    population = this_year.population(f)
    demographics = this_year.demographics(f)
    # A metric the year's survey did not ask (a question added later) has no section at all.
    value_items = [this_year.value_item(f, m) for m in VALUE_ITEMS if f.asked(m)]
    mentor_experience = [this_year.mentor_item(f, m) for m in MENTOR_ITEMS if f.asked(m)]
    reasons = this_year.reasons(f)
    hist = history(figures, year, tests)
    at_a_glance = glance(figures, year, hist)
    warnings = []
    if f.marts.funnel["class_size"] is None:
        warnings.append(
            f"The class size for {year} is not on record (reference/class_sizes.csv), so this report has no "
            "response rate."
        )
    if meta.get("source_sha256") and population["source_sha256"] not in ("", meta["source_sha256"]):
        warnings.append(
            "The delivery checksum given for this report differs from the one recorded in the warehouse "
            f"({population['source_sha256'][:12]}…): the warehouse may have been rebuilt from another file."
        )
    context: dict[str, Any] = {
        "survey_year": year,
        "small_cell_min": f.k,
        "title": f"Student/student mentoring survey {year}",
        "subtitle": f"What the graduating class of {year} thinks of student/student mentoring (SSM)",
        "headline": words.headline(f)["text"],
        "headline_sentence": words.headline_sentence(year, words.headline(f)),
        "warnings": warnings,
        "glance": at_a_glance,
        "key_findings": words.key_findings(
            f, population, value_items, mentor_experience, demographics, reasons, at_a_glance, hist
        ),
        "cross_sectional": words.CROSS_SECTIONAL,
        "population": population,
        "demographics": demographics,
        "value_items": value_items,
        "mentor_experience": mentor_experience,
        "reasons": reasons,
        "history": hist,
        "testing_note": words.testing_note(hist["changes_tested"]),
        "data_quality": this_year.data_quality(f),
        "methods": words.methods(f.k),
        "footnotes": {"small": words.small_cell_note(f.k), "no_data": words.NO_DATA_NOTE},
        "chart_data": chart_data.chart_data(figures, f, value_items, hist),
        "meta": dict(meta),
    }
    context["charts"] = chart_data.chart_specs(context)
    shown = [value for key, value in context.items() if key not in ("meta", "chart_data")]
    context["any_masked"] = any(_has_flag(value, "masked") for value in shown)
    context["any_no_data"] = any(_has_flag(value, "no_data") for value in shown)
    return context


def _has_flag(value: Any, flag: str) -> bool:
    if isinstance(value, Mapping):
        return value.get(flag) is True or any(_has_flag(v, flag) for v in value.values())
    if isinstance(value, list):
        return any(_has_flag(v, flag) for v in value)
    return False
