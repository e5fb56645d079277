-- One row per respondent and metric of spec §8 that the respondent answered, with whether it counts
-- as a "yes" (the metric's yes levels in the codebook: agree = 4 or 5 on likert items; mentor_again:
-- only "yes", unsure is not yes). The metrics and their levels are the seeds generated from the
-- codebook; the variables they ask, its macro (through metric_answers, macros/metric_rows.sql).

with respondents as (
    select * from {{ ref('int_respondents_assigned_to_cohorts') }}
    where {{ for_survey_year() }}
),

answers as (
    {{ metric_answers('respondents') }}
),

metrics as (
    select * from {{ ref('metrics') }}
),

levels as (
    select * from {{ ref('metric_levels') }}
),

unpivoted as (
    select
        answers.survey_year,
        answers.respondent_key,
        answers.cohort,
        metrics.metric_id,
        coalesce(levels.counts_as_yes, false) as is_yes
    from answers
    inner join metrics on answers.variable = metrics.variable
    left join levels on metrics.metric_id = levels.metric_id and answers.level = levels.level
)

select * from unpivoted
