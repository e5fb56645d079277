-- One row per survey year, characteristic, level and cohort (mentor, non_mentor): counts and shares of
-- the cohort members with a known value; for age the mean and sample SD (in value) of valid ages.
with respondents as (
    select * from {{ ref('int_respondents_assigned_to_cohorts') }}
    where {{ for_survey_year() }}
    and cohort in ('mentor', 'non_mentor')
),

funnel as (
    select survey_year from {{ ref('response_funnel') }}
    where {{ for_survey_year() }}
),

levels as (
    select * from (values
        ('gender', 'female', 1), ('gender', 'male', 2), ('gender', 'nonbinary_or_other', 3),
        ('gender', 'not_reported', 4),
        ('specialty_group', 'primary_care', 1), ('specialty_group', 'surgical', 2),
        ('specialty_group', 'other', 3), ('specialty_group', 'not_matched', 4)
    ) as l (characteristic, level, level_order)
),

cohorts as (
    select * from (values ('mentor'), ('non_mentor')) as c (cohort)
),

answers as (
    select survey_year, cohort, 'gender' as characteristic, gender as level from respondents
    where gender is not null
    union all
    select survey_year, cohort, 'specialty_group', specialty_group from respondents
    where specialty_group is not null
),

categorical as (
    select
        funnel.survey_year,
        levels.characteristic,
        levels.level,
        cohorts.cohort,
        count(answers.level) as n
    from funnel
    cross join levels
    cross join cohorts
    left join answers
        on funnel.survey_year = answers.survey_year
        and cohorts.cohort = answers.cohort
        and levels.characteristic = answers.characteristic
        and levels.level = answers.level
    group by all
),

categorical_shares as (
    select
        survey_year,
        characteristic,
        level,
        cohort,
        n,
        case
            when sum(n) over (partition by survey_year, characteristic, cohort) > 0
                then n::double / sum(n) over (partition by survey_year, characteristic, cohort)
        end as proportion,
        null::double as value
    from categorical
),

ages as (
    select
        funnel.survey_year,
        cohorts.cohort,
        count(respondents.age) as n,
        avg(respondents.age) as age_mean,
        stddev_samp(respondents.age) as age_sd
    from funnel
    cross join cohorts
    left join respondents
        on funnel.survey_year = respondents.survey_year and cohorts.cohort = respondents.cohort
    group by all
),

age_rows as (
    select survey_year, 'age' as characteristic, 'mean' as level, cohort, n, null::double as proportion,
        age_mean as value
    from ages
    union all
    select survey_year, 'age', 'sd', cohort, n, null::double, age_sd
    from ages
)

select * from categorical_shares
union all
select * from age_rows
