"""Every metric_summary row with its change from the previous survey year that has the metric, and
the two-sided Fisher's exact p-value of that change. One row per survey year, metric and cohort.
"""

import pandas as pd


def model(dbt, session):
    dbt.config(materialized="table")
    from pipelines.lib.stats import fisher_two_years

    summary = dbt.ref("metric_summary").df().sort_values(["metric_id", "cohort", "survey_year"])
    changes, p_values = [], []
    for _, series in summary.groupby(["metric_id", "cohort"], sort=False):
        prior = None
        for row in series.itertuples():
            if row.denominator > 0 and prior is not None:
                changes.append(row.proportion - prior.proportion)
                p_values.append(
                    fisher_two_years(prior.numerator, prior.denominator, row.numerator, row.denominator)
                )
            else:
                changes.append(None)
                p_values.append(None)
            if row.denominator > 0:
                prior = row
    summary = summary.assign(
        change_vs_prior=pd.array(changes, dtype="Float64"),
        p_value_vs_prior=pd.array(p_values, dtype="Float64"),
    )
    return summary.reset_index(drop=True)
