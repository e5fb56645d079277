"""The yearly report's context: every figure read from ``marts.*``, protected and worded for display.

``load_report_contexts`` is the only place where report figures become text. Templates get a plain,
JSON-serialisable dict of strings, booleans and small dicts (no SQL, no arithmetic, no formatting in
Jinja), and ``charts.py`` gets the numbers it plots under ``context["chart_data"]``, with hidden
points reduced to their bounds, so neither ever touches the warehouse.

The pieces: ``report_marts`` reads the marts (the report's year and the years before it, never a
later one), ``report_figures`` decides what each year may show (``disclosure``: no small group can be
worked out by subtraction or bounds), ``report_history`` builds the over-the-years sections and the
at-a-glance table, ``report_format`` writes the numbers and ``report_labels`` holds the words.

Wording (spec §9 rev 2): mentors and non-mentors are said to differ only when Fisher's exact p <
0.05, in risk-ratio words ("1.87 times as likely"), else "did not clearly differ"; cohorts are called
similar in a characteristic only when |SMD| < 0.1 and the test finds no difference; the survey is
said once to be cross-sectional, and the number of year-on-year changes tested stands beside them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb

from pipelines.lib import report_format as fmt
from pipelines.lib.chart_layout import chart_sizes
from pipelines.lib.disclosure import check_k
from pipelines.lib.report_figures import (
    DISTRIBUTION_COHORTS,
    NO_DATA,
    NOT_SHOWN,
    ProtectionCache,
    YearFigures,
    cell,
    demographic,
    item,
    join_phrases,
    level,
    percent_of,
    phrase,
    year_figures,
)
from pipelines.lib.report_history import ALPHA, glance, history, mentored, ratio_cell, response_rate, share_of
from pipelines.lib.report_labels import (
    CHARACTERISTIC_NAMES,
    CHARACTERISTICS,
    COHORT_LABELS,
    COHORTS_FLOW,
    DEMOGRAPHIC_LEVELS,
    DQ_RULE_LABELS,
    EXCLUSIONS,
    INSTRUMENT_LABELS,
    LEVEL_NAMES,
    MENTOR_ITEMS,
    METRICS,
    TEST_LABELS,
    TEST_NOTES,
    V1_COLUMN_VARIABLES,
    VALUE_ITEMS,
)
from pipelines.lib.report_marts import ReportDataError, read_trend_tests, read_years

__all__ = ["ReportDataError", "load_report_context", "load_report_contexts"]

#: Keys the caller must put in ``meta`` (the footer shows them).
# No generation time: the same data and code give the same report, byte for byte, so an unchanged
# report is recognisably unchanged and is not e-mailed again.
META_KEYS = ("code_version", "source_sha256")

SMD_NEGLIGIBLE = 0.1

CROSS_SECTIONAL = (
    "The survey is cross-sectional: students chose whether to mentor, so the differences between "
    "mentors and non-mentors in this report show an association, not an effect of mentoring."
)


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
    population = _population(f)
    demographics = _demographics(f)
    value_items = [_value_item(f, m) for m in VALUE_ITEMS]
    mentor_experience = [_mentor_item(f, m) for m in MENTOR_ITEMS]
    reasons = _reasons(f)
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
        "headline": _headline(f)["text"],
        "headline_sentence": _headline_sentence(year, _headline(f)),
        "warnings": warnings,
        "glance": at_a_glance,
        "key_findings": _key_findings(
            f, population, value_items, mentor_experience, demographics, reasons, at_a_glance, hist
        ),
        "cross_sectional": CROSS_SECTIONAL,
        "population": population,
        "demographics": demographics,
        "value_items": value_items,
        "mentor_experience": mentor_experience,
        "reasons": reasons,
        "history": hist,
        "testing_note": _testing_note(hist["changes_tested"]),
        "data_quality": _data_quality(f),
        "methods": _methods(f.k),
        "footnotes": {"small": _small_cell_note(f.k), "no_data": NO_DATA_NOTE},
        "chart_data": _chart_data(figures, f, value_items, hist),
        "meta": dict(meta),
    }
    context["charts"] = _chart_specs(context)
    shown = [value for key, value in context.items() if key not in ("meta", "chart_data")]
    context["any_masked"] = any(_has_flag(value, "masked") for value in shown)
    context["any_no_data"] = any(_has_flag(value, "no_data") for value in shown)
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


def _small_cell_note(k: int) -> str:
    return (
        f"Fewer than {k} people: counts from 1 to {k - 1} are shown as “<{k}”. A figure that would let "
        f"anyone work out a group smaller than {k} (by subtracting shown figures from a total, or from "
        "the bounds the other figures set) is “not shown”, and a share hidden only because fewer than "
        f"{k} people did (or did not) agree is given as a bound, such as “more than 95%”. This protects "
        "individual students; the exact figures stay in the warehouse."
    )


def _testing_note(changes: int) -> str:
    if changes == 0:
        return ""
    return (
        f"This report tests {changes} changes from the previous survey year. At p < {ALPHA}, about one "
        "in twenty tests would point to a change by chance alone even if nothing had changed, so a "
        "single change is best read together with the trend over the years."
    )


# --------------------------------------------------------------------------------------------------
# this year
# --------------------------------------------------------------------------------------------------


def _population(f: YearFigures) -> dict[str, Any]:
    funnel = f.marts.funnel
    has_class = f.has("class_size")
    sha = str(funnel["source_sha256"] or "")
    version = str(funnel["instrument_version"] or "")
    return {
        "class_size": f.count("class_size") if has_class else cell("not on record", no_data=True),
        "has_class_size": has_class,
        "received": f.count("received"),
        "excluded_total": f.count("excluded"),
        "exclusions": [
            {"code": code, "label": label, "description": description, "count": f.count(f"bucket.{code}")}
            for code, label, description in EXCLUSIONS
        ],
        "exclusions_note": f"The reasons are {_reason_hidden(f.k)}." if f.omitted("exclusions") else "",
        "respondents": f.count("respondents"),
        "response_rate": response_rate(f),
        "mentored": mentored(f),
        "cohorts": [
            {
                "code": code,
                "label": label,
                "description": description,
                "count": f.count(f"cohort.{code}"),
                "in_comparisons": compared,
            }
            for _, code, label, description, compared in COHORTS_FLOW
        ],
        # The instrument version is a code and the checksum a hash: only known shapes are shown.
        "instrument": INSTRUMENT_LABELS.get(version, "unknown export format"),
        "source_sha256": sha if len(sha) == 64 and all(ch in "0123456789abcdef" for ch in sha) else "",
    }


def _reason_hidden(k: int) -> str:
    return f"not shown: it would reveal a group smaller than {k}"


def _demographics(f: YearFigures) -> dict[str, Any]:
    characteristics = []
    for characteristic, (label, _) in CHARACTERISTICS.items():
        cohorts = [c for c in ("mentor", "non_mentor") if not f.omitted(f"demographics.{characteristic}.{c}")]
        left_out = [c for c in ("mentor", "non_mentor") if c not in cohorts]
        rows = _age_rows(f) if characteristic == "age" else _level_rows(f, characteristic, cohorts)
        note = ""
        if left_out:
            who = _join(COHORT_LABELS[c].lower() for c in left_out)
            note = f"The {label.lower()} of {who} is {_reason_hidden(f.k)}."
        characteristics.append(
            {
                "characteristic": characteristic,
                "label": label,
                "cohorts": [
                    {"code": c, "label": COHORT_LABELS[c], "n": f.count(f"cohort.{c}")}
                    for c in (cohorts if characteristic != "age" else ("mentor", "non_mentor"))
                ],
                "rows": rows,
                "omitted_note": note,
                "test": _balance_test(f, characteristic),
                "note": TEST_NOTES[characteristic],
            }
        )
    return {"characteristics": characteristics, "sentence": _balance_sentence(f, characteristics)}


def _level_rows(f: YearFigures, characteristic: str, cohorts: Sequence[str]) -> list[dict[str, Any]]:
    _, known_levels = CHARACTERISTICS[characteristic]
    present = {lv for (ch, _, lv) in f.marts.demographics if ch == characteristic}
    levels = [*known_levels, *sorted(present - set(known_levels))]
    rows = []
    for lv in levels:
        cells = []
        for cohort in cohorts:
            name = demographic(characteristic, cohort, lv)
            cells.append(
                {"count": f.count(name), "share": f.share(name, demographic(characteristic, cohort, "known"))}
            )
        rows.append(
            {"label": DEMOGRAPHIC_LEVELS.get(lv, lv.replace("_", " ")), "cells": cells, "unknown": False}
        )
    rows.append(
        {
            "label": "Not answered",
            "cells": [
                {"count": f.count(demographic(characteristic, c, "unknown")), "share": None} for c in cohorts
            ],
            "unknown": True,
        }
    )
    return rows


def _age_rows(f: YearFigures) -> list[dict[str, Any]]:
    cells = []
    for cohort in ("mentor", "non_mentor"):
        mean = f.marts.demographics.get(("age", cohort, "mean")) or {}
        sd = f.marts.demographics.get(("age", cohort, "sd")) or {}
        n = int(mean.get("n") or 0)
        if not n or mean.get("value") is None:
            text = cell(NO_DATA, no_data=True)
        elif 1 <= n < f.k:
            text = cell(NOT_SHOWN, masked=True)
        else:
            sd_text = f"{sd['value']:.1f}" if sd.get("value") is not None else NO_DATA
            text = cell(f"{mean['value']:.1f} ({sd_text})", fig=f"{f.year}:age.{cohort}.mean")
        cells.append({"count": text, "share": None})
    unknown = [
        {"count": f.count(demographic("age", c, "unknown")), "share": None} for c in ("mentor", "non_mentor")
    ]
    return [
        {"label": "Mean (SD)", "cells": cells, "unknown": False},
        {"label": "Age not given", "cells": unknown, "unknown": True},
    ]


def _balance_test(f: YearFigures, characteristic: str) -> dict[str, Any]:
    row = f.marts.balance.get(characteristic)
    empty = cell(NO_DATA, no_data=True)
    base = {"statistic": empty, "p_value": empty, "smd": empty, "finding": "", "hidden_reason": ""}
    if row is None or row["p_value"] is None:
        return {**base, "name": TEST_LABELS.get(str(row["test"]) if row else "", "test"), "state": "no_data"}
    name = TEST_LABELS.get(str(row["test"]), "test")
    if characteristic == "age":
        valid = [f.value(demographic("age", c, "valid")) for c in ("mentor", "non_mentor")]
        if any(1 <= n < f.k for n in valid):
            reason = f"not shown: fewer than {f.k} students in a group gave their age"
            return {**base, "name": name, "state": "hidden", "hidden_reason": reason}
    elif not f.statistic_shown(f"balance.{characteristic}"):
        return {**base, "name": name, "state": "hidden", "hidden_reason": _reason_hidden(f.k)}
    statistic = row["statistic"]
    fig = f"{f.year}:balance.{characteristic}"
    if statistic is None:
        statistic_cell = cell("")
    elif row["test"] == "chi_square":
        statistic_cell = cell(f"\u03c7\u00b2 = {statistic:.2f}", fig=f"{fig}#statistic")
    else:
        statistic_cell = cell(fmt.signed(f"t = {statistic:.2f}"), fig=f"{fig}#statistic")
    smd = row["smd"]
    p = row["p_value"]
    if p < ALPHA:
        finding = "differ"
    elif smd is not None and abs(smd) < SMD_NEGLIGIBLE:
        finding = "similar"
    else:
        finding = "imbalanced"
    return {
        **base,
        "name": name,
        "state": "shown",
        "statistic": statistic_cell,
        "p_value": cell(fmt.p_phrase(p), fig=f"{fig}#p"),
        "smd": cell(fmt.smd(smd), fig=f"{fig}#smd") if smd is not None else empty,
        "finding": finding,
        "p_text": fmt.p_phrase(p),
        "smd_text": fmt.smd(smd) if smd is not None else "",
    }


def _balance_sentence(f: YearFigures, characteristics: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    def named(group: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """ "gender (SMD 0.06, Fisher's exact test p = 0.833)", figures tagged."""
        return [
            phrase(
                f"{CHARACTERISTIC_NAMES[c['characteristic']]} (SMD ",
                c["test"]["smd"],
                f", {c['test']['name']} ",
                c["test"]["p_value"],
                ")",
            )
            for c in group
        ]

    def listed(items: list[dict[str, Any]]) -> dict[str, Any]:
        if len(items) <= 1:
            return join_phrases(items)
        return join_phrases([join_phrases(items[:-1], ", "), items[-1]], " and ")

    by = {
        kind: [c for c in characteristics if c["test"].get("finding") == kind]
        for kind in ("differ", "imbalanced", "similar")
    }
    hidden = [c for c in characteristics if c["test"]["state"] == "hidden"]
    parts = []
    if by["differ"]:
        parts.append(phrase("Mentors and non-mentors differed in ", listed(named(by["differ"])), "."))
    if by["imbalanced"]:
        lead = "They were" if parts else "Mentors and non-mentors were"
        parts.append(
            phrase(
                f"{lead} not similar in ",
                listed(named(by["imbalanced"])),
                f", although the test found no clear difference: a standardised difference of "
                f"{SMD_NEGLIGIBLE} or more is more than a negligible imbalance.",
            )
        )
    if by["similar"]:
        lead = "They were" if parts else "Mentors and non-mentors were"
        parts.append(phrase(f"{lead} similar in ", listed(named(by["similar"])), "."))
    for c in hidden:
        name = CHARACTERISTIC_NAMES[c["characteristic"]]
        parts.append(phrase(f"The test for {name} is {c['test']['hidden_reason']}.", masked=True))
    if not parts:
        parts.append(phrase("There are no data to compare the backgrounds of mentors and non-mentors."))
    return join_phrases(parts)


def _shares(f: YearFigures, metric_id: str) -> dict[str, dict[str, Any]]:
    shares = {}
    for cohort in METRICS[metric_id].cohorts:
        share = share_of(f, metric_id, cohort)
        if f.has(item(metric_id, cohort, "answered")):
            share["count"] = f.count(item(metric_id, cohort, "yes"))
            share["n"] = f.count(item(metric_id, cohort, "answered"))
        else:
            share["count"] = share["n"] = cell(NO_DATA, no_data=True)
        share["cohort"] = cohort
        share["label"] = COHORT_LABELS[cohort]
        shares[cohort] = share
    return shares


def _distribution(f: YearFigures, metric_id: str) -> dict[str, Any]:
    """Each answer level's count and share of those who answered, for mentors and non-mentors."""
    metric = METRICS[metric_id]
    cohorts = [c for c in DISTRIBUTION_COHORTS if c in metric.cohorts]
    dropped = [c for c in cohorts if f.omitted(f"distribution.{metric_id}.{c}")]
    cohorts = [c for c in cohorts if f.has(level(metric_id, c, metric.levels[0])) and c not in dropped]
    note = ""
    if dropped:
        who = _join(COHORT_LABELS[c].lower() for c in dropped)
        note = f"The answers in full of {who} to “{metric.label}” are {_reason_hidden(f.k)}."
    if not cohorts:
        return {"cohorts": [], "rows": [], "note": note}
    rows = []
    for lv in metric.levels:
        cells = []
        for c in cohorts:
            name = level(metric_id, c, lv)
            cells.append({"count": f.count(name), "share": f.share(name, item(metric_id, c, "answered"))})
        rows.append({"label": LEVEL_NAMES[lv], "counts_as_yes": lv in metric.yes_levels, "cells": cells})
    return {
        "cohorts": [
            {"code": c, "label": COHORT_LABELS[c], "n": f.count(item(metric_id, c, "answered"))}
            for c in cohorts
        ],
        "rows": rows,
        "note": note,
    }


def _comparison(f: YearFigures, metric_id: str, shares: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Risk ratio, odds ratio and Fisher p of one value item, with the sentence that states them."""
    metric = METRICS[metric_id]
    clause = metric.clause
    row = f.marts.comparisons.get(metric_id)
    empty = cell(NO_DATA, no_data=True)
    ratio = ratio_cell(f, metric_id)
    base = {
        "risk_ratio": empty,
        "odds_ratio": empty,
        "p_value": empty,
        "zero_cell_corrected": False,
        "direction": "",
    }
    if ratio["kind"] == "no_data":
        return {
            **base,
            "state": "no_data",
            "sentence": phrase(f"There are no data to compare mentors with non-mentors on whether {clause}."),
        }
    if ratio["kind"] == "masked":
        fig = f"{f.year}:ratio.{metric_id}"
        return {
            **base,
            "state": "hidden",
            "risk_ratio": cell(NOT_SHOWN, masked=True, fig=f"{fig}#rr"),
            "odds_ratio": cell(NOT_SHOWN, masked=True, fig=f"{fig}#or"),
            "p_value": cell(NOT_SHOWN, masked=True, fig=f"{fig}#p"),
            "sentence": phrase(
                f"The comparison of mentors with non-mentors on whether {clause} is {_reason_hidden(f.k)}.",
                masked=True,
            ),
        }
    rr, p = row["risk_ratio"], row["p_value"]
    fig = f"{f.year}:ratio.{metric_id}"
    rr_ci = fmt.interval_ratio(row["rr_ci_low"], row["rr_ci_high"])
    rr_words = cell(fmt.ratio(rr), fig=f"{fig}#rr-words")
    p_words = cell(fmt.p_phrase(p), fig=f"{fig}#p-words")
    pm, pn = percent_of(shares["mentor"]), percent_of(shares["non_mentor"])
    if p < ALPHA:
        direction = "more" if rr > 1 else "less"
        sentence = phrase(
            f"Mentors were {direction} likely than non-mentors to agree that {clause}: ",
            rr_words,
            f" times as likely (95% CI {rr_ci}; ",
            pm,
            " vs ",
            pn,
            "; Fisher's exact ",
            p_words,
            ").",
        )
    else:
        direction = "unclear"
        sentence = phrase(
            f"Mentors and non-mentors did not clearly differ in agreeing that {clause} (",
            pm,
            " vs ",
            pn,
            "; risk ratio ",
            rr_words,
            f", 95% CI {rr_ci}; Fisher's exact ",
            p_words,
            ").",
        )
    odds = row["odds_ratio"]
    return {
        **base,
        "state": "shown",
        "risk_ratio": cell(f"{fmt.ratio(rr)} ({rr_ci})", fig=f"{fig}#rr"),
        "odds_ratio": cell(
            f"{fmt.ratio(odds)} ({fmt.interval_ratio(row['or_ci_low'], row['or_ci_high'])})", fig=f"{fig}#or"
        )
        if odds is not None
        else empty,
        "p_value": cell(fmt.p_value(p), fig=f"{fig}#p"),
        "zero_cell_corrected": bool(row["zero_cell_corrected"]),
        "direction": direction,
        "sentence": sentence,
    }


def _value_item(f: YearFigures, metric_id: str) -> dict[str, Any]:
    metric = METRICS[metric_id]
    shares = _shares(f, metric_id)
    return {
        "metric_id": metric_id,
        "label": metric.label,
        "question": metric.question,
        "shares": [shares[c] for c in metric.cohorts],
        "comparison": _comparison(f, metric_id, shares),
        "distribution": _distribution(f, metric_id),
    }


def _share_sentence(share: Mapping[str, Any], who: str, verb: str, clause: str, k: int) -> dict[str, Any]:
    """ "85.7% of mentors (36 of 42) agreed that ... (95% CI ...)", or its bound, or why it is not shown."""
    if share["no_data"]:
        return phrase(f"No {who} answered whether {clause}.")
    if share["kind"] == "value":
        counts: tuple[Any, ...] = (
            (" (", share["count"], " of ", share["n"], ")") if not share["count"]["masked"] else ()
        )
        return phrase(percent_of(share), f" of {who}", *counts, f" {verb} that {clause} ({share['ci']}).")
    if share["kind"] in ("more_than", "less_than"):
        fewer = "did not" if share["kind"] == "more_than" else "did"
        return phrase(
            f"Of {who}, ",
            percent_of(share),
            f" {verb} that {clause} (the exact share is not shown: fewer than {k} {fewer}).",
        )
    return phrase(f"The share of {who} who {verb} that {clause} is {_reason_hidden(k)}.", masked=True)


def _mentor_item(f: YearFigures, metric_id: str) -> dict[str, Any]:
    metric = METRICS[metric_id]
    share = _shares(f, metric_id)["mentor"]
    verb = "said" if metric.answer == "yes" else "agreed"
    return {
        "metric_id": metric_id,
        "label": metric.label,
        "question": metric.question,
        "share": share,
        "sentence": _share_sentence(share, "mentors", verb, metric.clause, f.k),
        "note": "Only “yes” counts; “unsure” counts as not yes." if metric.answer == "yes" else "",
        "distribution": _distribution(f, metric_id),
    }


def _reasons(f: YearFigures) -> dict[str, Any]:
    answered = f.value("reason.answered")
    rows = []
    top = None
    for r in f.marts.reasons:
        code = int(r["reason_code"])
        name = f"reason.{code}"
        share = f.share(name, "reason.answered")
        rows.append(
            {
                "code": code,
                "label": str(r["reason_label"] or f"Reason {code}"),
                "count": f.count(name),
                "percent": share,
            }
        )
        # Most often ticked reason among those that may be shown; the earlier code wins a tie.
        if share["kind"] == "value" and f.value(name) and (top is None or f.value(name) > top[0]):
            top = (f.value(name), rows[-1])
    return {
        "omitted_note": f"The reasons are {_reason_hidden(f.k)}." if f.omitted("reasons") else "",
        "denominator": f.count("reason.answered"),
        "no_data": answered == 0,
        "rows": rows,
        "top": top[1] if top else None,
    }


def _data_quality(f: YearFigures) -> dict[str, Any]:
    items = []
    for i, r in enumerate(f.marts.data_quality):
        column = str(r["column_name"])
        variable = V1_COLUMN_VARIABLES.get(column)
        rule = str(r["rule"])
        items.append(
            {
                "rule": rule,
                "rule_label": DQ_RULE_LABELS.get(rule, rule.replace("_", " ")),
                "column": f"{column} ({variable})" if variable else column,
                "count": f.count(f"dq.{i}"),
            }
        )
    note = (
        f"The breakdown by problem and column is {_reason_hidden(f.k)}." if f.omitted("data_quality") else ""
    )
    return {
        "total": f.count("dq.total"),
        "none": not items,
        "rows": [] if note else items,
        "omitted_note": note,
    }


# --------------------------------------------------------------------------------------------------
# words
# --------------------------------------------------------------------------------------------------


def _join(items: Iterable[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _in_words(count: Mapping[str, Any]) -> Mapping[str, Any]:
    """A count inside a sentence; a hidden one reads as words."""
    return {**count, "text": "a number (not shown)", "fig": ""} if count["text"] == NOT_SHOWN else count


def _headline(f: YearFigures) -> dict[str, Any]:
    """The year's headline (the e-mail's subject and first line): the flagship share and the response rate."""
    parts = []
    distinct = share_of(f, "value_distinct", "all")
    if distinct["kind"] in ("value", "more_than"):
        parts.append(phrase(percent_of(distinct), " value SSM"))
    rate = response_rate(f)
    if rate["kind"] in ("value", "more_than", "less_than"):
        parts.append(phrase("response rate ", percent_of(rate)))
    return join_phrases(parts, "; ") if parts else phrase("yearly report")


def _headline_sentence(year: int, headline: Mapping[str, Any]) -> dict[str, Any]:
    """The headline as the digest's first sentence."""
    return phrase(f"In {year}: ", headline, ".")


def _key_findings(
    f: YearFigures,
    population: Mapping[str, Any],
    value_items: Sequence[Mapping[str, Any]],
    mentor_experience: Sequence[Mapping[str, Any]],
    demographics: Mapping[str, Any],
    reasons: Mapping[str, Any],
    at_a_glance: Mapping[str, Any],
    hist: Mapping[str, Any],
) -> list[dict[str, Any]]:
    findings = []
    cohorts = {c["code"]: c["count"] for c in population["cohorts"]}
    respondents = population["respondents"]
    rate = population["response_rate"]
    answered = " graduating students answered the survey"
    if not population["has_class_size"]:
        first = phrase(
            respondents, answered, "; the class size is not on record, so there is no response rate."
        )
    elif rate["kind"] == "value":
        first = phrase(
            respondents,
            " of ",
            population["class_size"],
            answered,
            ", a response rate of ",
            percent_of(rate),
            ".",
        )
    elif rate["kind"] in ("more_than", "less_than"):
        first = phrase(respondents, answered, ", a response rate of ", percent_of(rate), ".")
    else:
        first = phrase(respondents, answered, f"; the response rate is {_reason_hidden(f.k)}.", masked=True)
    excluded = [phrase(_in_words(cohorts["informal"]), " who took part only in informal mentoring")]
    if cohorts["unclassified"]["text"] != "0":
        excluded.append(phrase(_in_words(cohorts["unclassified"]), " who did not say whether they mentored"))
    findings.append(
        phrase(
            first,
            " Of them, ",
            _in_words(cohorts["mentor"]),
            " had mentored in the formal program and ",
            _in_words(cohorts["non_mentor"]),
            " had not; ",
            join_phrases(excluded, " and "),
            " are counted but left out of the comparisons.",
        )
    )
    distinct = next(v for v in value_items if v["metric_id"] == "value_distinct")
    clause = METRICS["value_distinct"].clause
    findings.append(_share_sentence(distinct["shares"][0], "all respondents", "agreed", clause, f.k))
    for value in value_items:
        if value["metric_id"] != "value_distinct":
            findings.append(value["comparison"]["sentence"])
    findings.append(join_phrases([m["sentence"] for m in mentor_experience]))
    findings.append(demographics["sentence"])
    top = reasons["top"]
    if top is not None:
        findings.append(
            phrase(
                f"The reason non-mentors gave most often for not taking part was “{top['label']}” (",
                percent_of(top["percent"]),
                " of the ",
                reasons["denominator"],
                " who gave a reason; they could give more than one).",
            )
        )
    change = _change_finding(at_a_glance)
    if change:
        findings.append(change)
    return findings


def _change_finding(at_a_glance: Mapping[str, Any]) -> dict[str, Any] | None:
    """Changes since the previous survey that Fisher's exact test calls changes, and trends found."""
    prior = at_a_glance["prior_year"]
    if prior is None:
        return None
    changed, trends = [], []
    for row in at_a_glance["rows"][1:]:
        change = row["change"]
        if change.get("p_value") is not None and change["p_value"] < ALPHA:
            changed.append(phrase(f"“{row['label']}” ({row['group'].lower()}) ", change))
        if row["trend"].get("words") in ("rising", "falling"):
            trends.append(phrase(f"“{row['label']}” ", row["trend"]))
    parts = []
    if changed:
        parts.append(phrase(f"Compared with {prior}, these changed: ", join_phrases(changed, "; "), "."))
    else:
        parts.append(phrase(f"No share changed clearly from {prior} (Fisher's exact p < {ALPHA})."))
    if trends:
        parts.append(phrase("Over the years so far: ", join_phrases(trends, "; "), "."))
    return join_phrases(parts)


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
            "term": "Cross-sectional survey",
            "definition": CROSS_SECTIONAL,
        },
        {
            "term": "95% confidence interval (CI)",
            "definition": "The range of values compatible with the data; narrow with many answers, wide with few. "
            "Wilson score interval for shares.",
        },
        {
            "term": "Risk ratio (“times as likely”)",
            "definition": "The share of mentors who agree divided by the share of non-mentors who agree; 1 means no "
            "difference. Interval by the Katz log method. The sentences use it; a difference is called a "
            f"difference only when Fisher's exact p < {ALPHA}, otherwise “did not clearly differ”.",
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
            "(no continuity correction) for specialty groups; Welch's t-test for age. With a few dozen "
            "students per group, a real but modest difference can easily fail to reach 0.05.",
        },
        {
            "term": "Standardised difference (SMD)",
            "definition": "The difference between mentors and non-mentors in units of spread, as the tableone "
            f"package computes it. The groups are called similar in a characteristic only when |SMD| < "
            f"{SMD_NEGLIGIBLE} and its test finds no difference.",
        },
        {
            "term": "Change and trend",
            "definition": "A change is the difference from the previous survey year that asked the same question in "
            "the same words, in percentage points, with Fisher's exact test. The trend test is the "
            "Cochran\u2013Armitage test for a steady rise or fall across the survey years up to this one "
            "(score = year, no continuity correction). When a question's wording changes, a new series "
            "starts: no change or trend reaches across the break.",
        },
        {
            "term": "Small groups",
            "definition": _small_cell_note(k)
            + " The number of students who skipped a question is not treated as a small group: it reveals no "
            "answer.",
        },
        {
            "term": "Data quality",
            "definition": "An answer that could not be read (for example an age written in words) is set to "
            "missing and listed in Appendix A; the rest of that response is still used. Free-text "
            "answers are never shown in this report.",
        },
    ]


# --------------------------------------------------------------------------------------------------
# charts: the numbers to plot (hidden points reduced to bounds) and their text alternatives
# --------------------------------------------------------------------------------------------------


def _point(share: Mapping[str, Any]) -> dict[str, Any]:
    kind = share["kind"]
    if kind == "hidden":
        kind = "masked"
    return {
        "kind": kind,
        "proportion": share["proportion"] if kind == "value" else None,
        "ci_low": share["ci_low"] if kind == "value" else None,
        "ci_high": share["ci_high"] if kind == "value" else None,
        "bound": share["bound"] if kind in ("more_than", "less_than") else None,
        "text": share["percent"],
    }


def _bound_kind(point: dict[str, Any]) -> dict[str, Any]:
    mapping = {"more_than": "lower_bound", "less_than": "upper_bound"}
    return {**point, "kind": mapping.get(point["kind"], point["kind"])}


def _chart_data(
    figures: Mapping[int, YearFigures],
    f: YearFigures,
    value_items: Sequence[Mapping[str, Any]],
    hist: Mapping[str, Any],
) -> dict[str, Any]:
    years = hist["years"]
    return {
        "cohorts": [{"code": c, "label": COHORT_LABELS[c]} for c in ("all", "mentor", "non_mentor")],
        "value_items": [
            {
                "metric_id": v["metric_id"],
                "label": v["label"],
                "points": {s["cohort"]: _bound_kind(_point(s)) for s in v["shares"]},
            }
            for v in value_items
        ],
        "trends": {
            "years": list(years),
            "panels": [
                {
                    "metric_id": m["metric_id"],
                    "label": m["label"],
                    "axis_label": "Share answering yes"
                    if METRICS[m["metric_id"]].answer == "yes"
                    else "Share agreeing",
                    "breaks": list(m["breaks"]),
                    "series": [
                        {
                            "cohort": column["cohort"],
                            "label": column["label"],
                            "points": [
                                {"year": r["year"], **_bound_kind(_point(r["cells"][column["index"]]))}
                                for r in m["rows"]
                            ],
                        }
                        for column in m["columns"]
                    ],
                }
                for m in hist["trends"]
            ],
        },
        "ratios": {
            "years": list(years),
            "panels": [
                {
                    "metric_id": column["metric_id"],
                    "label": column["label"],
                    "breaks": next(
                        list(m["breaks"]) for m in hist["trends"] if m["metric_id"] == column["metric_id"]
                    ),
                    "points": [
                        {
                            "year": row["year"],
                            "kind": row["cells"][i]["kind"],
                            "ratio": row["cells"][i]["ratio"],
                            "ci_low": row["cells"][i]["ci_low"],
                            "ci_high": row["cells"][i]["ci_high"],
                            "text": row["cells"][i]["text"],
                        }
                        for row in hist["ratios"]["rows"]
                    ],
                }
                for i, column in enumerate(hist["ratios"]["columns"])
            ],
        },
        "participation": {
            "years": list(years),
            "series": [
                {
                    "code": "response_rate",
                    "label": "Response rate",
                    "points": [
                        {"year": p["year"], **_bound_kind(_point(p["response_rate"]))}
                        for p in hist["participation"]
                    ],
                },
                {
                    "code": "mentored",
                    "label": "Share who mentored",
                    "points": [
                        {"year": p["year"], **_bound_kind(_point(p["mentored"]))}
                        for p in hist["participation"]
                    ],
                },
            ],
        },
    }


def _chart_specs(context: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Alt text, caption and display size of each chart: the alt text gives the figures, or says
    which table below holds them."""
    data = context["chart_data"]
    parts = []
    for v in data["value_items"]:
        figures = ", ".join(f"{COHORT_LABELS[c].lower()} {p['text']}" for c, p in v["points"].items())
        parts.append(f"{v['label']}: {figures}.")
    years = data["trends"]["years"]
    span = fmt.span(years[0], years[-1])
    specs = {
        "value_items": {
            "alt": "Share agreeing with each statement in "
            f"{context['survey_year']}, by group, with 95% confidence intervals. " + " ".join(parts),
            "caption": "Share agreeing, by group, with 95% confidence intervals. A hidden share is drawn as its "
            "bound (“more than”) where the report gives one.",
        },
        "trends": {
            "alt": f"Line charts, one per question, of the share agreeing by survey year ({span}) for each group, "
            "with 95% confidence intervals. The figures are in the tables “Share agreeing by year” below.",
            "caption": "Share agreeing by survey year, with 95% confidence intervals. Hidden shares are drawn as "
            "bounds; a vertical line marks a change of wording, which starts a new series.",
        },
        "ratios": {
            "alt": f"Risk ratio of mentors to non-mentors by survey year ({span}) for each value statement, with "
            "95% confidence intervals, on a log scale. The figures are in the table “Mentors compared with "
            "non-mentors, by year” below.",
            "caption": "Mentors compared with non-mentors by year: risk ratio with 95% confidence interval "
            "(1 = no difference; log scale).",
        },
        "participation": {
            "alt": f"Response rate and share of respondents who mentored, by survey year ({span}). The figures are "
            "in the table “Participation by year” below.",
            "caption": "Response rate and share of respondents who mentored in the formal program, by survey year.",
        },
    }
    # The alt text of a chart whose figures are in a table below says so and links it (aria-details).
    specs["trends"]["details"] = "trend-tables"
    specs["ratios"]["details"] = "ratio-table"
    specs["participation"]["details"] = "participation-table"
    # The e-mail digest has no history tables: its trend chart points to the at-a-glance table.
    specs["trends"]["digest_alt"] = (
        f"Line charts, one per question, of the share agreeing by survey year ({span}) for each group. "
        "This year's figures, the change from the year before and the lowest and highest so far are in "
        "the table “At a glance” above."
    )
    specs["trends"]["digest_details"] = "glance-table"
    for name, (width, height) in chart_sizes(data).items():
        specs[name]["width"], specs[name]["height"] = width, height
    return specs
