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

{#- The metric items the respondents of `relation` answered: one row per respondent and metric variable
    (survey_year, respondent_key, cohort, variable, level = the answer as text); unpivot leaves out the
    unanswered (null) items. The variables are the codebook's (macros/codebook.sql). -#}
{% macro metric_answers(relation) -%}
{%- set variables = codebook_metric_variables() -%}
unpivot (
    select
        survey_year,
        respondent_key,
        cohort,
        {% for variable in variables -%}
        {{ variable }}::varchar as {{ variable }}{{ "," if not loop.last }}
        {% endfor %}
    from {{ relation }}
)
on {{ variables | join(', ') }}
into name variable value level
{%- endmacro %}
