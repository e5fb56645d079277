-- Reported in Dagster as a check of marts/metric_trends (the test reads more than one model).
{{ config(meta={'dagster': {'ref': {'name': 'metric_trends'}}}) }}

-- metric_trends: a metric has one series_start per year whatever the cohort, a series never starts
-- after its year, and a change (with its p-value) is given exactly when this year has data for the
-- cohort and so has an earlier year of the same series (spec §8, rev 2).
with trends as (
    select
        *,
        count(*) filter (where denominator > 0) over (
            partition by metric_id, cohort, series_start
            order by survey_year
            rows between unbounded preceding and 1 preceding
        ) as earlier_years_with_data,
        min(series_start) over (partition by metric_id, survey_year) as lowest_start,
        max(series_start) over (partition by metric_id, survey_year) as highest_start
    from {{ ref('metric_trends') }}
)

select survey_year, metric_id, cohort, series_start, change_vs_prior, p_value_vs_prior
from trends
where
    series_start is null
    or series_start > survey_year
    or lowest_start <> highest_start
    or (denominator > 0 and earlier_years_with_data > 0) <> (change_vs_prior is not null)
    or (change_vs_prior is null) <> (p_value_vs_prior is null)
