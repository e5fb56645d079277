"""Promise (issue 5): every number a built report shows is the warehouse's number, and every number
§9 says to hide is hidden. For each survey year the pipeline built, the figures in reports/<year>/
report.html are read back from the HTML and compared with the marts, formatted and masked here by the
test's own reading of §9 (k = 5): a count 1..k-1 is never shown, a share whose numerator or complement
is 1..k-1 is never shown, a ratio with a small cell is never shown, a denominator of 0 is "no data".
"""

from __future__ import annotations

import html as html_lib
import re

import pytest

from tests.conftest import BUILT_YEARS, BuiltPipeline

K = 5
VALUE_ITEMS = {
    "value_distinct": "SSM has a value of its own",
    "value_mentee": "Being a mentee is beneficial",
    "value_mentor": "Being a mentor is valuable",
}
COHORT_ROWS = {"All respondents": "all", "Mentors": "mentor", "Non-mentors": "non_mentor"}
EN_DASH, MINUS = "\u2013", "\u2212"
MASKED = {"\u2014", f"<{K}"}  # an em dash, or "<k"


def small(n: int) -> bool:
    return 1 <= n <= K - 1


def clean(cell: str) -> str:
    """The visible text of a table cell, without footnote markers and without the interval span."""
    cell = re.sub(r"<sup.*?</sup>", "", cell, flags=re.S)
    cell = re.sub(r'<span class="ci">.*?</span>', "", cell, flags=re.S)
    return html_lib.unescape(re.sub(r"<[^>]+>", "", cell)).strip()


def interval(cell: str) -> str | None:
    found = re.search(r'<span class="ci">(.*?)</span>', cell, flags=re.S)
    return html_lib.unescape(re.sub(r"<[^>]+>", "", found.group(1))).strip() if found else None


def section(report: str, start_id: str, end_id: str) -> str:
    return report[report.index(f'id="{start_id}"') : report.index(f'id="{end_id}"')]


def table_after(text: str, heading: str) -> str:
    start = text.index(f"<h3>{heading}</h3>")
    return text[start : text.index("</table>", start)]


def percent(p: float) -> str:
    return f"{100 * p:.1f}%"


def expected_share(row: dict) -> tuple[str, str | None]:
    numerator, denominator = row["numerator"], row["denominator"]
    if denominator == 0:
        return "no data", None
    if small(numerator) or small(denominator - numerator):
        return "\u2014", None
    return percent(row["proportion"]), f"95% CI {100 * row['ci_low']:.1f}{EN_DASH}{100 * row['ci_high']:.1f}%"


def check_count(shown: str, value: int, where: str) -> None:
    if small(value):
        assert shown in MASKED, f"{where}: {value} is below {K} but shown as {shown!r}"
    elif shown not in MASKED:
        assert shown == str(value), f"{where}: report shows {shown!r}, warehouse has {value}"


def ratio(value: float) -> str:
    return f"{value:.2f}".replace("-", MINUS)


@pytest.fixture(scope="module", params=BUILT_YEARS)
def year_report(request, built_pipeline: BuiltPipeline) -> tuple[int, str, BuiltPipeline]:
    year = request.param
    return (
        year,
        (built_pipeline.root / "reports" / str(year) / "report.html").read_text("utf-8"),
        built_pipeline,
    )


def summary_rows(built: BuiltPipeline, year: int) -> dict[tuple[str, str], dict]:
    frame = built.frame(f"select * from marts.metric_summary where survey_year = {year}")
    return {(r["metric_id"], r["cohort"]): r for r in frame.to_dict("records")}


def test_population_flow(year_report) -> None:
    year, report, built = year_report
    (funnel,) = built.frame(f"select * from marts.response_funnel where survey_year = {year}").to_dict(
        "records"
    )
    flow = section(report, "study-population", "demographics")
    boxes = {
        "Graduating class of": funnel["class_size"],
        "Survey responses received": funnel["received"],
        "Respondents": funnel["respondents"],
    }
    for label, value in boxes.items():
        shown = clean(re.search(rf"{label}.*?<strong>(.*?)</strong>", flow, flags=re.S).group(1))
        check_count(shown, value, f"{year} {label}")
    cohorts = {
        "Mentors": "mentors",
        "Non-mentors": "non_mentors",
        "Informal only": "informal",
        "Unclassified": "unclassified",
    }
    for label, column in cohorts.items():
        shown = clean(re.search(rf">{label}<br>\s*<strong>(.*?)</strong>", flow, flags=re.S).group(1))
        check_count(shown, funnel[column], f"{year} {label}")
    exclusions = {"Preview, test or spam": "preview", "Not finished": "incomplete", "Did not consent": "no_consent",
                  "Duplicate": "duplicate", "Unreadable": "rejected"}  # fmt: skip
    for label, column in exclusions.items():
        shown = clean(re.search(rf"{label}: (.*?)<br>", flow).group(1))
        check_count(shown, funnel[column], f"{year} {label}")
    if funnel["class_size"]:
        assert f"response rate {percent(funnel['response_rate'])}" in flow


def test_value_items_and_ratios(year_report) -> None:
    year, report, built = year_report
    summary = summary_rows(built, year)
    comparisons = {
        r["metric_id"]: r
        for r in built.frame(f"select * from marts.cohort_comparisons where survey_year = {year}").to_dict(
            "records"
        )
    }
    items = section(report, "value-items", "mentors-experience")
    for metric, title in VALUE_ITEMS.items():
        table = table_after(items, title)
        for label, cohort in COHORT_ROWS.items():
            cells = re.search(
                rf"<td>{label}</td>\s*<td class=\"num\">(.*?)</td>\s*<td class=\"num\">(.*?)</td>\s*"
                rf"<td class=\"num\">(.*?)</td>",
                table,
                flags=re.S,
            ).groups()
            row = summary[(metric, cohort)]
            where = f"{year} {metric} {cohort}"
            check_count(clean(cells[1]), row["denominator"], f"{where} answered")
            agreed = clean(cells[0])
            check_count(agreed, row["numerator"], f"{where} agreed")
            if small(row["denominator"] - row["numerator"]):  # agreed and answered would give the complement
                assert agreed in MASKED or clean(cells[1]) in MASKED, where
            share, ci = expected_share(row)
            assert clean(cells[2]) == share, where
            assert interval(cells[2]) == ci, where
        c = comparisons[metric]
        cells4 = (
            c["mentor_yes"],
            c["mentor_n"] - c["mentor_yes"],
            c["non_mentor_yes"],
            c["non_mentor_n"] - c["non_mentor_yes"],
        )
        shown = {
            name: clean(re.search(rf"{name}.*?<td class=\"num\">(.*?)</td>", table, flags=re.S).group(1))
            for name in ("Risk ratio", "Odds ratio", "Fisher's exact test")
        }
        if c["mentor_n"] == 0 or c["non_mentor_n"] == 0:
            assert set(shown.values()) <= {"no data", "\u2014"}, (year, metric, shown)
        elif any(small(n) for n in cells4):
            assert set(shown.values()) == {"\u2014"}, (year, metric, shown)
        else:
            assert (
                shown["Risk ratio"]
                == f"{ratio(c['risk_ratio'])} (95% CI {ratio(c['rr_ci_low'])}{EN_DASH}{ratio(c['rr_ci_high'])})"
            )
            assert (
                shown["Odds ratio"]
                == f"{ratio(c['odds_ratio'])} (95% CI {ratio(c['or_ci_low'])}{EN_DASH}{ratio(c['or_ci_high'])})"
            )
            p = c["p_value"]
            assert shown["Fisher's exact test"] == ("<0.001" if p < 0.001 else f"{p:.3f}")


def test_mentors_experience(year_report) -> None:
    year, report, built = year_report
    summary = summary_rows(built, year)
    experience = section(report, "mentors-experience", "reasons")
    rows = re.findall(
        r"<tr>\s*<td>.*?</td>\s*<td class=\"num\">(.*?)</td>\s*<td class=\"num\">(.*?)</td>\s*<td class=\"num\">(.*?)</td>",
        experience,
        flags=re.S,
    )
    assert len(rows) == 2
    for (agreed, answered, share_cell), metric in zip(
        rows, ("mentor_again", "mentor_worthwhile"), strict=True
    ):
        row = summary[(metric, "mentor")]
        check_count(clean(answered), row["denominator"], f"{year} {metric} answered")
        check_count(clean(agreed), row["numerator"], f"{year} {metric} yes")
        share, ci = expected_share(row)
        assert clean(share_cell) == share and interval(share_cell) == ci, (year, metric)


def test_reasons(year_report) -> None:
    year, report, built = year_report
    reasons = built.frame(
        f"select * from marts.nonparticipation_reasons where survey_year = {year} order by reason_code"
    )
    text = section(report, "reasons", "trends")
    for row in reasons.to_dict("records"):
        label = html_lib.escape(row["reason_label"], quote=True).replace("&#x27;", "&#39;")
        count, share = re.search(
            rf"<td>{re.escape(label)}</td>\s*<td class=\"num\">(.*?)</td>\s*<td class=\"num\">(.*?)</td>",
            text,
            flags=re.S,
        ).groups()
        where = f"{year} reason {row['reason_code']}"
        check_count(clean(count), row["n"], where)
        if small(row["n"]) or small(row["denominator"] - row["n"]):
            assert clean(share) in MASKED, where
        elif clean(share) not in MASKED:
            assert clean(share) == percent(row["proportion"]), where
    if not reasons.empty:
        denominator = int(reasons["denominator"].iloc[0])
        if not small(denominator):
            assert f"Shares are of the {denominator}\nnon-mentors" in text or f"of the {denominator} " in text
