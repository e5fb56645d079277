"""Every metric_summary row with the start of its series, its change from the previous survey year of
that series that has the metric (prior_year), and the two-sided Fisher's exact p-value of that change.
One row per survey year, metric and cohort (spec §8).

A series is the run of years in which an item kept one wording. A rewording (the seed item_series,
the one list of them) starts a new series, and a change is never taken across the break: both figures
are null in a series' first year with data. series_start = the latest wording start on or before the
row's year, else the metric's first survey year in the warehouse. A row depends only on its own year
and the years before it, so loading a later year changes no earlier row (no hindsight).
"""

import pandas as pd


def model(dbt, session):
    dbt.config(materialized="table")
    from pipelines.lib.stats import fisher_two_years

    summary = dbt.ref("metric_summary").df().sort_values(["metric_id", "cohort", "survey_year"])
    wording = dbt.ref("item_series").df()
    starts = {
        metric_id: sorted(int(year) for year in group["series_start"])
        for metric_id, group in wording.groupby("metric_id")
    }
    first_years = summary.groupby("metric_id")["survey_year"].min().astype(int).to_dict()
    summary["series_start"] = [
        _series_start(int(year), starts.get(metric_id, []), first_years[metric_id])
        for year, metric_id in zip(summary["survey_year"], summary["metric_id"], strict=True)
    ]
    changes, p_values, prior_years = {}, {}, {}
    for _, series in summary.groupby(["metric_id", "cohort", "series_start"]):
        prior = None
        for row in series.itertuples():  # in survey-year order
            if row.denominator > 0 and prior is not None:
                changes[row.Index] = row.proportion - prior.proportion
                prior_years[row.Index] = int(prior.survey_year)
                p_values[row.Index] = fisher_two_years(
                    prior.numerator, prior.denominator, row.numerator, row.denominator
                )
            if row.denominator > 0:
                prior = row
    summary = summary.assign(
        series_start=summary["series_start"].astype("int32"),
        change_vs_prior=pd.array([changes.get(i) for i in summary.index], dtype="Float64"),
        p_value_vs_prior=pd.array([p_values.get(i) for i in summary.index], dtype="Float64"),
        # Which year the change is from, so that a reader (the report) need not work it out again.
        prior_year=pd.array([prior_years.get(i) for i in summary.index], dtype="Int32"),
    )
    return summary.reset_index(drop=True)


def _series_start(year: int, wording_starts: list[int], first_year: int) -> int:
    """The first survey year of the wording `year` was asked in: the latest start on or before it,
    else the metric's first year on record."""
    started = [start for start in wording_starts if start <= year]
    return max(started) if started else first_year
