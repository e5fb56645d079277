"""Mentors vs non-mentors on the three value items: risk and odds ratios with intervals, Fisher's p.

One row per survey year and metric. The statistics live in pipelines.lib.stats (scipy for Fisher's
exact test); this model only feeds it the 2x2 tables that metric_summary already counted. Loading a
year computes that year only and keeps the other years' rows (pipelines.lib.year_scoped).
"""

import pandas as pd

COMPARED_METRICS = ("value_distinct", "value_mentee", "value_mentor")


def model(dbt, session):
    dbt.config(materialized="table")
    from pipelines.lib.stats import two_by_two
    from pipelines.lib.year_scoped import combine, loaded_years, rows_of_other_years, years_to_compute

    loaded = loaded_years(dbt.config.get("survey_years"))
    funnel = dbt.ref("response_funnel")
    on_record = [int(y) for (y,) in funnel.project("survey_year").fetchall()]
    kept = rows_of_other_years(session, dbt.this, loaded, on_record)
    years = years_to_compute(loaded, kept, on_record)
    summary = (
        dbt.ref("metric_summary").filter(f"survey_year in ({', '.join(map(str, years)) or 'null'})").df()
    )
    summary = summary[summary["metric_id"].isin(COMPARED_METRICS)]
    wide = summary.pivot_table(
        index=["survey_year", "metric_id"],
        columns="cohort",
        values=["numerator", "denominator"],
        aggfunc="first",
    )
    rows = []
    for (survey_year, metric_id), cells in wide.iterrows():
        a, n1 = int(cells[("numerator", "mentor")]), int(cells[("denominator", "mentor")])
        c, n2 = int(cells[("numerator", "non_mentor")]), int(cells[("denominator", "non_mentor")])
        result = two_by_two(a, n1 - a, c, n2 - c)
        rows.append(
            {
                "survey_year": int(survey_year),
                "metric_id": metric_id,
                "mentor_yes": a,
                "mentor_n": n1,
                "non_mentor_yes": c,
                "non_mentor_n": n2,
                "risk_ratio": result.risk_ratio,
                "rr_ci_low": result.rr_ci_low,
                "rr_ci_high": result.rr_ci_high,
                "odds_ratio": result.odds_ratio,
                "or_ci_low": result.or_ci_low,
                "or_ci_high": result.or_ci_high,
                "p_value": result.p_value,
                "zero_cell_corrected": result.zero_cell_corrected,
            }
        )
    columns = [
        "survey_year", "metric_id", "mentor_yes", "mentor_n", "non_mentor_yes", "non_mentor_n",
        "risk_ratio", "rr_ci_low", "rr_ci_high", "odds_ratio", "or_ci_low", "or_ci_high",
        "p_value", "zero_cell_corrected",
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=columns)
    for column in columns[6:13]:
        frame[column] = frame[column].astype("float64")
    frame = frame.astype({"survey_year": "int64", "zero_cell_corrected": "bool"})
    return combine(kept, frame)
