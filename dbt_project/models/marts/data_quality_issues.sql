-- One row per bad cell of each year's current delivery (spec §5).
with issues as (
    select * from {{ ref('stg_ssm__data_quality_issues') }}
    where {{ for_survey_year() }}
),

deliveries as (
    select * from {{ ref('stg_ssm__deliveries') }}
    where {{ for_survey_year() }}
),

final as (
    select
        deliveries.file_name as delivery,
        issues.survey_year,
        issues.row_number,
        issues.column_name as "column",
        issues.original_value,
        issues.rule
    from issues
    inner join deliveries on issues.delivery_sha256 = deliveries.delivery_sha256
)

select * from final
