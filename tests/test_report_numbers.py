"""Promise: every statistic a built report prints is the warehouse's, written as the report writes it.

Counts and shares are checked by tests/test_masking_recoverability.py (each against the marts, with
what hiding them means); here, for every built year, the figures computed from them: each share's
95% interval, the risk and odds ratios with their intervals and Fisher's p (in tables and in
sentences), the demographic tests and SMDs, the mean ages, each change from the previous year with
its p-value, and each trend test. Expected texts are formatted here from the marts, not by the
report's code.
"""

from __future__ import annotations

import html as html_lib
import re

import pytest

from tests.conftest import BUILT_YEARS, BuiltPipeline

EN_DASH, MINUS, NBSP = "\u2013", "\u2212", "\u00a0"
FIGURE = re.compile(
    r'<span data-fig="(\d{4}):([^"]+)">(.*?)</span>(?:<sup.*?</sup>)?(?:<span class="ci">(.*?)</span>)?', re.S
)


def signed(text: str) -> str:
    return text.replace("-", MINUS)


def ratio(value: float) -> str:
    return signed(f"{value:.2f}")


def p_table(p: float) -> str:
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def p_words(p: float) -> str:
    return f"p{NBSP}<{NBSP}0.001" if p < 0.001 else f"p{NBSP}={NBSP}{p:.3f}"


def interval(low: float, high: float, percent: bool) -> str:
    if percent:
        return f"{100 * low:.1f}{EN_DASH}{100 * high:.1f}%"
    return f"{ratio(low)}{EN_DASH}{ratio(high)}"


@pytest.fixture(scope="module", params=BUILT_YEARS)
def printed(
    request, built_pipeline: BuiltPipeline
) -> tuple[int, list[tuple[int, str, str, str | None]], BuiltPipeline]:
    year = request.param
    page = (built_pipeline.root / "reports" / str(year) / "report.html").read_text("utf-8")
    found = [
        (int(y), name, html_lib.unescape(text).strip(), html_lib.unescape(ci).strip() if ci else None)
        for y, name, text, ci in FIGURE.findall(page)
    ]
    assert found, "the report tags no figure"
    return year, found, built_pipeline


def rows(built: BuiltPipeline, sql: str) -> list[dict]:
    return built.frame(sql).to_dict("records")


def test_intervals_of_shares(printed) -> None:
    """A share printed with an interval prints the Wilson interval of the marts (metric_trends)."""
    year, found, built = printed
    trends = {
        (r["survey_year"], r["metric_id"], r["cohort"]): r
        for r in rows(built, "select * from marts.metric_trends")
    }
    checked = 0
    for y, name, text, ci in found:
        match = re.fullmatch(r"(\w+)\.(all|mentor|non_mentor)\.yes/\1\.\2\.answered", name)
        if not match or ci is None or not ci.startswith("95% CI"):
            continue
        row = trends[(y, match[1], match[2])]
        assert text == f"{100 * row['numerator'] / row['denominator']:.1f}%", (year, y, name)
        assert ci == f"95% CI {interval(row['ci_low'], row['ci_high'], True)}", (y, name, ci)
        checked += 1
    assert checked


def test_ratios_tests_changes_and_trends(printed) -> None:
    """Every statistic figure: the marts' value in the report's format; "not shown" or "no data" else."""
    year, found, built = printed
    comparisons = {
        (r["survey_year"], r["metric_id"]): r for r in rows(built, "select * from marts.cohort_comparisons")
    }
    balance = {
        (r["survey_year"], r["characteristic"]): r
        for r in rows(built, "select * from marts.demographic_balance")
    }
    trends = {
        (r["survey_year"], r["metric_id"], r["cohort"]): r
        for r in rows(built, "select * from marts.metric_trends")
    }
    tests = {
        (r["last_year"], r["metric_id"], r["cohort"]): r
        for r in rows(built, "select * from marts.metric_trend_tests")
    }
    ages = {
        (r["survey_year"], r["cohort"], r["level"]): r
        for r in rows(built, "select * from marts.demographics_by_cohort where characteristic = 'age'")
    }
    seen = set()
    for y, name, text, _ in found:
        if text in ("not shown", "no data"):
            continue
        base, _, part = name.partition("#")
        kind = base.split(".")[0]
        if kind == "ratio":
            c = comparisons[(y, base.split(".")[1])]
            expected = {
                "rr": f"{ratio(c['risk_ratio'])} ({interval(c['rr_ci_low'], c['rr_ci_high'], False)})",
                "or": f"{ratio(c['odds_ratio'])} ({interval(c['or_ci_low'], c['or_ci_high'], False)})",
                "p": p_table(c["p_value"]),
                "rr-words": ratio(c["risk_ratio"]),
                "p-words": p_words(c["p_value"]),
            }[part]
        elif kind == "balance":
            b = balance[(y, base.split(".")[1])]
            statistic = (
                f"\u03c7\u00b2 = {b['statistic']:.2f}"
                if b["test"] == "chi_square"
                else signed(f"t = {b['statistic']:.2f}")
            )
            expected = {"p": p_words(b["p_value"]), "smd": signed(f"{b['smd']:.2f}"), "statistic": statistic}[
                part
            ]
        elif kind == "change" and base != "change.response_rate":
            _, metric, cohort = base.split(".")
            t = trends[(y, metric, cohort)]
            expected = (
                signed(f"{100 * t['change_vs_prior']:+.1f} points") + f" ({p_words(t['p_value_vs_prior'])})"
            )
        elif kind == "trend":
            _, metric, cohort = base.split(".")
            t = tests[(y, metric, cohort)]
            words = "no clear trend" if t["p_value"] >= 0.05 else ("rising" if t["z"] > 0 else "falling")
            z_text = signed(f"z = {t['z']:.2f}")
            expected = f"{words}: {z_text}, {p_words(t['p_value'])}" if ":" in text else words
        elif kind == "age" and base.endswith(".mean"):
            _, cohort, _ = base.split(".")
            mean, sd = ages[(y, cohort, "mean")], ages[(y, cohort, "sd")]
            expected = f"{mean['value']:.1f} ({sd['value']:.1f})"
        else:
            continue
        assert text == expected, f"report {year}: {y}:{name} prints {text!r}, the marts give {expected!r}"
        seen.add(kind)
    assert {"ratio", "balance", "trend"} <= seen or year == BUILT_YEARS[0], seen
