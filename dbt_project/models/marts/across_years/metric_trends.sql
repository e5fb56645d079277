-- Every metric_summary row with the start of its series, its change from the previous survey year of
-- that series that has the metric (prior_year), and the two-sided Fisher's exact p-value of that change
-- (scipy, through the DuckDB function fisher_exact_p). One row per survey year, metric and cohort
-- (spec §8).
--
-- A series is the run of years in which an item kept one wording. A rewording (the seed item_series,
-- the one list of them) starts a new series, and a change is never taken across the break: the change,
-- its p-value and prior_year are null in a series' first year with data. series_start = the latest
-- wording start on or before the row's year, else the metric's first survey year in the warehouse. A
-- row depends only on its own year and the years before it, so loading a later year changes no earlier
-- row (no hindsight). Rebuilt whole on every load: a reloaded year changes the later years' changes.
with summary as (
    select * from {{ ref('metric_summary') }}
),

wording as (
    select metric_id, series_start from {{ ref('item_series') }}
),

latest_wording as (
    select
        summary.survey_year,
        summary.metric_id,
        max(wording.series_start) as series_start
    from summary
    inner join wording
        on summary.metric_id = wording.metric_id
        and wording.series_start <= summary.survey_year
    group by all
),

started as (
    select
        summary.*,
        coalesce(
            latest_wording.series_start,
            min(summary.survey_year) over (partition by summary.metric_id)
        )::integer as series_start
    from summary
    left join latest_wording
        on summary.survey_year = latest_wording.survey_year
        and summary.metric_id = latest_wording.metric_id
),

-- The latest earlier year of the same series with data for the metric and cohort.
with_prior as (
    select
        *,
        max(case when denominator > 0 then survey_year end) over (
            partition by metric_id, cohort, series_start
            order by survey_year
            rows between unbounded preceding and 1 preceding
        ) as prior_with_data
    from started
),

final as (
    select
        this_year.survey_year,
        this_year.metric_id,
        this_year.cohort,
        this_year.numerator,
        this_year.denominator,
        this_year.proportion,
        this_year.ci_low,
        this_year.ci_high,
        this_year.series_start,
        this_year.proportion - prior.proportion as change_vs_prior,
        fisher_exact_p(
            prior.numerator,
            prior.denominator - prior.numerator,
            this_year.numerator,
            this_year.denominator - this_year.numerator
        ) as p_value_vs_prior,
        -- Which year the change is from, so that a reader (the report) need not work it out again.
        prior.survey_year::integer as prior_year
    from with_prior as this_year
    left join summary as prior
        on this_year.metric_id = prior.metric_id
        and this_year.cohort = prior.cohort
        and this_year.prior_with_data = prior.survey_year
        and this_year.denominator > 0
)

select * from final
order by metric_id, cohort, survey_year
