{#- The rows a per-metric mart has: every survey year of `funnel` (survey_year, instrument_version),
    every metric of the codebook whose variable that year's instrument asks, and the cohorts all,
    mentor and non_mentor. Defines the CTE `grid` (survey_year, metric_id, cohort). -#}
{% macro metric_grid(funnel) -%}
grid as (
    select {{ funnel }}.survey_year, metrics.metric_id, cohorts.cohort
    from {{ funnel }}
    inner join {{ ref('instrument_items') }} as asked
        on {{ funnel }}.instrument_version = asked.instrument_version
    inner join {{ ref('metrics') }} as metrics
        on asked.variable = metrics.variable
    cross join (
        select unnest({{ ['all'] + codebook_compared_cohorts() }}) as cohort
    ) as cohorts
)
{%- endmacro %}
