with source as (
    select * from {{ source('raw', 'responses') }}
),

renamed as (
    select
        ---------- ids
        delivery_sha256,
        respondent_key,
        survey_year,
        row_number,
        ---------- outcome
        bucket,
        ---------- answers
        consent,
        gender,
        age,
        specialty as specialty_code,
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
        nonpart_reason_6,
        ---------- timestamps
        recorded_at
    from source
)

select * from renamed
