-- Reported in Dagster as a check of marts/metric_trend_tests (the test reads more than one model).
{{ config(meta={'dagster': {'ref': {'name': 'metric_trend_tests'}}}) }}

-- metric_trend_tests has one row per metric, cohort and survey year with data (metric_trends rows
-- with denominator > 0, last_year = that year), each over the years of that year's series up to it:
-- first_year = the series' first year on record, years = those of them with data; z and p_value
-- null when fewer than 2 have data (spec §8, rev 2).
with trends as (
    select * from {{ ref('metric_trends') }}
),

expected as (
    select
        y.metric_id,
        y.cohort,
        y.survey_year as last_year,
        min(s.survey_year) as first_year,
        count(*) filter (where s.denominator > 0) as years
    from trends as y
    inner join trends as s
        on s.metric_id = y.metric_id
        and s.cohort = y.cohort
        and s.series_start = y.series_start
        and s.survey_year <= y.survey_year
    where y.denominator > 0
    group by all
)

select
    coalesce(e.metric_id, t.metric_id) as metric_id,
    coalesce(e.cohort, t.cohort) as cohort,
    coalesce(e.last_year, t.last_year) as last_year,
    e.first_year as expected_first_year,
    t.first_year,
    e.years as expected_years,
    t.years,
    t.z
from expected as e
full outer join {{ ref('metric_trend_tests') }} as t
    on e.metric_id = t.metric_id and e.cohort = t.cohort and e.last_year = t.last_year
where
    e.metric_id is null
    or t.metric_id is null
    or e.first_year <> t.first_year
    or e.years <> t.years
    or (t.years < 2 and (t.z is not null or t.p_value is not null))
    or (t.z is null) <> (t.p_value is null)
