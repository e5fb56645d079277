"""Cochran-Armitage test for trend across all survey years (scores = the years), one row per metric and
cohort (spec §8)."""

import pandas as pd


def model(dbt, session):
    dbt.config(materialized="table")
    from pipelines.lib.stats import cochran_armitage

    summary = dbt.ref("metric_summary").df().sort_values("survey_year")
    rows = []
    for (metric_id, cohort), series in summary.groupby(["metric_id", "cohort"]):
        trend = cochran_armitage(
            series["survey_year"].astype(int).tolist(),
            series["numerator"].astype(int).tolist(),
            series["denominator"].astype(int).tolist(),
        )
        rows.append(
            (metric_id, cohort, trend.first_year, trend.last_year, trend.years, trend.z, trend.p_value)
        )
    frame = pd.DataFrame(
        rows, columns=["metric_id", "cohort", "first_year", "last_year", "years", "z", "p_value"]
    )
    for column in ("z", "p_value"):
        frame[column] = frame[column].astype("float64")
    for column in ("first_year", "last_year"):
        frame[column] = frame[column].astype("Int64")
    return frame
