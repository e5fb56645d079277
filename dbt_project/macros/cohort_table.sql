{#- The columns of a cohort table (spec §8: cohort_mentors, cohort_non_mentors): one row per
    respondent of the cohort with the harmonised answers. Free text is never selected. -#}
{% macro cohort_table(cohort) %}
with respondents as (
    select * from {{ ref('int_respondents_assigned_to_cohorts') }}
    where {{ for_survey_year() }}
    and cohort = '{{ cohort }}'
),

final as (
    select
        respondent_key,
        survey_year,
        gender,
        age,
        specialty_code as specialty,
        specialty_group,
        -- the other answers, one column per answer column of the codebook (free text is left behind
        -- in staging)
        * exclude (
            respondent_key, survey_year, gender, age, specialty_code, specialty_group,
            delivery_sha256, row_number, bucket, recorded_at, consent, cohort
        )
    from respondents
)

select * from final
{% endmacro %}
