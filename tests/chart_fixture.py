"""A realistic ``context["chart_data"]`` in the shape report_data produces (spec §9 rev 2), for the
chart tests: the report of survey year 2026 over 2016-2026, with every kind of point.

What it holds, so a test can look for it:

* value items (2026): a point at exactly 100% (mentors, "Being a mentor is valuable"), a lower bound
  ("more than 95%", mentors, "SSM has a value of its own"), a masked point (non-mentors, "Being a
  mentee is beneficial");
* trends: 2017 has no delivery ("no data" everywhere); "Being a mentor is valuable" changed its wording
  in 2026 (breaks [2026]); lower and upper bounds, masked points, a point at 100% (2020, "Would mentor
  again") and a point at 0% (2022, non-mentors, "Being a mentor is valuable" -- an odd but possible
  year); mentor-only items have one series;
* ratios: a masked year, a year without data, an interval with an infinite upper limit;
* participation: no class size in 2019 (no response rate), a masked share who mentored in 2021.

``single_year()`` is the first report ever: one survey year, so every point stands alone.
"""

from __future__ import annotations

import math
from typing import Any

YEARS = list(range(2016, 2027))
BREAK_YEAR = 2026
COHORTS = [
    {"code": "all", "label": "All respondents"},
    {"code": "mentor", "label": "Mentors"},
    {"code": "non_mentor", "label": "Non-mentors"},
]
VALUE_ITEMS = [
    ("value_distinct", "SSM has a value of its own"),
    ("value_mentee", "Being a mentee is beneficial"),
    ("value_mentor", "Being a mentor is valuable"),
]
MENTOR_ITEMS = [("mentor_again", "Would mentor again"), ("mentor_worthwhile", "Mentoring was worthwhile")]
GROUP_SIZE = {"all": 105, "mentor": 44, "non_mentor": 48}
BASE = {  # typical share agreeing by metric and cohort
    ("value_distinct", "all"): 0.92,
    ("value_distinct", "mentor"): 0.95,
    ("value_distinct", "non_mentor"): 0.89,
    ("value_mentee", "all"): 0.66,
    ("value_mentee", "mentor"): 0.85,
    ("value_mentee", "non_mentor"): 0.45,
    ("value_mentor", "all"): 0.66,
    ("value_mentor", "mentor"): 0.80,
    ("value_mentor", "non_mentor"): 0.53,
    ("mentor_again", "mentor"): 0.82,
    ("mentor_worthwhile", "mentor"): 0.71,
}


def percent_text(share: float) -> str:
    return f"{100 * share:.1f}%"


def wilson(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def value(successes: int, n: int) -> dict[str, Any]:
    low, high = wilson(successes, n)
    return {
        "kind": "value",
        "proportion": successes / n,
        "ci_low": low,
        "ci_high": high,
        "bound": None,
        "text": percent_text(successes / n),
    }


def lower_bound(bound: float) -> dict[str, Any]:
    return {
        "kind": "lower_bound",
        "proportion": None,
        "ci_low": None,
        "ci_high": None,
        "bound": bound,
        "text": f"more than {100 * bound:.0f}%",
    }


def upper_bound(bound: float) -> dict[str, Any]:
    return {
        "kind": "upper_bound",
        "proportion": None,
        "ci_low": None,
        "ci_high": None,
        "bound": bound,
        "text": f"less than {100 * bound:.0f}%",
    }


def hidden(kind: str) -> dict[str, Any]:
    return {
        "kind": kind,
        "proportion": None,
        "ci_low": None,
        "ci_high": None,
        "bound": None,
        "text": "not shown" if kind == "masked" else "no data",
    }


# Points that are not a plain value: (metric, cohort, year) -> point
SPECIAL: dict[tuple[str, str, int], dict[str, Any]] = {
    ("value_distinct", "mentor", 2026): lower_bound(0.95),
    ("value_distinct", "mentor", 2019): lower_bound(0.95),
    ("value_distinct", "mentor", 2023): hidden("masked"),
    ("value_distinct", "all", 2023): hidden("masked"),
    ("value_mentee", "non_mentor", 2026): hidden("masked"),
    ("value_mentee", "mentor", 2021): hidden("masked"),
    ("value_mentor", "mentor", 2026): value(40, 40),  # 100%
    ("value_mentor", "non_mentor", 2022): value(0, 31),  # 0%
    ("value_mentor", "non_mentor", 2018): upper_bound(0.10),
    ("mentor_again", "mentor", 2020): value(43, 43),  # 100%
    ("mentor_again", "mentor", 2024): lower_bound(0.9),
    ("mentor_worthwhile", "mentor", 2025): hidden("masked"),
}
NO_DATA_YEAR = 2017


def point(metric: str, cohort: str, year: int) -> dict[str, Any]:
    if year == NO_DATA_YEAR:
        return hidden("no_data")
    if (metric, cohort, year) in SPECIAL:
        return SPECIAL[(metric, cohort, year)]
    n = GROUP_SIZE[cohort] - (year % 5)
    share = BASE[(metric, cohort)] + 0.04 * math.sin(year * 1.3 + len(metric))
    return value(min(n, round(share * n)), n)


def ratio_point(metric: str, year: int) -> dict[str, Any]:
    if year == NO_DATA_YEAR:
        return {
            "year": year,
            "kind": "no_data",
            "ratio": None,
            "ci_low": None,
            "ci_high": None,
            "text": "no data",
        }
    mentor, non_mentor = point(metric, "mentor", year), point(metric, "non_mentor", year)
    if mentor["kind"] != "value" or non_mentor["kind"] != "value":
        return {
            "year": year,
            "kind": "masked",
            "ratio": None,
            "ci_low": None,
            "ci_high": None,
            "text": "not shown",
        }
    if non_mentor["proportion"] == 0:  # a zero cell: the upper limit is infinite
        return {
            "year": year,
            "kind": "value",
            "ratio": 24.0,
            "ci_low": 1.6,
            "ci_high": math.inf,
            "text": "24.0",
        }
    ratio = mentor["proportion"] / non_mentor["proportion"]
    spread = 1.25 if metric != "value_distinct" else 1.1
    return {
        "year": year,
        "kind": "value",
        "ratio": ratio,
        "ci_low": ratio / spread,
        "ci_high": ratio * spread,
        "text": f"{ratio:.1f}",
    }


def chart_data(years: list[int] | None = None) -> dict[str, Any]:
    """chart_data of the report for the last of years (2016-2026 by default)."""
    years = list(YEARS if years is None else years)
    this_year = years[-1]
    breaks = [BREAK_YEAR] if BREAK_YEAR in years and years[0] < BREAK_YEAR else []
    panels = []
    for metric, label in VALUE_ITEMS + MENTOR_ITEMS:
        cohorts = [c for c in COHORTS if (metric, c["code"]) in BASE]
        panels.append(
            {
                "metric_id": metric,
                "label": label,
                "axis_label": "Share answering yes" if metric == "mentor_again" else "Share agreeing",
                "breaks": breaks if metric == "value_mentor" else [],
                "series": [
                    {
                        "cohort": c["code"],
                        "label": c["label"],
                        "points": [{"year": y, **point(metric, c["code"], y)} for y in years],
                    }
                    for c in cohorts
                ],
            }
        )
    response = {
        y: hidden("no_data")
        if y in (NO_DATA_YEAR, 2019)
        else value(round((0.58 + 0.01 * (y % 7)) * 178), 178)
        for y in years
    }
    for p in response.values():  # a census share: no interval
        if p["kind"] == "value":
            p["ci_low"] = p["ci_high"] = None
    mentored = {
        y: hidden("no_data")
        if y == NO_DATA_YEAR
        else (hidden("masked") if y == 2021 else value(40 + (y % 4), 178))
        for y in years
    }
    return {
        "cohorts": COHORTS,
        "value_items": [
            {
                "metric_id": metric,
                "label": label,
                "points": {c["code"]: point(metric, c["code"], this_year) for c in COHORTS},
            }
            for metric, label in VALUE_ITEMS
        ],
        "trends": {"years": years, "panels": panels},
        "ratios": {
            "years": years,
            "panels": [
                {"metric_id": metric, "label": label, "points": [ratio_point(metric, y) for y in years]}
                for metric, label in VALUE_ITEMS
            ],
        },
        "participation": {
            "years": years,
            "series": [
                {
                    "code": "response_rate",
                    "label": "Response rate",
                    "points": [{"year": y, **response[y]} for y in years],
                },
                {
                    "code": "mentored",
                    "label": "Share who mentored",
                    "points": [{"year": y, **mentored[y]} for y in years],
                },
            ],
        },
    }


def single_year() -> dict[str, Any]:
    """The first report: 2016 alone."""
    return chart_data([2016])


def context(data: dict[str, Any]) -> dict[str, Any]:
    """The two keys render_charts reads; the alt text stands in for the lead's."""
    names = ("value_items", "trends", "ratios", "participation")
    return {"chart_data": data, "charts": {name: {"alt": f"{name} chart, figures: 85.7%"} for name in names}}
