-- One row per survey year, metric, cohort (all, mentor, non_mentor) and answer level: the full answer
-- distribution behind each metric of metric_summary (spec §8, rev 2), on the same rows (metric_grid).
-- The levels are the codebook's value set of the metric's variable: '1'..'5' for the likert items,
-- 'yes'/'no'/'unsure' for mentor_again; a level nobody chose has n = 0. denominator = cohort
-- members who answered the item (= metric_summary.denominator); proportion = n / denominator, null
-- when it is 0. Counted from the harmonised answers, not from metric_summary, so that the dbt test
-- comparing the two (tests/assert_item_distributions_match_metric_summary.sql) means something.
--
-- Incremental by survey year like the other per-year marts, with one difference: when the table does
-- not exist yet (a warehouse that already holds years gets this mart), the first build counts every
-- year on record, not only the years being loaded, which would leave the others out for good.
{% set in_years = for_survey_year() if is_incremental() else 'true' %}

with respondents as (
    select * from {{ ref('int_respondents_assigned_to_cohorts') }}
    where {{ in_years }}
),

funnel as (
    select survey_year, instrument_version from {{ ref('response_funnel') }}
    where {{ in_years }}
),

{{ metric_grid('funnel') }},

-- The answer levels of each metric (seed metric_levels, from the codebook), on the grid.
levels as (
    select grid.survey_year, grid.metric_id, grid.cohort, metric_levels.level
    from grid
    inner join {{ ref('metric_levels') }} as metric_levels
        on grid.metric_id = metric_levels.metric_id
),

-- One row per answered item (the unanswered, null, ones are left out), counted per cohort.
answer_counts as (
    select answers.survey_year, answers.cohort, metrics.metric_id, answers.level, count(*) as n
    from (
        {{ metric_answers('respondents') }}
    ) as answers
    inner join {{ ref('metrics') }} as metrics
        on answers.variable = metrics.variable
    group by all
),

-- all = every respondent, informal and unclassified included (as in metric_summary).
by_cohort as (
    select survey_year, cohort, metric_id, level, n
    from answer_counts
    where cohort in ('mentor', 'non_mentor')
    union all
    select survey_year, 'all' as cohort, metric_id, level, sum(n) as n
    from answer_counts
    group by all
),

-- Summed over whatever was answered, not over the listed levels: an answer outside the list then
-- shows as levels that do not add up to the denominator (a failing test), not as a smaller one.
denominators as (
    select survey_year, cohort, metric_id, sum(n) as denominator
    from by_cohort
    group by all
),

final as (
    select
        levels.survey_year,
        levels.metric_id,
        levels.cohort,
        levels.level,
        coalesce(by_cohort.n, 0)::bigint as n,
        coalesce(denominators.denominator, 0)::bigint as denominator,
        case
            when denominators.denominator > 0 then coalesce(by_cohort.n, 0)::double / denominators.denominator
        end as proportion
    from levels
    left join by_cohort
        on levels.survey_year = by_cohort.survey_year
        and levels.metric_id = by_cohort.metric_id
        and levels.cohort = by_cohort.cohort
        and levels.level = by_cohort.level
    left join denominators
        on levels.survey_year = denominators.survey_year
        and levels.metric_id = denominators.metric_id
        and levels.cohort = denominators.cohort
)

select * from final
