-- One row per survey year and reason code (spec §2.2): non-mentors ticking it, out of the non-mentors
-- who ticked at least one reason.
with non_mentors as (
    select * from {{ ref('int_respondents_assigned_to_cohorts') }}
    where {{ for_survey_year() }}
    and cohort = 'non_mentor'
),

reasons as (
    select * from {{ ref('reason_codes') }}
),

funnel as (
    select survey_year from {{ ref('response_funnel') }}
    where {{ for_survey_year() }}
),

ticks as (
    select survey_year, reason_column, is_ticked
    from (
        unpivot (select survey_year, columns('^nonpart_reason_[0-9]+$') from non_mentors)
        on columns('^nonpart_reason_[0-9]+$')
        into name reason_column value is_ticked
    )
),

denominators as (
    select
        survey_year,
        count(*) filter (
            where nonpart_reason_1 or nonpart_reason_2 or nonpart_reason_3
               or nonpart_reason_4 or nonpart_reason_5 or nonpart_reason_6
        ) as denominator
    from non_mentors
    group by survey_year
),

counted as (
    select
        survey_year,
        replace(reason_column, 'nonpart_reason_', '')::integer as reason_code,
        count(*) filter (where is_ticked) as n
    from ticks
    group by all
),

final as (
    select
        funnel.survey_year,
        reasons.reason_code,
        reasons.reason_label,
        coalesce(counted.n, 0) as n,
        coalesce(denominators.denominator, 0) as denominator,
        case
            when denominators.denominator > 0 then coalesce(counted.n, 0)::double / denominators.denominator
        end as proportion
    from funnel
    cross join reasons
    left join counted
        on funnel.survey_year = counted.survey_year and reasons.reason_code = counted.reason_code
    left join denominators on funnel.survey_year = denominators.survey_year
)

select * from final
