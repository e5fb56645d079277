"""Tests for the yearly report: small-cell masking, wording, escaping, sections, numbers and charts.

The warehouse here is a small hand-made DuckDB with the §8 marts columns. Every expected figure is
computed in this file from the raw counts below (statsmodels for the Wilson interval, scipy for
Fisher's test, the Katz and Woolf formulas written out), never copied from the report's output.
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

from pipelines.lib import masking
from pipelines.lib.charts import render_charts
from pipelines.lib.rendering import SUBJECT_MAX, email_subject, render_report_html, render_text_summary
from pipelines.lib.report_data import ReportDataError, load_report_context

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
    (2019, "value_distinct", "all"): (95, 105),
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
]

SECTION_HEADINGS = [
    "Key findings",
    "Study population",
    "Demographics by cohort",
    "Value of student/student mentoring, by cohort",
    "Mentors' experience",
    "Reasons for not taking part",
    "Trends over the years",
    "Appendix A: Data quality",
    "Appendix B: Methods and definitions",
]


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


def build_warehouse(path: Path) -> None:
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute("""create table marts.response_funnel (survey_year integer, class_size integer, received bigint,
        preview bigint, incomplete bigint, no_consent bigint, duplicate bigint, rejected bigint, respondents bigint,
        response_rate double, mentors bigint, non_mentors bigint, informal bigint, unclassified bigint,
        instrument_version varchar, source_sha256 varchar)""")
    f = FUNNEL_2020
    con.executemany(
        "insert into marts.response_funnel values (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        [
            (2019, 150, 110, 2, 3, 0, 0, 0, 105, 105 / 150, 40, 50, 15, 0, "v1", "1" * 64),
            (
                2020,
                f["class_size"],
                f["received"],
                f["preview"],
                f["incomplete"],
                f["no_consent"],
                f["duplicate"],
                f["rejected"],
                f["respondents"],
                f["respondents"] / f["class_size"],
                f["mentors"],
                f["non_mentors"],
                f["informal"],
                f["unclassified"],
                "v2",
                SHA,
            ),
        ],
    )

    con.execute("""create table marts.metric_summary (survey_year integer, metric_id varchar, cohort varchar,
        numerator bigint, denominator bigint, proportion double, ci_low double, ci_high double)""")
    con.execute("""create table marts.metric_trends (survey_year integer, metric_id varchar, cohort varchar,
        numerator bigint, denominator bigint, proportion double, ci_low double, ci_high double,
        change_vs_prior double, p_value_vs_prior double)""")
    for (year, metric, cohort), (x, n) in COUNTS.items():
        low, high = wilson(x, n)
        proportion = x / n if n else None
        con.execute(
            "insert into marts.metric_summary values (?,?,?,?,?,?,?,?)",
            [year, metric, cohort, x, n, proportion, low, high],
        )
        change = p_prior = None
        prior = COUNTS.get((year - 1, metric, cohort))
        if prior and prior[1] and n:
            change = x / n - prior[0] / prior[1]
            p_prior = float(sps.fisher_exact([[x, n - x], [prior[0], prior[1] - prior[0]]]).pvalue)
        con.execute(
            "insert into marts.metric_trends values (?,?,?,?,?,?,?,?,?,?)",
            [year, metric, cohort, x, n, proportion, low, high, change, p_prior],
        )

    con.execute("""create table marts.cohort_comparisons (survey_year bigint, metric_id varchar, mentor_yes bigint,
        mentor_n bigint, non_mentor_yes bigint, non_mentor_n bigint, risk_ratio double, rr_ci_low double,
        rr_ci_high double, odds_ratio double, or_ci_low double, or_ci_high double, p_value double,
        zero_cell_corrected boolean)""")
    for metric in ("value_distinct", "value_mentee", "value_mentor"):
        a, n1 = COUNTS[(YEAR, metric, "mentor")]
        c, n2 = COUNTS[(YEAR, metric, "non_mentor")]
        if n2 == 0:
            row = [YEAR, metric, a, n1, c, n2] + [None] * 7 + [False]
        else:
            s = katz_woolf(a, n1 - a, c, n2 - c)
            row = [
                YEAR,
                metric,
                a,
                n1,
                c,
                n2,
                s["rr"],
                s["rr_low"],
                s["rr_high"],
                s["or"],
                s["or_low"],
                s["or_high"],
                s["p"],
                False,
            ]
        con.execute("insert into marts.cohort_comparisons values (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", row)

    con.execute("""create table marts.demographic_balance (survey_year bigint, characteristic varchar, test varchar,
        statistic double, p_value double, smd double)""")
    con.executemany(
        "insert into marts.demographic_balance values (?,?,?,?,?,?)",
        [
            (YEAR, "gender", "fisher_exact", None, 0.5123, 0.1234),
            (YEAR, "age", "welch_t", -1.2345, 0.2201, -0.2468),
            (YEAR, "specialty_group", "chi_square", 1.5, 0.4724, 0.2),
        ],
    )

    con.execute("""create table marts.demographics_by_cohort (survey_year integer, characteristic varchar,
        level varchar, cohort varchar, n bigint, proportion double, value double)""")
    gender = {
        "mentor": {"female": 25, "male": 18, "nonbinary_or_other": 2, "not_reported": 0},
        "non_mentor": {"female": 30, "male": 22, "nonbinary_or_other": 0, "not_reported": 0},
    }
    specialty = {
        "mentor": {"primary_care": 15, "surgical": 12, "other": 18, "not_matched": 0},
        "non_mentor": {"primary_care": 20, "surgical": 14, "other": 18, "not_matched": 0},
    }
    for characteristic, table in (("gender", gender), ("specialty_group", specialty)):
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
            (YEAR, "age", "mean", "non_mentor", 52, None, 27.96),
            (YEAR, "age", "sd", "non_mentor", 52, None, 2.64),
        ],
    )

    con.execute("""create table marts.nonparticipation_reasons (survey_year integer, reason_code integer,
        reason_label varchar, n bigint, denominator bigint, proportion double)""")
    for code, label, n in REASONS_2020:
        con.execute(
            "insert into marts.nonparticipation_reasons values (?,?,?,?,?,?)",
            [YEAR, code, label, n, 50, n / 50],
        )

    con.execute("""create table marts.metric_trend_tests (metric_id varchar, cohort varchar, first_year bigint,
        last_year bigint, years bigint, z double, p_value double)""")
    for metric in ("value_distinct", "value_mentee", "value_mentor", "mentor_again", "mentor_worthwhile"):
        for cohort in ("all", "mentor", "non_mentor"):
            # One row per year the test runs up to (spec §8 rev 2). The 2021 row, a year loaded after
            # the report's, must not reach the 2020 report.
            con.executemany(
                "insert into marts.metric_trend_tests values (?,?,?,?,?,?,?)",
                [
                    [metric, cohort, 2019, 2019, 1, None, None],
                    [metric, cohort, 2019, 2020, 2, 1.2345, 0.2172],
                    [metric, cohort, 2019, 2021, 3, 9.8765, 0.0001],
                ],
            )

    con.execute("""create table marts.data_quality_issues (delivery varchar, survey_year integer, row_number integer,
        "column" varchar, original_value varchar, rule varchar)""")
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


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("warehouse") / "warehouse.duckdb"
    build_warehouse(path)
    return path


@pytest.fixture(scope="module")
def context(warehouse: Path) -> dict:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return load_report_context(con, YEAR, K, META)
    finally:
        con.close()


@pytest.fixture(scope="module")
def report_html(context: dict) -> str:
    return render_report_html(context, {"value_items": "value_items.png", "trends": "trends.png"})


def visible_text(page: str) -> str:
    """The page's text with one line per block element, entities decoded."""
    body = re.sub(r"<style.*?</style>", "", page, flags=re.S)
    body = re.sub(r"<(br|/p|/li|/td|/th|/tr|/dt|/dd|/h[1-6]|/div)\b[^>]*>", "\n", body)
    body = re.sub(r"<[^>]+>", "", body)
    return html_lib.unescape(body)


def sentences(page: str) -> list[str]:
    out = []
    for line in visible_text(page).splitlines():
        out.extend(s.strip() for s in re.split(r"(?<=[.!?])\s+", line) if s.strip())
    return out


# --------------------------------------------------------------------------------------------------
# masking rules
# --------------------------------------------------------------------------------------------------


def test_mask_count_shows_zero_masks_small_and_shows_k() -> None:
    assert masking.mask_count(0, K).text == "0" and not masking.mask_count(0, K).masked
    for n in range(1, K):
        assert masking.mask_count(n, K) == masking.Cell(f"<{K}", masked=True)
    assert masking.mask_count(K, K).text == str(K) and not masking.mask_count(K, K).masked
    assert masking.mask_count(None, K).no_data


def test_mask_percent_masks_numerator_and_complement() -> None:
    # 2 of 45 and 43 of 45 describe the same small group: both must be hidden.
    assert masking.mask_percent(2, 45, K).masked
    assert masking.mask_percent(43, 45, K).masked
    assert masking.mask_percent(5, 45, K).text == pct(5, 45)
    assert masking.mask_percent(40, 45, K).text == pct(40, 45)
    assert masking.mask_percent(0, 45, K).text == pct(0, 45)  # nobody agreeing identifies nobody
    assert masking.mask_percent(45, 45, K).text == pct(45, 45)
    zero = masking.mask_percent(0, 0, K)
    assert zero.text == "no data" and zero.no_data and not zero.masked


def test_ratio_masked_when_any_cell_is_small() -> None:
    assert not masking.ratio_masked(38, 7, 24, 28, K)
    assert masking.ratio_masked(43, 2, 49, 3, K)
    assert masking.ratio_masked(5, 5, 4, 10, K)
    assert not masking.ratio_masked(0, 45, 10, 40, K)  # a zero cell is not a small cell


def test_suppress_partition_hides_a_second_count_when_one_is_small() -> None:
    cells = masking.suppress_partition([6, 7, 2, 0, 0], K)
    assert [c.text for c in cells] == ["\u2014", "7", f"<{K}", "0", "0"]
    assert all(c.masked for c in (cells[0], cells[2]))
    # two small counts only reveal their sum: nothing more is hidden
    assert [c.text for c in masking.suppress_partition([30, 2, 3], K)] == ["30", f"<{K}", f"<{K}"]


def test_bad_k_is_refused() -> None:
    with pytest.raises(ValueError):
        masking.mask_count(3, 0)


# --------------------------------------------------------------------------------------------------
# context and HTML
# --------------------------------------------------------------------------------------------------


def test_every_section_heading_in_order(report_html: str) -> None:
    positions = [report_html.find(f">{heading}</h2>") for heading in SECTION_HEADINGS]
    assert all(p > 0 for p in positions), dict(zip(SECTION_HEADINGS, positions, strict=True))
    assert positions == sorted(positions)
    assert report_html.find("<h1>") < positions[0]
    assert report_html.rfind('class="footer"') > positions[-1]
    assert META["code_version"] in report_html and SHA in report_html


def test_risk_and_odds_ratio_wording_never_mixed(context: dict, report_html: str) -> None:
    found = {"likely": 0, "odds": 0}
    for sentence in sentences(report_html) + sentences(render_text_summary(context).replace("\n", " ")):
        low = sentence.lower()
        if "times as likely" in low:
            found["likely"] += 1
            assert "risk ratio" in low and "odds ratio" not in low, sentence
        if "times the odds" in low:
            found["odds"] += 1
            assert "odds ratio" in low and "risk ratio" not in low, sentence
    assert found["likely"] >= 2 and found["odds"] >= 2
    mentee = context["value_items"][1]["comparison"]["sentences"]
    assert "times as likely" in mentee[0]["text"] and "risk ratio" in mentee[0]["text"]
    assert "times the odds" in mentee[1]["text"] and "odds ratio" in mentee[1]["text"]


def test_text_from_tables_is_escaped(report_html: str) -> None:
    assert SCRIPT_LABEL not in report_html and "<script" not in report_html
    assert "&lt;script&gt;alert(" in report_html and "&lt;/script&gt; Other" in report_html
    assert EVIL_COLUMN not in report_html and "<img src=x" not in report_html
    assert "&lt;img src=x onerror=alert(1)&gt;" in report_html
    # ... and the reader still sees the text as written
    text = visible_text(report_html)
    assert SCRIPT_LABEL in text and EVIL_COLUMN in text
    assert "Was not aware of the program &amp; its aims" in report_html


def test_free_text_never_reaches_the_report(context: dict, report_html: str) -> None:
    dumped = json.dumps(context, ensure_ascii=False)
    summary = render_text_summary(context)
    for secret in (FREE_TEXT, "twenty six", "example.com", "older year issue", "ssm_survey_2020.csv"):
        assert secret not in dumped and secret not in report_html and secret not in summary


def test_population_numbers(context: dict, report_html: str) -> None:
    f = FUNNEL_2020
    population = context["population"]
    assert population["response_rate"]["text"] == pct(f["respondents"], f["class_size"])
    assert pct(f["respondents"], f["class_size"]) in report_html
    exclusions = {e["code"]: e["count"] for e in population["exclusions"]}
    assert exclusions["no_consent"] == {"text": f"<{K}", "masked": True, "no_data": False}
    # no_consent alone would be recoverable from the total, so the smallest other count is hidden too
    assert exclusions["preview"]["masked"] and exclusions["preview"]["text"] == "\u2014"
    assert exclusions["incomplete"]["text"] == str(f["incomplete"])
    excluded = f["received"] - f["respondents"]
    assert population["excluded_total"]["text"] == str(excluded)
    cohorts = {c["code"]: c["count"]["text"] for c in population["cohorts"]}
    # Respondents minus the other three cohorts would give the small unclassified count back, so the
    # informal count is hidden too (mentor and non-mentor sizes are shown all through the report).
    assert cohorts == {"mentor": "45", "non_mentor": "52", "informal": "\u2014", "unclassified": f"<{K}"}


def test_value_item_numbers_match_independent_computation(context: dict, report_html: str) -> None:
    a, n1 = COUNTS[(YEAR, "value_mentee", "mentor")]
    c, n2 = COUNTS[(YEAR, "value_mentee", "non_mentor")]
    expected = katz_woolf(a, n1 - a, c, n2 - c)
    mentee = context["value_items"][1]
    assert mentee["shares"][1]["text"] == f"{pct(a, n1)} ({ci_text(a, n1)})"
    assert mentee["shares"][2]["text"] == f"{pct(c, n2)} ({ci_text(c, n2)})"
    rr = f"{ratio(expected['rr'])} (95% CI {ratio(expected['rr_low'])}{EN_DASH}{ratio(expected['rr_high'])})"
    odds = (
        f"{ratio(expected['or'])} (95% CI {ratio(expected['or_low'])}{EN_DASH}{ratio(expected['or_high'])})"
    )
    assert mentee["comparison"]["risk_ratio"]["text"] == rr
    assert mentee["comparison"]["odds_ratio"]["text"] == odds
    for text in (pct(a, n1), ci_text(a, n1), pct(c, n2), ci_text(c, n2), rr, odds):
        assert text in report_html, text
    assert f"{ratio(expected['rr'])} times as likely" in report_html
    assert f"{ratio(expected['or'])} times the odds" in report_html
    x, n = COUNTS[(YEAR, "value_distinct", "all")]
    assert context["value_items"][0]["shares"][0]["text"] == f"{pct(x, n)} ({ci_text(x, n)})"
    assert f"{pct(x, n)} of all respondents ({x} of {n})" in report_html and ci_text(x, n) in report_html


def test_small_cells_are_masked_in_the_report(context: dict, report_html: str) -> None:
    distinct = context["value_items"][0]
    mentor, non_mentor = distinct["shares"][1], distinct["shares"][2]
    assert mentor["masked"] and non_mentor["masked"]
    assert mentor["count"]["masked"] and mentor["n"]["text"] == "45"
    comparison = distinct["comparison"]
    assert comparison["masked"] and all(
        comparison[k]["masked"] for k in ("risk_ratio", "odds_ratio", "p_value")
    )
    assert "times as likely" not in " ".join(s["text"] for s in comparison["sentences"])
    for x, n in (COUNTS[(YEAR, "value_distinct", "mentor")], COUNTS[(YEAR, "value_distinct", "non_mentor")]):
        for hidden in (pct(x, n), pct(n - x, n), ci_text(x, n), ci_text(n - x, n)):
            assert not re.search(r"(?<![\d.])" + re.escape(hidden), report_html), hidden
    a, n1 = COUNTS[(YEAR, "value_distinct", "mentor")]
    c, n2 = COUNTS[(YEAR, "value_distinct", "non_mentor")]
    assert ratio(katz_woolf(a, n1 - a, c, n2 - c)["rr"]) + " (" not in report_html
    worthwhile = context["mentor_experience"][1]["share"]
    assert worthwhile["masked"] and not re.search(r"(?<![\d.])" + re.escape(pct(42, 45)), report_html)
    # every masked value carries the footnote marker, and the footnote explains "<k"
    assert context["any_masked"]
    assert 'id="fn-small-cells"' in report_html and f"shown as “&lt;{K}”" in report_html
    assert report_html.count('href="#fn-small-cells"') >= 10


def test_zero_denominator_is_no_data(context: dict) -> None:
    mentor_item = context["value_items"][2]
    assert mentor_item["shares"][2]["text"] == "no data" and mentor_item["shares"][2]["no_data"]
    assert (
        mentor_item["comparison"]["no_data"] and mentor_item["comparison"]["risk_ratio"]["text"] == "no data"
    )
    assert not mentor_item["comparison"]["masked"]


def test_no_data_cells_carry_the_reason(context: dict, report_html: str) -> None:
    """Issue 4: a null figure comes with a visible reason, a footnote linked from every "no data" cell."""
    assert context["any_no_data"]
    assert 'id="fn-no-data"' in report_html and "the denominator is 0" in report_html
    shown_no_data = report_html.count("no data<sup")
    assert shown_no_data >= 1 and report_html.count('href="#fn-no-data"') >= shown_no_data


def test_demographics(context: dict, report_html: str) -> None:
    gender = context["demographics"]["characteristics"][0]
    rows = {row["label"]: row["cells"] for row in gender["rows"]}
    assert rows["Female"][1]["text"] == f"30 ({pct(30, 52)})"
    assert rows["Female"][0]["text"] == f"25 ({pct(25, 45)})"
    assert rows["Non-binary or other"][0]["text"] == f"<{K}"
    assert rows["Male"][0]["masked"]  # complementary suppression within the mentors' column
    # With the male mentors hidden, the p-value and SMD would pin their count: the test is hidden too.
    assert gender["test"]["masked"] and gender["test"]["p_value"]["text"] == "\u2014"
    age = context["demographics"]["characteristics"][1]
    assert age["rows"][0]["cells"][0]["text"] == f"{27.31:.1f} ({2.2:.1f})"
    assert age["test"]["statistic"]["text"] == f"t = {MINUS}1.23"
    assert age["test"]["smd"]["text"] == f"{MINUS}0.25"
    assert "Welch&#39;s t-test" in report_html and "Fisher&#39;s exact test" in report_html


def test_demographic_test_is_masked_when_its_table_has_a_small_cell(warehouse: Path, tmp_path: Path) -> None:
    copy = tmp_path / "w.duckdb"
    copy.write_bytes(warehouse.read_bytes())
    con = duckdb.connect(str(copy))
    con.execute(
        "update marts.demographics_by_cohort set n = 3 where level = 'male' and cohort = 'non_mentor'"
    )
    context = load_report_context(con, YEAR, K, META)
    con.close()
    gender = context["demographics"]["characteristics"][0]
    assert gender["test"]["masked"] and gender["test"]["p_value"]["masked"]


def test_reasons(context: dict, report_html: str) -> None:
    rows = {r["code"]: r for r in context["reasons"]["rows"]}
    assert rows[1]["percent"]["text"] == pct(30, 50) and pct(30, 50) in report_html
    assert rows[4]["count"]["text"] == f"<{K}" and rows[4]["percent"]["masked"]
    assert rows[5]["count"]["text"] == "5" and rows[5]["percent"]["text"] == pct(5, 50)
    assert rows[6]["count"]["text"] == "0"


def test_trends(context: dict, report_html: str) -> None:
    mentee = next(m for m in context["trends"]["metrics"] if m["metric_id"] == "value_mentee")
    (x1, n1), (x2, n2) = COUNTS[(2019, "value_mentee", "mentor")], COUNTS[(2020, "value_mentee", "mentor")]
    p = float(sps.fisher_exact([[x2, n2 - x2], [x1, n1 - x1]]).pvalue)
    change = f"{100 * (x2 / n2 - x1 / n1):+.1f} points".replace("-", MINUS)
    cell = mentee["rows"][1]["cells"][1]
    assert cell["change"]["text"] == f"{change} (p\u00a0=\u00a0{p:.3f})"
    assert change in report_html
    assert mentee["rows"][0]["cells"][1]["change"]["text"] == "first year"
    # value_distinct 2020 mentors are masked, so their change and trend test are masked too
    distinct = next(m for m in context["trends"]["metrics"] if m["metric_id"] == "value_distinct")
    assert distinct["rows"][1]["cells"][1]["change"]["masked"]
    assert distinct["tests"][1]["masked"] and not distinct["tests"][0]["masked"]
    # the tests as they stood in 2020 (last_year = 2020), not those that include 2021
    assert all(t["last_year"] == 2020 and not t["covers_later_years"] for t in mentee["tests"])
    assert all("1.23" in t["text"] for t in mentee["tests"]) and "9.88" not in report_html
    assert context["trends"]["later_years_note"] == ""
    assert context["trends"]["years"] == [2019, 2020]


def test_data_quality_counted_by_rule_and_column(context: dict) -> None:
    rows = {(r["rule"], r["column"]): r["count"]["text"] for r in context["data_quality"]["rows"]}
    assert rows == {
        ("not_an_integer", "Q3 (age)"): "6",
        ("not_an_integer", "age"): f"<{K}",
        ("unknown_label", EVIL_COLUMN): f"<{K}",
    }
    assert context["data_quality"]["total"]["text"] == "8"


def test_missing_year_and_meta_are_explained(warehouse: Path) -> None:
    con = duckdb.connect(str(warehouse), read_only=True)
    with pytest.raises(ReportDataError, match="ssm run --year 2031"):
        load_report_context(con, 2031, K, META)
    with pytest.raises(ValueError, match="code_version"):
        load_report_context(con, YEAR, K, {"source_sha256": SHA})
    con.close()


def test_context_is_plain_data(context: dict) -> None:
    assert json.loads(json.dumps(context)) == context
    assert context["meta"] == META


def test_text_summary(context: dict) -> None:
    text = render_text_summary(context, attachment_name="ssm_report_2020.pdf")
    assert text.startswith(context["title"])
    assert pct(FUNNEL_2020["respondents"], FUNNEL_2020["class_size"]) in text
    assert "The full report is attached as a PDF (ssm_report_2020.pdf)" in " ".join(text.split())
    assert not re.search(r"<[A-Za-z/!]", text) and "&lt;" not in text  # plain text: no markup
    assert all(len(line) <= 80 for line in text.splitlines() if " " in line.strip())


def test_email_subject_carries_the_headline() -> None:
    """The subject: "SSM survey <year>: <headline>", at most SUBJECT_MAX characters on one line;
    without a headline, the subject of old. Too long, the headline keeps its first clauses whole."""
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
    # A line break or control character in the headline never reaches the header.
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
    assert set(images) == {"value_items", "trends"}
    for name, image in images.items():
        assert image.path.exists() and image.path.suffix == ".png"
        assert png_size(image.path) == (2 * image.width, 2 * image.height)
        assert image.alt == context["charts"][name]["alt"] and len(image.alt) > 40
    # masked points are absent from the plotted data and announced in the alt text
    point = context["chart_data"]["value_items"][0]["points"]["mentor"]
    assert point["proportion"] is None and not point["shown"]
    assert "Mentors not shown (small group)" in images["value_items"].alt.replace("mentors", "Mentors")
    assert "small groups" in images["trends"].alt
    # deterministic bytes
    again = render_charts(context, tmp_path / "b")
    for name in images:
        assert images[name].path.read_bytes() == again[name].path.read_bytes()


def test_every_img_has_alt_width_height(context: dict) -> None:
    page = render_report_html(context, {"value_items": "cid:value_items", "trends": "cid:trends"})
    tags = re.findall(r"<img\b[^>]*>", page)
    assert len(tags) == 2
    for tag in tags:
        assert re.search(r'\balt="[^"]{20,}"', tag) and re.search(r'\bwidth="\d+"', tag)
        assert re.search(r'\bheight="\d+"', tag) and 'src="cid:' in tag
    with pytest.raises(ValueError, match="trends"):
        render_report_html(context, {"value_items": "value_items.png"})


def test_trend_years_keeps_the_latest_rows_for_the_email_body(context: dict, report_html: str) -> None:
    images = {"value_items": "cid:value_items", "trends": "cid:trends"}
    short = render_report_html(context, images, trend_years=1)
    assert "first year" in report_html and "first year" not in short
    assert "only the latest 1 survey year; earlier years (2019) are in the chart" in short
    assert context["trends"]["omitted_years_note"] == ""  # the caller's context is not changed
