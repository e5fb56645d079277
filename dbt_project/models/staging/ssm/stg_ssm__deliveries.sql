with source as (
    select * from {{ source('raw', 'deliveries') }}
),

renamed as (
    select
        delivery_sha256,
        survey_year,
        file_name,
        status,
        instrument_version,
        coding,
        rows_received,
        received_at,
        loaded_at
    from source
)

select * from renamed
