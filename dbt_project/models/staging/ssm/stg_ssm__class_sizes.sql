with source as (
    select * from {{ source('raw', 'class_sizes') }}
),

renamed as (
    select
        survey_year,
        class_size
    from source
)

select * from renamed
