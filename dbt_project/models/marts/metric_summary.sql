-- One row per survey year, metric and cohort (all, mentor, non_mentor): share answering yes/agree with
-- its Wilson interval. Denominator = cohort members who answered the item; 0 gives null figures.
-- The metrics are the codebook's (seed metrics). A metric has rows in the years whose instrument asks
-- its variable (seed instrument_items): mentor_prepared from 2026 on, no rows before.
with answers as (
    select * from {{ ref('int_metric_answers_unpivoted') }}
    where {{ for_survey_year() }}
),

funnel as (
    select survey_year, instrument_version from {{ ref('response_funnel') }}
    where {{ for_survey_year() }}
),

{{ metric_grid('funnel') }},

counted as (
    select
        grid.survey_year,
        grid.metric_id,
        grid.cohort,
        count(answers.respondent_key) filter (where answers.is_yes) as numerator,
        count(answers.respondent_key) as denominator
    from grid
    left join answers
        on grid.survey_year = answers.survey_year
        and grid.metric_id = answers.metric_id
        and (grid.cohort = 'all' or grid.cohort = answers.cohort)
    group by grid.survey_year, grid.metric_id, grid.cohort
),

final as (
    select
        survey_year,
        metric_id,
        cohort,
        numerator,
        denominator,
        case when denominator > 0 then numerator::double / denominator end as proportion,
        {{ wilson_low('numerator', 'denominator') }} as ci_low,
        {{ wilson_high('numerator', 'denominator') }} as ci_high
    from counted
)

select * from final
