-- Are mentors and non-mentors alike? One row per survey year and characteristic of the codebook
-- (spec §8: gender, age, specialty_group), each tested as its kind asks (macros/balance_tests.sql):
--   a number         Welch's t (mentors minus non-mentors) and the SMD of the means (age);
--   two tested levels  Fisher's exact test, statistic null, and the SMD of the first level's share
--                    (gender: female against male; other answers are shown, not tested);
--   three            Pearson's chi-square without continuity correction, or Fisher's exact test when
--                    only two of them occur that year; Yang and Dalton's SMD, never negative
--                    (specialty_group: primary_care, surgical, other; not_matched is not tested).
-- The tested levels are the codebook's (characteristics.<name>.tested). A level nobody has that year is
-- left out before testing, as scipy and tableone see no such level.
--
-- Incremental by survey year like the other per-year marts; when the table does not exist yet, the
-- first build computes every year on record (as item_distributions does).
{% set in_years = for_survey_year() if is_incremental() else 'true' %}
{% set characteristics = codebook_characteristics() %}
{% set columns = characteristics | map(attribute='column') | join(', ') %}

with funnel as (
    select survey_year from {{ ref('response_funnel') }}
    where {{ in_years }}
),

compared as (
    select survey_year, 'mentor' as cohort, {{ columns }}
    from {{ ref('cohort_mentors') }}
    where {{ in_years }}
    union all
    select survey_year, 'non_mentor' as cohort, {{ columns }}
    from {{ ref('cohort_non_mentors') }}
    where {{ in_years }}
),

{% for characteristic in characteristics %}
{{ balance_of(characteristic) }},

{% endfor %}
final as (
    {% for characteristic in characteristics -%}
    select * from balance_{{ characteristic.name }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
)

select
    survey_year::bigint as survey_year,
    characteristic,
    test,
    statistic::double as statistic,
    p_value::double as p_value,
    smd::double as smd
from final
