-- One row per survey year: how the class became the analysed cohorts (spec §5, §7, §8).
with deliveries as (
    select * from {{ ref('stg_ssm__deliveries') }}
    where {{ for_survey_year() }}
    and status = 'loaded'
),

responses as (
    select * from {{ ref('stg_ssm__responses') }}
    where {{ for_survey_year() }}
),

respondents as (
    select * from {{ ref('int_respondents_assigned_to_cohorts') }}
    where {{ for_survey_year() }}
),

class_sizes as (
    select * from {{ ref('stg_ssm__class_sizes') }}
    where {{ for_survey_year() }}
),

buckets as (
    select
        survey_year,
        count(*) as received,
        count(*) filter (where bucket = 'preview') as preview,
        count(*) filter (where bucket = 'incomplete') as incomplete,
        count(*) filter (where bucket = 'no_consent') as no_consent,
        count(*) filter (where bucket = 'duplicate') as duplicate,
        count(*) filter (where bucket = 'rejected') as rejected,
        count(*) filter (where bucket = 'respondent') as respondents
    from responses
    group by survey_year
),

cohorts as (
    select
        survey_year,
        count(*) filter (where cohort = 'mentor') as mentors,
        count(*) filter (where cohort = 'non_mentor') as non_mentors,
        count(*) filter (where cohort = 'informal') as informal,
        count(*) filter (where cohort = 'unclassified') as unclassified
    from respondents
    group by survey_year
),

-- A class size below the year's respondents cannot be true (a response rate over 100%): it is a
-- typing error in reference/class_sizes.csv, so the year has no usable class size, no response rate
-- and the warning of spec §4 (the check class_size_on_record says why), not a failed build.
usable_class_sizes as (
    select class_sizes.survey_year, class_sizes.class_size
    from class_sizes
    inner join buckets on class_sizes.survey_year = buckets.survey_year
    where class_sizes.class_size >= buckets.respondents
),

funnel as (
    select
        deliveries.survey_year,
        class_sizes.class_size,
        buckets.received,
        buckets.preview,
        buckets.incomplete,
        buckets.no_consent,
        buckets.duplicate,
        buckets.rejected,
        buckets.respondents,
        case
            when class_sizes.class_size > 0 then buckets.respondents::double / class_sizes.class_size
        end as response_rate,
        coalesce(cohorts.mentors, 0) as mentors,
        coalesce(cohorts.non_mentors, 0) as non_mentors,
        coalesce(cohorts.informal, 0) as informal,
        coalesce(cohorts.unclassified, 0) as unclassified,
        deliveries.instrument_version,
        deliveries.delivery_sha256 as source_sha256
    from deliveries
    inner join buckets on deliveries.survey_year = buckets.survey_year
    left join cohorts on deliveries.survey_year = cohorts.survey_year
    left join usable_class_sizes as class_sizes on deliveries.survey_year = class_sizes.survey_year
)

select * from funnel
