-- One row per survey year, characteristic, level and cohort (mentor, non_mentor): counts and shares of
-- the cohort members with a known value; for a numeric characteristic (age) the mean and sample SD (in
-- value) of the valid values. The characteristics, their columns and levels are the codebook's (macro
-- codebook_characteristics, seed characteristic_levels).
{% set characteristics = codebook_characteristics() %}

with respondents as (
    select * from {{ ref('int_respondents_assigned_to_cohorts') }}
    where {{ for_survey_year() }}
    and cohort in ('{{ codebook_compared_cohorts() | join("', '") }}')
),

funnel as (
    select survey_year from {{ ref('response_funnel') }}
    where {{ for_survey_year() }}
),

levels as (
    select characteristic, level, level_order from {{ ref('characteristic_levels') }}
),

cohorts as (
    select unnest({{ codebook_compared_cohorts() }}) as cohort
),

answers as (
    {% for c in characteristics if not c.numeric -%}
    select survey_year, cohort, '{{ c.name }}' as characteristic, {{ c.column }}::varchar as level
    from respondents
    where {{ c.column }} is not null
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
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

numeric_rows as (
    {% for c in characteristics if c.numeric -%}
    select
        funnel.survey_year,
        '{{ c.name }}' as characteristic,
        cohorts.cohort,
        count(respondents.{{ c.column }}) as n,
        avg(respondents.{{ c.column }}) as mean,
        stddev_samp(respondents.{{ c.column }}) as sd
    from funnel
    cross join cohorts
    left join respondents
        on funnel.survey_year = respondents.survey_year and cohorts.cohort = respondents.cohort
    group by all
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

numeric_levels as (
    select survey_year, characteristic, 'mean' as level, cohort, n, null::double as proportion, mean as value
    from numeric_rows
    union all
    select survey_year, characteristic, 'sd', cohort, n, null::double, sd
    from numeric_rows
)

select * from categorical_shares
union all
select * from numeric_levels
