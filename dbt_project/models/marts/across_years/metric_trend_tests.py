"""Cochran-Armitage test for trend (scores = the survey years), one row per metric, cohort and
last_year (spec §8, rev 2).

For every survey year Y in which the metric has data for the cohort (denominator > 0): the test over
the years of Y's series (metric_trends.series_start) up to and including Y. first_year = the first of
those years on record, last_year = Y, years = how many of them have data; z and p_value are null when
fewer than 2 years have data (or when every answer, or none, agrees: the variance is 0). A year's
report reads the rows with last_year = its year, so loading later years never changes its figures.
"""

import pandas as pd

COLUMNS = ["metric_id", "cohort", "first_year", "last_year", "years", "z", "p_value"]


def model(dbt, session):
    dbt.config(materialized="table")
    from pipelines.lib.stats import cochran_armitage

    trends = (
        dbt.ref("metric_trends")
        .project("metric_id, cohort, series_start, survey_year, numerator, denominator")
        .df()
        .sort_values(["metric_id", "cohort", "survey_year"])
    )
    rows = []
    for (metric_id, cohort, _), series in trends.groupby(["metric_id", "cohort", "series_start"]):
        years = series["survey_year"].astype(int).tolist()
        successes = series["numerator"].astype(int).tolist()
        totals = series["denominator"].astype(int).tolist()
        for end, total in enumerate(totals, start=1):
            if total == 0:
                continue
            trend = cochran_armitage(years[:end], successes[:end], totals[:end])
            rows.append((metric_id, cohort, years[0], years[end - 1], trend.years, trend.z, trend.p_value))
    frame = pd.DataFrame(rows, columns=COLUMNS)
    for column in ("first_year", "last_year", "years"):
        frame[column] = frame[column].astype("int64")
    for column in ("z", "p_value"):
        frame[column] = frame[column].astype("float64")
    return frame.sort_values(["metric_id", "cohort", "last_year"]).reset_index(drop=True)
