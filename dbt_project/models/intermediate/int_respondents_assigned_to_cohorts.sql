-- One row per respondent (bucket = respondent) with the cohort of spec §7 and the specialty group.
with respondents as (
    select * from {{ ref('stg_ssm__responses') }}
    where {{ for_survey_year() }}
    and bucket = 'respondent'
),

specialties as (
    select * from {{ ref('specialty_codes') }}
),

assigned as (
    select
        respondents.*,
        specialties.specialty_group,
        -- the codebook's cohort rules in order (macros/codebook.sql); formal = no with the informal
        -- question unanswered cannot be told apart: unclassified, excluded, counted
        {{ codebook_cohort() }} as cohort
    from respondents
    left join specialties
        on respondents.specialty_code = specialties.specialty_code
)

select * from assigned
