"""Tests for the yearly report's words, structure, escaping and numbers (spec §9, rev 2).

The warehouse here is a small hand-made DuckDB with the §8 marts columns. Every expected figure is
computed in this file from the raw counts below (statsmodels for the Wilson interval, scipy for
Fisher's test, the Katz and Woolf formulas written out), never copied from the report's output.
Whether hidden figures can be worked out is tests/test_masking_recoverability.py's subject; here,
that the report says what it hides and why, in the rev 2 words.
"""

from __future__ import annotations

import html as html_lib
import json
import math
import re
import struct
from pathlib import Path

import duckdb
import pytest
from scipy import stats as sps
from statsmodels.stats.proportion import proportion_confint

from pipelines.lib.report.charts import render_charts
from pipelines.lib.report.context import ReportDataError, load_report_context, load_report_contexts
from pipelines.lib.report.rendering import (
    EMAIL_CHARTS,
    SUBJECT_MAX,
    email_subject,
    render_email_html,
    render_report_html,
    render_text_summary,
)
from tests.marts_tables import create_empty_marts

K = 5
YEAR = 2020
Z = 1.959963984540054
SHA = "a" * 64
META = {"code_version": "abc123def456", "source_sha256": SHA}
SCRIPT_LABEL = '<script>alert("reason")</script> Other'
EVIL_COLUMN = "<img src=x onerror=alert(1)>"
FREE_TEXT = "SECRET FREE TEXT jane.doe@example.com"
MINUS = "\u2212"
EN_DASH = "\u2013"

# (year, metric, cohort) -> (numerator, denominator)
COUNTS = {
    # value_distinct 2020: 2 mentors and 3 non-mentors did not agree -> percentages and ratio masked
    (2019, "value_distinct", "all"): (94, 105),
    (2019, "value_distinct", "mentor"): (35, 40),
    (2019, "value_distinct", "non_mentor"): (44, 50),
    (2020, "value_distinct", "all"): (100, 105),
    (2020, "value_distinct", "mentor"): (43, 45),
    (2020, "value_distinct", "non_mentor"): (49, 52),
    # value_mentee: nothing small
    (2019, "value_mentee", "all"): (60, 105),
    (2019, "value_mentee", "mentor"): (30, 40),
    (2019, "value_mentee", "non_mentor"): (20, 50),
    (2020, "value_mentee", "all"): (70, 105),
    (2020, "value_mentee", "mentor"): (38, 45),
    (2020, "value_mentee", "non_mentor"): (24, 52),
    # value_mentor 2020: no non-mentor answered -> a zero denominator, "no data"
    (2019, "value_mentor", "all"): (65, 105),
    (2019, "value_mentor", "mentor"): (33, 40),
    (2019, "value_mentor", "non_mentor"): (25, 50),
    (2020, "value_mentor", "all"): (36, 53),
    (2020, "value_mentor", "mentor"): (36, 45),
    (2020, "value_mentor", "non_mentor"): (0, 0),
    (2019, "mentor_again", "all"): (30, 40),
    (2019, "mentor_again", "mentor"): (30, 40),
    (2019, "mentor_again", "non_mentor"): (0, 0),
    (2020, "mentor_again", "all"): (35, 45),
    (2020, "mentor_again", "mentor"): (35, 45),
    (2020, "mentor_again", "non_mentor"): (0, 0),
    # mentor_worthwhile 2020: 3 mentors did not agree -> masked
    (2019, "mentor_worthwhile", "all"): (28, 40),
    (2019, "mentor_worthwhile", "mentor"): (28, 40),
    (2019, "mentor_worthwhile", "non_mentor"): (0, 0),
    (2020, "mentor_worthwhile", "all"): (42, 45),
    (2020, "mentor_worthwhile", "mentor"): (42, 45),
    (2020, "mentor_worthwhile", "non_mentor"): (0, 0),
}

FUNNEL_2020 = {
    "class_size": 160,
    "received": 120,
    "preview": 6,
    "incomplete": 7,
    "no_consent": 2,
    "duplicate": 0,
    "rejected": 0,
    "respondents": 105,
    "mentors": 45,
    "non_mentors": 52,
    "informal": 6,
    "unclassified": 2,
}

REASONS_2020 = [  # code, label, n ; denominator 50
    (1, "Not enough time (clinical, research, or personal commitments)", 30),
    (2, "Was not aware of the program & its aims", 9),
    (3, "Not interested in mentoring", 12),
    (4, "Did not feel qualified to mentor", 2),
    (5, "Applied but was not selected", 5),
    (6, SCRIPT_LABEL, 0),
    (7, "Program meeting times conflicted with my schedule", 6),  # offered from 2020 here (no 2019 row)
]


REASONS_2019 = [(code, label, n) for code, label, n in REASONS_2020[:6]]  # reason 7 was not offered yet

SECTION_HEADINGS = [
    "At a glance",
    "Key findings",
    "Study population",
    "Demographics by cohort",
    "Value of student/student mentoring, by cohort",
    "Mentors' experience",
    "Reasons for not taking part",
    "Over the years",
    "Appendix A: Data quality",
    "Appendix B: Methods and definitions",
]
LEVELS = {"mentor_again": ("yes", "unsure", "no")}


# --------------------------------------------------------------------------------------------------
# independent computations
# --------------------------------------------------------------------------------------------------


def wilson(x: int, n: int) -> tuple[float | None, float | None]:
    if n == 0:
        return None, None
    low, high = proportion_confint(x, n, alpha=0.05, method="wilson")
    return float(low), float(high)


def katz_woolf(a: int, b: int, c: int, d: int) -> dict[str, float]:
    rr = (a / (a + b)) / (c / (c + d))
    se_rr = math.sqrt(1 / a - 1 / (a + b) + 1 / c - 1 / (c + d))
    odds = (a * d) / (b * c)
    se_or = math.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
    return {
        "rr": rr,
        "rr_low": math.exp(math.log(rr) - Z * se_rr),
        "rr_high": math.exp(math.log(rr) + Z * se_rr),
        "or": odds,
        "or_low": math.exp(math.log(odds) - Z * se_or),
        "or_high": math.exp(math.log(odds) + Z * se_or),
        "p": float(sps.fisher_exact([[a, b], [c, d]]).pvalue),
    }


def pct(x: int, n: int) -> str:
    return f"{100 * x / n:.1f}%"


def ci_text(x: int, n: int) -> str:
    low, high = wilson(x, n)
    return f"95% CI {100 * low:.1f}{EN_DASH}{100 * high:.1f}%"


def ratio(value: float) -> str:
    return f"{value:.2f}".replace("-", MINUS)


# --------------------------------------------------------------------------------------------------
# the hand-made warehouse
# --------------------------------------------------------------------------------------------------


def bound_more_than(n: int) -> str:
    """ "more than B%": B the largest multiple of 5 strictly below (n-k+1)/n (what "<k" implies)."""
    bound = max(b for b in range(0, 100, 5) if b < 100 * (n - K + 1) / n)
    return f"more than {bound}%"


def levels_of(metric: str, x: int, n: int) -> dict[str, int]:
    """A made-up answer distribution with x agreeing of n (only the split matters to the report)."""
    if metric in LEVELS:
        return {"yes": x, "unsure": (n - x) // 2, "no": n - x - (n - x) // 2}
    return {"5": x // 2, "4": x - x // 2, "3": (n - x) // 2, "2": n - x - (n - x) // 2, "1": 0}


# --------------------------------------------------------------------------------------------------
# the hand-made warehouse
# --------------------------------------------------------------------------------------------------


def build_warehouse(path: Path, reworded: str | None = None) -> None:
    """The §8 marts for 2019 and 2020 (and a 2021 trend-test row the 2020 report must not use).

    reworded: a metric whose wording changed in 2020, so that 2020 starts a new series for it.
    """
    con = duckdb.connect(str(path))
    create_empty_marts(con)  # the columns and types of the marts' dbt contracts
    f = FUNNEL_2020
    con.executemany(
        "insert into marts.response_funnel values (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        [
            (2019, 150, 110, 2, 3, 0, 0, 0, 105, 105 / 150, 40, 50, 15, 0, "v1", "1" * 64),
            (2020, f["class_size"], f["received"], f["preview"], f["incomplete"], f["no_consent"],
             f["duplicate"], f["rejected"], f["respondents"], f["respondents"] / f["class_size"], f["mentors"],
             f["non_mentors"], f["informal"], f["unclassified"], "v2", SHA),
        ],
    )  # fmt: skip

    for (year, metric, cohort), (x, n) in COUNTS.items():
        low, high = wilson(x, n)
        proportion = x / n if n else None
        con.execute(
            "insert into marts.metric_summary values (?,?,?,?,?,?,?,?)",
            [year, metric, cohort, x, n, proportion, low, high],
        )
        start = 2020 if metric == reworded and year >= 2020 else 2019
        change = p_prior = prior_year = None
        prior = COUNTS.get((year - 1, metric, cohort))
        if prior and prior[1] and n and start <= year - 1:
            change = x / n - prior[0] / prior[1]
            p_prior = float(sps.fisher_exact([[x, n - x], [prior[0], prior[1] - prior[0]]]).pvalue)
            prior_year = year - 1
        con.execute(
            "insert into marts.metric_trends (survey_year, metric_id, cohort, numerator, denominator, proportion, "
            "ci_low, ci_high, change_vs_prior, p_value_vs_prior, series_start, prior_year) "
            "values (?,?,?,?,?,?,?,?,?,?,?,?)",
            [year, metric, cohort, x, n, proportion, low, high, change, p_prior, start, prior_year],
        )
        for level, count in levels_of(metric, x, n).items():
            con.execute(
                "insert into marts.item_distributions values (?,?,?,?,?,?,?)",
                [year, metric, cohort, level, count, n, count / n if n else None],
            )

    for year in (2019, 2020):
        for metric in ("value_distinct", "value_mentee", "value_mentor"):
            a, n1 = COUNTS[(year, metric, "mentor")]
            c, n2 = COUNTS[(year, metric, "non_mentor")]
            if n2 == 0:
                row = [year, metric, a, n1, c, n2] + [None] * 7 + [False]
            else:
                s = katz_woolf(a, n1 - a, c, n2 - c)
                row = [year, metric, a, n1, c, n2, s["rr"], s["rr_low"], s["rr_high"], s["or"], s["or_low"],
                       s["or_high"], s["p"], False]  # fmt: skip
            con.execute("insert into marts.cohort_comparisons values (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", row)

    con.executemany(
        "insert into marts.demographic_balance values (?,?,?,?,?,?)",
        [
            (YEAR, "gender", "fisher_exact", None, 0.5123, 0.1234),
            (YEAR, "age", "welch_t", -1.2345, 0.2201, -0.2468),  # not similar: |SMD| >= 0.1 though p >= 0.05
            (YEAR, "specialty_group", "chi_square", 0.5, 0.7788, 0.0531),  # similar: |SMD| < 0.1, p >= 0.05
        ],
    )

    for characteristic, table in (("gender", GENDER), ("specialty_group", SPECIALTY)):
        for cohort, levels in table.items():
            total = sum(levels.values())
            for level, n in levels.items():
                con.execute(
                    "insert into marts.demographics_by_cohort values (?,?,?,?,?,?,?)",
                    [YEAR, characteristic, level, cohort, n, n / total, None],
                )
    con.executemany(
        "insert into marts.demographics_by_cohort values (?,?,?,?,?,?,?)",
        [
            (YEAR, "age", "mean", "mentor", 45, None, 27.31),
            (YEAR, "age", "sd", "mentor", 45, None, 2.2),
            (YEAR, "age", "mean", "non_mentor", 50, None, 27.96),  # 2 non-mentors gave no valid age
            (YEAR, "age", "sd", "non_mentor", 50, None, 2.64),
        ],
    )

    for year, reasons in ((2019, REASONS_2019), (YEAR, REASONS_2020)):
        for code, label, n in reasons:
            con.execute(
                "insert into marts.nonparticipation_reasons values (?,?,?,?,?,?)",
                [year, code, label, n, 50, n / 50],
            )

    for metric in ("value_distinct", "value_mentee", "value_mentor", "mentor_again", "mentor_worthwhile"):
        for cohort in ("all", "mentor", "non_mentor"):
            if metric == reworded:
                rows = [
                    [metric, cohort, 2019, 2019, 1, None, None],
                    [metric, cohort, 2020, 2020, 1, None, None],
                ]
            else:
                # One row per year the test runs up to (spec §8 rev 2). The 2021 row, a year loaded
                # after the report's, must not reach the 2020 report.
                rows = [
                    [metric, cohort, 2019, 2019, 1, None, None],
                    [metric, cohort, 2019, 2020, 2, 1.2345, 0.2172],
                    [metric, cohort, 2019, 2021, 3, 9.8765, 0.0001],
                ]
            con.executemany("insert into marts.metric_trend_tests values (?,?,?,?,?,?,?)", rows)

    issues = [
        ("ssm_survey_2020.csv", YEAR, 4 + i, "Q3", f"{FREE_TEXT} {i}", "not_an_integer") for i in range(6)
    ]
    issues += [
        ("ssm_survey_2020.csv", YEAR, 20, EVIL_COLUMN, FREE_TEXT, "unknown_label"),
        ("ssm_survey_2020.csv", YEAR, 21, "age", "twenty six", "not_an_integer"),
        ("ssm_survey_2019.csv", 2019, 9, "age", "older year issue", "out_of_range"),
    ]
    con.executemany("insert into marts.data_quality_issues values (?,?,?,?,?,?)", issues)
    con.close()


GENDER = {
    "mentor": {"female": 25, "male": 18, "nonbinary_or_other": 2, "not_reported": 0},
    "non_mentor": {"female": 30, "male": 22, "nonbinary_or_other": 0, "not_reported": 0},
}
SPECIALTY = {
    "mentor": {"primary_care": 15, "surgical": 12, "other": 18, "not_matched": 0},
    "non_mentor": {"primary_care": 20, "surgical": 14, "other": 18, "not_matched": 0},
}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("warehouse") / "warehouse.duckdb"
    build_warehouse(path)
    return path


@pytest.fixture(scope="module")
def context(warehouse: Path) -> dict:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return load_report_context(con, YEAR, K, META)


IMAGES = {name: f"{name}.png" for name in ("value_items", "trends", "ratios", "participation")}


@pytest.fixture(scope="module")
def report_html(context: dict) -> str:
    return render_report_html(context, IMAGES)


@pytest.fixture(scope="module")
def email_html(context: dict) -> str:
    return render_email_html(context, {name: f"cid:{name}" for name in EMAIL_CHARTS}, "ssm_report_2020.pdf")


def visible_text(page: str) -> str:
    """The page's text with one line per block element, entities decoded, footnote markers dropped."""
    body = re.sub(r"<style.*?</style>", "", page, flags=re.S)
    body = re.sub(r"<sup.*?</sup>", "", body, flags=re.S)
    body = re.sub(r"<(br|/p|/li|/td|/th|/tr|/dt|/dd|/h[1-6]|/div|/caption)\b[^>]*>", "\n", body)
    body = re.sub(r"<[^>]+>", "", body)
    return html_lib.unescape(body)


def sentences(page: str) -> list[str]:
    out = []
    for line in visible_text(page).splitlines():
        out.extend(s.strip() for s in re.split(r"(?<=[.!?])\s+", line) if s.strip())
    return out


def figure(page: str, key: str) -> str:
    """The text of the figure ``data-fig=key`` (it prints the same wherever it stands)."""
    found = {
        html_lib.unescape(t) for t in re.findall(rf'<span data-fig="{re.escape(key)}">(.*?)</span>', page)
    }
    assert len(found) == 1, f"{key}: {found}"
    return found.pop()


# --------------------------------------------------------------------------------------------------
# structure and words
# --------------------------------------------------------------------------------------------------


def test_every_section_heading_in_order_at_a_glance_first(report_html: str) -> None:
    positions = [report_html.find(f">{heading}</h2>") for heading in SECTION_HEADINGS]
    assert all(p > 0 for p in positions), dict(zip(SECTION_HEADINGS, positions, strict=True))
    assert positions == sorted(positions)
    assert report_html.find("<h1>") < positions[0]
    assert report_html.rfind('class="footer"') > positions[-1]
    assert META["code_version"] in report_html and SHA in report_html


def test_differences_are_told_in_risk_ratio_words_by_one_rule(context: dict, report_html: str) -> None:
    """Spec §9 rev 2: "N times as likely" with its interval when Fisher's p < 0.05, "did not clearly
    differ" otherwise, the same in every year; the odds ratio only in tables, labelled as odds."""
    for metric in ("value_mentee", "value_mentor"):
        a, n1 = COUNTS[(YEAR, metric, "mentor")]
        c, n2 = COUNTS[(YEAR, metric, "non_mentor")]
        text = next(v for v in context["value_items"] if v["metric_id"] == metric)["comparison"]["sentence"][
            "text"
        ]
        if n2 == 0:
            assert "no data" in text
            continue
        expected = katz_woolf(a, n1 - a, c, n2 - c)
        rr = ratio(expected["rr"])
        if expected["p"] < 0.05:
            assert f"{rr} times as likely (95% CI {ratio(expected['rr_low'])}{EN_DASH}" in text
        else:
            assert "did not clearly differ" in text and f"risk ratio {rr}" in text
        assert f"p\u00a0=\u00a0{expected['p']:.3f}" in text or "p\u00a0<\u00a00.001" in text
    for sentence in sentences(report_html):
        low = sentence.lower()
        if "times as likely" in low or "clearly differ" in low:
            assert "odds" not in low, sentence
    assert "Odds ratio (“times the odds”, 95% CI)" in visible_text(report_html)


def test_cohorts_are_similar_only_when_the_smd_is_small_and_the_test_finds_nothing(context: dict) -> None:
    """Spec §9 rev 2: "similar" only when |SMD| < 0.1 and p >= 0.05; else the characteristic is named
    with its SMD. Specialty (SMD 0.05, p 0.78) is similar; age (SMD -0.25, p 0.22) is not, and the
    gender test, whose male mentors must be hidden, gives the true reason for not being shown."""
    text = context["demographics"]["sentence"]["text"]
    assert "similar in matched specialty group (SMD 0.05" in text
    assert f"not similar in age (SMD {MINUS}0.25" in text and "test found no clear difference" in text
    assert "The test for gender is not shown: it would reveal a group smaller than 5." in text
    assert "too small" not in text


def test_the_survey_is_said_once_to_be_cross_sectional_and_changes_carry_the_testing_note(
    report_html: str,
) -> None:
    text = visible_text(report_html)
    assert text.count("The survey is cross-sectional") == 1 or (
        text.count("The survey is cross-sectional") == 2 and "Cross-sectional survey" in text
    )
    assert re.search(r"This report tests \d+ changes from the previous survey year", text)


def test_text_from_tables_is_escaped(report_html: str) -> None:
    assert SCRIPT_LABEL not in report_html and "<script" not in report_html
    assert "&lt;script&gt;alert(" in report_html and "&lt;/script&gt; Other" in report_html
    assert EVIL_COLUMN not in report_html and "<img src=x" not in report_html
    assert "&lt;img src=x onerror=alert(1)&gt;" in report_html
    text = visible_text(report_html)
    assert SCRIPT_LABEL in text and EVIL_COLUMN in text
    assert "Was not aware of the program &amp; its aims" in report_html


def test_free_text_never_reaches_the_report(context: dict, report_html: str, email_html: str) -> None:
    dumped = json.dumps(context, ensure_ascii=False)
    summary = render_text_summary(context)
    for secret in (FREE_TEXT, "twenty six", "example.com", "older year issue", "ssm_survey_2020.csv"):
        for page in (dumped, report_html, email_html, summary):
            assert secret not in page


# --------------------------------------------------------------------------------------------------
# numbers, computed here independently
# --------------------------------------------------------------------------------------------------


def test_population_numbers(report_html: str) -> None:
    f = FUNNEL_2020
    assert figure(report_html, "2020:respondents/class_size") == pct(f["respondents"], f["class_size"])
    assert figure(report_html, "2020:received") == str(f["received"])
    assert figure(report_html, "2020:bucket.no_consent") == f"<{K}"
    assert figure(report_html, "2020:excluded") == str(f["received"] - f["respondents"])
    # With 2 unclassified, respondents minus the other cohorts would give them back: the informal
    # count is hidden too (the mentor and non-mentor sizes are the report's subject).
    assert figure(report_html, "2020:cohort.unclassified") == f"<{K}"
    assert figure(report_html, "2020:cohort.informal") == "not shown"
    assert (
        figure(report_html, "2020:cohort.mentor") == "45"
        and figure(report_html, "2020:cohort.non_mentor") == "52"
    )


def test_value_item_numbers_match_independent_computation(report_html: str) -> None:
    a, n1 = COUNTS[(YEAR, "value_mentee", "mentor")]
    c, n2 = COUNTS[(YEAR, "value_mentee", "non_mentor")]
    expected = katz_woolf(a, n1 - a, c, n2 - c)
    assert figure(report_html, "2020:value_mentee.mentor.yes/value_mentee.mentor.answered") == pct(a, n1)
    assert figure(report_html, "2020:value_mentee.non_mentor.yes/value_mentee.non_mentor.answered") == pct(
        c, n2
    )
    assert ci_text(a, n1) in report_html and ci_text(c, n2) in report_html
    rr = f"{ratio(expected['rr'])} ({ratio(expected['rr_low'])}{EN_DASH}{ratio(expected['rr_high'])})"
    odds = f"{ratio(expected['or'])} ({ratio(expected['or_low'])}{EN_DASH}{ratio(expected['or_high'])})"
    assert figure(report_html, "2020:ratio.value_mentee#rr") == rr
    assert figure(report_html, "2020:ratio.value_mentee#or") == odds
    assert figure(report_html, "2020:ratio.value_mentee#p") == (
        "<0.001" if expected["p"] < 0.001 else f"{expected['p']:.3f}"
    )


def test_a_near_unanimous_share_is_shown_as_its_bound(context: dict, report_html: str) -> None:
    """Spec §9 rev 2: 43 of 45 mentors agreed (2 did not, fewer than 5): the share reads "more than
    90%", the bound that "<5" alone implies, in the table, at a glance and in the chart; the exact
    figure and its count are not printed."""
    x, n = COUNTS[(YEAR, "value_distinct", "mentor")]
    share = figure(report_html, "2020:value_distinct.mentor.yes/value_distinct.mentor.answered")
    assert share == bound_more_than(n) == "more than 90%"
    assert (
        pct(x, n) not in report_html and figure(report_html, "2020:value_distinct.mentor.yes") == "not shown"
    )
    point = context["chart_data"]["value_items"][0]["points"]["mentor"]
    assert point["kind"] == "lower_bound" and point["bound"] == 0.90 and point["proportion"] is None
    assert "mentors more than 90%" in context["charts"]["value_items"]["alt"]
    # the comparison that would give the 2 back is not shown, and says why
    assert figure(report_html, "2020:ratio.value_distinct#rr") == "not shown"
    assert (
        "would reveal a group smaller than 5" in context["value_items"][0]["comparison"]["sentence"]["text"]
    )


def test_zero_denominator_is_no_data(context: dict, report_html: str) -> None:
    mentor_item = next(v for v in context["value_items"] if v["metric_id"] == "value_mentor")
    assert mentor_item["shares"][2]["text"] == "no data" and mentor_item["shares"][2]["no_data"]
    assert mentor_item["comparison"]["state"] == "no_data"
    assert 'id="note-no-data"' in report_html and "the denominator is 0" in report_html
    assert report_html.count('href="#note-no-data"') >= 1


def test_demographics_show_who_did_not_answer(report_html: str) -> None:
    """Issue 14: the unknown row stands beside the levels, whose shares are of those who answered."""
    assert figure(report_html, "2020:specialty_group.non_mentor.unknown") == "0"
    assert figure(report_html, "2020:age.non_mentor.unknown") == f"<{K}"
    assert figure(report_html, "2020:gender.non_mentor.female/gender.non_mentor.known") == pct(30, 52)
    assert figure(report_html, "2020:gender.mentor.nonbinary_or_other") == f"<{K}"
    assert figure(report_html, "2020:balance.age#statistic") == f"t = {MINUS}1.23"
    assert figure(report_html, "2020:balance.age#smd") == f"{MINUS}0.25"
    assert "Not answered" in visible_text(report_html) and "Age not given" in visible_text(report_html)


def test_reasons_and_a_reason_not_yet_offered(context: dict, report_html: str) -> None:
    assert figure(report_html, "2020:reason.1/reason.answered") == pct(30, 50)
    assert figure(report_html, "2020:reason.4") == f"<{K}"
    assert figure(report_html, "2020:reason.7/reason.answered") == pct(6, 50)
    # spec §8 rev 2: reason 7 was not offered in 2019, which is not "nobody ticked it"
    rows = {row["year"]: row for table in context["history"]["reasons"]["tables"] for row in table["rows"]}
    columns = [c["code"] for table in context["history"]["reasons"]["tables"] for c in table["columns"]]
    cells_2019 = [
        c
        for table in context["history"]["reasons"]["tables"]
        for row in table["rows"]
        if row["year"] == 2019
        for c in row["cells"]
    ]
    assert columns == [1, 2, 3, 4, 5, 6, 7] and cells_2019[columns.index(7)]["text"] == "not asked"
    assert 2020 in rows


def test_history_uses_only_the_years_up_to_the_report(context: dict, report_html: str) -> None:
    """The trend tests as they stood in 2020 (last_year = 2020); the 2021 test is never read."""
    mentee = next(m for m in context["history"]["trends"] if m["metric_id"] == "value_mentee")
    (x1, n1), (x2, n2) = COUNTS[(2019, "value_mentee", "mentor")], COUNTS[(2020, "value_mentee", "mentor")]
    p = float(sps.fisher_exact([[x2, n2 - x2], [x1, n1 - x1]]).pvalue)
    change = f"{100 * (x2 / n2 - x1 / n1):+.1f} points".replace("-", MINUS)
    assert figure(report_html, "2020:change.value_mentee.mentor") == f"{change} (p\u00a0=\u00a0{p:.3f})"
    assert mentee["rows"][0]["cells"][1]["change"]["text"] == "first year"
    assert all(t["last_year"] == 2020 for t in mentee["tests"])
    assert "9.88" not in report_html and "1.23" in figure(report_html, "2020:trend.value_mentee.all")
    assert context["history"]["years"] == [2019, 2020]


def test_a_reworded_item_starts_a_new_series(tmp_path: Path) -> None:
    """Spec §8/§9 rev 2: value_mentee reworded in 2020: no change across the break (at a glance
    and in the tables), the table and chart mark it, and the trend starts again."""
    path = tmp_path / "reworded.duckdb"
    build_warehouse(path, reworded="value_mentee")
    with duckdb.connect(str(path), read_only=True) as con:
        context = load_report_context(con, YEAR, K, META)
    mentee = next(m for m in context["history"]["trends"] if m["metric_id"] == "value_mentee")
    assert mentee["breaks"] == [2020]
    assert mentee["rows"][1]["cells"][0]["change"]["text"] == "new question wording"
    glance = next(r for r in context["glance"]["rows"] if r["label"] == mentee["label"])
    assert glance["change"]["text"] == "new question wording"
    assert glance["range"]["text"] == "first year of the new wording"
    panel = next(p for p in context["chart_data"]["trends"]["panels"] if p["metric_id"] == "value_mentee")
    assert panel["breaks"] == [2020]
    page = render_report_html(context, IMAGES)
    assert "Question reworded in 2020; earlier years are not comparable." in page


# --------------------------------------------------------------------------------------------------
# the v3 instrument (spec rev 2): a metric from 2026 on and value_mentor reworded in 2026
# --------------------------------------------------------------------------------------------------

SHIFT = 2026 - YEAR  # the hand-made 2019 and 2020 become 2025 and 2026
PREPARED = {"all": (40, 45), "mentor": (40, 45), "non_mentor": (0, 0)}  # mentor_prepared, 2026 only
PREPARED_LABEL = "Orientation prepared mentors"
PREPARED_QUESTION = "The mentor orientation prepared me well for the role."
VALUE_MENTOR_OLD = "Being a mentor in an SSM program is (or would be) valuable."
VALUE_MENTOR_NEW = (
    "Serving as a mentor in the SSM program benefits the mentor's own professional development."
)


def build_v3_warehouse(path: Path) -> None:
    """The hand-made marts moved to 2025 and 2026 as the v3 marts have them: value_mentor starts a
    new series in 2026 (series_start 2026, no change from 2025, its trend test starts again), and
    mentor_prepared has rows in 2026 only; one delivery of 2026 was on an instrument of other years."""
    build_warehouse(path, reworded="value_mentor")
    con = duckdb.connect(str(path))
    for table, columns in {
        "response_funnel": ("survey_year",),
        "metric_summary": ("survey_year",),
        "metric_trends": ("survey_year", "series_start", "prior_year"),
        "item_distributions": ("survey_year",),
        "cohort_comparisons": ("survey_year",),
        "demographic_balance": ("survey_year",),
        "demographics_by_cohort": ("survey_year",),
        "nonparticipation_reasons": ("survey_year",),
        "metric_trend_tests": ("first_year", "last_year"),
        "data_quality_issues": ("survey_year",),
    }.items():
        con.execute(f"update marts.{table} set " + ", ".join(f"{c} = {c} + {SHIFT}" for c in columns))
    con.execute("update marts.response_funnel set instrument_version = 'v3' where survey_year = 2026")
    for cohort, (x, n) in PREPARED.items():
        low, high = wilson(x, n)
        con.execute(
            "insert into marts.metric_summary values (?,?,?,?,?,?,?,?)",
            [2026, "mentor_prepared", cohort, x, n, x / n if n else None, low, high],
        )
        con.execute(
            "insert into marts.metric_trends (survey_year, metric_id, cohort, numerator, denominator, proportion, "
            "ci_low, ci_high, change_vs_prior, p_value_vs_prior, series_start, prior_year) "
            "values (?,?,?,?,?,?,?,?,?,?,?,?)",
            [2026, "mentor_prepared", cohort, x, n, x / n if n else None, low, high, None, None, 2026, None],
        )
        for level, count in levels_of("mentor_prepared", x, n).items():
            con.execute(
                "insert into marts.item_distributions values (?,?,?,?,?,?,?)",
                [2026, "mentor_prepared", cohort, level, count, n, count / n if n else None],
            )
        con.execute(
            "insert into marts.metric_trend_tests values (?,?,?,?,?,?,?)",
            ["mentor_prepared", cohort, 2026, 2026, 1, None, None],
        )
    con.execute(
        "insert into marts.data_quality_issues values (?,?,?,?,?,?)",
        ["ssm_survey_2026.csv", 2026, 0, "instrument", "v2", "instrument_outside_its_years"],
    )
    con.close()


@pytest.fixture(scope="module")
def v3_contexts(tmp_path_factory: pytest.TempPathFactory) -> dict[int, dict]:
    path = tmp_path_factory.mktemp("v3") / "warehouse.duckdb"
    build_v3_warehouse(path)
    with duckdb.connect(str(path), read_only=True) as con:
        return load_report_contexts(con, [2025, 2026], K, {2025: META, 2026: META})


def test_a_metric_not_yet_asked_is_left_out_of_the_report(v3_contexts: dict[int, dict]) -> None:
    """Spec §8 rev 2: mentor_prepared has no rows before 2026. The 2025 report has no section, row,
    panel or "no data" for it; the 2026 report shows it, and its history starts in 2026."""
    before = v3_contexts[2025]
    assert [m["metric_id"] for m in before["mentor_experience"]] == ["mentor_again", "mentor_worthwhile"]
    assert "mentor_prepared" not in [m["metric_id"] for m in before["history"]["trends"]]
    assert "mentor_prepared" not in [p["metric_id"] for p in before["chart_data"]["trends"]["panels"]]
    assert PREPARED_LABEL not in [r["label"] for r in before["glance"]["rows"]]
    page = render_report_html(before, IMAGES)
    email = render_email_html(before, {name: f"cid:{name}" for name in EMAIL_CHARTS}, "ssm_report_2025.pdf")
    for text in (page, email, render_text_summary(before), json.dumps(before, ensure_ascii=False)):
        assert PREPARED_LABEL not in text and PREPARED_QUESTION not in text
        assert "orientation" not in text.lower()

    now = v3_contexts[2026]
    prepared = next(m for m in now["mentor_experience"] if m["metric_id"] == "mentor_prepared")
    x, n = PREPARED["mentor"]
    assert prepared["question"] == PREPARED_QUESTION
    assert prepared["share"]["percent"] == pct(x, n) and prepared["share"]["ci"] == ci_text(x, n)
    assert (
        f"{pct(x, n)} of mentors ({x} of {n}) agreed that the mentor orientation"
        in (prepared["sentence"]["text"])
    )
    assert next(r["label"] for r in prepared["distribution"]["rows"]) == "Strongly disagree"
    trend = next(m for m in now["history"]["trends"] if m["metric_id"] == "mentor_prepared")
    assert [r["year"] for r in trend["rows"]] == [2026] and trend["breaks"] == []
    assert trend["rows"][0]["cells"][0]["change"]["text"] == "first year"
    panel = next(p for p in now["chart_data"]["trends"]["panels"] if p["metric_id"] == "mentor_prepared")
    assert [pt["year"] for s in panel["series"] for pt in s["points"]] == [2026]
    glance = next(r for r in now["glance"]["rows"] if r["label"] == PREPARED_LABEL)
    assert glance["group"] == "Mentors" and glance["this_year"]["percent"] == pct(x, n)
    assert glance["change"]["text"] == "first year" and not glance["new_series"]
    page = render_report_html(now, IMAGES)
    assert PREPARED_QUESTION in visible_text(page)
    assert figure(page, "2026:mentor_prepared.mentor.yes/mentor_prepared.mentor.answered") == pct(x, n)
    # the other metrics still run from 2025
    again = next(m for m in now["history"]["trends"] if m["metric_id"] == "mentor_again")
    assert [r["year"] for r in again["rows"]] == [2025, 2026]


def test_a_reworded_question_breaks_the_series_and_says_why(v3_contexts: dict[int, dict]) -> None:
    """Spec §8/§9 rev 2: value_mentor is reworded in 2026 (the codebook's rewordings; the break from
    the marts' series_start). The 2026 report asks the new question, its tables and chart mark the
    break, and the at-a-glance table gives no change from 2025 and says why; the 2025 report has the
    old question and no break."""
    before = v3_contexts[2025]
    item_2025 = next(v for v in before["value_items"] if v["metric_id"] == "value_mentor")
    assert item_2025["question"] == VALUE_MENTOR_OLD
    assert all(m["breaks"] == [] for m in before["history"]["trends"]) and before["glance"]["notes"] == []

    now = v3_contexts[2026]
    item = next(v for v in now["value_items"] if v["metric_id"] == "value_mentor")
    assert item["question"] == VALUE_MENTOR_NEW
    trend = next(m for m in now["history"]["trends"] if m["metric_id"] == "value_mentor")
    assert trend["breaks"] == [2026]
    assert [c["change"]["text"] for c in trend["rows"][1]["cells"][:2]] == ["new question wording"] * 2
    note = trend["break_notes"][0]["text"]
    assert note.startswith("Question reworded in 2026; earlier years are not comparable.")
    assert f"Until 2025: “{VALUE_MENTOR_OLD}”" in note and f"From 2026: “{VALUE_MENTOR_NEW}”" in note
    # the trend chart: a break at 2026, so the line does not join 2025 to 2026, and the alt text says so
    panel = next(p for p in now["chart_data"]["trends"]["panels"] if p["metric_id"] == "value_mentor")
    assert panel["breaks"] == [2026]
    assert (
        "In “Being a mentor is valuable” the question was reworded in 2026" in now["charts"]["trends"]["alt"]
    )
    ratios = next(p for p in now["chart_data"]["ratios"]["panels"] if p["metric_id"] == "value_mentor")
    assert ratios["breaks"] == [2026]
    # at a glance: no change versus 2025, with the reason, not "no data"
    glance = next(r for r in now["glance"]["rows"] if r["label"] == "Being a mentor is valuable")
    assert glance["change"]["text"] == "new question wording" and not glance["change"]["no_data"]
    assert glance["change"]["change"] is None and not glance["change"]["tested"]
    assert glance["range"]["text"] == "first year of the new wording" and glance["new_series"]
    assert glance["trend"]["text"] == "too few years"
    assert now["glance"]["notes"] == [
        "“Being a mentor is valuable”: question reworded in 2026; earlier years are not comparable, so "
        "there is no change from the year before, and the range and trend start again in 2026."
    ]
    # the unchanged items still compare 2026 with 2025
    mentee = next(r for r in now["glance"]["rows"] if r["label"] == "Being a mentee is beneficial")
    assert mentee["change"]["prior_year"] == 2025 and not mentee["new_series"]
    page = visible_text(render_report_html(now, IMAGES))
    assert "Question reworded in 2026; earlier years are not comparable." in page
    assert VALUE_MENTOR_NEW in page and "no change from the year before" in page
    email = visible_text(render_email_html(now, {n: f"cid:{n}" for n in EMAIL_CHARTS}, "r.pdf"))
    assert "question reworded in 2026" in email
    assert "question reworded in 2026" in " ".join(render_text_summary(now).split())


def test_data_quality_names_the_instrument_rule(v3_contexts: dict[int, dict]) -> None:
    rows = v3_contexts[2026]["data_quality"]["rows"]
    assert "Survey version not the one used that year" in [r["rule_label"] for r in rows]
    assert v3_contexts[2026]["population"]["instrument"] == "Qualtrics current export (v3, from 2026)"


def test_data_quality_counted_by_rule_and_column(context: dict) -> None:
    """Two issues of one kind each print "<5"; beside a printed total of 8, the 6 of the third kind is
    not shown, or 8 - 6 = 2 would give both back (1 and 1)."""
    rows = {(r["rule"], r["column"]): r["count"]["text"] for r in context["data_quality"]["rows"]}
    assert rows == {
        ("not_an_integer", "Q3 (age)"): "not shown",
        ("not_an_integer", "age"): f"<{K}",
        ("unknown_label", EVIL_COLUMN): f"<{K}",
    }
    assert context["data_quality"]["total"]["text"] == "8"


def test_missing_year_and_meta_are_explained(warehouse: Path) -> None:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        with pytest.raises(ReportDataError, match="ssm run --year 2031"):
            load_report_context(con, 2031, K, META)
        with pytest.raises(ValueError, match="code_version"):
            load_report_context(con, YEAR, K, {"source_sha256": SHA})
        with pytest.raises(ValueError, match="k = 2"):
            load_report_context(con, YEAR, 2, META)


def test_context_is_plain_data(context: dict) -> None:
    assert json.loads(json.dumps(context)) == context
    assert context["meta"] == META


# --------------------------------------------------------------------------------------------------
# the e-mail
# --------------------------------------------------------------------------------------------------


def test_the_email_is_a_digest_that_says_what_is_attached(context: dict, email_html: str) -> None:
    """Spec §9 rev 2: the headline, the key findings, the at-a-glance table and the main charts; the
    rest is in the attached PDF, which the body names."""
    text = visible_text(email_html)
    assert "The full report is attached as a PDF (ssm_report_2020.pdf)" in " ".join(text.split())
    assert "Key findings" in text and "At a glance" in text
    assert sorted(re.findall(r'src="cid:(\w+)"', email_html)) == sorted(EMAIL_CHARTS)
    for absent in ("Study population", "Appendix A", "Every answer"):
        assert absent not in text
    assert context["headline"] in " ".join(text.split())


def test_text_summary(context: dict) -> None:
    text = render_text_summary(context, attachment_name="ssm_report_2020.pdf")
    assert text.startswith(context["title"])
    assert pct(FUNNEL_2020["respondents"], FUNNEL_2020["class_size"]) in text
    assert "The full report is attached as a PDF (ssm_report_2020.pdf)" in " ".join(text.split())
    assert not re.search(r"<[A-Za-z/!]", text) and "&lt;" not in text  # plain text: no markup
    assert all(len(line) <= 80 for line in text.splitlines() if " " in line.strip())


def test_email_subject_carries_the_headline(context: dict) -> None:
    """The subject: "SSM survey <year>: <headline>", at most SUBJECT_MAX characters on one line;
    without a headline, the subject of old. Too long, the headline keeps its first clauses whole."""
    # The year's own headline fits whole: the flagship share and the response rate.
    assert email_subject(context) == f"SSM survey 2020: {context['headline']}"
    assert context["headline"] == f"95.2% value SSM; response rate {pct(105, 160)}"
    assert email_subject({"survey_year": 2025}) == "Student/student mentoring survey 2025: yearly report"
    short = "96% value student/student mentoring; 63% answered"
    assert email_subject({"survey_year": 2025, "headline": short}) == f"SSM survey 2025: {short}"
    long = "96% value student/student mentoring; 63% of the class answered, the most since 2016"
    assert email_subject({"survey_year": 2025, "headline": long}) == (
        "SSM survey 2025: 96% value student/student mentoring"
    )
    one_clause = "mentors " * 20
    subject = email_subject({"survey_year": 2025, "headline": one_clause})
    assert len(subject) <= SUBJECT_MAX and subject.endswith("mentors\u2026")
    spliced = email_subject({"survey_year": 2025, "headline": "96% agree\r\nBcc: x@example.com\x00"})
    assert spliced == "SSM survey 2025: 96% agree Bcc: x@example.com"
    for headline in (short, long, one_clause, ""):
        subject = email_subject({"survey_year": 2025, "headline": headline})
        assert len(subject) <= SUBJECT_MAX and subject.isprintable()


# --------------------------------------------------------------------------------------------------
# charts
# --------------------------------------------------------------------------------------------------


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_charts_are_png_with_alt_text(context: dict, tmp_path: Path) -> None:
    images = render_charts(context, tmp_path / "a")
    assert set(images) == {"value_items", "trends", "ratios", "participation"}
    for name, image in images.items():
        assert image.path.exists() and image.path.suffix == ".png"
        assert png_size(image.path)[0] == 2 * image.width
        assert image.alt == context["charts"][name]["alt"] and len(image.alt) > 40
    again = render_charts(context, tmp_path / "b")
    for name in images:
        assert images[name].path.read_bytes() == again[name].path.read_bytes()


def test_every_img_has_alt_width_height(context: dict, email_html: str) -> None:
    page = render_report_html(context, {name: f"cid:{name}" for name in IMAGES})
    for html_page, count in ((page, 4), (email_html, len(EMAIL_CHARTS))):
        tags = re.findall(r"<img\b[^>]*>", html_page)
        assert len(tags) == count
        for tag in tags:
            assert re.search(r'\balt="[^"]{20,}"', tag) and re.search(r'\bwidth="\d+"', tag)
            assert re.search(r'\bheight="\d+"', tag) and 'src="cid:' in tag
    with pytest.raises(ValueError, match="trends"):
        render_report_html(context, {"value_items": "value_items.png"})


def test_kept_decisions_give_the_same_report_and_follow_the_marts(warehouse: Path, tmp_path: Path) -> None:
    """What each year may show is kept between runs (report_figures.ProtectionCache): kept or decided
    again, the context is the same; a year whose marts changed is decided again; a damaged entry is
    ignored."""
    folder = tmp_path / "kept"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        fresh = load_report_context(con, YEAR, K, META)
        first = load_report_contexts(con, [YEAR], K, {YEAR: META}, cache_dir=folder)[YEAR]
        again = load_report_contexts(con, [YEAR], K, {YEAR: META}, cache_dir=folder)[YEAR]
    assert fresh == first == again
    assert sorted(p.name for p in folder.iterdir()) == ["2019.json", "2020.json"]
    (folder / "2019.json").write_text("{not json", encoding="utf-8")
    copy = tmp_path / "changed.duckdb"
    copy.write_bytes(warehouse.read_bytes())
    with duckdb.connect(str(copy)) as con:
        # 2 fewer non-mentors of 2020 gave "not enough time" as a reason: 28 of 50.
        con.execute(
            "update marts.nonparticipation_reasons set n = 28, proportion = 0.56 "
            "where survey_year = 2020 and reason_code = 1"
        )
        changed = load_report_contexts(con, [YEAR], K, {YEAR: META}, cache_dir=folder)[YEAR]
        expected = load_report_context(con, YEAR, K, META)
    assert changed == expected != fresh
    assert json.loads((folder / "2019.json").read_text(encoding="utf-8"))["key"]  # written again


def test_marts_that_contradict_each_other_are_refused_with_what_to_do(
    warehouse: Path, tmp_path: Path
) -> None:
    """An answer distribution that does not add up to its share (a warehouse half rebuilt, say) gives
    no report and a message naming the year and what to do, not a traceback from the engine."""
    copy = tmp_path / "broken.duckdb"
    copy.write_bytes(warehouse.read_bytes())
    with duckdb.connect(str(copy)) as con:
        con.execute(
            "update marts.item_distributions set n = n + 2 where survey_year = 2020 "
            "and metric_id = 'value_mentee' and cohort = 'mentor' and level = '5'"
        )
        with pytest.raises(ReportDataError, match=r"2020 contradict each other .*ssm run --year 2020"):
            load_report_context(con, YEAR, K, META)


def test_the_report_vocabulary_is_the_codebook() -> None:
    """Issue 16: the report's labels are read from schemas/codebook.yaml, not written out again."""
    from pipelines.lib.report import labels
    from schemas.codebook import codebook

    book = codebook()
    assert list(labels.METRICS) == list(book.metrics)
    assert tuple(m for m, metric in book.metrics.items() if metric.compared) == labels.VALUE_ITEMS
    assert "mentor_prepared" in labels.MENTOR_ITEMS and "mentor_prepared" not in labels.VALUE_ITEMS
    for metric_id, metric in labels.METRICS.items():
        entry = book.metrics[metric_id]
        assert (metric.label, metric.clause, metric.cohorts) == (entry.label, entry.clause, entry.cohorts)
        variable = book.variables[entry.variable]
        for year in (2018, 2025, 2026, 2030):
            assert metric.question_in(year) == variable.wording_in(year).question
        assert all(labels.LEVEL_NAMES[lv] for lv in metric.levels)
    assert labels.LEVEL_NAMES["2"] == "Disagree" and labels.LEVEL_NAMES["4"] == "Agree"
    assert labels.V1_COLUMN_VARIABLES["Q8_3"] == "value_mentor"
    assert labels.V1_COLUMN_VARIABLES["Q12"] == labels.V1_COLUMN_VARIABLES["Q12_3"] == "nonpart_reasons"
    assert labels.REASON_SHORT_LABELS[7] == "Schedule"
    assert labels.TESTED_LEVELS == {
        "gender": ("female", "male"),
        "specialty_group": ("primary_care", "surgical", "other"),
    }
    assert set(labels.INSTRUMENT_LABELS) == set(book.instruments)
    assert [code for _, code, *_ in labels.COHORTS_FLOW] == list(book.cohorts)
