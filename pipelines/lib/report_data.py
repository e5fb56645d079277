"""The yearly report's context: every figure read from ``marts.*``, formatted and masked for display.

``load_report_context`` is the only place where report numbers are formatted. Templates get a plain,
JSON-serialisable dict of strings, booleans and small dicts (no SQL, no arithmetic, no formatting in
Jinja), and ``charts.py`` gets the numbers it plots under ``context["chart_data"]`` with masked points
already removed, so neither ever touches the warehouse.

Privacy (spec §6, §9): only the §8 marts are read; respondent free text is never selected (the
data-quality appendix counts issues by rule and column and never reads ``original_value``); every
count, percentage, interval and ratio goes through :mod:`pipelines.lib.masking`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from pipelines.lib.masking import (
    NO_DATA,
    WITHHELD,
    Cell,
    is_small,
    mask_count,
    mask_numerator,
    mask_percent,
    percent_masked,
    ratio_masked,
    suppress_partition,
)

#: Keys the caller must put in ``meta`` (the footer shows them).
# No generation time: the same data and code give the same report, byte for byte, so an unchanged
# report is recognisably unchanged and is not e-mailed again.
META_KEYS = ("code_version", "source_sha256")

#: Display size in CSS pixels of each chart (charts.py renders them at twice this for sharp screens).
CHART_SIZES: dict[str, tuple[int, int]] = {"value_items": (620, 320), "trends": (620, 620)}

#: A p-value below this is called a clear difference in the generated sentences.
ALPHA = 0.05

MINUS = "\u2212"
NBSP = "\u00a0"
EN_DASH = "\u2013"


class ReportDataError(RuntimeError):
    """The warehouse cannot produce a report for this year; the message says what to do."""


@dataclass(frozen=True)
class Metric:
    """How one §8 metric is named and worded in the report."""

    metric_id: str
    label: str  # short name for tables and charts
    question: str  # the item as the survey asked it
    clause: str  # the statement, lower-case, to follow "agree that ..."
    answer: str  # what counts: "agree" (4 or 5) or "yes"
    cohorts: tuple[str, ...]  # cohorts shown in tables, trends and charts


VALUE_ITEMS = ("value_distinct", "value_mentee", "value_mentor")
MENTOR_ITEMS = ("mentor_again", "mentor_worthwhile")

METRICS: dict[str, Metric] = {
    "value_distinct": Metric(
        "value_distinct",
        "SSM has a value of its own",
        "SSM is valuable in a way that is different from student/resident or student/faculty mentoring.",
        "student/student mentoring is valuable in a way that is different from student/resident or "
        "student/faculty mentoring",
        "agree",
        ("all", "mentor", "non_mentor"),
    ),
    "value_mentee": Metric(
        "value_mentee",
        "Being a mentee is beneficial",
        "Being the mentee in an SSM relationship is (or would be) beneficial.",
        "being the mentee in an SSM relationship is (or would be) beneficial",
        "agree",
        ("all", "mentor", "non_mentor"),
    ),
    "value_mentor": Metric(
        "value_mentor",
        "Being a mentor is valuable",
        "Being a mentor in an SSM program is (or would be) valuable.",
        "being a mentor in an SSM program is (or would be) valuable",
        "agree",
        ("all", "mentor", "non_mentor"),
    ),
    # Only formal mentors are asked these two (§2), so only the mentor cohort is shown; "all" would
    # repeat the same people and "non_mentor" is always "no data".
    "mentor_again": Metric(
        "mentor_again",
        "Would mentor again",
        "Would you serve as a mentor again?",
        "they would serve as a mentor again",
        "yes",
        ("mentor",),
    ),
    "mentor_worthwhile": Metric(
        "mentor_worthwhile",
        "Mentoring was worthwhile",
        "Serving as a mentor was a worthwhile experience.",
        "serving as a mentor was a worthwhile experience",
        "agree",
        ("mentor",),
    ),
}

COHORT_LABELS = {"all": "All respondents", "mentor": "Mentors", "non_mentor": "Non-mentors"}

EXCLUSIONS = (
    ("preview", "Preview, test or spam", "Test runs by staff, previews and spam, not students' answers."),
    ("incomplete", "Not finished", "Started the survey but did not submit it."),
    ("no_consent", "Did not consent", "Declined the consent question, so no answers are used."),
    ("duplicate", "Duplicate", "An earlier copy of a response that was submitted again; the latest is kept."),
    ("rejected", "Unreadable", "A row that could not be read at all."),
)

COHORTS_FLOW = (
    ("mentors", "mentor", "Mentors", "Mentored in the formal SSM program.", True),
    ("non_mentors", "non_mentor", "Non-mentors", "Took part in no student/student mentoring.", True),
    (
        "informal",
        "informal",
        "Informal only",
        "Took part only in informal mentoring: counted, not compared.",
        False,
    ),
    (
        "unclassified",
        "unclassified",
        "Unclassified",
        "Did not say whether they mentored: counted, not compared.",
        False,
    ),
)

CHARACTERISTICS = {
    "gender": ("Gender", ("female", "male", "nonbinary_or_other", "not_reported")),
    "age": ("Age (years)", ()),
    "specialty_group": ("Specialty matched into", ("primary_care", "surgical", "other", "not_matched")),
}

LEVEL_LABELS = {
    "female": "Female",
    "male": "Male",
    "nonbinary_or_other": "Non-binary or other",
    "not_reported": "Not reported",
    "primary_care": "Primary care",
    "surgical": "Surgical",
    "other": "Other specialties",
    "not_matched": "Did not match / not applicable",
}

# Which levels enter each test (spec §8): gender compares female with male only, specialty_group
# leaves out not_matched. Used to mask a test whose table has a small cell.
TESTED_LEVELS = {"gender": {"female", "male"}, "specialty_group": {"primary_care", "surgical", "other"}}

TEST_LABELS = {
    "fisher_exact": "Fisher's exact test",
    "chi_square": "Chi-square test",
    "welch_t": "Welch's t-test",
}

TEST_NOTES = {
    "gender": "The test compares women with men; other answers are shown but not tested.",
    "specialty_group": "The test leaves out students who did not match.",
    "age": "Mean (standard deviation) of students who gave a valid age.",
}

DQ_RULE_LABELS = {
    "not_an_integer": "Not a whole number",
    "out_of_range": "Outside the allowed range",
    "not_in_code_list": "Code not in the answer list",
    "unknown_label": "Answer text not in the answer list",
    "off_branch": "Answer to a question the respondent was not meant to see",
}

# v1 exports name columns Q1..Q13; say which question they are so the appendix reads without the codebook.
V1_COLUMN_VARIABLES = {
    "Q1": "consent",
    "Q2": "gender",
    "Q3": "age",
    "Q4": "specialty",
    "Q5": "mentor_formal",
    "Q6": "mentor_informal",
    "Q7": "had_student_mentor",
    "Q8_1": "value_distinct",
    "Q8_2": "value_mentee",
    "Q8_3": "value_mentor",
    "Q9": "mentor_again",
    "Q10": "mentor_worthwhile",
    "Q11": "mentees_count",
    "Q12": "nonpart_reasons",
}

INSTRUMENT_LABELS = {
    "v1": "Qualtrics legacy export (v1, numeric codes)",
    "v2": "Qualtrics current export (v2)",
}

SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")


# --------------------------------------------------------------------------------------------------
# public entry point
# --------------------------------------------------------------------------------------------------


def load_report_context(
    connection: duckdb.DuckDBPyConnection,
    survey_year: int,
    small_cell_min: int,
    meta: Mapping[str, Any],
) -> dict[str, Any]:
    """Read the §8 marts for one survey year and return the report's display-ready context.

    Args:
        connection: An open DuckDB connection to the warehouse (read-only is enough).
        survey_year: The year of the report; trends use every year up to and including it.
        small_cell_min: k of §9; counts 1..k-1 are masked.
        meta: ``code_version`` and ``source_sha256`` (strings), copied as is.

    Returns:
        A plain dict (see the module docstring of ``rendering.py`` for the keys the templates use).

    Raises:
        ReportDataError: When a mart is missing or the year has no row in ``marts.response_funnel``.
        ValueError: When ``meta`` lacks a key or ``small_cell_min`` is not a whole number >= 1.
    """
    missing = [key for key in META_KEYS if key not in meta]
    if missing:
        raise ValueError(f"meta is missing {', '.join(missing)}: the report footer needs them")
    mask_count(0, small_cell_min)  # validates k once, with a clear message, before it is used anywhere
    k = int(small_cell_min)

    reader = _Reader(connection)
    funnel = reader.one(
        "select class_size, received, preview, incomplete, no_consent, duplicate, rejected, respondents, "
        "response_rate, mentors, non_mentors, informal, unclassified, instrument_version, source_sha256 "
        "from marts.response_funnel where survey_year = ?",
        [survey_year],
        "response_funnel",
    )
    if funnel is None:
        raise ReportDataError(
            f"marts.response_funnel has no row for survey year {survey_year}: load that year's delivery "
            f"first (ssm run --year {survey_year}), then render the report again."
        )
    summary = {
        (r["metric_id"], r["cohort"]): r
        for r in reader.all(
            "select metric_id, cohort, numerator, denominator, proportion, ci_low, ci_high "
            "from marts.metric_summary where survey_year = ?",
            [survey_year],
            "metric_summary",
        )
    }
    comparisons = {
        r["metric_id"]: r
        for r in reader.all(
            "select metric_id, mentor_yes, mentor_n, non_mentor_yes, non_mentor_n, risk_ratio, rr_ci_low, "
            "rr_ci_high, odds_ratio, or_ci_low, or_ci_high, p_value, zero_cell_corrected "
            "from marts.cohort_comparisons where survey_year = ?",
            [survey_year],
            "cohort_comparisons",
        )
    }
    balance = {
        r["characteristic"]: r
        for r in reader.all(
            "select characteristic, test, statistic, p_value, smd from marts.demographic_balance "
            "where survey_year = ?",
            [survey_year],
            "demographic_balance",
        )
    }
    demographics = reader.all(
        "select characteristic, level, cohort, n, proportion, value from marts.demographics_by_cohort "
        "where survey_year = ?",
        [survey_year],
        "demographics_by_cohort",
    )
    # reason_label is the code list's label (reference data, §2.2), not respondent text; the
    # other-reason free text lives elsewhere and is never read here.
    reasons = reader.all(
        "select reason_code, reason_label, n, denominator from marts.nonparticipation_reasons "
        "where survey_year = ? order by reason_code",
        [survey_year],
        "nonparticipation_reasons",
    )
    trends = reader.all(
        "select survey_year, metric_id, cohort, numerator, denominator, proportion, ci_low, ci_high, "
        "change_vs_prior, p_value_vs_prior from marts.metric_trends where survey_year <= ? "
        "order by survey_year",
        [survey_year],
        "metric_trends",
    )
    trend_tests = {
        (r["metric_id"], r["cohort"]): r
        for r in reader.all(
            "select metric_id, cohort, first_year, last_year, years, z, p_value from marts.metric_trend_tests "
            "where last_year = ?",
            [survey_year],
            "metric_trend_tests",
        )
    }
    # Counts that feed the trend tests, including years after the report year, read only to decide
    # whether a test must be masked; none of these figures is displayed.
    trend_cells = reader.all(
        "select survey_year, metric_id, cohort, numerator, denominator from marts.metric_trends",
        [],
        "metric_trends",
    )
    # Only rule and column: original_value can hold free text and is never selected.
    dq_counts = reader.all(
        'select rule, "column" as column_name, count(*) as n from marts.data_quality_issues '
        'where survey_year = ? group by rule, "column" order by rule, "column"',
        [survey_year],
        "data_quality_issues",
    )

    for rows in (list(summary.values()), trends, trend_cells):
        _withhold_complementary_shares(rows, k)
    population = _population(funnel, k)
    value_items = [_value_item(METRICS[m], summary, comparisons.get(m), k) for m in VALUE_ITEMS]
    mentor_experience = [_mentor_item(METRICS[m], summary, k) for m in MENTOR_ITEMS]
    demographics_ctx = _demographics(demographics, balance, funnel, k)
    reasons_ctx = _reasons(reasons, k)
    trends_ctx = _trends(trends, trend_tests, trend_cells, survey_year, k)
    data_quality = _data_quality(dq_counts, k)

    warnings = []
    if funnel["class_size"] is None:
        warnings.append(
            f"The class size for {survey_year} is not on record (reference/class_sizes.csv), so this report "
            "has no response rate."
        )
    if meta.get("source_sha256") and population["source_sha256"] not in ("", meta["source_sha256"]):
        warnings.append(
            "The delivery checksum given for this report differs from the one recorded in the warehouse "
            f"({population['source_sha256'][:12]}…): the warehouse may have been rebuilt from another file."
        )

    key_findings = _key_findings(
        population, value_items, mentor_experience, demographics_ctx, reasons_ctx, trends_ctx, summary, k
    )
    context: dict[str, Any] = {
        "survey_year": survey_year,
        "small_cell_min": k,
        "title": f"Student/student mentoring survey {survey_year}",
        "subtitle": f"What the graduating class of {survey_year} thinks of student/student mentoring (SSM)",
        "summary": _summary_paragraph(survey_year, population, value_items, summary, k),
        "key_findings": key_findings,
        "warnings": warnings,
        "population": population,
        "demographics": demographics_ctx,
        "value_items": value_items,
        "mentor_experience": mentor_experience,
        "reasons": reasons_ctx,
        "trends": trends_ctx,
        "data_quality": data_quality,
        "methods": _methods(k),
        "footnotes": _footnotes(k),
        "charts": {},
        "chart_data": _chart_data(summary, trends, trends_ctx["years"], k),
        "meta": dict(meta),
    }
    context["charts"] = _chart_specs(context["chart_data"])
    # Each footnote is printed only when some marker points at it.
    shown = [value for key, value in context.items() if key != "meta"]
    context["any_masked"] = any(_has_flag(value, "masked") for value in shown)
    context["any_no_data"] = any(_has_flag(value, "no_data") for value in shown)
    context["no_data_note"] = NO_DATA_NOTE
    return context


NO_DATA_NOTE = (
    "No data: nobody in that group answered the question this year (the denominator is 0), so there is "
    "nothing to compute. Questions asked of mentors only have no answers from non-mentors, and a group "
    "with no members (for example no mentors in a year) has no figures."
)


def _has_flag(value: Any, flag: str) -> bool:
    if isinstance(value, Mapping):
        return value.get(flag) is True or any(_has_flag(v, flag) for v in value.values())
    if isinstance(value, list):
        return any(_has_flag(v, flag) for v in value)
    return False


# --------------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------------


class _Reader:
    """Runs the few read queries and turns rows into dicts with NaN as None."""

    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self.connection = connection

    def all(self, sql: str, params: Sequence[Any], table: str) -> list[dict[str, Any]]:
        try:
            cursor = self.connection.execute(sql, list(params))
        except duckdb.CatalogException as error:
            raise ReportDataError(
                f"marts.{table} cannot be read ({error}): build the marts first (ssm run), then render again."
            ) from error
        names = [d[0] for d in cursor.description]
        return [
            {name: _clean(value) for name, value in zip(names, row, strict=True)} for row in cursor.fetchall()
        ]

    def one(self, sql: str, params: Sequence[Any], table: str) -> dict[str, Any] | None:
        rows = self.all(sql, params, table)
        return rows[0] if rows else None


def _clean(value: Any) -> Any:
    # Python dbt models can store NaN where SQL models store NULL; both mean "no data" (§8).
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# --------------------------------------------------------------------------------------------------
# formatting helpers
# --------------------------------------------------------------------------------------------------


def _signed(text: str) -> str:
    """Use a true minus sign: a hyphen reads as a dash, and screen readers say 'minus' for U+2212."""
    return text.replace("-", MINUS)


def format_ratio(value: float) -> str:
    """Format a risk or odds ratio to 2 decimals."""
    return _signed(f"{value:.2f}")


def format_p(p: float | None) -> str:
    """Format a p-value: 3 decimals, or "<0.001"."""
    if p is None:
        return NO_DATA
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def p_phrase(p: float) -> str:
    """Format a p-value inside a sentence: "p = 0.007" or "p < 0.001".

    The spaces are non-breaking so that neither a browser nor the plain-text wrapper leaves "p" at
    the end of one line and "< 0.001" at the start of the next.
    """
    return f"p{NBSP}<{NBSP}0.001" if p < 0.001 else f"p{NBSP}={NBSP}{p:.3f}"


def format_percent(proportion: float) -> str:
    """Format a 0..1 proportion as a percentage with 1 decimal."""
    return f"{100.0 * proportion:.1f}%"


def format_interval_percent(low: float, high: float) -> str:
    """Format a 0..1 interval as "72.2-93.3%" (with an en dash)."""
    return f"{100.0 * low:.1f}{EN_DASH}{100.0 * high:.1f}%"


def format_interval_ratio(low: float, high: float) -> str:
    """Format a ratio interval as "1.34-2.60" (with an en dash)."""
    return f"{format_ratio(low)}{EN_DASH}{format_ratio(high)}"


def _cell(text: str, masked: bool = False, no_data: bool = False) -> dict[str, Any]:
    return Cell(text, masked, no_data).as_dict()


def _share(
    numerator: int | None,
    denominator: int | None,
    ci_low: float | None,
    ci_high: float | None,
    k: int,
    withheld: bool = False,
    withheld_n: bool = False,
) -> dict[str, Any]:
    """A share with its interval: text "85.7% (95% CI 72.2-93.3%)" (en dash), plus the parts for table cells.

    ``withheld`` hides the share and its count, ``withheld_n`` its denominator, although neither is
    small (complementary suppression, see :func:`_withhold_complementary_shares`).
    """
    percent = mask_percent(numerator, denominator, k)
    count = mask_numerator(numerator, denominator, k)
    if withheld and not percent.no_data and not percent.masked:  # a masked one already hides its count
        percent = count = Cell(WITHHELD, masked=True)
    n = Cell(WITHHELD, masked=True) if withheld_n and denominator else mask_count(denominator, k)
    if percent.masked or percent.no_data or ci_low is None or ci_high is None:
        ci = percent.text if (percent.masked or percent.no_data) else ""
        text = percent.text
    else:
        ci = f"95% CI {format_interval_percent(ci_low, ci_high)}"
        text = f"{percent.text} ({ci})"
    return {
        "text": text,
        "percent": percent.text,
        "ci": ci,
        "count": count.as_dict(),
        "n": n.as_dict(),
        "masked": percent.masked,
        "no_data": percent.no_data,
    }


def _share_of(row: Mapping[str, Any] | None, k: int) -> dict[str, Any]:
    """The share of a metric_summary or metric_trends row (None: no row, "no data")."""
    if row is None:
        return _share(None, None, None, None, k)
    return _share(
        row["numerator"],
        row["denominator"],
        row["ci_low"],
        row["ci_high"],
        k,
        withheld=bool(row.get("withheld")),
        withheld_n=bool(row.get("withheld_n")),
    )


def _row_masked(row: Mapping[str, Any], k: int) -> bool:
    """Whether the share of a metric row is hidden, by the small-cell rule or as a complementary share."""
    return bool(row.get("withheld")) or percent_masked(row["numerator"], row["denominator"], k)


def _withhold_complementary_shares(rows: Iterable[dict[str, Any]], k: int) -> None:
    """Mark the "all respondents" rows whose share must be withheld although it is not small.

    When no informal or unclassified respondent answered an item, "all" is exactly mentors plus
    non-mentors (the denominators show it), so a single masked cohort share would be "all" minus the
    other cohort: the "all" share is then withheld too (``withheld``). Likewise a single small cohort
    denominator would be the "all" denominator minus the other one: that denominator is withheld
    (``withheld_n``), and with it the share, which would give it back (count / share). Rows are marked
    in place.
    """
    groups: dict[tuple[Any, str], dict[str, dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row.get("survey_year"), row["metric_id"]), {})[row["cohort"]] = row
    for cohorts in groups.values():
        total, parts = cohorts.get("all"), [cohorts.get("mentor"), cohorts.get("non_mentor")]
        if total is None or parts[0] is None or parts[1] is None:
            continue
        if any(r["numerator"] is None or r["denominator"] is None for r in (total, *parts)):
            continue
        if total["denominator"] != parts[0]["denominator"] + parts[1]["denominator"]:
            continue  # others answered: their share, never shown, stands between "all" and the cohorts
        hidden = [
            p for p in parts if p["denominator"] and percent_masked(p["numerator"], p["denominator"], k)
        ]
        if len(hidden) == 1 and not percent_masked(total["numerator"], total["denominator"], k):
            total["withheld"] = True
        if sum(is_small(p["denominator"], k) for p in parts) == 1 and not is_small(total["denominator"], k):
            total["withheld"] = total["withheld_n"] = True


def _count(n: int | None, k: int) -> dict[str, Any]:
    return mask_count(n, k).as_dict()


# --------------------------------------------------------------------------------------------------
# sections
# --------------------------------------------------------------------------------------------------


def _population(funnel: Mapping[str, Any], k: int) -> dict[str, Any]:
    exclusions_counts = [funnel[code] for code, _, _ in EXCLUSIONS]
    exclusion_cells = suppress_partition(exclusions_counts, k)
    cohort_counts = [funnel[column] for column, *_ in COHORTS_FLOW]
    cohort_cells = _cohort_cells(cohort_counts, k)
    excluded_total = None if None in exclusions_counts else sum(exclusions_counts)
    excluded_cell = mask_count(excluded_total, k)
    respondents_cell = mask_count(funnel["respondents"], k)
    received_cell = mask_count(funnel["received"], k)
    # received = not counted + respondents: when only one of the two is hidden, so is received.
    if excluded_cell.masked != respondents_cell.masked and not received_cell.masked:
        received_cell = Cell(WITHHELD, masked=True)
    class_size_cell = mask_count(funnel["class_size"], k)
    rate = funnel["response_rate"]
    rate_cell = Cell(format_percent(rate)) if rate is not None else Cell(NO_DATA, no_data=True)
    if rate is not None and percent_masked(funnel["respondents"], funnel["class_size"], k):
        # A rate next to a hidden respondent count gives it back (rate x class size); with fewer
        # than k non-respondents the class size is withheld too, or the two counts would give the rate.
        rate_cell = Cell(WITHHELD, masked=True)
        if not respondents_cell.masked and not class_size_cell.masked:
            class_size_cell = Cell(WITHHELD, masked=True)
    sha = str(funnel["source_sha256"] or "")
    version = str(funnel["instrument_version"] or "")
    return {
        "class_size": class_size_cell.as_dict(),
        "has_class_size": funnel["class_size"] is not None,
        "received": received_cell.as_dict(),
        "excluded_total": excluded_cell.as_dict(),
        "exclusions": [
            {"code": code, "label": label, "description": description, "count": cell.as_dict()}
            for (code, label, description), cell in zip(EXCLUSIONS, exclusion_cells, strict=True)
        ],
        "respondents": respondents_cell.as_dict(),
        "response_rate": rate_cell.as_dict(),
        "cohorts": [
            {
                "code": code,
                "label": label,
                "description": description,
                "count": cell.as_dict(),
                "in_comparisons": compared,
            }
            for (_, code, label, description, compared), cell in zip(COHORTS_FLOW, cohort_cells, strict=True)
        ],
        # The instrument version is a code and the checksum a hash: only known shapes are shown.
        "instrument": INSTRUMENT_LABELS.get(version, "unknown export format"),
        "source_sha256": sha if SHA256_PATTERN.match(sha) else "",
    }


def _cohort_cells(counts: Sequence[int | None], k: int) -> list[Cell]:
    """The four cohorts of the flow, which add up to the respondents.

    A single small cohort would be respondents minus the others, so one more is withheld. Mentors and
    non-mentors are the analysed groups, whose sizes the rest of the report shows, so hiding one of
    them would protect nothing: the second hidden count is the informal or the unclassified one (a
    non-zero one if there is, else a zero, since their sum is known from the other three).
    """
    cells = [mask_count(n, k) for n in counts]
    hidden = [i for i, cell in enumerate(cells) if cell.masked]
    if len(hidden) == 1:
        spare = [
            i
            for i, (*_, compared) in enumerate(COHORTS_FLOW)
            if not compared and i not in hidden and counts[i] is not None
        ]
        if spare:
            cells[min(spare, key=lambda i: (counts[i] == 0, counts[i]))] = Cell(WITHHELD, masked=True)
    return cells


def _comparison(
    metric: Metric, row: Mapping[str, Any] | None, shares: Mapping[str, dict[str, Any]], k: int
) -> dict[str, Any]:
    """Risk ratio, odds ratio and Fisher p of one value item, with the sentences that explain them."""
    clause = metric.clause
    empty = _cell(NO_DATA, no_data=True)
    if row is None or not row["mentor_n"] or not row["non_mentor_n"] or row["risk_ratio"] is None:
        return {
            "risk_ratio": empty,
            "odds_ratio": empty,
            "p_value": empty,
            "masked": False,
            "no_data": True,
            "zero_cell_corrected": False,
            "direction": "",
            "sentences": [
                {
                    "text": f"There are no data to compare mentors with non-mentors on whether {clause}.",
                    "masked": False,
                }
            ],
        }
    a, c = row["mentor_yes"], row["non_mentor_yes"]
    b, d = row["mentor_n"] - a, row["non_mentor_n"] - c
    if ratio_masked(a, b, c, d, k):
        # The p-value is withheld with the ratios: with both group sizes shown, an exact p-value
        # can be matched to the one table that produces it.
        hidden = _cell(WITHHELD, masked=True)
        return {
            "risk_ratio": hidden,
            "odds_ratio": hidden,
            "p_value": hidden,
            "masked": True,
            "no_data": False,
            "zero_cell_corrected": False,
            "direction": "",
            "sentences": [
                {
                    "text": f"The comparison of mentors with non-mentors on whether {clause} is not shown, because "
                    f"fewer than {k} people in one of the groups agreed or did not agree.",
                    "masked": True,
                }
            ],
        }
    rr, rr_low, rr_high = row["risk_ratio"], row["rr_ci_low"], row["rr_ci_high"]
    odds, or_low, or_high = row["odds_ratio"], row["or_ci_low"], row["or_ci_high"]
    p = row["p_value"]
    rr_ci = (
        f"95% CI {format_interval_ratio(rr_low, rr_high)}"
        if rr_low is not None and rr_high is not None
        else ""
    )
    or_ci = (
        f"95% CI {format_interval_ratio(or_low, or_high)}"
        if or_low is not None and or_high is not None
        else ""
    )
    pm, pn = shares["mentor"]["percent"], shares["non_mentor"]["percent"]
    rr_text = format_ratio(rr)
    rr_numbers = f"risk ratio {rr_text}" + (f", {rr_ci}" if rr_ci else "")
    direction = "unclear"
    if rr_low is not None and rr_low > 1:
        direction = "more"
        rr_sentence = (
            f"Mentors were more likely than non-mentors to agree that {clause} ({pm} vs {pn}): "
            f"{rr_text} times as likely ({rr_numbers})."
        )
    elif rr_high is not None and rr_high < 1:
        direction = "less"
        rr_sentence = (
            f"Mentors were less likely than non-mentors to agree that {clause} ({pm} vs {pn}): "
            f"{rr_text} times as likely ({rr_numbers})."
        )
    else:
        rr_sentence = (
            f"Mentors and non-mentors did not clearly differ in agreeing that {clause} ({pm} vs {pn}): "
            f"mentors were {rr_text} times as likely to agree ({rr_numbers}; the interval includes 1)."
        )
    sentences = [{"text": rr_sentence, "masked": False}]
    if odds is not None:
        or_numbers = f"odds ratio {format_ratio(odds)}" + (f", {or_ci}" if or_ci else "")
        if p is not None:
            or_numbers += f"; Fisher's exact test {p_phrase(p)}"
        sentences.append(
            {
                "text": f"In terms of odds, mentors' odds of agreeing were {format_ratio(odds)} times the odds "
                f"of non-mentors ({or_numbers}).",
                "masked": False,
            }
        )
    corrected = bool(row["zero_cell_corrected"])
    return {
        "risk_ratio": _cell(f"{rr_text} ({rr_ci})" if rr_ci else rr_text),
        "odds_ratio": (
            _cell(f"{format_ratio(odds)} ({or_ci})" if or_ci else format_ratio(odds))
            if odds is not None
            else empty
        ),
        "p_value": _cell(format_p(p)) if p is not None else empty,
        "masked": False,
        "no_data": False,
        "zero_cell_corrected": corrected,
        "direction": direction,
        "sentences": sentences,
    }


def _shares_for(
    metric: Metric, summary: Mapping[tuple[str, str], Mapping[str, Any]], k: int
) -> dict[str, dict[str, Any]]:
    shares = {}
    for cohort in ("all", "mentor", "non_mentor"):
        shares[cohort] = _share_of(summary.get((metric.metric_id, cohort)), k)
        shares[cohort]["cohort"] = cohort
        shares[cohort]["label"] = COHORT_LABELS[cohort]
    return shares


def _value_item(
    metric: Metric,
    summary: Mapping[tuple[str, str], Mapping[str, Any]],
    comparison_row: Mapping[str, Any] | None,
    k: int,
) -> dict[str, Any]:
    shares = _shares_for(metric, summary, k)
    return {
        "metric_id": metric.metric_id,
        "label": metric.label,
        "question": metric.question,
        "shares": [shares[c] for c in metric.cohorts],
        "comparison": _comparison(metric, comparison_row, shares, k),
    }


def _mentor_item(
    metric: Metric, summary: Mapping[tuple[str, str], Mapping[str, Any]], k: int
) -> dict[str, Any]:
    share = _shares_for(metric, summary, k)["mentor"]
    verb = "answered yes" if metric.answer == "yes" else "agreed"
    if share["no_data"]:
        sentence = f"No mentor answered whether {metric.clause}."
    elif share["masked"]:
        sentence = (
            f"The share of mentors who {verb} that {metric.clause} is not shown, because fewer than "
            f"{k} mentors {verb} or did not."
        )
    elif metric.answer == "yes":
        sentence = (
            f"{share['percent']} of mentors ({share['count']['text']} of {share['n']['text']}) said "
            f"{metric.clause} ({share['ci']})."
        )
    else:
        sentence = (
            f"{share['percent']} of mentors ({share['count']['text']} of {share['n']['text']}) agreed "
            f"that {metric.clause} ({share['ci']})."
        )
    return {
        "metric_id": metric.metric_id,
        "label": metric.label,
        "question": metric.question,
        "share": share,
        "sentence": {"text": sentence, "masked": share["masked"]},
        "note": "Only “yes” counts; “unsure” counts as not yes." if metric.answer == "yes" else "",
    }


def _demographics(
    rows: Iterable[Mapping[str, Any]],
    balance: Mapping[str, Mapping[str, Any]],
    funnel: Mapping[str, Any],
    k: int,
) -> dict[str, Any]:
    cohorts = [("mentor", "Mentors", funnel["mentors"]), ("non_mentor", "Non-mentors", funnel["non_mentors"])]
    by_key: dict[tuple[str, str, str], Mapping[str, Any]] = {
        (r["characteristic"], r["cohort"], r["level"]): r for r in rows
    }
    characteristics = []
    for characteristic, (label, known_levels) in CHARACTERISTICS.items():
        present = {level for (ch, _, level) in by_key if ch == characteristic}
        if characteristic == "age":
            table_rows = [_age_row(by_key, cohorts, k)]
            small_in_test = any(
                is_small((by_key.get(("age", cohort, "mean")) or {}).get("n"), k) for cohort, _, _ in cohorts
            )
        else:
            levels = [lv for lv in known_levels if lv in present] + sorted(present - set(known_levels))
            table_rows, small_in_test = _categorical_rows(characteristic, levels, by_key, cohorts, k)
        characteristics.append(
            {
                "characteristic": characteristic,
                "label": label,
                "rows": table_rows,
                "test": _balance_test(balance.get(characteristic), small_in_test),
                "note": TEST_NOTES[characteristic],
            }
        )
    return {
        "cohorts": [{"code": code, "label": name, "n": _count(n, k)} for code, name, n in cohorts],
        "characteristics": characteristics,
        "sentence": _balance_sentence(characteristics),
    }


def _categorical_rows(
    characteristic: str,
    levels: list[str],
    by_key: Mapping[tuple[str, str, str], Mapping[str, Any]],
    cohorts: Sequence[tuple[str, str, int]],
    k: int,
) -> tuple[list[dict[str, Any]], bool]:
    columns = {}
    small_in_test = False
    for cohort, _, _ in cohorts:
        counts = [(by_key.get((characteristic, cohort, level)) or {}).get("n") for level in levels]
        known = sum(n for n in counts if n is not None)
        count_cells = suppress_partition(counts, k)
        cells = []
        for level, n, count_cell in zip(levels, counts, count_cells, strict=True):
            # A test next to a withheld count gives it back (the other cells and the p-value or SMD
            # fix it), so the test is masked when any cell it uses is hidden, not only a small one.
            if level in TESTED_LEVELS.get(characteristic, set()) and count_cell.masked:
                small_in_test = True
            if count_cell.masked or count_cell.no_data:
                cells.append(count_cell.as_dict())
                continue
            percent = mask_percent(n, known, k)
            cells.append(
                _cell(f"{count_cell.text} ({percent.text})", masked=percent.masked, no_data=percent.no_data)
            )
        columns[cohort] = cells
    rows = [
        {
            "label": LEVEL_LABELS.get(level, level.replace("_", " ")),
            "cells": [columns[c][i] for c, _, _ in cohorts],
        }
        for i, level in enumerate(levels)
    ]
    return rows, small_in_test


def _age_row(
    by_key: Mapping[tuple[str, str, str], Mapping[str, Any]], cohorts: Sequence[tuple[str, str, int]], k: int
) -> dict[str, Any]:
    cells = []
    for cohort, _, _ in cohorts:
        mean = by_key.get(("age", cohort, "mean")) or {}
        sd = by_key.get(("age", cohort, "sd")) or {}
        n = mean.get("n")
        if not n or mean.get("value") is None:
            cells.append(_cell(NO_DATA, no_data=True))
        elif is_small(n, k):
            cells.append(_cell(WITHHELD, masked=True))
        else:
            sd_text = f"{sd['value']:.1f}" if sd.get("value") is not None else NO_DATA
            cells.append(_cell(f"{mean['value']:.1f} ({sd_text})"))
    return {"label": "Mean (SD)", "cells": cells}


def _balance_test(row: Mapping[str, Any] | None, small_in_test: bool) -> dict[str, Any]:
    empty = _cell(NO_DATA, no_data=True)
    if row is None:
        return {
            "name": "no test",
            "statistic": empty,
            "p_value": empty,
            "smd": empty,
            "masked": False,
            "no_data": True,
            "finding": "",
            "p_phrase": "",
        }
    name = TEST_LABELS.get(str(row["test"]), "test")
    if small_in_test:
        hidden = _cell(WITHHELD, masked=True)
        return {
            "name": name,
            "statistic": hidden,
            "p_value": hidden,
            "smd": hidden,
            "masked": True,
            "no_data": False,
            "finding": "",
            "p_phrase": "",
        }
    statistic = row["statistic"]
    if statistic is None:
        statistic_cell = _cell("") if row["test"] == "fisher_exact" else empty
    elif row["test"] == "chi_square":
        statistic_cell = _cell(f"\u03c7\u00b2 = {statistic:.2f}")
    else:
        statistic_cell = _cell(_signed(f"t = {statistic:.2f}"))
    return {
        "name": name,
        "statistic": statistic_cell,
        "p_value": _cell(p_phrase(row["p_value"])) if row["p_value"] is not None else empty,
        "smd": _cell(_signed(f"{row['smd']:.2f}")) if row["smd"] is not None else empty,
        "masked": False,
        "no_data": row["p_value"] is None,
        # For the plain-language sentence: "differ" below ALPHA, "similar" otherwise.
        "finding": "" if row["p_value"] is None else ("differ" if row["p_value"] < ALPHA else "similar"),
        "p_phrase": "" if row["p_value"] is None else f"{name} {p_phrase(row['p_value'])}",
    }


def _balance_sentence(characteristics: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    names = {"gender": "gender", "age": "age", "specialty_group": "matched specialty group"}
    masked = [names[c["characteristic"]] for c in characteristics if c["test"]["masked"]]
    differing = [
        f"{names[c['characteristic']]} ({c['test']['p_phrase']})"
        for c in characteristics
        if c["test"]["finding"] == "differ"
    ]
    similar = [names[c["characteristic"]] for c in characteristics if c["test"]["finding"] == "similar"]
    parts = []
    if differing:
        parts.append(f"Mentors and non-mentors differed in {_join(differing)}.")
    if similar:
        lead = "They were" if differing else "Mentors and non-mentors were"
        parts.append(f"{lead} similar in {_join(similar)} (no test reached p < {ALPHA}).")
    if masked:
        parts.append(f"The test for {_join(masked)} is not shown because of small groups.")
    if not parts:
        parts.append("There are no data to compare the backgrounds of mentors and non-mentors.")
    return {"text": " ".join(parts), "masked": bool(masked)}


def _reasons(rows: Sequence[Mapping[str, Any]], k: int) -> dict[str, Any]:
    denominator = max((r["denominator"] or 0 for r in rows), default=0)
    items = []
    top = None
    for r in rows:
        # mask_numerator, not mask_count: "48" of 50 shown would give back the masked 96.0%.
        count = mask_numerator(r["n"], r["denominator"], k)
        percent = mask_percent(r["n"], r["denominator"], k)
        items.append(
            {
                "code": int(r["reason_code"]),
                "label": str(r["reason_label"] or f"Reason {int(r['reason_code'])}"),
                "count": count.as_dict(),
                "percent": percent.as_dict(),
                "masked": count.masked or percent.masked,
            }
        )
        # Most often ticked reason, among those that may be shown; the earlier code wins a tie.
        if not items[-1]["masked"] and r["n"] and (top is None or r["n"] > top[0]):
            top = (r["n"], items[-1])
    return {
        "denominator": _count(denominator, k),
        "no_data": denominator == 0,
        "rows": items,
        "top": top[1] if top else None,
    }


def _trends(
    rows: Sequence[Mapping[str, Any]],
    tests: Mapping[tuple[str, str], Mapping[str, Any]],
    all_cells: Sequence[Mapping[str, Any]],
    survey_year: int,
    k: int,
) -> dict[str, Any]:
    years = sorted({int(r["survey_year"]) for r in rows})
    by_key = {(int(r["survey_year"]), r["metric_id"], r["cohort"]): r for r in rows}
    cells_by_series: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for r in all_cells:
        cells_by_series.setdefault((r["metric_id"], r["cohort"]), []).append(r)
    later_years: set[int] = set()
    metrics = []
    for metric_id, metric in METRICS.items():
        table_rows = []
        for year in years:
            cells = []
            for cohort in metric.cohorts:
                row = by_key.get((year, metric_id, cohort))
                share = _share_of(row, k)
                share["change"] = _change(row, by_key, years, year, metric_id, cohort, k)
                cells.append(share)
            table_rows.append({"year": year, "cells": cells})
        test_cells = []
        for cohort in metric.cohorts:
            test = _trend_test(
                tests.get((metric_id, cohort)), cells_by_series.get((metric_id, cohort), []), survey_year, k
            )
            if test["covers_later_years"]:
                later_years.add(test["last_year"])
            test_cells.append(test)
        metrics.append(
            {
                "metric_id": metric_id,
                "label": metric.label,
                "question": metric.question,
                "cohorts": [COHORT_LABELS[c] for c in metric.cohorts],
                "rows": table_rows,
                "tests": test_cells,
            }
        )
    note = ""
    if later_years:
        note = (
            f"The trend tests come from the warehouse, which now holds survey years up to {max(later_years)}: "
            f"they include years after {survey_year}, while the tables and charts stop at {survey_year}."
        )
    # omitted_years_note is filled only by rendering.py when an e-mail body shows the latest years only.
    return {"years": years, "metrics": metrics, "later_years_note": note, "omitted_years_note": ""}


def _change(
    row: Mapping[str, Any] | None,
    by_key: Mapping[tuple[int, str, str], Mapping[str, Any]],
    years: Sequence[int],
    year: int,
    metric_id: str,
    cohort: str,
    k: int,
) -> dict[str, Any]:
    earlier = [
        by_key[(y, metric_id, cohort)]
        for y in years
        if y < year and (y, metric_id, cohort) in by_key and by_key[(y, metric_id, cohort)]["denominator"]
    ]
    if row is None or not row["denominator"]:
        return _cell(NO_DATA, no_data=True)
    if not earlier:
        return _cell("first year")
    prior = earlier[-1]
    # A change next to one shown percentage gives away the other, so it is masked with either.
    if _row_masked(row, k) or _row_masked(prior, k):
        return _cell(WITHHELD, masked=True)
    change = row["change_vs_prior"]
    if change is None:
        return _cell(NO_DATA, no_data=True)
    text = _signed(f"{100.0 * change:+.1f} points")
    if row["p_value_vs_prior"] is not None:
        text += f" ({p_phrase(row['p_value_vs_prior'])})"
    return _cell(text)


def _trend_test(
    row: Mapping[str, Any] | None, cells: Sequence[Mapping[str, Any]], survey_year: int, k: int
) -> dict[str, Any]:
    base = {"covers_later_years": False, "first_year": None, "last_year": None, "span": ""}
    if row is None or not row["years"] or row["z"] is None or row["p_value"] is None:
        return {**base, "text": NO_DATA, "masked": False, "no_data": True}
    first, last = int(row["first_year"]), int(row["last_year"])
    base.update(
        first_year=first,
        last_year=last,
        covers_later_years=last > survey_year,
        span=f"{first}{EN_DASH}{last}, {row['years']} years",
    )
    in_test = [c for c in cells if first <= int(c["survey_year"]) <= last and c["denominator"]]
    if any(_row_masked(c, k) for c in in_test):
        return {**base, "text": WITHHELD, "masked": True, "no_data": False}
    text = _signed(f"z = {row['z']:.2f}") + f", {p_phrase(row['p_value'])}"
    return {**base, "text": text, "masked": False, "no_data": False}


def _data_quality(rows: Sequence[Mapping[str, Any]], k: int) -> dict[str, Any]:
    total = sum(int(r["n"]) for r in rows)
    cells = suppress_partition([int(r["n"]) for r in rows], k)  # the rows add up to the total shown
    items = []
    for r, cell in zip(rows, cells, strict=True):
        column = str(r["column_name"])
        variable = V1_COLUMN_VARIABLES.get(column)
        rule = str(r["rule"])
        items.append(
            {
                "rule": rule,
                "rule_label": DQ_RULE_LABELS.get(rule, rule.replace("_", " ")),
                "column": f"{column} ({variable})" if variable else column,
                "count": cell.as_dict(),
            }
        )
    return {"total": _count(total, k), "none": total == 0, "rows": items}


# --------------------------------------------------------------------------------------------------
# prose
# --------------------------------------------------------------------------------------------------


def _in_words(cell: Mapping[str, Any]) -> str:
    """A count inside a sentence: a withheld one ("—" in tables) reads as words."""
    return "a number (not shown)" if cell["text"] == WITHHELD else str(cell["text"])


def _join(items: Sequence[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _summary_paragraph(
    survey_year: int,
    population: Mapping[str, Any],
    value_items: Sequence[Mapping[str, Any]],
    summary: Mapping[tuple[str, str], Mapping[str, Any]],
    k: int,
) -> dict[str, Any]:
    masked = False
    parts = [
        "Every spring the graduating fourth-year class is asked about the student/student mentoring (SSM) "
        "program, in which senior students mentor preclinical students."
    ]
    respondents = population["respondents"]
    masked |= respondents["masked"]
    if population["has_class_size"] and not population["response_rate"]["masked"]:
        parts.append(
            f"In {survey_year}, {respondents['text']} of {population['class_size']['text']} students "
            f"answered ({population['response_rate']['text']})."
        )
    else:
        parts.append(f"In {survey_year}, {respondents['text']} students answered.")
    distinct = _shares_for(METRICS["value_distinct"], summary, k)["all"]
    if not distinct["masked"] and not distinct["no_data"]:
        parts.append(
            f"{distinct['percent']} of them agreed that SSM is valuable in a way that other mentoring is not."
        )
    roles = {"value_mentee": "being a mentee", "value_mentor": "being a mentor"}
    by_direction: dict[str, list[str]] = {"more": [], "less": [], "unclear": []}
    for item in value_items:
        if item["metric_id"] in roles and item["comparison"]["direction"]:
            by_direction[item["comparison"]["direction"]].append(roles[item["metric_id"]])
    if by_direction["more"]:
        parts.append(
            f"Mentors were more likely than non-mentors to see value in {_join(by_direction['more'])}."
        )
    if by_direction["less"]:
        parts.append(
            f"Mentors were less likely than non-mentors to see value in {_join(by_direction['less'])}."
        )
    if by_direction["unclear"]:
        parts.append(
            f"On the value of {_join(by_direction['unclear'])}, mentors and non-mentors did not clearly "
            "differ."
        )
    return {"text": " ".join(parts), "masked": masked}


def _key_findings(
    population: Mapping[str, Any],
    value_items: Sequence[Mapping[str, Any]],
    mentor_experience: Sequence[Mapping[str, Any]],
    demographics: Mapping[str, Any],
    reasons: Mapping[str, Any],
    trends: Mapping[str, Any],
    summary: Mapping[tuple[str, str], Mapping[str, Any]],
    k: int,
) -> list[dict[str, Any]]:
    findings = []
    cohorts = {c["code"]: c["count"] for c in population["cohorts"]}
    respondents = population["respondents"]
    rate_masked = population["response_rate"]["masked"]
    if population["has_class_size"] and not rate_masked:
        text = (
            f"{respondents['text']} of {population['class_size']['text']} graduating students answered the "
            f"survey, a response rate of {population['response_rate']['text']}."
        )
    elif rate_masked:
        text = (
            f"{respondents['text']} graduating students answered the survey; the response rate is not shown "
            "(small group)."
        )
    else:
        text = (
            f"{respondents['text']} graduating students answered the survey; the class size is not on record, "
            "so there is no response rate."
        )
    excluded = [f"{_in_words(cohorts['informal'])} who took part only in informal mentoring"]
    if cohorts["unclassified"]["text"] != "0":
        excluded.append(f"{_in_words(cohorts['unclassified'])} who did not say whether they mentored")
    text += (
        f" Of them, {cohorts['mentor']['text']} had mentored in the formal program and {cohorts['non_mentor']['text']} "
        f"had not; {_join(excluded)} are counted but left out of the comparisons."
    )
    findings.append(
        {
            "text": text,
            "masked": respondents["masked"] or rate_masked or any(c["masked"] for c in cohorts.values()),
        }
    )

    distinct = _shares_for(METRICS["value_distinct"], summary, k)["all"]
    clause = METRICS["value_distinct"].clause
    if distinct["no_data"]:
        findings.append({"text": f"No respondent answered whether {clause}.", "masked": False})
    elif distinct["masked"]:
        findings.append(
            {
                "text": f"The share of respondents who agreed that {clause} is not shown (small group).",
                "masked": True,
            }
        )
    else:
        findings.append(
            {
                "text": f"{distinct['percent']} of all respondents ({distinct['count']['text']} of "
                f"{distinct['n']['text']}) agreed that {clause} ({distinct['ci']}).",
                "masked": False,
            }
        )
    for item in value_items:
        if item["metric_id"] == "value_distinct":
            continue
        sentences = item["comparison"]["sentences"]
        findings.append(
            {"text": " ".join(s["text"] for s in sentences), "masked": any(s["masked"] for s in sentences)}
        )
    experience = [m["sentence"] for m in mentor_experience]
    findings.append(
        {"text": " ".join(s["text"] for s in experience), "masked": any(s["masked"] for s in experience)}
    )
    findings.append(demographics["sentence"])

    top = reasons["top"]
    if top is not None:
        findings.append(
            {
                "text": f"The reason non-mentors gave most often for not taking part was “{top['label']}” "
                f"({top['percent']['text']} of the {reasons['denominator']['text']} who gave a reason; "
                "they could give more than one).",
                "masked": False,
            }
        )
    findings.extend(_change_findings(trends))
    return findings


def _change_findings(trends: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One sentence on the change since the previous survey for all respondents, when there is one."""
    if len(trends["years"]) < 2:
        return []
    prior_year, year = trends["years"][-2], trends["years"][-1]
    parts = []
    masked = False
    for metric in trends["metrics"]:
        if metric["metric_id"] not in VALUE_ITEMS:
            continue
        cell = metric["rows"][-1]["cells"][0]  # the "all" cohort of the latest year
        change = cell["change"]
        if change["masked"]:
            masked = True
            parts.append(f"“{metric['label']}” not shown (small group)")
        elif not change["no_data"] and change["text"] != "first year":
            parts.append(f"“{metric['label']}” {change['text']}")
    if not parts:
        return []
    return [
        {
            "text": f"Compared with the {prior_year} survey, the share of all respondents agreeing changed in {year} "
            f"as follows: {'; '.join(parts)}.",
            "masked": masked,
        }
    ]


def _methods(k: int) -> list[dict[str, str]]:
    return [
        {
            "term": "Survey year",
            "definition": "The graduation year of the class. The survey goes to the whole fourth-year class each spring.",
        },
        {
            "term": "Respondent",
            "definition": "A response that was finished, consented, not a preview or test, not a duplicate and "
            "readable. Every response received is counted under exactly one of these outcomes.",
        },
        {
            "term": "Cohorts",
            "definition": "Mentors served in the formal SSM program. Non-mentors took part in no student/student "
            "mentoring. Students who took part only in informal mentoring, and those who did not say "
            "whether they mentored, are counted but left out of the mentor/non-mentor comparisons; "
            "they are included in “all respondents”.",
        },
        {
            "term": "Agreeing",
            "definition": "Answering “agree” or “strongly agree” on the five-point scale. For “would mentor again”, "
            "only “yes” counts (“unsure” counts as not yes). Each share is of the people in the group "
            "who answered that question.",
        },
        {
            "term": "95% confidence interval (CI)",
            "definition": "The range of values compatible with the data; narrow with many answers, wide with few. "
            "Wilson score interval for shares.",
        },
        {
            "term": "Risk ratio (“times as likely”)",
            "definition": "The share of mentors who agree divided by the share of non-mentors who agree; 1 means no "
            "difference. Interval by the Katz log method.",
        },
        {
            "term": "Odds ratio (“times the odds”)",
            "definition": "The odds of agreeing among mentors (agree ÷ not agree) divided by the same odds among "
            "non-mentors; 1 means no difference. When most people agree, the odds ratio lies much further "
            "from 1 than the risk ratio, so the two must not be read as the same thing. Interval by the Woolf "
            "logit method. When a cell of the 2\u00d72 table is zero, 0.5 is added to every cell for the "
            "ratios and intervals only.",
        },
        {
            "term": "p-value",
            "definition": "How surprising the difference would be if there were no real difference; below 0.05 is "
            "conventionally called statistically significant. Fisher's exact test (two-sided) for "
            "mentor/non-mentor comparisons, women vs men and year-on-year changes; chi-square test "
            "(no continuity correction) for specialty groups; Welch's t-test for age. With 40 to 60 "
            "students per group, a real but modest difference can easily fail to reach 0.05.",
        },
        {
            "term": "Standardised difference (SMD)",
            "definition": "The difference between mentors and non-mentors in units of spread, as the tableone "
            "package computes it; below 0.1 is usually read as negligible.",
        },
        {
            "term": "Trend test",
            "definition": "Cochran\u2013Armitage test for a steady rise or fall across survey years (score = year), "
            "without continuity correction.",
        },
        {
            "term": "Small groups",
            "definition": f"Counts from 1 to {k - 1} are shown as “<{k}”. A percentage, interval, ratio or change "
            f"is not shown (—) when it would reveal fewer than {k} people with or without an answer; "
            "where a single hidden count could be worked out from a total, one more count is hidden. "
            "The warehouse keeps the exact figures.",
        },
        {
            "term": "Data quality",
            "definition": "An answer that could not be read (for example an age written in words) is set to "
            "missing and listed in Appendix A; the rest of that response is still used. Free-text "
            "answers are never shown in this report.",
        },
    ]


def _footnotes(k: int) -> list[str]:
    return [
        f"Fewer than {k} people: counts from 1 to {k - 1} are shown as “<{k}”, and a figure that would reveal such "
        "a small group (a percentage, its interval, a ratio, a change or a test, or a count that would let a "
        "hidden one be worked out from a total) is shown as “—”. This protects individual students; the exact "
        "figures stay in the warehouse.",
    ]


# --------------------------------------------------------------------------------------------------
# charts: numbers to plot (masked points removed) and their alt text
# --------------------------------------------------------------------------------------------------


def _point(row: Mapping[str, Any] | None, k: int) -> dict[str, Any]:
    if row is None or not row["denominator"] or row["proportion"] is None:
        return {
            "shown": False,
            "reason": "no_data",
            "proportion": None,
            "ci_low": None,
            "ci_high": None,
            "text": NO_DATA,
        }
    if _row_masked(row, k):
        # The values are dropped here, not just flagged, so no chart can reveal them by mistake.
        return {
            "shown": False,
            "reason": "masked",
            "proportion": None,
            "ci_low": None,
            "ci_high": None,
            "text": "not shown (small group)",
        }
    return {
        "shown": True,
        "reason": "",
        "proportion": row["proportion"],
        "ci_low": row["ci_low"],
        "ci_high": row["ci_high"],
        "text": format_percent(row["numerator"] / row["denominator"]),
    }


def _chart_data(
    summary: Mapping[tuple[str, str], Mapping[str, Any]],
    trend_rows: Sequence[Mapping[str, Any]],
    years: Sequence[int],
    k: int,
) -> dict[str, Any]:
    by_key = {(int(r["survey_year"]), r["metric_id"], r["cohort"]): r for r in trend_rows}
    return {
        "cohorts": [{"code": c, "label": COHORT_LABELS[c]} for c in ("all", "mentor", "non_mentor")],
        "value_items": [
            {
                "metric_id": m,
                "label": METRICS[m].label,
                "points": {c: _point(summary.get((m, c)), k) for c in METRICS[m].cohorts},
            }
            for m in VALUE_ITEMS
        ],
        "trends": {
            "years": list(years),
            "panels": [
                {
                    "metric_id": m.metric_id,
                    "label": m.label,
                    "series": [
                        {
                            "cohort": c,
                            "label": COHORT_LABELS[c],
                            "points": [
                                {"year": y, **_point(by_key.get((y, m.metric_id, c)), k)} for y in years
                            ],
                        }
                        for c in m.cohorts
                    ],
                }
                for m in METRICS.values()
            ],
        },
    }


def _chart_specs(chart_data: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Alt text, caption and display size of each chart (the template needs them; charts.py reuses them)."""
    item_parts = []
    for item in chart_data["value_items"]:
        figures = ", ".join(f"{COHORT_LABELS[c].lower()} {p['text']}" for c, p in item["points"].items())
        item_parts.append(f"{item['label']}: {figures}.")
    value_alt = (
        "Dot chart of the share agreeing with each statement, by group, with 95% confidence intervals. "
        + " ".join(item_parts)
    )
    trends = chart_data["trends"]
    years = trends["years"]
    span = f"{years[0]}{EN_DASH}{years[-1]}" if len(years) > 1 else (str(years[0]) if years else "no years")
    hidden = []
    for panel in trends["panels"]:
        for series in panel["series"]:
            masked_years = [str(p["year"]) for p in series["points"] if p["reason"] == "masked"]
            if masked_years:
                hidden.append(f"“{panel['label']}”, {series['label'].lower()} {', '.join(masked_years)}")
    trend_alt = (
        f"Small line charts, one per question, of the share agreeing by survey year ({span}) for all "
        "respondents, mentors and non-mentors, with shaded 95% confidence bands. The figures are in "
        "the trend tables below."
    )
    if hidden:
        trend_alt += " Points not shown because of small groups: " + "; ".join(hidden) + "."
    value_w, value_h = CHART_SIZES["value_items"]
    trend_w, trend_h = CHART_SIZES["trends"]
    return {
        "value_items": {
            "alt": value_alt,
            "width": value_w,
            "height": value_h,
            "caption": "Share agreeing, by group. Lines show 95% confidence intervals; groups too "
            "small to show are left out.",
        },
        "trends": {
            "alt": trend_alt,
            "width": trend_w,
            "height": trend_h,
            "caption": "Share agreeing by survey year. Shaded bands show 95% confidence intervals; "
            "points for groups too small to show are left out.",
        },
    }
