-- One row per survey year and reason code (spec §2.2): non-mentors ticking it, out of the non-mentors
-- who ticked at least one reason. A reason that the year's instrument did not offer has no row that
-- year (seed instrument_options, from the codebook): not offered is not "nobody ticked it".
{% set prefix = codebook_breakdown_prefix('nonpart_reasons') %}
with non_mentors as (
    select * from {{ ref('int_respondents_assigned_to_cohorts') }}
    where {{ for_survey_year() }}
    and cohort = 'non_mentor'
),

reasons as (
    select * from {{ ref('reason_codes') }}
),

funnel as (
    select survey_year, instrument_version from {{ ref('response_funnel') }}
    where {{ for_survey_year() }}
),

offered as (
    select * from {{ ref('instrument_options') }}
    where variable = 'nonpart_reasons'
),

-- unpivot leaves out the reasons a respondent's instrument did not offer (null, not false)
ticks as (
    select survey_year, respondent_key, reason_column, is_ticked
    from (
        unpivot (select survey_year, respondent_key, columns('^{{ prefix }}[0-9]+$') from non_mentors)
        on columns('^{{ prefix }}[0-9]+$')
        into name reason_column value is_ticked
    )
),

denominators as (
    select survey_year, count(distinct respondent_key) filter (where is_ticked) as denominator
    from ticks
    group by survey_year
),

counted as (
    select
        survey_year,
        replace(reason_column, '{{ prefix }}', '')::integer as reason_code,
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
    inner join offered on funnel.instrument_version = offered.instrument_version
    inner join reasons on offered.option_code = reasons.reason_code
    left join counted
        on funnel.survey_year = counted.survey_year and reasons.reason_code = counted.reason_code
    left join denominators on funnel.survey_year = denominators.survey_year
)

select * from final
