{#- Per-year work (issue 4): Dagster tells dbt the survey years being (re)loaded (one year for a single
    load, several for a batch). Per-year models read only those years' rows, and their pre-hook
    (dbt_project.yml) deletes those years before the new rows are appended; the other years stay as
    they are. With no years given (a plain `dbt build`) every year is rebuilt.

    The years come from the var survey_years (a list; for people and tests running dbt by hand) or
    else from the environment variable SSM_BUILD_YEARS ("2019,2020"), which the Dagster asset sets.
    The variable is read only when executing: dbt records the env vars a file reads while parsing and
    re-parses on change, and a var on the command line invalidates the whole partial parse (5 s per
    build). At parse time the filter renders as `true`, which is all parsing needs. -#}
{% macro loaded_survey_years() -%}
    {%- set years = var('survey_years', none) -%}
    {%- if years is none and execute -%}
        {%- set listed = env_var('SSM_BUILD_YEARS', '') | trim -%}
        {%- if listed -%}
            {%- set years = listed.split(',') -%}
        {%- endif -%}
    {%- endif -%}
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
