-- Reported in Dagster as a check of marts/item_distributions (the test reads more than one model).
{{ config(meta={'dagster': {'ref': {'name': 'item_distributions'}}}) }}

-- item_distributions has the (survey_year, metric_id, cohort) combinations of metric_summary, each
-- with its full list of levels (5 for a likert item, 3 for mentor_again); the levels' n add up to
-- metric_summary.denominator (which every level row repeats), and the agreeing levels (4 and 5, or
-- 'yes' for mentor_again) to metric_summary.numerator. The two marts are counted apart.
with distributions as (
    select
        survey_year,
        metric_id,
        cohort,
        count(*) as levels,
        sum(n) as answered,
        coalesce(sum(n) filter (where level in ('4', '5', 'yes')), 0) as agreeing,
        min(denominator) as min_denominator,
        max(denominator) as max_denominator
    from {{ ref('item_distributions') }}
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
    or d.levels <> case when d.metric_id = 'mentor_again' then 3 else 5 end
    or d.answered <> s.denominator
    or d.min_denominator <> s.denominator
    or d.max_denominator <> s.denominator
    or d.agreeing <> s.numerator
