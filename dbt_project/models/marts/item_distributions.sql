-- One row per survey year, metric, cohort (all, mentor, non_mentor) and answer level: the full answer
-- distribution behind each metric of metric_summary (spec §8, rev 2). Levels '1'..'5' for the likert
-- items, 'yes'/'no'/'unsure' for mentor_again; a level nobody chose has n = 0. denominator = cohort
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
    select survey_year from {{ ref('response_funnel') }}
    where {{ in_years }}
),

-- The items of metric_summary and their answer levels.
levels as (
    select * from (values
        ('value_distinct', '1'), ('value_distinct', '2'), ('value_distinct', '3'), ('value_distinct', '4'),
        ('value_distinct', '5'),
        ('value_mentee', '1'), ('value_mentee', '2'), ('value_mentee', '3'), ('value_mentee', '4'),
        ('value_mentee', '5'),
        ('value_mentor', '1'), ('value_mentor', '2'), ('value_mentor', '3'), ('value_mentor', '4'),
        ('value_mentor', '5'),
        ('mentor_worthwhile', '1'), ('mentor_worthwhile', '2'), ('mentor_worthwhile', '3'),
        ('mentor_worthwhile', '4'), ('mentor_worthwhile', '5'),
        ('mentor_again', 'yes'), ('mentor_again', 'no'), ('mentor_again', 'unsure')
    ) as l (metric_id, level)
),

cohorts as (
    select * from (values ('all'), ('mentor'), ('non_mentor')) as c (cohort)
),

-- One row per answered item (unpivot leaves out the unanswered, null, ones), counted per cohort.
answer_counts as (
    select survey_year, cohort, metric_id, level, count(*) as n
    from (
        unpivot (
            select
                survey_year,
                cohort,
                value_distinct::varchar as value_distinct,
                value_mentee::varchar as value_mentee,
                value_mentor::varchar as value_mentor,
                mentor_worthwhile::varchar as mentor_worthwhile,
                mentor_again::varchar as mentor_again
            from respondents
        )
        on value_distinct, value_mentee, value_mentor, mentor_worthwhile, mentor_again
        into name metric_id value level
    )
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
        funnel.survey_year,
        levels.metric_id,
        cohorts.cohort,
        levels.level,
        coalesce(by_cohort.n, 0)::bigint as n,
        coalesce(denominators.denominator, 0)::bigint as denominator,
        case
            when denominators.denominator > 0 then coalesce(by_cohort.n, 0)::double / denominators.denominator
        end as proportion
    from funnel
    cross join levels
    cross join cohorts
    left join by_cohort
        on funnel.survey_year = by_cohort.survey_year
        and levels.metric_id = by_cohort.metric_id
        and cohorts.cohort = by_cohort.cohort
        and levels.level = by_cohort.level
    left join denominators
        on funnel.survey_year = denominators.survey_year
        and levels.metric_id = denominators.metric_id
        and cohorts.cohort = denominators.cohort
)

select * from final
