{#- Per-year work (issue 4): Dagster passes the survey years being (re)loaded as the var
    survey_years (a list: one year for a single load, several for a batch). Per-year models read only
    those years' rows, and their pre-hook (dbt_project.yml) deletes those years before the new rows are
    appended; the other years stay as they are. Without the var (a plain `dbt build`) every year is
    rebuilt. -#}
{% macro loaded_survey_years() -%}
    {%- set years = var('survey_years', none) -%}
    {%- if years is none -%}
        {{ return(none) }}
    {%- elif years is string or years is number -%}
        {{ return([years | int]) }}
    {%- else -%}
        {{ return(years | map('int') | list) }}
    {%- endif -%}
{%- endmacro %}

{% macro for_survey_year(column='survey_year') -%}
    {%- set years = loaded_survey_years() -%}
    {%- if years is none -%}
        true
    {%- elif years | length == 0 -%}
        false
    {%- else -%}
        {{ column }} in ({{ years | join(', ') }})
    {%- endif -%}
{%- endmacro %}

{% macro delete_survey_year() -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ for_survey_year() }}
    {%- endif -%}
{%- endmacro %}
