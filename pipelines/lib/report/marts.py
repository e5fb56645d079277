"""Read what the yearly report needs from the §8 marts: one query per mart, every year up to the report's.

The report of year Y uses the marts of Y and of the years before it, never a later year (spec §8 rev
2: rendering an older year's report again after newer years load gives the same figures). Free text
is never selected: the data-quality appendix reads rules and columns only, never ``original_value``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb


class ReportDataError(RuntimeError):
    """The warehouse cannot produce a report for this year; the message says what to do."""


@dataclass
class YearMarts:
    """The marts' rows of one survey year, keyed for lookup."""

    year: int
    funnel: dict[str, Any]
    # (metric_id, cohort) -> metric_trends row: numerator, denominator, proportion, ci_low, ci_high,
    # change_vs_prior, p_value_vs_prior, series_start, prior_year
    metrics: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    comparisons: dict[str, dict[str, Any]] = field(default_factory=dict)
    balance: dict[str, dict[str, Any]] = field(default_factory=dict)
    # (characteristic, cohort, level) -> n, proportion, value
    demographics: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    # (metric_id, cohort, level) -> n, denominator
    distributions: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    reasons: list[dict[str, Any]] = field(default_factory=list)  # reason_code, reason_label, n, denominator
    data_quality: list[dict[str, Any]] = field(default_factory=list)  # rule, column_name, n


def read_years(connection: duckdb.DuckDBPyConnection, up_to: int) -> dict[int, YearMarts]:
    """Every survey year up to and including ``up_to`` that has a row in ``marts.response_funnel``.

    Raises:
        ReportDataError: When a mart is missing, or ``up_to`` itself has no funnel row.
    """
    years: dict[int, YearMarts] = {}
    for row in _rows(
        connection,
        "select survey_year, class_size, received, preview, incomplete, no_consent, duplicate, rejected, "
        "respondents, response_rate, mentors, non_mentors, informal, unclassified, instrument_version, "
        "source_sha256 from marts.response_funnel where survey_year <= ? order by survey_year",
        [up_to],
        "response_funnel",
    ):
        years[int(row["survey_year"])] = YearMarts(int(row["survey_year"]), row)
    if up_to not in years:
        raise ReportDataError(
            f"marts.response_funnel has no row for survey year {up_to}: load that year's delivery "
            f"first (ssm run --year {up_to}), then render the report again."
        )
    for row in _rows(
        connection,
        "select survey_year, metric_id, cohort, numerator, denominator, proportion, ci_low, ci_high, "
        "change_vs_prior, p_value_vs_prior, series_start, prior_year from marts.metric_trends where survey_year <= ?",
        [up_to],
        "metric_trends",
    ):
        _year(years, row).metrics[(row["metric_id"], row["cohort"])] = row
    for row in _rows(
        connection,
        "select survey_year, metric_id, mentor_yes, mentor_n, non_mentor_yes, non_mentor_n, risk_ratio, "
        "rr_ci_low, rr_ci_high, odds_ratio, or_ci_low, or_ci_high, p_value, zero_cell_corrected "
        "from marts.cohort_comparisons where survey_year <= ?",
        [up_to],
        "cohort_comparisons",
    ):
        _year(years, row).comparisons[row["metric_id"]] = row
    for row in _rows(
        connection,
        "select survey_year, characteristic, test, statistic, p_value, smd from marts.demographic_balance "
        "where survey_year <= ?",
        [up_to],
        "demographic_balance",
    ):
        _year(years, row).balance[row["characteristic"]] = row
    for row in _rows(
        connection,
        "select survey_year, characteristic, level, cohort, n, proportion, value "
        "from marts.demographics_by_cohort where survey_year <= ?",
        [up_to],
        "demographics_by_cohort",
    ):
        _year(years, row).demographics[(row["characteristic"], row["cohort"], row["level"])] = row
    for row in _rows(
        connection,
        "select survey_year, metric_id, cohort, level, n, denominator from marts.item_distributions "
        "where survey_year <= ?",
        [up_to],
        "item_distributions",
    ):
        _year(years, row).distributions[(row["metric_id"], row["cohort"], str(row["level"]))] = row
    # reason_label is the code list's label (reference data, §2.2), not respondent text.
    for row in _rows(
        connection,
        "select survey_year, reason_code, reason_label, n, denominator from marts.nonparticipation_reasons "
        "where survey_year <= ? order by reason_code",
        [up_to],
        "nonparticipation_reasons",
    ):
        _year(years, row).reasons.append(row)
    # Only rule and column: original_value can hold free text and is never selected.
    for row in _rows(
        connection,
        'select survey_year, rule, "column" as column_name, count(*) as n from marts.data_quality_issues '
        'where survey_year <= ? group by survey_year, rule, "column" order by rule, "column"',
        [up_to],
        "data_quality_issues",
    ):
        _year(years, row).data_quality.append(row)
    return years


def read_trend_tests(
    connection: duckdb.DuckDBPyConnection, year: int
) -> dict[tuple[str, str], dict[str, Any]]:
    """The Cochran-Armitage tests that run up to ``year`` (``last_year = year``), by metric and cohort."""
    return {
        (r["metric_id"], r["cohort"]): r
        for r in _rows(
            connection,
            "select metric_id, cohort, first_year, last_year, years, z, p_value from marts.metric_trend_tests "
            "where last_year = ?",
            [year],
            "metric_trend_tests",
        )
    }


def _year(years: dict[int, YearMarts], row: dict[str, Any]) -> YearMarts:
    year = int(row["survey_year"])
    if year not in years:
        raise ReportDataError(
            f"the marts hold figures for survey year {year} but marts.response_funnel has no row for it: "
            f"rebuild the warehouse (ssm run --year {year})."
        )
    return years[year]


def _rows(
    connection: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any], table: str
) -> list[dict[str, Any]]:
    try:
        cursor = connection.execute(sql, list(params))
    except duckdb.CatalogException as error:
        raise ReportDataError(
            f"marts.{table} cannot be read ({error}): build the marts first (ssm run), then render again."
        ) from error
    names = [d[0] for d in cursor.description]
    return [
        {name: _clean(value) for name, value in zip(names, row, strict=True)} for row in cursor.fetchall()
    ]


def _clean(value: Any) -> Any:
    # Python dbt models can store NaN where SQL models store NULL; both mean "no data" (§8).
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
