with source as (
    select * from {{ source('raw', 'data_quality_issues') }}
),

renamed as (
    select
        delivery_sha256,
        survey_year,
        row_number,
        column_name,
        original_value,
        rule
    from source
)

select * from renamed
