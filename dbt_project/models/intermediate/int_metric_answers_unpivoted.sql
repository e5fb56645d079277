-- One row per respondent and metric of spec §8 that the respondent answered, with whether it counts
-- as a "yes" (agree = 4 or 5 on likert items; mentor_again: only "yes", unsure is not yes).
with respondents as (
    select * from {{ ref('int_respondents_assigned_to_cohorts') }}
    where {{ for_survey_year() }}
),

unpivoted as (
    select survey_year, respondent_key, cohort, 'value_distinct' as metric_id, value_distinct >= 4 as is_yes
    from respondents where value_distinct is not null
    union all
    select survey_year, respondent_key, cohort, 'value_mentee', value_mentee >= 4
    from respondents where value_mentee is not null
    union all
    select survey_year, respondent_key, cohort, 'value_mentor', value_mentor >= 4
    from respondents where value_mentor is not null
    union all
    select survey_year, respondent_key, cohort, 'mentor_again', mentor_again = 'yes'
    from respondents where mentor_again is not null
    union all
    select survey_year, respondent_key, cohort, 'mentor_worthwhile', mentor_worthwhile >= 4
    from respondents where mentor_worthwhile is not null
)

select * from unpivoted
