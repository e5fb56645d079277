"""The sections of a year's report about that year: population, demographic balance, the value and
mentor items, reasons and data quality, protected (``figures``) and worded (``labels``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pipelines.lib.report import formatting as fmt
from pipelines.lib.report.figures import (
    DISTRIBUTION_COHORTS,
    NO_DATA,
    NOT_SHOWN,
    YearFigures,
    cell,
    demographic,
    item,
    join_phrases,
    level,
    percent_of,
    phrase,
)
from pipelines.lib.report.history import ALPHA, mentored, ratio_cell, response_rate, share_of
from pipelines.lib.report.labels import (
    CHARACTERISTIC_NAMES,
    CHARACTERISTICS,
    COHORT_LABELS,
    COHORTS_FLOW,
    DEMOGRAPHIC_LEVELS,
    DQ_RULE_LABELS,
    EXCLUSIONS,
    INSTRUMENT_LABELS,
    LEVEL_NAMES,
    METRICS,
    TEST_LABELS,
    TEST_NOTES,
    V1_COLUMN_VARIABLES,
)

# A standardised difference below this is negligible (spec §9 rev 2: "similar" needs it and no test).
SMD_NEGLIGIBLE = 0.1


def join_words(items: Iterable[str]) -> str:
    """Items joined as in prose: "a, b and c"."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def population(f: YearFigures) -> dict[str, Any]:
    """Who was asked, who answered and who was left out, and why (the population flow)."""
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
        "exclusions_note": f"The reasons are {reason_hidden(f.k)}." if f.omitted("exclusions") else "",
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


def reason_hidden(k: int) -> str:
    """The words that say why a figure or breakdown is not shown."""
    return f"not shown: it would reveal a group smaller than {k}"


def demographics(f: YearFigures) -> dict[str, Any]:
    """Each characteristic of mentors and non-mentors, its test and SMD, and the balance sentence."""
    characteristics = []
    for characteristic, (label, _) in CHARACTERISTICS.items():
        cohorts = [c for c in ("mentor", "non_mentor") if not f.omitted(f"demographics.{characteristic}.{c}")]
        left_out = [c for c in ("mentor", "non_mentor") if c not in cohorts]
        rows = _age_rows(f) if characteristic == "age" else _level_rows(f, characteristic, cohorts)
        note = ""
        if left_out:
            who = join_words(COHORT_LABELS[c].lower() for c in left_out)
            note = f"The {label.lower()} of {who} is {reason_hidden(f.k)}."
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
        return {**base, "name": name, "state": "hidden", "hidden_reason": reason_hidden(f.k)}
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
        who = join_words(COHORT_LABELS[c].lower() for c in dropped)
        note = f"The answers in full of {who} to “{metric.label}” are {reason_hidden(f.k)}."
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
                f"The comparison of mentors with non-mentors on whether {clause} is {reason_hidden(f.k)}.",
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


def value_item(f: YearFigures, metric_id: str) -> dict[str, Any]:
    """One value statement: the shares agreeing, the answer distribution and the comparison."""
    metric = METRICS[metric_id]
    shares = _shares(f, metric_id)
    return {
        "metric_id": metric_id,
        "label": metric.label,
        "question": metric.question_in(f.year),
        "shares": [shares[c] for c in metric.cohorts],
        "comparison": _comparison(f, metric_id, shares),
        "distribution": _distribution(f, metric_id),
    }


def share_sentence(share: Mapping[str, Any], who: str, verb: str, clause: str, k: int) -> dict[str, Any]:
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
    return phrase(f"The share of {who} who {verb} that {clause} is {reason_hidden(k)}.", masked=True)


def mentor_item(f: YearFigures, metric_id: str) -> dict[str, Any]:
    """One statement asked of mentors only: its share and the sentence about it."""
    metric = METRICS[metric_id]
    share = _shares(f, metric_id)["mentor"]
    verb = "said" if metric.answer == "yes" else "agreed"
    return {
        "metric_id": metric_id,
        "label": metric.label,
        "question": metric.question_in(f.year),
        "share": share,
        "sentence": share_sentence(share, "mentors", verb, metric.clause, f.k),
        "note": "Only “yes” counts; “unsure” counts as not yes." if metric.answer == "yes" else "",
        "distribution": _distribution(f, metric_id),
    }


def reasons(f: YearFigures) -> dict[str, Any]:
    """Non-mentors' reasons for not taking part, the most frequent first."""
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
        "omitted_note": f"The reasons are {reason_hidden(f.k)}." if f.omitted("reasons") else "",
        "denominator": f.count("reason.answered"),
        "no_data": answered == 0,
        "rows": rows,
        "top": top[1] if top else None,
    }


def data_quality(f: YearFigures) -> dict[str, Any]:
    """The year's data-quality issues by problem and column (Appendix A)."""
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
        f"The breakdown by problem and column is {reason_hidden(f.k)}." if f.omitted("data_quality") else ""
    )
    return {
        "total": f.count("dq.total"),
        "none": not items,
        "rows": [] if note else items,
        "omitted_note": note,
    }
