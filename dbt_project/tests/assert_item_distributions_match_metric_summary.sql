-- Reported in Dagster as a check of marts/item_distributions (the test reads more than one model).
{{ config(meta={'dagster': {'ref': {'name': 'item_distributions'}}}) }}

-- item_distributions has the (survey_year, metric_id, cohort) combinations of metric_summary, each
-- with the full list of levels of the codebook (5 for a likert item, 3 for mentor_again: seed
-- metric_levels); the levels' n add up to metric_summary.denominator (which every level row repeats),
-- and the agreeing levels (4 and 5, or 'yes' for mentor_again) to metric_summary.numerator. The two
-- marts are counted apart.
with levels as (
    select * from {{ ref('metric_levels') }}
),

expected as (
    select metric_id, count(*) as levels from levels group by metric_id
),

distributions as (
    select
        d.survey_year,
        d.metric_id,
        d.cohort,
        count(*) as levels,
        sum(d.n) as answered,
        coalesce(sum(d.n) filter (where levels.counts_as_yes), 0) as agreeing,
        min(d.denominator) as min_denominator,
        max(d.denominator) as max_denominator
    from {{ ref('item_distributions') }} as d
    left join levels on d.metric_id = levels.metric_id and d.level = levels.level
    group by all
)

select
    coalesce(d.survey_year, s.survey_year) as survey_year,
    coalesce(d.metric_id, s.metric_id) as metric_id,
    coalesce(d.cohort, s.cohort) as cohort,
    d.levels,
    d.answered,
    d.agreeing,
    s.numerator,
    s.denominator
from distributions as d
full outer join {{ ref('metric_summary') }} as s
    on d.survey_year = s.survey_year and d.metric_id = s.metric_id and d.cohort = s.cohort
where
    d.metric_id is null
    or s.metric_id is null
    or d.levels <> (select e.levels from expected as e where e.metric_id = d.metric_id)
    or d.answered <> s.denominator
    or d.min_denominator <> s.denominator
    or d.max_denominator <> s.denominator
    or d.agreeing <> s.numerator
