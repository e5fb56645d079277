-- Every raw row with its bucket and, for respondents, the harmonised answers: one column per answer
-- column of the codebook (schemas/codebook.yaml), so a new variable arrives here without an edit.
-- Free text stays behind in raw (spec §6: never in a report, so never past staging).
with source as (
    select * from {{ source('raw', 'responses') }}
),

renamed as (
    select
        * exclude ({{ codebook_text_variables() | join(', ') }})
        rename (specialty as specialty_code)
    from source
)

select * from renamed
