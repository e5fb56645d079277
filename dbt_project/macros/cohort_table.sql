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
        mentor_formal,
        mentor_informal,
        had_student_mentor,
        value_distinct,
        value_mentee,
        value_mentor,
        mentor_again,
        mentor_worthwhile,
        mentees_count,
        nonpart_reason_1,
        nonpart_reason_2,
        nonpart_reason_3,
        nonpart_reason_4,
        nonpart_reason_5,
        nonpart_reason_6
    from respondents
)

select * from final
{% endmacro %}
