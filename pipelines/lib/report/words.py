"""The report's sentences: the headline, the key findings, the methods and the notes (spec §9 rev 2)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pipelines.lib.report.figures import NOT_SHOWN, YearFigures, join_phrases, percent_of, phrase
from pipelines.lib.report.history import ALPHA, response_rate, share_of
from pipelines.lib.report.labels import HEADLINE_METRIC, HEADLINE_WORDS, METRICS
from pipelines.lib.report.this_year import SMD_NEGLIGIBLE, reason_hidden, share_sentence

CROSS_SECTIONAL = (
    "The survey is cross-sectional: students chose whether to mentor, so the differences between "
    "mentors and non-mentors in this report show an association, not an effect of mentoring."
)


NO_DATA_NOTE = (
    "No data: nobody in that group answered the question this year (the denominator is 0), so there is "
    "nothing to compute. Questions asked of mentors only have no answers from non-mentors, and a group "
    "with no members (for example no mentors in a year) has no figures."
)


def small_cell_note(k: int) -> str:
    """The footnote that explains "<k", "not shown" and bounds."""
    return (
        f"Fewer than {k} people: counts from 1 to {k - 1} are shown as “<{k}”. A figure that would let "
        f"anyone work out a group smaller than {k} (by subtracting shown figures from a total, or from "
        "the bounds the other figures set) is “not shown”, and a share hidden only because fewer than "
        f"{k} people did (or did not) agree is given as a bound, such as “more than 95%”. This protects "
        "individual students; the exact figures stay in the warehouse."
    )


def testing_note(changes: int) -> str:
    """The multiple-testing note that stands beside the year-on-year changes (empty without changes)."""
    if changes == 0:
        return ""
    return (
        f"This report tests {changes} changes from the previous survey year. At p < {ALPHA}, about one "
        "in twenty tests would point to a change by chance alone even if nothing had changed, so a "
        "single change is best read together with the trend over the years."
    )


def _in_words(count: Mapping[str, Any]) -> Mapping[str, Any]:
    """A count inside a sentence; a hidden one reads as words."""
    return {**count, "text": "a number (not shown)", "fig": ""} if count["text"] == NOT_SHOWN else count


def headline(f: YearFigures) -> dict[str, Any]:
    """The year's headline (the e-mail's subject and first line): the flagship share and the response rate."""
    parts = []
    flagship = share_of(f, HEADLINE_METRIC, "all") if HEADLINE_METRIC and f.asked(HEADLINE_METRIC) else None
    if flagship is not None and flagship["kind"] in ("value", "more_than"):
        parts.append(phrase(percent_of(flagship), f" {HEADLINE_WORDS}"))
    rate = response_rate(f)
    if rate["kind"] in ("value", "more_than", "less_than"):
        parts.append(phrase("response rate ", percent_of(rate)))
    return join_phrases(parts, "; ") if parts else phrase("yearly report")


def headline_sentence(year: int, headline: Mapping[str, Any]) -> dict[str, Any]:
    """The headline as the digest's first sentence."""
    return phrase(f"In {year}: ", headline, ".")


def key_findings(
    f: YearFigures,
    population: Mapping[str, Any],
    value_items: Sequence[Mapping[str, Any]],
    mentor_experience: Sequence[Mapping[str, Any]],
    demographics: Mapping[str, Any],
    reasons: Mapping[str, Any],
    at_a_glance: Mapping[str, Any],
    hist: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """The key findings, in the order the report and the digest give them."""
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
        first = phrase(respondents, answered, f"; the response rate is {reason_hidden(f.k)}.", masked=True)
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
    # The headline's metric in a sentence of its own (all respondents), then the comparisons of the others.
    flagship = next((v for v in value_items if v["metric_id"] == HEADLINE_METRIC), None)
    if flagship is not None:
        clause = METRICS[flagship["metric_id"]].clause
        findings.append(share_sentence(flagship["shares"][0], "all respondents", "agreed", clause, f.k))
    for value in value_items:
        if value is not flagship:
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


def methods(k: int) -> list[dict[str, str]]:
    """The glossary of methods at the end of the report."""
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
            "definition": small_cell_note(k)
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
