"""What the charts plot (hidden points reduced to their bounds) and their alt text, captions and sizes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pipelines.lib.report import formatting as fmt
from pipelines.lib.report.chart_layout import chart_sizes
from pipelines.lib.report.figures import YearFigures
from pipelines.lib.report.labels import COHORT_LABELS, METRICS


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


def chart_data(
    figures: Mapping[int, YearFigures],
    f: YearFigures,
    value_items: Sequence[Mapping[str, Any]],
    hist: Mapping[str, Any],
) -> dict[str, Any]:
    """The numbers each chart plots, with hidden points reduced to their bounds."""
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


def chart_specs(context: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Alt text, caption and display size of each chart: the alt text gives the figures, or says
    which table below holds them."""
    data = context["chart_data"]
    parts = []
    for v in data["value_items"]:
        figures = ", ".join(f"{COHORT_LABELS[c].lower()} {p['text']}" for c, p in v["points"].items())
        parts.append(f"{v['label']}: {figures}.")
    years = data["trends"]["years"]
    span = fmt.span(years[0], years[-1])
    # A series break is said in words too: the dotted line alone would not reach a screen reader.
    breaks = " ".join(
        f"In “{panel['label']}” the question was reworded in {year}: a dotted line marks it and the "
        "line does not join the years before, which are not comparable."
        for panel in data["trends"]["panels"]
        for year in panel["breaks"]
    )
    breaks = f" {breaks}" if breaks else ""
    specs = {
        "value_items": {
            "alt": "Share agreeing with each statement in "
            f"{context['survey_year']}, by group, with 95% confidence intervals. " + " ".join(parts),
            "caption": "Share agreeing, by group, with 95% confidence intervals. A hidden share is drawn as its "
            "bound (“more than”) where the report gives one.",
        },
        "trends": {
            "alt": f"Line charts, one per question, of the share agreeing by survey year ({span}) for each group, "
            "with 95% confidence intervals. The figures are in the tables “Share agreeing by year” below."
            + breaks,
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
        "the table “At a glance” above." + breaks
    )
    specs["trends"]["digest_details"] = "glance-table"
    for name, (width, height) in chart_sizes(data).items():
        specs[name]["width"], specs[name]["height"] = width, height
    return specs
